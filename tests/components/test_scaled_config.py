"""Scaled-down, same-family copies of component configs, for programming by proxy (`scaled_config`)."""

import pytest
import torch
from transformers import PretrainedConfig

import manticore
from manticore.components import adapter_class, scaled_config
from conftest import FAMILIES, tiny_config


def reference_scaled_config(config: PretrainedConfig, d_model: int, depth: int, max_length: int,
                            vocab_size: int) -> PretrainedConfig:
    """The original `manticore.workflow.stages.scaled_config`, kept verbatim: the adapters' family hooks must
    reproduce it (it held every family's field names in one function). They differ where its Llama-style
    heads failed to split the new width into whole, even head sizes: see the test below."""
    values = config.to_dict()
    values.pop("attention_layers", None)
    ratio = d_model / config.hidden_size
    names = type(config).attribute_map
    for name, value in dict(hidden_size=d_model, num_hidden_layers=depth, vocab_size=vocab_size).items():
        values[names.get(name, name)] = value
    values.update(bos_token_id=None, eos_token_id=None, pad_token_id=None)
    for name in ("intermediate_size", "n_inner", "time_step_rank"):
        if isinstance(values.get(name), int):
            values[name] = max(1, round(values[name] * ratio))
    for name in ("num_attention_heads", "num_heads", "n_head"):
        if isinstance(values.get(name), int) and name in values and "head_dim" not in values:
            heads = max(1, min(values[name], d_model // 16))
            while d_model % heads:
                heads -= 1
            values[name] = heads
    if isinstance(values.get("num_key_value_heads"), int):
        values["num_key_value_heads"] = 1
    if "head_dim" in values and isinstance(values.get("num_heads"), int) and "expand" in values:
        values["head_dim"] = min(values["head_dim"], values["expand"] * d_model)
        values["num_heads"] = values["expand"] * d_model // values["head_dim"]
    if "head_dim" in values and isinstance(values.get("num_attention_heads"), int):
        values["head_dim"] = d_model // values["num_attention_heads"]
    if "attention_types" in values:
        values["attention_types"] = [[["global", "local"], depth // 2]] if depth % 2 == 0 else [[["global"], depth]]
    if "layer_types" in values:
        values["layer_types"] = None
    for name in ("max_position_embeddings", "n_positions"):
        if isinstance(values.get(name), int):
            values[name] = max(values[name], max_length)
    values.pop("model_type")
    return type(config)(**{k: v for k, v in values.items() if k not in ("transformers_version", "architectures")})


@pytest.mark.parametrize("family", FAMILIES)
def test_scaled_config_keeps_the_family_and_shrinks(family):
    config = tiny_config(family, d_model=64, depth=4)
    small = scaled_config(config, d_model=16, depth=2, max_length=300, vocab_size=20)
    assert small.model_type == config.model_type and small.hidden_size == 16
    proxy = manticore.ManticoreForCausalLM.from_components([small], num_blocks=2)
    assert proxy(torch.randint(0, 20, (1, 300))).logits.shape == (1, 300, 20)


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("d_model,depth,max_length,vocab_size", [(16, 2, 300, 20), (48, 3, 0, 128), (32, 1, 64, 61),
                                                                 (128, 6, 4096, 7)])
def test_scaled_config_equals_the_reference(family, d_model, depth, max_length, vocab_size):
    """Every family's hooks give exactly the config the single family-aware function gave, widening too."""
    config = tiny_config(family, d_model=64, depth=4)
    want = reference_scaled_config(config, d_model, depth, max_length, vocab_size)
    for got in (scaled_config(config, d_model, depth, max_length, vocab_size),
                adapter_class(config).scaled_config(config, d_model, depth, max_length, vocab_size)):
        assert type(got) is type(want)
        assert got.to_dict() == want.to_dict()


@pytest.mark.parametrize("family,source,width", [("llama", 48, 16), ("llama", 64, 24), ("mistral", 64, 4),
                                                  ("qwen3", 48, 32), ("qwen3", 64, 8)])
def test_rotary_heads_split_the_width_into_even_head_sizes(family, source, width):
    """Where the reference kept heads that don't fit the new width (Llama rejects them, RoPE needs an even
    head_dim, or head_dim becomes 0), the heads shrink to the most that give whole, even head sizes."""
    small = scaled_config(tiny_config(family, d_model=source, depth=2), width, 2, 0, 20)
    assert small.num_attention_heads * small.head_dim == width and small.head_dim % 2 == 0
    proxy = manticore.ManticoreForCausalLM.from_components([small], num_blocks=2)
    assert proxy(torch.randint(0, 20, (1, 9))).logits.shape == (1, 9, 20)
    with pytest.raises(ValueError, match="needs an even d_model.*got d_model=17"):
        scaled_config(tiny_config(family), 17, 2, 0, 20)


def test_scaled_config_sizes():
    """What the family hooks set, on one config of each kind."""
    gpt_neo = scaled_config(tiny_config("gpt_neo", d_model=64, depth=4), 32, 3, 300, 20)
    assert gpt_neo.num_heads == 2 and gpt_neo.attention_layers == ["global"] * 3 and gpt_neo.max_position_embeddings == 300
    gpt2 = scaled_config(tiny_config("gpt2", d_model=64, depth=4, max_positions=512), 48, 2, 300, 20)
    assert (gpt2.n_embd, gpt2.n_layer, gpt2.n_head, gpt2.n_positions, gpt2.vocab_size) == (48, 2, 3, 512, 20)
    llama = scaled_config(tiny_config("llama", d_model=64, depth=4), 16, 2, 300, 20)
    assert (llama.num_attention_heads, llama.head_dim, llama.num_key_value_heads, llama.intermediate_size) == (8, 2, 1, 32)
    qwen2 = scaled_config(tiny_config("qwen2", d_model=64, depth=4), 32, 2, 300, 20)
    assert (qwen2.num_attention_heads, qwen2.num_key_value_heads, qwen2.layer_types) == (2, 1, ["full_attention"] * 2)
    mamba = scaled_config(tiny_config("mamba", d_model=64, depth=4), 32, 2, 300, 20)
    assert (mamba.time_step_rank, mamba.intermediate_size) == (2, 64)
    mamba2 = scaled_config(tiny_config("mamba2", d_model=64, depth=4), 16, 2, 300, 20)
    assert (mamba2.head_dim, mamba2.num_heads) == (8, 4)
    assert all(getattr(c, name) is None for c in (gpt_neo, gpt2, llama, qwen2, mamba, mamba2)
               for name in ("bos_token_id", "eos_token_id", "pad_token_id"))


@pytest.mark.parametrize("argument,value", [("d_model", 0), ("depth", 0), ("vocab_size", 2.5), ("max_length", -1)])
def test_scaled_config_names_a_bad_argument(argument, value):
    arguments = dict(d_model=16, depth=2, max_length=0, vocab_size=20) | {argument: value}
    with pytest.raises(ValueError, match=rf"integer {argument} >= \d; got {value}"):
        scaled_config(tiny_config("gpt_neo"), **arguments)


def test_scaled_config_of_an_unknown_model_type_is_refused():
    from transformers import PretrainedConfig

    config = PretrainedConfig()
    config.model_type = "not_a_model"
    with pytest.raises(ValueError, match="Unsupported component family 'not_a_model'"):
        scaled_config(config, 16, 2, 0, 20)


def test_scaled_config_of_a_discovered_family_builds_a_smaller_hybrid():
    from manticore.tools.families import tiny_config as any_tiny_config

    small = scaled_config(any_tiny_config("olmo2"), 16, 2, 0, 20)
    assert (small.model_type, small.hidden_size, small.num_hidden_layers, small.vocab_size) == ("olmo2", 16, 2, 20)
    hybrid = manticore.ManticoreForCausalLM.from_components([small], num_blocks=2)
    assert hybrid(torch.randint(0, 20, (1, 5))).logits.shape == (1, 5, 20)
