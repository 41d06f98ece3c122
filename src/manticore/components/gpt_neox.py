"""GPT-NeoX / Pythia (EleutherAI): rotary positions applied in every layer, a final LayerNorm."""

from __future__ import annotations

from typing import Any

import torch
from .base import ComponentAdapter


class GPTNeoXAdapter(ComponentAdapter):
    model_types = ("gpt_neox",)
    token_embedding = "embed_in"
    layers = "layers"
    norm = "final_layer_norm"
    cache_argument = "layer_past"

    def prepare(self, hidden, attention_mask, position_ids, cache=None) -> dict[str, Any]:
        mask = self.causal_mask(hidden, attention_mask, position_ids, cache)
        rotary = self.backbone.rotary_emb(hidden, position_ids=position_ids)
        return {"attention_mask": mask, "position_ids": position_ids, "position_embeddings": rotary}

    def embed_positions(self, hidden: torch.Tensor, context: dict[str, Any]) -> torch.Tensor:
        return self.backbone.emb_dropout(hidden)  # positions are rotary, applied inside every layer
