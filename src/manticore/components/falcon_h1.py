"""Falcon-H1 (TII): discovered like any decoder, except that it scales its token embeddings by
`embedding_multiplier` only when it looks them up itself, so the hybrid's embedding must apply that factor."""

from __future__ import annotations

from typing import Any

from transformers import PreTrainedModel

from .decoder import DecoderAdapter


class FalconH1Adapter(DecoderAdapter):
    model_types = ("falcon_h1",)

    @classmethod
    def head_settings(cls, model: PreTrainedModel) -> dict[str, Any]:
        settings = super().head_settings(model)  # lm_head_multiplier is a logit multiplier there
        settings["embedding_multiplier"] = settings.get("embedding_multiplier", 1.0) * model.config.embedding_multiplier
        return settings
