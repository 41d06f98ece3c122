"""Manticore: pretrained hybrid language models built from pretrained components of different families.

    import manticore
    model = manticore.ManticoreForCausalLM.from_components([gpt_neo, mamba], num_blocks=2, embeddings_from=0)

Importing the package is cheap: the public names load on first use. It also registers the hybrid with
transformers' Auto classes (at once if they are loaded, else as soon as they load), so `AutoConfig`,
`AutoModelForCausalLM` and `AutoModelForSequenceClassification` load saved hybrids.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from ._auto_hook import register_now_or_on_import

if TYPE_CHECKING:
    from .components import ComponentAdapter, register_adapter, supported_families
    from .hybrid import (
        ManticoreCache,
        ManticoreConfig,
        ManticoreForCausalLM,
        ManticoreForSequenceClassification,
        ManticoreModel,
        ManticorePreTrainedModel,
    )

__version__ = "0.1.0"

_EXPORTS = {
    "ComponentAdapter": ".components",
    "register_adapter": ".components",
    "supported_families": ".components",
    "ManticoreCache": ".hybrid",
    "ManticoreConfig": ".hybrid",
    "ManticoreForCausalLM": ".hybrid",
    "ManticoreForSequenceClassification": ".hybrid",
    "ManticoreModel": ".hybrid",
    "ManticorePreTrainedModel": ".hybrid",
}

__all__ = [
    "ComponentAdapter",
    "ManticoreCache",
    "ManticoreConfig",
    "ManticoreForCausalLM",
    "ManticoreForSequenceClassification",
    "ManticoreModel",
    "ManticorePreTrainedModel",
    "register_adapter",
    "supported_families",
]


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


register_now_or_on_import()
