"""The registry of component families, keyed by `config.model_type`.

Families listed here have their own adapter (explicit, compile-friendly code for the families we use most).
Every other causal LM transformers knows gets the `DecoderAdapter`, which discovers the layout from the model
itself (`decoder.py`); `check_component` says early, and by name, what discovery found missing.

Adding a family that discovery can't handle: write one adapter file beside this one and add one line to
`BUILT_IN` below (or decorate it with `register_adapter` in your own code).
"""

from __future__ import annotations

from transformers import PretrainedConfig

from ..registry import Registry
from .base import ComponentAdapter
from .decoder import DecoderAdapter
from .falcon_h1 import FalconH1Adapter
from .gpt2 import GPT2Adapter
from .gpt_neo import GPTNeoAdapter
from .gpt_neox import GPTNeoXAdapter
from .hyperclovax import HyperClovaXAdapter
from .llama import LlamaAdapter
from .mamba import MambaAdapter
from .mamba2 import Mamba2Adapter
from .rwkv import RwkvAdapter

BUILT_IN = (GPTNeoAdapter, GPTNeoXAdapter, GPT2Adapter, LlamaAdapter, MambaAdapter, Mamba2Adapter,
            # discovered families with a small family file for what discovery can't know
            RwkvAdapter, FalconH1Adapter, HyperClovaXAdapter)
ADAPTERS: Registry[type[ComponentAdapter]] = Registry(
    "model family", names_of=lambda adapter: adapter.model_types,
    check=lambda adapter: isinstance(adapter, type) and issubclass(adapter, ComponentAdapter) and bool(adapter.model_types),
    accepted="a ComponentAdapter subclass with non-empty `model_types`")
for _adapter in BUILT_IN:
    ADAPTERS.register(_adapter)

register_adapter = ADAPTERS.register  # @register_adapter: an adapter for each of its `model_types`


def supported_families() -> list[str]:
    return sorted(ADAPTERS)


def adapter_class(config: PretrainedConfig | dict | str) -> type[ComponentAdapter]:
    """The adapter for a component config (or its dict, or its model_type): the family's own if it has one
    registered, else the discovering `DecoderAdapter` for any model type transformers knows. A ValueError names
    an unknown model type; `check_component` also checks that discovery finds what it needs."""
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    model_type = config if isinstance(config, str) else (
        config.get("model_type") if isinstance(config, dict) else getattr(config, "model_type", None))
    if model_type in ADAPTERS:
        return ADAPTERS[model_type]
    if model_type in CONFIG_MAPPING_NAMES:
        return DecoderAdapter
    raise ValueError(
        f"Unsupported component family {model_type!r}: transformers has no such model type. Families with their "
        f"own adapter: {', '.join(supported_families())}; any other causal LM in transformers is discovered. To add "
        "one, see docs/extending.md, 'A model family'."
    )


def check_component(config: PretrainedConfig) -> type[ComponentAdapter]:
    """The adapter for `config`, after checking it can wrap it (for a discovered family: that the layout is found,
    on the meta device, without weights); a ValueError says what is missing."""
    adapter = adapter_class(config)
    adapter.check(config)
    return adapter


def scaled_config(
    config: PretrainedConfig, d_model: int, depth: int, max_length: int, vocab_size: int
) -> PretrainedConfig:
    """A smaller copy of a component config, of the same family, for the random-init proxy that programming by
    proxy searches: width d_model, `depth` blocks, positions for max_length tokens, vocab_size tokens. The
    family's adapter decides the rest; see `ComponentAdapter.scaled_config`."""
    return adapter_class(config).scaled_config(config, d_model, depth, max_length, vocab_size)
