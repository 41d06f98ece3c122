"""HyperCLOVA X (NAVER): discovered like any decoder, except that its `logits_scaling` multiplies the logits
(Granite's divides them, the default reading of that field)."""

from __future__ import annotations

from .decoder import DecoderAdapter


class HyperClovaXAdapter(DecoderAdapter):
    model_types = ("hyperclovax",)
    logit_multiplier_fields = ("logits_scaling",)
    logit_divisor_fields = ()
