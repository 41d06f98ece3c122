"""The registry of component families, keyed by `config.model_type`.

Adding a family: write one adapter file beside this one and add one line to `ADAPTERS` below (or call
`register_adapter` from your own code).
"""

from __future__ import annotations

from transformers import PretrainedConfig

from .base import ComponentAdapter
from .gpt2 import GPT2Adapter
from .gpt_neo import GPTNeoAdapter
from .gpt_neox import GPTNeoXAdapter
from .llama import LlamaAdapter
from .mamba import MambaAdapter
from .mamba2 import Mamba2Adapter

ADAPTERS: dict[str, type[ComponentAdapter]] = {
    model_type: adapter
    for adapter in (GPTNeoAdapter, GPTNeoXAdapter, GPT2Adapter, LlamaAdapter, MambaAdapter, Mamba2Adapter)
    for model_type in adapter.model_types
}


def register_adapter(adapter: type[ComponentAdapter]) -> type[ComponentAdapter]:
    """Register an adapter for each of its `model_types`; usable as a class decorator."""
    if not (isinstance(adapter, type) and issubclass(adapter, ComponentAdapter)) or not adapter.model_types:
        raise TypeError(
            f"register_adapter expects a ComponentAdapter subclass with non-empty `model_types`, got {adapter!r}"
        )
    for model_type in adapter.model_types:
        ADAPTERS[model_type] = adapter
    return adapter


def supported_families() -> list[str]:
    return sorted(ADAPTERS)


def adapter_class(config: PretrainedConfig | str) -> type[ComponentAdapter]:
    """The adapter for a component config (or model_type); a ValueError lists the supported families."""
    model_type = config if isinstance(config, str) else getattr(config, "model_type", None)
    if model_type not in ADAPTERS:
        raise ValueError(
            f"Unsupported component family {model_type!r}. "
            f"Supported families (config.model_type): {', '.join(supported_families())}. "
            "To add one, see 'Adding a model family' in the README."
        )
    return ADAPTERS[model_type]


def scaled_config(
    config: PretrainedConfig, d_model: int, depth: int, max_length: int, vocab_size: int
) -> PretrainedConfig:
    """A smaller copy of a component config, of the same family, for the random-init proxy that programming by
    proxy searches: width d_model, `depth` blocks, positions for max_length tokens, vocab_size tokens. The
    family's adapter decides the rest; see `ComponentAdapter.scaled_config`."""
    return adapter_class(config).scaled_config(config, d_model, depth, max_length, vocab_size)
