"""Manticore: pretrained hybrid language models built from pretrained components of different families.

    import manticore
    model = manticore.ManticoreForCausalLM.from_components([gpt_neo, mamba], num_blocks=2, embeddings_from=0)

Importing the package registers the hybrid with transformers' Auto classes, so `AutoConfig`,
`AutoModelForCausalLM` and `AutoModelForSequenceClassification` load saved hybrids.
"""

from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoModelForSequenceClassification

from .components import ComponentAdapter, register_adapter, supported_families
from .hybrid import (
    ManticoreConfig,
    ManticoreForCausalLM,
    ManticoreForSequenceClassification,
    ManticoreModel,
    ManticorePreTrainedModel,
)

__version__ = "0.1.0"

AutoConfig.register(ManticoreConfig.model_type, ManticoreConfig, exist_ok=True)
AutoModel.register(ManticoreConfig, ManticoreModel, exist_ok=True)
AutoModelForCausalLM.register(ManticoreConfig, ManticoreForCausalLM, exist_ok=True)
AutoModelForSequenceClassification.register(ManticoreConfig, ManticoreForSequenceClassification, exist_ok=True)

__all__ = [
    "ComponentAdapter",
    "ManticoreConfig",
    "ManticoreForCausalLM",
    "ManticoreForSequenceClassification",
    "ManticoreModel",
    "ManticorePreTrainedModel",
    "register_adapter",
    "supported_families",
]
