"""GPT-Neo (EleutherAI): learned absolute positions, local/global attention, a final LayerNorm."""

from __future__ import annotations

from typing import Any

import torch
from .base import ComponentAdapter


class GPTNeoAdapter(ComponentAdapter):
    model_types = ("gpt_neo",)
    token_embedding = "wte"
    layers = "h"
    norm = "ln_f"

    @property
    def max_positions(self) -> int:
        return self.config.max_position_embeddings

    def prepare(self, hidden, attention_mask, position_ids) -> dict[str, Any]:
        mask = self.causal_mask(hidden, attention_mask, position_ids)
        return {"attention_mask": mask, "position_ids": position_ids}

    def embed_positions(self, hidden: torch.Tensor, context: dict[str, Any]) -> torch.Tensor:
        return self.backbone.drop(hidden + self.backbone.wpe(context["position_ids"]))
