"""Mamba2 (Dao & Gu, 2024): SSD blocks; no positional embedding, a final gated RMSNorm."""

from __future__ import annotations

from .mamba import MambaAdapter


class Mamba2Adapter(MambaAdapter):
    """Mamba2's base model has Mamba's attribute names and takes the same (b, t) padding mask."""

    model_types = ("mamba2",)
