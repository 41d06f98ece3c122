"""Mamba2 (Dao & Gu, 2024): SSD blocks; no positional embedding, a final gated RMSNorm."""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

from .mamba import MambaAdapter


class Mamba2Adapter(MambaAdapter):
    """Mamba2's base model has Mamba's attribute names and takes the same (b, t) padding mask."""

    model_types = ("mamba2",)

    def recurrent_state_bytes(self, index: int) -> int:
        """A conv state (d_inner + 2·groups·state_size, conv_kernel) and an SSM state (heads, head_dim,
        state_size) per sequence, d_inner = expand·d_model."""
        c = self.config
        conv = (c.expand * c.hidden_size + 2 * c.n_groups * c.state_size) * c.conv_kernel
        return (conv + c.num_heads * c.head_dim * c.state_size) * self._state_dtype_bytes()

    def scan_flops(self, index: int) -> int:
        """Per token: 6 per (head channel, state) (B·x, the state update, C·h) and 2 per head (exp(Δ·A))."""
        c = self.config
        return 6 * c.num_heads * c.head_dim * c.state_size + 2 * c.num_heads

    @classmethod
    def scale_heads(cls, values: dict[str, Any], config: PretrainedConfig, d_model: int) -> dict[str, Any]:
        """Mamba2's heads split the mixer's expand * d_model channels: head_dim is kept (capped at that
        width) and num_heads follows, so num_heads * head_dim == expand * d_model."""
        inner = values["expand"] * d_model
        values["head_dim"] = min(values["head_dim"], inner)
        values["num_heads"] = inner // values["head_dim"]
        return values
