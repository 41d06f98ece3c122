"""Mamba2 (Dao & Gu, 2024): SSD blocks; no positional embedding, a final gated RMSNorm."""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

from .mamba import MambaAdapter


class Mamba2Adapter(MambaAdapter):
    """Mamba2's base model has Mamba's attribute names and takes the same (b, t) padding mask."""

    model_types = ("mamba2",)

    @classmethod
    def scale_heads(cls, values: dict[str, Any], config: PretrainedConfig, d_model: int) -> dict[str, Any]:
        """Mamba2's heads split the mixer's expand * d_model channels: head_dim is kept (capped at that
        width) and num_heads follows, so num_heads * head_dim == expand * d_model."""
        inner = values["expand"] * d_model
        values["head_dim"] = min(values["head_dim"], inner)
        values["num_heads"] = inner // values["head_dim"]
        return values
