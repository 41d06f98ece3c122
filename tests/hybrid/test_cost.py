"""The cost model against hand counts on tiny models, against the caches transformers really fills, and against
the discretized models themselves."""

import pytest
import torch
from transformers import AutoModelForCausalLM

import manticore
from manticore.components import adapter_class
from manticore.components.cost import Attention, measured_cache_bytes
from manticore.hybrid.cost import MEASURES, CostModel, decode_seconds_per_token
from manticore.hybrid.discretize import discretize
from manticore.testing import tiny_component, tiny_config

from conftest import FAMILIES


def adapter_of(family):
    config = tiny_config(family)
    return adapter_class(config)(config)


def test_gpt_neo_by_hand():
    """d 32, 4 heads of 8: q, k, v, out 4 x 32 x 32 and the MLP 2 x 32 x 128 weights, 2 FLOPs each per token."""
    cost = adapter_of("gpt_neo").layer_cost(0)
    assert cost.linear_flops == 2 * (4 * 32 * 32 + 2 * 32 * 128)
    assert cost.attention == Attention(heads=4, kv_heads=4, head_dim=8, window=None)
    assert cost.kv_bytes_per_token == 2 * 4 * 8 * 4  # keys and values, 4 heads x 8, float32
    assert cost.kv_bytes(100) == 100 * 256 and cost.state_bytes == 0
    assert cost.decode_flops(100) == cost.linear_flops + 4 * 4 * 8 * 100  # q.k and a.v over 100 positions
    assert cost.prefill_flops(3) == pytest.approx(cost.linear_flops + 4 * 4 * 8 * (1 + 2 + 3) / 3)


def test_grouped_query_and_sliding_window_by_hand():
    llama = adapter_of("llama").layer_cost(0)  # 4 query heads, 2 KV heads
    assert llama.linear_flops == 2 * (2 * 32 * 32 + 2 * 32 * 16 + 3 * 32 * 64)
    assert llama.kv_bytes_per_token == 2 * 2 * 8 * 4
    mistral = adapter_of("mistral").layer_cost(0)  # window 4: the cache keeps the last 3, a token attends to 4
    assert mistral.attention.window == 4
    assert mistral.kv_bytes(2) == 2 * 128 and mistral.kv_bytes(1000) == 3 * 128
    assert mistral.decode_flops(1000) == mistral.linear_flops + 4 * 4 * 8 * 4


def test_mamba_by_hand():
    """d 32, expand 2 (d_inner 64), state 4, conv 4, dt rank 2."""
    cost = adapter_of("mamba").layer_cost(0)
    weights = 32 * 128 + 64 * (2 + 2 * 4) + 2 * 64 + 64 * 32 + 64 * 4  # in, x, dt, out projections; the conv
    assert cost.linear_flops == 2 * weights
    assert cost.attention is None and cost.kv_bytes(10_000) == 0
    assert cost.state_bytes == (64 * 4 + 64 * 4) * 4  # conv state (64, 4) and SSM state (64, 4), float32
    assert cost.scan_flops == 64 * (8 * 4 + 5)
    assert cost.decode_flops(1) == cost.decode_flops(10_000)  # no context term
    mamba2 = adapter_of("mamba2").layer_cost(0)  # d_inner 64, 8 heads of 8, state 8, 1 group, conv 4
    assert mamba2.state_bytes == ((64 + 2 * 8) * 4 + 8 * 8 * 8) * 4


@pytest.mark.parametrize("family", FAMILIES)
def test_cache_bytes_are_what_transformers_keeps(family):
    model = tiny_component(family)
    adapter = adapter_class(model.config)(model.config)
    for length in (3, 9):
        out = model(torch.randint(0, 61, (1, length)), use_cache=True)
        cache = getattr(out, "cache_params", None) or out.past_key_values
        assert measured_cache_bytes(cache) == [adapter.layer_cost(i).cache_bytes(length)
                                               for i in range(adapter.num_blocks)]


@pytest.fixture(scope="module")
def hybrid():
    torch.manual_seed(0)
    return manticore.ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", d_model=48, max_positions=256), tiny_config("mamba")], num_blocks=2)


def test_a_layout_costs_exactly_what_its_discretized_model_holds(hybrid):
    cost = CostModel.of(hybrid)
    layouts = list(cost.layouts())
    assert layouts == [[0, 0], [0, 1], [1, 0], [1, 1]]
    for choice in layouts:
        hybrid.set_mixture_weights([[float(j == k) for j in range(2)] for k in choice])
        pruned, _ = discretize(hybrid)
        assert cost.cost(choice, "params") == sum(p.numel() for p in pruned.parameters())
    assert cost.cost([[0.5, 0.5]] * 2, "params") == sum(p.numel() for p in hybrid.parameters())


def test_only_branches_with_weight_count(hybrid):
    cost = CostModel.of(hybrid)
    mamba_only = cost.cost([1, 1], "kv_bytes", context=1000)
    assert mamba_only == 0
    mixed = [[0.3, 0.7], [0.0, 1.0]]  # GPT-Neo only in block 0
    neo = cost.branches[0][0]
    assert cost.cost(mixed, "kv_bytes", context=1000) == neo.value("kv_bytes", 1000, projectors=False) > 0
    assert cost.cost(mixed, "state_bytes") == 2 * 2048  # Mamba runs in both blocks, one layer of 2048 bytes each
    # projectors' FLOPs count while 0 < α < 1: block 0's two branches pay them, block 1's one-hot Mamba doesn't
    flops = cost.cost(mixed, "flops", context=10)
    expected = (2 * 61 * 48 + cost.branches[0][0].value("flops", 10, True)
                + cost.branches[0][1].value("flops", 10, True) + cost.branches[1][1].value("flops", 10, False))
    assert flops == expected


def test_expected_cost_is_linear_in_alpha(hybrid):
    cost = CostModel.of(hybrid)
    alphas = torch.full((2, 2), 0.5, requires_grad=True)
    value = cost.expected(alphas, "flops", context=64)
    value.backward()
    assert torch.equal(alphas.grad, cost.table("flops", context=64).float())
    one_hot = torch.tensor([[0.0, 1.0], [0.0, 1.0]])
    table = cost.table("kv_bytes", 64)
    assert float(cost.expected(one_hot, "kv_bytes", 64)) == float(table[0, 1] + table[1, 1])


def test_bad_measure_and_mixture_are_named(hybrid):
    cost = CostModel.of(hybrid)
    with pytest.raises(ValueError, match=r"measure='latency' is not valid; accepted: 'params' or"):
        cost.cost([0, 0], "latency")
    with pytest.raises(ValueError, match=r"\(L, K\) = \(2, 2\)"):
        cost.cost([[1.0, 0.0, 0.0]], "params")
    with pytest.raises(ValueError, match=r"in \[0, 1\] per block; got \[0, 2\]"):
        cost.cost([0, 2], "params")
    with pytest.raises(ValueError, match="profile_latency"):
        cost.cost([0, 0], "decode_latency")


def test_latency_is_measured_per_branch_and_alpha_restored(hybrid):
    hybrid.set_mixture_weights([[0.2, 0.8], [0.6, 0.4]])
    before = hybrid.mixture_weights().detach().clone()
    cost = CostModel.of(hybrid)
    latency = cost.profile_latency(hybrid, prefill_length=8, decode_tokens=4, repeats=1)
    assert torch.equal(hybrid.mixture_weights().detach(), before)
    assert all(t > 0 for row in latency.decode + latency.prefill for t in row)
    assert latency.decode_rest > 0 and latency.machine["decode_tokens"] == 4
    mixture = cost.cost(before, "decode_latency")
    assert mixture > cost.cost([1, 1], "decode_latency")  # the mixture runs every branch and its projectors
    assert set(cost.profile()["branches"][0]) >= {"block", "component", "name", "params@4096", "kv_bytes@32768"}
    assert decode_seconds_per_token(hybrid, prompt_length=8, tokens=4, repeats=1) > 0


def test_every_measure_has_a_value_for_a_layout(hybrid):
    cost = CostModel.of(hybrid)
    cost.profile_latency(hybrid, prefill_length=8, decode_tokens=2, repeats=1)
    assert all(cost.cost([0, 1], m) >= 0 for m in MEASURES)


def test_a_component_alone_is_its_own_cost():
    """A K=1 hybrid of a GPT-2: the layout's FLOPs are the component's blocks plus the head."""
    model = AutoModelForCausalLM.from_config(tiny_config("gpt2"))
    hybrid = manticore.ManticoreForCausalLM.from_components([model], num_blocks=1, embeddings_from=0)
    cost = CostModel.of(hybrid)
    adapter = hybrid.base_model.components[0]
    blocks = sum(adapter.layer_cost(i).decode_flops(16) for i in range(2))
    assert cost.cost([0], "flops", context=16) == blocks + 2 * 61 * 32


def test_a_classifiers_head_is_counted():
    hybrid = manticore.ManticoreForSequenceClassification.from_components(
        [tiny_config("gpt_neo"), tiny_config("mamba")], num_blocks=2, num_labels=3, pad_token_id=0)
    cost = CostModel.of(hybrid)
    assert cost.cost([[0.5, 0.5]] * 2, "params") == sum(p.numel() for p in hybrid.parameters())
    assert cost.cost([0, 1], "params") == sum(p.numel() for p in hybrid.discretize(choice=[0, 1]).parameters())
