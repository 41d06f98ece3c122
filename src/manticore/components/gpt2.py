"""GPT-2 (OpenAI): learned absolute positions, Conv1D projections, a final LayerNorm."""

from __future__ import annotations

from typing import Any

from transformers import PretrainedConfig

from .gpt_neo import GPTNeoAdapter


class GPT2Adapter(GPTNeoAdapter):
    """GPT-2's base model has GPT-Neo's attribute names (wte, wpe, drop, h, ln_f) and the same mask."""

    model_types = ("gpt2",)
    cache_argument = "past_key_values"
    proportional_fields = ("n_inner",)  # its MLP width (None means 4 * n_embd, which follows the width anyway)

    @classmethod
    def prune_config_dict(cls, values: dict[str, Any], keep: list[int], config: PretrainedConfig) -> dict[str, Any]:
        """n_layer becomes len(keep). A GPT-2 that scales attention by 1/(layer index + 1) can only drop
        trailing layers: renumbering the others would change their math."""
        if getattr(config, "scale_attn_by_inverse_layer_idx", False) and keep != list(range(len(keep))):
            raise ValueError(
                "This GPT-2 component has scale_attn_by_inverse_layer_idx=True, so its layers can't be renumbered "
                f"by pruning (keeping layers {keep}); discretize with prune=False instead."
            )
        return super().prune_config_dict(values, keep, config)
