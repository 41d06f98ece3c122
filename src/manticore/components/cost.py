"""What one block (layer) of a component costs: parameters, FLOPs per token at prefill and at decode (as a
function of the context length), KV-cache bytes per token and recurrent-state bytes.

    cost = adapter.layer_cost(i)             # a LayerCost, from the family's adapter
    cost.decode_flops(context=4096)          # FLOPs to decode one token after 4096 of context
    cost.kv_bytes(context=32768)             # bytes its cache holds for a sequence of that length

Counted from the model itself, not from a table: the parameters and the matrix multiplies of the layer's own
modules (every Linear, Conv1d or transformers Conv1D weight is 2 FLOPs per element per token), attention from
its config (query heads, KV heads, head size) and from the kind of cache layer transformers builds for it (a
sliding-window layer keeps at most `window` positions), recurrent state from the family (`recurrent_state`,
Mamba's conv and SSM states). What these numbers leave out: elementwise work (norms, activations, softmax),
and routing in mixture-of-experts layers (every expert's weights are counted, as if all of them ran).

Glossary: c = context length (positions attended to, the new token included), h = query heads, hk = KV
heads, e = head size, w = sliding window.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn


@dataclass(frozen=True)
class Attention:
    """A layer's attention: it attends to every cached position (up to a sliding window)."""

    heads: int
    """h: query heads."""
    kv_heads: int
    """hk: key/value heads (fewer than h under grouped-query attention)."""
    head_dim: int
    """e: channels per head."""
    window: int | None = None
    """w: the most positions its cache keeps and it attends to (a sliding window); None: all of them."""

    def attended(self, context: int) -> int:
        """Positions one token attends to after `context` positions (itself included)."""
        return context if self.window is None else min(context, self.window)


@dataclass(frozen=True)
class LayerCost:
    """The cost of one block of a component, per sequence and per token."""

    params: int
    """Parameters of the block."""
    linear_flops: int
    """FLOPs per token of its matrix multiplies (2 per weight element), the same at any context length."""
    attention: Attention | None = None
    """Its attention, if it has one."""
    state_bytes: int = 0
    """Bytes of recurrent state it keeps per sequence (conv and SSM states), the same at any length."""
    scan_flops: int = 0
    """FLOPs per token of a recurrence that is not a matrix multiply (Mamba's selective scan)."""
    dtype_bytes: int = 4
    """Bytes per cached number (the cache keeps the activations' dtype)."""

    def decode_flops(self, context: int) -> int:
        """FLOPs to compute one new token after `context - 1` cached positions: matmuls, the scan, and
        attention's two products over the attended positions, 4·h·e per position."""
        attention = 0 if self.attention is None else \
            4 * self.attention.heads * self.attention.head_dim * self.attention.attended(context)
        return self.linear_flops + self.scan_flops + attention

    def prefill_flops(self, length: int) -> float:
        """FLOPs per token of a prefill of `length` tokens: position t (1-based) attends to min(t, w) positions."""
        if self.attention is None or length <= 0:
            return float(self.linear_flops + self.scan_flops)
        w = length if self.attention.window is None else min(self.attention.window, length)
        attended = (w * (w + 1) / 2 + (length - w) * w) / length  # mean over t of min(t, w)
        return self.linear_flops + self.scan_flops + 4 * self.attention.heads * self.attention.head_dim * attended

    @property
    def kv_bytes_per_token(self) -> int:
        """Bytes its cache adds per token (keys and values), until a sliding window is full."""
        if self.attention is None:
            return 0
        return 2 * self.attention.kv_heads * self.attention.head_dim * self.dtype_bytes

    def kv_bytes(self, context: int) -> int:
        """Bytes of keys and values it caches for a sequence of `context` tokens: all of them, or under a sliding
        window the last w - 1 (transformers' sliding cache; the next token attends to those and itself)."""
        if self.attention is None:
            return 0
        kept = context if self.attention.window is None else min(context, self.attention.window - 1)
        return self.kv_bytes_per_token * kept

    def cache_bytes(self, context: int) -> int:
        """Everything it keeps per sequence at `context` tokens: keys, values and recurrent state."""
        return self.kv_bytes(context) + self.state_bytes


def linear_weights(module: nn.Module) -> int:
    """Weight elements of the matrix multiplies in `module`: nn.Linear, nn.Conv1d and transformers' Conv1D."""
    total = 0
    for child in module.modules():
        if isinstance(child, (nn.Linear, nn.Conv1d)) or type(child).__name__ == "Conv1D":
            total += child.weight.numel()
    return total


def cache_layer_kinds(config: Any) -> list[tuple[str, int | None]]:
    """For each layer, the kind of cache layer transformers builds for `config` ('attention', 'sliding' or
    'recurrent') and its sliding window (None unless 'sliding')."""
    from transformers import DynamicCache

    kinds = []
    for layer in DynamicCache(config=config).layers:
        name = type(layer).__name__
        if "Sliding" in name:
            kinds.append(("sliding", int(layer.sliding_window)))
        elif "Linear" in name or "Recurrent" in name or "Mamba" in name:
            kinds.append(("recurrent", None))
        else:
            kinds.append(("attention", None))
    return kinds


def measured_cache_bytes(cache: Any) -> list[int]:
    """Bytes per layer that a filled transformers cache holds (keys, values, conv and recurrent states): the
    measurement the cost model's KV and state bytes are checked against."""
    sizes = []
    for layer in cache.layers:
        total = 0
        for value in vars(layer).values():
            tensors = value.values() if isinstance(value, dict) else [value]
            total += sum(t.numel() * t.element_size() for t in tensors
                         if isinstance(t, torch.Tensor) and t.is_floating_point())  # not its counters
        sizes.append(total)
    return sizes
