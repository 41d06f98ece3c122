"""Each family's adapter runs its blocks in groups exactly like the Hugging Face base model."""

import pytest
import torch
from transformers import AutoConfig, BertConfig

import manticore
from manticore.components import ComponentAdapter, adapter_class, register_adapter, supported_families
from manticore.components.decoder import DecoderAdapter
from manticore.components.mamba import MambaAdapter
from conftest import FAMILIES, tiny_component, tiny_config


@pytest.mark.parametrize("family", FAMILIES)
def test_groups_of_blocks_compose_to_the_base_model(family, ids):
    """Embedding -> blocks [0, 2) -> blocks [2, 4) equals the base model's last hidden state."""
    model = tiny_component(family, depth=4)
    adapter = adapter_class(model.config)(model.config).eval()
    state = {k: v for k, v in model.base_model.state_dict().items() if not k.startswith(adapter.token_embedding + ".")}
    adapter.backbone.load_state_dict(state)
    positions = torch.arange(ids.shape[1])[None]
    with torch.no_grad():
        h = model.get_input_embeddings()(ids)
        context = adapter.prepare(h, None, positions)
        h = adapter.run_blocks(h, 0, 2, context, first=True, last=False)
        h = adapter.run_blocks(h, 2, 4, context, first=False, last=True)
        want = model.base_model(ids).last_hidden_state
    assert (h - want).abs().max() < 1e-5
    assert adapter.d_model == 32 and adapter.num_blocks == 4


def test_token_embedding_is_dropped():
    model = tiny_component("gpt_neo")
    adapter = adapter_class(model.config)(model.config)
    assert adapter.backbone.wte is None
    assert not any("wte" in name for name, _ in adapter.named_parameters())


@pytest.mark.parametrize("family,limit", [("gpt_neo", 64), ("gpt2", 64), ("gpt_neox", None), ("llama", None),
                                          ("mamba", None), ("mamba2", None)])
def test_max_positions(family, limit):
    config = tiny_config(family, max_positions=64)
    assert adapter_class(config)(config).max_positions == limit


def test_unknown_model_type_lists_the_registered_families():
    with pytest.raises(ValueError) as err:
        adapter_class({"model_type": "not_a_model"})
    message = str(err.value)
    assert "'not_a_model'" in message and "transformers has no such model type" in message
    for family in ("gpt_neo", "gpt_neox", "gpt2", "llama", "mamba", "mamba2"):
        assert family in message


def test_other_transformers_families_are_discovered():
    assert adapter_class(BertConfig()) is DecoderAdapter
    assert adapter_class("olmo2") is DecoderAdapter


def test_unusable_family_in_from_components_names_the_component():
    config = AutoConfig.for_model("got_ocr2")
    with pytest.raises(ValueError, match=r"Component 1: Component family 'got_ocr2' .* can't be used"):
        manticore.ManticoreForCausalLM.from_components([tiny_config("gpt_neo"), config], num_blocks=1)


def test_register_adapter_adds_a_family(ids):
    """A new family is one adapter class plus one registration."""

    @register_adapter
    class FalconMambaAdapter(MambaAdapter):
        model_types = ("falcon_mamba",)

    try:
        assert "falcon_mamba" in supported_families()
        config = AutoConfig.for_model("falcon_mamba", vocab_size=61, hidden_size=32, num_hidden_layers=2,
                                      state_size=4, expand=2)
        model = manticore.ManticoreForCausalLM.from_components([config], num_blocks=1)
        assert model(ids).logits.shape == (2, 12, 61)
    finally:
        from manticore.components.registry import ADAPTERS
        ADAPTERS.pop("falcon_mamba")


def test_register_adapter_rejects_non_adapters():
    with pytest.raises(TypeError, match="ComponentAdapter subclass"):
        register_adapter(object)
    with pytest.raises(TypeError, match="model_types"):
        register_adapter(ComponentAdapter)
