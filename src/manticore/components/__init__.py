"""Component models: one adapter per model family, behind a registry keyed by `config.model_type`."""

from .base import ComponentAdapter
from .registry import ADAPTERS, adapter_class, register_adapter, scaled_config, supported_families

__all__ = ["ADAPTERS", "ComponentAdapter", "adapter_class", "register_adapter", "scaled_config", "supported_families"]
