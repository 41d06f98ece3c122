"""activation_checkpointing_enable() (formerly gradient_checkpointing_enable()): each Manticore block
recomputes its activations in the backward pass, so fewer activations are held, and the gradients are unchanged."""

import pytest
import torch

from manticore import ManticoreForCausalLM
from conftest import VOCAB, tiny_config


def saved_bytes_and_grads(hybrid, ids):
    """Bytes of the tensors autograd saves for backward in one forward, and the gradients after backward."""
    saved = []

    def pack(tensor):
        saved.append(tensor.numel() * tensor.element_size())
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        loss = hybrid(input_ids=ids, labels=ids).loss
    hybrid.zero_grad()
    loss.backward()
    return sum(saved), {n: p.grad.clone() for n, p in hybrid.named_parameters() if p.grad is not None}


@pytest.mark.parametrize("partner", ["mamba", "llama"])
def test_checkpointing_holds_fewer_activations_and_keeps_the_gradients(partner):
    torch.manual_seed(0)
    hybrid = ManticoreForCausalLM.from_components([tiny_config("gpt_neo", depth=4), tiny_config(partner, depth=4)],
                                                  num_blocks=4)
    hybrid.train()
    ids = torch.randint(0, VOCAB, (4, 48))
    full, grads = saved_bytes_and_grads(hybrid, ids)
    hybrid.activation_checkpointing_enable()  # transformers 5's name for gradient_checkpointing_enable
    assert hybrid.is_activation_checkpointing
    checkpointed, grads_checkpointed = saved_bytes_and_grads(hybrid, ids)
    assert checkpointed < 0.5 * full, (checkpointed, full)
    assert grads.keys() == grads_checkpointed.keys()
    for name, grad in grads.items():
        torch.testing.assert_close(grads_checkpointed[name], grad, rtol=1e-5, atol=1e-6, msg=name)


def test_the_older_name_still_enables_it():
    hybrid = ManticoreForCausalLM.from_components([tiny_config("gpt_neo"), tiny_config("mamba")], num_blocks=2)
    with pytest.warns(FutureWarning, match="activation_checkpointing_enable"):
        hybrid.gradient_checkpointing_enable()
    assert all(block.gradient_checkpointing for block in hybrid.model.blocks)
