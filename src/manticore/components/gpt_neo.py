"""GPT-Neo (EleutherAI): learned absolute positions, local/global attention, a final LayerNorm."""

from __future__ import annotations

from typing import Any

import torch
from transformers import PretrainedConfig

from .base import ComponentAdapter


class GPTNeoAdapter(ComponentAdapter):
    model_types = ("gpt_neo",)
    token_embedding = "wte"
    layers = "h"
    norm = "ln_f"
    positional_embedding = "wpe"
    cache_argument = "layer_past"

    @property
    def max_positions(self) -> int:
        return self.config.max_position_embeddings

    def prepare(self, hidden, attention_mask, position_ids, cache=None) -> dict[str, Any]:
        # GPT-Neo's attention applies its causal and local windows itself (its `bias` buffer) and only adds the
        # mask for padding: without padding there is nothing to add, and building the mask each decoding step
        # would cost about half a layer's time
        if attention_mask is None or bool(attention_mask.all()):
            return {"attention_mask": None, "position_ids": position_ids}
        mask = self.causal_mask(hidden, attention_mask, position_ids, cache)
        return {"attention_mask": mask, "position_ids": position_ids}

    def embed_positions(self, hidden: torch.Tensor, context: dict[str, Any]) -> torch.Tensor:
        return self.backbone.drop(hidden + self.backbone.wpe(context["position_ids"]))

    @classmethod
    def prune_config_dict(cls, values: dict[str, Any], keep: list[int], config: PretrainedConfig) -> dict[str, Any]:
        """GPT-Neo describes its layers' attention types as runs, [[["global", "local"], n], ...]: the kept
        layers' types become explicit runs, e.g. [[["global"], 1], [["local"], 1]]."""
        values = super().prune_config_dict(values, keep, config)
        if "attention_types" in values:  # GPT-2 (a subclass) has none
            layers = [config.attention_layers[i] for i in keep]
            runs: list[list] = []
            for kind in layers:
                if runs and runs[-1][0] == [kind]:
                    runs[-1][1] += 1
                else:
                    runs.append([[kind], 1])
            values["attention_types"] = runs
            values.pop("attention_layers", None)
        return values

    @classmethod
    def scaled_config_dict(cls, values: dict[str, Any], config: PretrainedConfig, d_model: int, depth: int,
                           max_length: int, vocab_size: int) -> dict[str, Any]:
        """The generic scaling, and GPT-Neo's attention types for the new depth: alternating global/local
        runs, as GPT-Neo's own default, or all global for an odd depth."""
        values = super().scaled_config_dict(values, config, d_model, depth, max_length, vocab_size)
        if "attention_types" in values:  # GPT-2 (a subclass) has none
            values["attention_types"] = [[["global", "local"], depth // 2]] if depth % 2 == 0 else [[["global"], depth]]
            values.pop("attention_layers", None)  # derived from attention_types
        return values
