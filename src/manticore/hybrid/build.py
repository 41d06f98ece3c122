"""Building a hybrid from component models given as instances, checkpoints, hub ids or configs."""

from __future__ import annotations

import os
from typing import Any

import torch
from transformers import AutoConfig, AutoModelForCausalLM, PretrainedConfig, PreTrainedModel

from ..checks import is_int
from ..components.base import ComponentAdapter
from ..components.registry import adapter_class, check_component
from ..components.sources import check_source
from .config import ManticoreConfig

ACCEPTED = "a transformers PreTrainedModel, a local checkpoint directory or hub id (str), or a PretrainedConfig"


def load_component(spec: Any, index: int) -> PreTrainedModel:
    """Component `index` as a PreTrainedModel; configs give a randomly initialised model of their family."""
    if isinstance(spec, PreTrainedModel):
        _check_family(spec.config, index)
        return spec
    if isinstance(spec, PretrainedConfig):
        _check_family(spec, index)
        return AutoModelForCausalLM.from_config(spec)
    if isinstance(spec, (str, os.PathLike)):
        check_source(spec, f"Component {index}:")
        try:
            config = AutoConfig.from_pretrained(spec)
            _check_family(config, index)
            return AutoModelForCausalLM.from_pretrained(spec)
        except OSError as err:
            offline = " (HF_HUB_OFFLINE is set, so only local files and the cache are read)" if os.environ.get(
                "HF_HUB_OFFLINE") in ("1", "true", "True") else ""
            raise ValueError(
                f"Component {index}: could not load {str(spec)!r} as a local checkpoint directory or hub id"
                f"{offline}: {err}"
            ) from err
        except Exception as err:  # a corrupt or refused weights file (e.g. a pickle payload weights_only refuses)
            if isinstance(err, ValueError) and str(err).startswith("Component"):
                raise
            from ..errors import first_line

            raise ValueError(f"Component {index}: {str(spec)!r} could not be loaded: {first_line(err)[:300]}") from None
    raise TypeError(f"Component {index} is a {type(spec).__name__}; accepted: {ACCEPTED}.")


def _check_family(config: PretrainedConfig, index: int) -> None:
    try:
        check_component(config)
    except ValueError as err:
        raise ValueError(f"Component {index}: {err}") from None


def copy_component_weights(adapter: ComponentAdapter, model: PreTrainedModel, index: int) -> None:
    """Load a component's base-model weights (all but its token embedding) into the hybrid's adapter."""
    prefix = adapter.token_embedding + "."
    state = {k: v for k, v in model.base_model.state_dict().items() if not k.startswith(prefix)}
    missing, unexpected = adapter.backbone.load_state_dict(state, strict=False)
    if missing or unexpected:
        raise ValueError(
            f"Component {index} ({adapter.name}): its weights don't match the adapter's base model; "
            f"missing {missing[:5]}, unexpected {unexpected[:5]}."
        )


@torch.no_grad()
def init_embeddings_from(hybrid: PreTrainedModel, model: PreTrainedModel) -> None:
    """Copy a component's token embedding (and LM head, if the hybrid has one) into the first d_k dims.

    The other embedding dimensions and head input columns are zero, so with a one-hot α on that component
    the hybrid computes exactly the component's logits.
    """
    source = model.get_input_embeddings().weight
    width = source.shape[1]
    target = hybrid.base_model.embed_tokens.weight
    target.zero_()
    target[:, :width] = source
    head = hybrid.get_output_embeddings()
    if head is None or head.weight is target:
        return
    source_head = model.get_output_embeddings()
    head.weight.zero_()
    head.weight[:, :width] = source if source_head is None else source_head.weight
    if head.bias is not None:
        bias = None if source_head is None else source_head.bias
        head.bias.copy_(bias if bias is not None else torch.zeros_like(head.bias))


def build_from_components(cls, components, num_blocks, vocab_size, embeddings_from, **config_kwargs):
    """See `ManticorePreTrainedModel.from_components`. Validates everything before building anything."""
    if isinstance(components, (str, PreTrainedModel, PretrainedConfig)) or not hasattr(components, "__len__"):
        raise TypeError(f"components must be a list of component models ({ACCEPTED}); got {type(components).__name__}.")
    if len(components) == 0:
        raise ValueError("components is empty: a Manticore hybrid needs at least one component model (K >= 1).")
    models = [load_component(spec, k) for k, spec in enumerate(components)]
    if is_int(embeddings_from) and 0 <= embeddings_from < len(models):
        source = models[embeddings_from]  # its embedding scale, logit factors and head bias, unless given
        config_kwargs = {**adapter_class(source.config).head_settings(source), **config_kwargs}
    config = ManticoreConfig(
        components=[m.config for m in models], num_blocks=num_blocks, vocab_size=vocab_size,
        **{"component_sources": [source_of(spec) for spec in components], **config_kwargs}
    )
    if embeddings_from is not None:
        _check_embeddings_from(embeddings_from, models, config.vocab_size)
    hybrid = cls(config)
    for k, (adapter, model) in enumerate(zip(hybrid.base_model.components, models)):
        copy_component_weights(adapter, model, k)
    if embeddings_from is not None:
        init_embeddings_from(hybrid, models[embeddings_from])
    return hybrid


def source_of(spec: Any) -> str | None:
    """Where a component came from: its path or hub id; a model's own name_or_path; None for a config."""
    if isinstance(spec, (str, os.PathLike)):
        return os.fspath(spec)
    name = getattr(getattr(spec, "config", None), "_name_or_path", None) if isinstance(spec, PreTrainedModel) else None
    return name or None


def _check_embeddings_from(k: Any, models: list[PreTrainedModel], vocab_size: int) -> None:
    if not is_int(k) or not 0 <= k < len(models):
        raise ValueError(
            f"embeddings_from must be a component index in [0, {len(models) - 1}] (or None for a fresh "
            f"embedding); got {k!r}."
        )
    component_vocab = models[k].get_input_embeddings().weight.shape[0]
    if component_vocab != vocab_size:
        raise ValueError(
            f"embeddings_from={k}: component {k} has a vocabulary of {component_vocab} tokens but the hybrid has "
            f"vocab_size={vocab_size}; they must match to share the embedding."
        )


def load_hybrid(path: str | os.PathLike) -> PreTrainedModel:
    """A saved hybrid with the head it was saved with (causal LM or sequence classification)."""
    from transformers import AutoModelForSequenceClassification

    check_source(path, "Hybrid")
    config = AutoConfig.from_pretrained(path)
    if not isinstance(config, ManticoreConfig):
        raise ValueError(f"{str(path)!r} holds a {config.model_type!r} model, not a Manticore hybrid.")
    heads = config.architectures or ["ManticoreForCausalLM"]
    auto = AutoModelForSequenceClassification if "SequenceClassification" in heads[0] else AutoModelForCausalLM
    return auto.from_pretrained(path)
