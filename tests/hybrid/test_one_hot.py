"""The key correctness test: with embeddings from component k and a one-hot α at k in every block, the
hybrid reproduces component k's logits (paper, Appendix B.3)."""

import pytest
import torch

import manticore
from conftest import FAMILIES, tiny_component

TOL = 1e-4


def assert_reproduces(components, k, ids, num_blocks):
    hybrid = manticore.ManticoreForCausalLM.from_components(components, num_blocks=num_blocks, embeddings_from=k)
    hybrid.eval()
    hybrid.set_mixture_weights([1.0 if j == k else 0.0 for j in range(len(components))])
    with torch.no_grad():
        got, want = hybrid(ids).logits, components[k](ids).logits
    assert got.shape == want.shape
    diff = (got - want).abs().max().item()
    assert diff <= TOL, f"component {k} ({components[k].config.model_type}): max abs diff {diff}"


@pytest.mark.parametrize("family", FAMILIES)
def test_single_component_hybrid_equals_component(family, ids):
    component = tiny_component(family, depth=2)
    assert_reproduces([component], 0, ids, num_blocks=2)


@pytest.mark.parametrize("family", FAMILIES)
def test_k2_with_a_different_width_and_depth(family, ids):
    """Each family is paired with a wider, deeper partner; one-hot at either side reproduces it."""
    partner = "mamba" if family != "mamba" else "gpt_neo"
    components = [tiny_component(family, d_model=32, depth=2, seed=1), tiny_component(partner, d_model=48, depth=4, seed=2)]
    for k in range(2):
        assert_reproduces(components, k, ids, num_blocks=2)


@pytest.mark.parametrize("trio", [("gpt_neo", "mamba", "llama"), ("gpt_neox", "gpt2", "mamba2"), ("qwen2", "mistral", "gpt_neo")])
def test_k3_reproduces_every_component(trio, ids):
    widths, depths = (16, 32, 48), (2, 4, 6)
    components = [tiny_component(f, d_model=w, depth=d, seed=s) for s, (f, w, d) in enumerate(zip(trio, widths, depths))]
    for k in range(3):
        assert_reproduces(components, k, ids, num_blocks=2)


def test_one_hot_holds_with_trained_projectors(ids):
    """With α one-hot the projectors' Linear maps are gated off, whatever their weights."""
    components = [tiny_component("gpt_neo", seed=1), tiny_component("mamba", d_model=16, depth=4, seed=2)]
    hybrid = manticore.ManticoreForCausalLM.from_components(components, num_blocks=2, embeddings_from=1).eval()
    with torch.no_grad():
        for p in hybrid.projector_parameters():
            p.normal_()
    hybrid.set_mixture_weights([0.0, 1.0])
    with torch.no_grad():
        assert torch.allclose(hybrid(ids).logits, components[1](ids).logits, atol=TOL, rtol=0)


def test_padding_mask_matches_component():
    """Right-padded batches see the same logits on real tokens as the component given the same mask."""
    component = tiny_component("llama", seed=3)
    hybrid = manticore.ManticoreForCausalLM.from_components([component, tiny_component("mamba", seed=4)],
                                                            num_blocks=2, embeddings_from=0).eval()
    hybrid.set_mixture_weights([1.0, 0.0])
    ids = torch.randint(0, 61, (2, 9))
    mask = torch.ones_like(ids)
    mask[1, 6:] = 0
    with torch.no_grad():
        got = hybrid(ids, attention_mask=mask).logits
        want = component(ids, attention_mask=mask).logits
    assert (got - want)[mask.bool()].abs().max() <= TOL
