"""Mixture weights: softmax rows, programming, freezing, and the parameter split used by search."""

import pytest
import torch

import manticore
from conftest import tiny_config


@pytest.fixture
def hybrid():
    torch.manual_seed(0)
    configs = [tiny_config("gpt_neo", depth=4), tiny_config("mamba", d_model=16, depth=2), tiny_config("llama", depth=2)]
    return manticore.ManticoreForCausalLM.from_components(configs, num_blocks=2)


def test_starts_uniform_and_rows_are_softmax(hybrid):
    alphas = hybrid.mixture_weights()
    assert alphas.shape == (2, 3)
    assert torch.allclose(alphas, torch.full((2, 3), 1 / 3))
    with torch.no_grad():
        hybrid.architecture_parameters()[0].normal_()
    alphas = hybrid.mixture_weights()
    assert torch.allclose(alphas.sum(-1), torch.ones(2)) and (alphas > 0).all()


def test_set_per_block_and_broadcast(hybrid):
    hybrid.set_mixture_weights([0.2, 0.3, 0.5])
    assert torch.allclose(hybrid.mixture_weights(), torch.tensor([[0.2, 0.3, 0.5]] * 2), atol=1e-6)
    w = torch.tensor([[1.0, 0.0, 0.0], [0.0, 0.25, 0.75]])
    hybrid.set_mixture_weights(w)
    alphas = hybrid.mixture_weights()
    assert torch.allclose(alphas, w, atol=1e-6)
    assert (alphas[w == 0] == 0).all() and alphas[0, 0] == 1.0  # exact zeros and ones


@pytest.mark.parametrize("weights,match", [
    ([0.5, 0.5], r"shape \(2,\).*\(3,\).*\(2, 3\)"),
    ([[0.5, 0.5, 0.0]] * 3, r"shape \(3, 3\)"),
    ([1.5, -0.5, 0.0], ">= 0"),
    ([0.2, 0.2, 0.2], "sum to 1"),
    ([float("nan"), 0.5, 0.5], "finite"),
    ("abc", "could not read"),
])
def test_bad_weights_raise_value_error(hybrid, weights, match):
    before = hybrid.mixture_weights().detach().clone()
    with pytest.raises(ValueError, match=match):
        hybrid.set_mixture_weights(weights)
    assert torch.equal(hybrid.mixture_weights(), before)  # nothing half-set


def test_freeze_and_parameter_groups(hybrid):
    arch = hybrid.architecture_parameters()
    rest = hybrid.model_parameters()
    assert len(arch) == 1 and arch[0].shape == (2, 3)
    assert not {id(p) for p in arch} & {id(p) for p in rest}
    trainable = {id(p) for p in hybrid.parameters() if p.requires_grad}
    assert trainable == {id(p) for p in arch} | {id(p) for p in rest}
    hybrid.freeze_mixture_weights()
    assert not arch[0].requires_grad
    hybrid.unfreeze_mixture_weights()
    assert arch[0].requires_grad


def test_gradients_reach_mixture_weights_and_projectors(hybrid, ids):
    loss = hybrid(ids, labels=ids).loss
    loss.backward()
    assert hybrid.architecture_parameters()[0].grad.abs().sum() > 0
    assert all(p.grad is not None for p in hybrid.projector_parameters())


def test_mixed_block_is_the_convex_combination(hybrid, ids):
    """Manticore-Block(x) = Σ_k α_k h_k(x), checked against per-branch outputs."""
    hybrid.eval()
    hybrid.set_mixture_weights([0.2, 0.3, 0.5])
    base = hybrid.base_model
    x = base.embed_tokens(ids)
    alphas = hybrid.mixture_weights()[0]
    contexts = [c.prepare(x, None, torch.arange(ids.shape[1])[None]) for c in base.components]
    with torch.no_grad():
        mixed = base.blocks[0](x, alphas, alphas.tolist(), base.components, contexts)
        branches = [base.blocks[0].branch(k, x, alphas[k], base.components[k], contexts[k]) for k in range(3)]
    assert torch.allclose(mixed, sum(a * h for a, h in zip(alphas, branches)), atol=1e-6)
