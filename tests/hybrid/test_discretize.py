"""Discretization (paper, B.4): the argmax one-hot α, and a pruned hybrid that computes exactly the same."""

import pytest
import torch
from transformers import AutoModelForCausalLM

import manticore
from manticore.components.gpt2 import GPT2Adapter
from manticore.components.gpt_neo import GPTNeoAdapter
from manticore.components.llama import LlamaAdapter
from manticore.hybrid.discretize import one_hot_choice
from conftest import tiny_component, tiny_config

TOL = 1e-5


def hybrid(specs, num_blocks, cls=manticore.ManticoreForCausalLM, **kwargs):
    """specs: (family, d_model, depth) per component; projectors randomised so gating mistakes would show."""
    components = [tiny_component(f, d_model=d, depth=n, seed=s) for s, (f, d, n) in enumerate(specs)]
    torch.manual_seed(0)
    model = cls.from_components(components, num_blocks=num_blocks, **kwargs).eval()
    with torch.no_grad():
        for p in model.projector_parameters():
            p.normal_(0, 0.1)
    return model, components


def soft_weights(pattern, K):
    """A soft α whose argmax in block l is pattern[l]."""
    rows = []
    for k in pattern:
        row = [0.4 / (K - 1) if K > 1 else 0.0] * K
        row[k] = 0.6 if K > 1 else 1.0
        rows.append(row)
    return rows


def one_hot(pattern, K):
    return [[1.0 if j == k else 0.0 for j in range(K)] for k in pattern]


def logits_with(model, weights, ids):
    saved = model.base_model.mixture.logits.detach().clone()
    model.set_mixture_weights(weights)
    with torch.no_grad():
        out = model(ids).logits
        model.base_model.mixture.logits.copy_(saved)
    return out


CASES = [
    # (components, L, pattern)
    ([("gpt_neo", 32, 2), ("mamba", 48, 4)], 2, [0, 1]),
    ([("gpt_neo", 32, 2), ("mamba", 48, 4)], 2, [1, 0]),
    ([("gpt2", 32, 3), ("llama", 16, 3)], 3, [1, 0, 1]),
    ([("gpt_neox", 16, 3), ("mamba2", 32, 6), ("qwen2", 48, 3)], 3, [2, 0, 1]),
    ([("mistral", 32, 2), ("gpt_neo", 16, 4), ("mamba", 32, 2)], 2, [2, 1]),  # mistral unused: removed
]


@pytest.mark.parametrize("specs,num_blocks,pattern", CASES)
def test_pruned_hybrid_equals_the_one_hot_hybrid(specs, num_blocks, pattern, ids):
    model, _ = hybrid(specs, num_blocks)
    K = len(specs)
    model.set_mixture_weights(soft_weights(pattern, K))
    before = model.base_model.mixture.logits.detach().clone()
    timed = pattern == CASES[0][2]  # timing runs extra forwards: once is enough
    new, report = model.discretize(return_report=True, example_input_ids=ids if timed else None, repeats=1)

    kept = sorted(set(pattern))
    assert report["choice"] == pattern and report["components_kept"] == kept
    assert len(new.base_model.components) == len(kept)
    assert new.config.hidden_size == max(specs[k][1] for k in kept)
    assert torch.equal(new.mixture_weights(), torch.tensor(one_hot(pattern, K))[:, kept])
    assert not new.base_model.mixture.logits.requires_grad
    assert report["parameters_after"] < report["parameters_before"]
    assert report["parameters_after"] == sum(p.numel() for p in new.parameters())
    if timed:
        assert report["forward_seconds_before"] > 0 and report["forward_seconds_after"] > 0
        assert report["max_abs_logit_diff"] <= TOL
    for k in kept:  # exactly the layers of the groups it was chosen for
        size = specs[k][2] // num_blocks
        assert report["layers_kept"][k] == [i for l, c in enumerate(pattern) if c == k
                                            for i in range(l * size, (l + 1) * size)]
    assert torch.equal(model.base_model.mixture.logits, before)  # the original is left alone

    want = logits_with(model, one_hot(pattern, K), ids)
    with torch.no_grad():
        got = new(ids).logits
    assert (got - want).abs().max().item() <= TOL


def test_saved_pruned_hybrid_reloads_on_its_own(tmp_path, ids):
    model, _ = hybrid([("gpt_neo", 32, 2), ("llama", 48, 4), ("mamba", 16, 2)], 2)
    model.set_mixture_weights(soft_weights([1, 0], 3))
    new = model.discretize()
    new.save_pretrained(tmp_path)
    with torch.no_grad():
        want = new(ids).logits
    for loader in (manticore.ManticoreForCausalLM, AutoModelForCausalLM):
        reloaded, info = loader.from_pretrained(tmp_path, output_loading_info=True)
        assert type(reloaded) is manticore.ManticoreForCausalLM
        assert not any(info[key] for key in ("missing_keys", "unexpected_keys", "mismatched_keys")), info
        assert reloaded.config.groups == new.config.groups
        assert torch.equal(reloaded.mixture_weights(), new.mixture_weights())
        with torch.no_grad():
            assert torch.equal(reloaded.eval()(ids).logits, want)


def test_first_and_last_groups_keep_their_positions_and_final_norm(ids):
    """GPT-Neo used only in block 1 of 2 still skips its positional embedding (applied in block 0 only) and
    applies its final norm; used only in block 0, it applies positions and not the final norm."""
    model, _ = hybrid([("gpt_neo", 32, 4), ("mamba", 32, 2)], 2, embeddings_from=0)
    for pattern, first, last in (([1, 0], None, 1), ([0, 1], 0, None)):
        model.set_mixture_weights(one_hot(pattern, 2))
        new = model.discretize()
        assert new.config.first_groups[0] == first and new.config.last_groups[0] == last
        neo = new.base_model.components[0]
        assert (neo.backbone.wpe is None) == (first is None) and (neo.backbone.ln_f is None) == (last is None)
        assert neo.num_blocks == 2
        assert neo.config.attention_types == [[["global"], 1], [["local"], 1]]
        with torch.no_grad():
            assert (new(ids).logits - model(ids).logits).abs().max().item() <= TOL


@pytest.mark.parametrize("family", ["gpt_neo", "gpt2", "llama", "gpt_neox", "mamba", "mamba2"])
def test_one_component_everywhere_gives_that_component(family, ids):
    partner = "mamba" if family != "mamba" else "gpt2"
    model, components = hybrid([(partner, 48, 2), (family, 32, 4)], 2, embeddings_from=1)
    model.set_mixture_weights([[0.3, 0.7], [0.1, 0.9]])
    model.base_model.components[1].requires_grad_(False)  # frozen stays frozen, across the renumbering
    new = model.discretize()
    assert not any(p.requires_grad for p in new.component_parameters())
    assert new.base_model.embed_tokens.weight.requires_grad
    assert new.config.adapters == [family] and new.config.groups is None and new.config.first_groups is None
    assert new.config.components[0] == model.config.components[1]  # the component's config, unpruned
    with torch.no_grad():
        assert (new(ids).logits - components[1](ids).logits).abs().max().item() <= 1e-4


def test_sequence_classification_and_prune_false(ids):
    model, _ = hybrid([("gpt_neo", 32, 2), ("mamba", 16, 2)], 2, cls=manticore.ManticoreForSequenceClassification,
                      num_labels=3)
    model.set_mixture_weights([[0.5, 0.5], [0.2, 0.8]])  # tie in block 0 -> component 0
    assert one_hot_choice(model.mixture_weights()) == [0, 1]
    want = logits_with(model, one_hot([0, 1], 2), ids)
    pruned, report = model.discretize(return_report=True)
    assert type(pruned) is manticore.ManticoreForSequenceClassification
    assert report["parameters_after"] < report["parameters_before"] and report["forward_seconds_before"] is None
    unpruned = model.discretize(prune=False)
    assert unpruned.config.to_dict() == model.config.to_dict()
    with torch.no_grad():
        for new in (pruned, unpruned):
            assert (new(ids).logits - want).abs().max().item() <= TOL


def test_weight_on_a_pruned_branch_is_refused(tmp_path, ids):
    model, _ = hybrid([("gpt_neo", 32, 2), ("mamba", 16, 2)], 2)
    model.set_mixture_weights(one_hot([0, 1], 2))
    new = model.discretize()
    with pytest.raises(ValueError, match=r"pruned branch: block 0 component 1 \(weight 0\.5\)"):
        new.set_mixture_weights([0.5, 0.5])
    new.set_mixture_weights([[1.0, 0.0], [0.0, 1.0]])  # the one allowed α
    with torch.no_grad():
        new.base_model.mixture.logits.zero_()
    with pytest.raises(ValueError, match=r"block 1 component 0"):
        new(ids)
    fresh = manticore.ManticoreForCausalLM(new.config)  # a new model starts with the allowed α
    assert torch.equal(fresh.mixture_weights(), torch.eye(2))


def test_prune_config_per_family():
    neo = GPTNeoAdapter.prune_config(tiny_config("gpt_neo", depth=4), [1, 2, 3])
    assert neo.num_layers == 3 and neo.attention_layers == ["local", "global", "local"]
    assert neo.attention_types == [[["local"], 1], [["global"], 1], [["local"], 1]]
    assert GPT2Adapter.prune_config(tiny_config("gpt2", depth=4), [0, 3]).n_layer == 2
    qwen = tiny_config("qwen2", depth=4)
    qwen = type(qwen)(**{**qwen.to_dict(), "use_sliding_window": True, "sliding_window": 4, "max_window_layers": 2,
                         "layer_types": None})
    pruned = LlamaAdapter.prune_config(qwen, [1, 3])
    assert pruned.layer_types == ["full_attention", "sliding_attention"] and pruned.max_window_layers == 1
    state = {"layers.0.w": 0, "layers.3.w": 3, "layers.1.w": 1, "norm.w": 9}
    assert LlamaAdapter.prune_state_dict(state, [1, 3]) == {"layers.1.w": 3, "layers.0.w": 1, "norm.w": 9}
    with pytest.raises(ValueError, match="increasing list of layer indices"):
        LlamaAdapter.prune_config(qwen, [3, 1])
    scaled = tiny_config("gpt2", depth=4)
    scaled.scale_attn_by_inverse_layer_idx = True
    with pytest.raises(ValueError, match="scale_attn_by_inverse_layer_idx"):
        GPT2Adapter.prune_config(scaled, [1, 2])


def test_explicit_groups_are_validated():
    components = [tiny_config("gpt_neo", depth=2), tiny_config("mamba", depth=3)]
    ok = manticore.ManticoreConfig(components=components, num_blocks=2, groups=[[[0, 2], [2, 2]], [[0, 0], [0, 3]]],
                                   first_groups=[0, None], last_groups=[None, 1])
    assert ok.block_groups(1) == [(0, 0), (0, 3)] and ok.pruned() == [[False, True], [True, False]]
    with pytest.raises(ValueError, match=r"groups\[1\] covers 2 layers but component 1 has 3"):
        manticore.ManticoreConfig(components=components, num_blocks=2, groups=[[[0, 1], [1, 2]], [[0, 1], [1, 2]]])
    with pytest.raises(ValueError, match=r"first_groups\[1\] = 0, but component 1's first non-empty group is in block 1"):
        manticore.ManticoreConfig(components=components, num_blocks=2, groups=[[[0, 2], [2, 2]], [[0, 0], [0, 3]]])
