"""The hybrid model of Appendix B: projectors, mixture weights, Manticore blocks, and the model classes."""

from .block import ManticoreBlock
from .cache import ManticoreCache
from .config import ManticoreConfig
from .mixture import MixtureWeights
from .model import (
    ManticoreForCausalLM,
    ManticoreForSequenceClassification,
    ManticoreModel,
    ManticorePreTrainedModel,
)
from .projector import Projector

__all__ = [
    "ManticoreBlock",
    "ManticoreCache",
    "ManticoreConfig",
    "ManticoreForCausalLM",
    "ManticoreForSequenceClassification",
    "ManticoreModel",
    "ManticorePreTrainedModel",
    "MixtureWeights",
    "Projector",
]

from . import auto  # noqa: E402

# the Auto classes load saved hybrids from now on
auto.register(ManticoreConfig, {cls.__name__: cls for cls in (ManticoreModel, ManticoreForCausalLM,
                                                              ManticoreForSequenceClassification)})
