"""The Llama decoder family: Llama, Qwen2, Mistral and other models with the same layer interface.

Rotary positions are applied inside every layer; the final norm is an RMSNorm. Layers may mix full and
sliding-window attention (`config.layer_types`, or Mistral's `sliding_window`), so one mask is built per
attention type and each layer gets its own.
"""

from __future__ import annotations

from typing import Any

import torch
from transformers import PretrainedConfig

from .base import ComponentAdapter


class LlamaAdapter(ComponentAdapter):
    model_types = ("llama", "qwen2", "mistral", "qwen3")
    token_embedding = "embed_tokens"
    layers = "layers"
    norm = "norm"

    def layer_types(self) -> list[str]:
        types = getattr(self.config, "layer_types", None)
        if types is not None:
            return list(types)
        sliding = getattr(self.config, "sliding_window", None) is not None
        return ["sliding_attention" if sliding else "full_attention"] * self.num_blocks

    def prepare(self, hidden, attention_mask, position_ids, cache=None) -> dict[str, Any]:
        masks = {
            kind: self.causal_mask(hidden, attention_mask, position_ids, cache, sliding_window=kind == "sliding_attention")
            for kind in set(self.layer_types())
        }
        rotary = self.backbone.rotary_emb(hidden, position_ids)
        return {"masks": masks, "position_ids": position_ids, "position_embeddings": rotary}

    def call_block(self, index: int, hidden: torch.Tensor, context: dict[str, Any]) -> torch.Tensor:
        mask = context["masks"][self.layer_types()[index]]
        out = self.blocks[index](
            hidden,
            attention_mask=mask,
            position_ids=context["position_ids"],
            position_embeddings=context["position_embeddings"],
            past_key_values=context.get("past_key_values"),
        )
        return out[0] if isinstance(out, tuple) else out

    @classmethod
    def prune_config_dict(cls, values: dict[str, Any], keep: list[int], config: PretrainedConfig) -> dict[str, Any]:
        """`layer_types` is subset to the kept layers (the default); Qwen2/Qwen3's `max_window_layers` (layers
        below it use full attention) becomes the number of kept layers below it, so it stays consistent."""
        values = super().prune_config_dict(values, keep, config)
        if isinstance(values.get("max_window_layers"), int):
            values["max_window_layers"] = sum(i < values["max_window_layers"] for i in keep)
        return values

    @classmethod
    def scale_heads(cls, values: dict[str, Any], config: PretrainedConfig, d_model: int) -> dict[str, Any]:
        """A config with an explicit `head_dim` (Llama, Mistral, Qwen3) keeps its heads while they split d_model
        into whole, even head sizes (rotary positions turn pairs of channels), else the most heads that do, and
        gets head_dim = d_model // heads; one without (Qwen2) shrinks its heads as the default does. Either
        way, one KV head."""
        if "head_dim" in values:
            if d_model % 2:
                raise ValueError(f"A scaled {config.model_type} component needs an even d_model (its rotary "
                                 f"positions turn pairs of channels); got d_model={d_model}.")
            heads = values["num_attention_heads"]
            while d_model % heads or d_model // heads % 2:
                heads -= 1
            values["num_attention_heads"] = heads
            values["head_dim"] = d_model // heads
        else:
            values = super().scale_heads(values, config, d_model)
        if isinstance(values.get("num_key_value_heads"), int):
            values["num_key_value_heads"] = 1
        return values
