"""GPT-2 (OpenAI): learned absolute positions, Conv1D projections, a final LayerNorm."""

from __future__ import annotations

from .gpt_neo import GPTNeoAdapter


class GPT2Adapter(GPTNeoAdapter):
    """GPT-2's base model has GPT-Neo's attribute names (wte, wpe, drop, h, ln_f) and the same mask."""

    model_types = ("gpt2",)
