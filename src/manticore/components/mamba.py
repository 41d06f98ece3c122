"""Mamba (Gu & Dao, 2023): selective state-space blocks; no positional embedding, a final RMSNorm."""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

from ..kernels import use_fast_scan
from .base import ComponentAdapter


class MambaAdapter(ComponentAdapter):
    model_types = ("mamba",)
    token_embedding = "embeddings"
    layers = "layers"
    norm = "norm_f"
    proportional_fields = ("intermediate_size", "time_step_rank")  # the mixer width and the dt projection's rank
    cache_argument = "cache_params"  # conv and SSM states

    def __init__(self, config: PretrainedConfig):
        super().__init__(config)
        # Mamba (v1) mixers run manticore's fast CPU selective scan; no-op for Mamba2's mixers.
        use_fast_scan(self.backbone)

    def recurrent_state_bytes(self, index: int) -> int:
        """A conv state (d_inner, conv_kernel) and an SSM state (d_inner, state_size) per sequence."""
        config = self.config
        return config.intermediate_size * (config.conv_kernel + config.state_size) * self._state_dtype_bytes()

    def scan_flops(self, index: int) -> int:
        """Per token: 8 per (channel, state) (exp(Δ·A), Δ·B·u, the state update, C·h) and 5 per channel
        (softplus Δ, the D skip, the z gate), channels d_inner."""
        config = self.config
        return config.intermediate_size * (8 * config.state_size + 5)

    def _state_dtype_bytes(self) -> int:
        return next(self.backbone.parameters()).element_size()

    def prepare(self, hidden, attention_mask, position_ids, cache=None) -> dict[str, Any]:
        # The mixers zero padded positions themselves from the (b, t) mask of the new positions (the cached ones
        # are in the state already).
        new = hidden.shape[1]
        return {"attention_mask": None if attention_mask is None else attention_mask[:, -new:]}
