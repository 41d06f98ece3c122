"""Mamba (Gu & Dao, 2023): selective state-space blocks; no positional embedding, a final RMSNorm."""

from __future__ import annotations

from typing import Any

from .base import ComponentAdapter


class MambaAdapter(ComponentAdapter):
    model_types = ("mamba",)
    token_embedding = "embeddings"
    layers = "layers"
    norm = "norm_f"

    def prepare(self, hidden, attention_mask, position_ids) -> dict[str, Any]:
        # The mixers zero padded positions themselves from the (b, t) mask.
        return {"attention_mask": attention_mask}
