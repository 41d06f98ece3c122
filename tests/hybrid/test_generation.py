"""Generation: left-padded batches generate exactly what each prompt generates alone."""

import pytest
import torch

from manticore import ManticoreForCausalLM
from conftest import FAMILIES, VOCAB, tiny_component, tiny_config


@pytest.mark.parametrize("alphas", [[[1.0, 0.0]] * 2, [[0.6, 0.4], [0.3, 0.7]]], ids=["one-hot-gpt_neo", "mixed"])
@pytest.mark.parametrize("partner", ["mamba", "gpt2"])
def test_left_padded_batch_generates_what_each_prompt_generates_alone(alphas, partner):
    torch.manual_seed(0)
    hybrid = ManticoreForCausalLM.from_components([tiny_config("gpt_neo"), tiny_config(partner)], num_blocks=2,
                                                  embeddings_from=0).eval()
    hybrid.set_mixture_weights(alphas)
    pad = VOCAB - 1
    prompts = [torch.randint(0, VOCAB - 1, (n,)) for n in (3, 7, 5)]
    width = max(len(p) for p in prompts)
    ids = torch.stack([torch.cat([torch.full((width - len(p),), pad), p]) for p in prompts])
    mask = torch.stack([torch.cat([torch.zeros(width - len(p)), torch.ones(len(p))]) for p in prompts]).long()
    batched = hybrid.generate(ids, attention_mask=mask, max_new_tokens=6, do_sample=False, pad_token_id=pad,
                              use_cache=False)
    for row, prompt in enumerate(prompts):
        alone = hybrid.generate(prompt[None], max_new_tokens=6, do_sample=False, pad_token_id=pad, use_cache=False)
        assert batched[row, width:].tolist() == alone[0, len(prompt):].tolist()
        # and the logits of the first new token agree, not only the argmax
        padded = hybrid(input_ids=ids[row:row + 1], attention_mask=mask[row:row + 1],
                        position_ids=(mask[row:row + 1].cumsum(-1) - 1).clamp(min=0)).logits[0, -1]
        torch.testing.assert_close(padded, hybrid(input_ids=prompt[None]).logits[0, -1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", FAMILIES)
def test_a_one_hot_hybrid_generates_what_its_component_generates(family):
    """Greedy, 12 new tokens: the hybrid (one-hot at component 0, its embeddings) against the component's own
    `generate` (with its own cache)."""
    component = tiny_component(family, depth=2, seed=3).eval()
    partner = tiny_component("mamba" if family != "mamba" else "gpt_neo", depth=2, seed=4)
    hybrid = ManticoreForCausalLM.from_components([component, partner], num_blocks=2, embeddings_from=0).eval()
    hybrid.set_mixture_weights([[1.0, 0.0]] * 2)
    prompt = torch.randint(0, VOCAB - 1, (2, 5), generator=torch.Generator().manual_seed(5))
    settings = dict(max_new_tokens=12, do_sample=False, pad_token_id=VOCAB - 1)
    want = component.generate(prompt, attention_mask=torch.ones_like(prompt), **settings)
    got = hybrid.generate(prompt, attention_mask=torch.ones_like(prompt), use_cache=False, **settings)
    assert got.tolist() == want.tolist()
