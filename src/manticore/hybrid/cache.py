"""The hybrid's cache for generation: each component's own Hugging Face cache, side by side.

A component k that has weight in some Manticore block holds a `DynamicCache` built from its own config, so it
gets exactly the cache layers its family uses: growing key/value layers for attention, sliding-window layers
where the family has them (Mistral, Qwen2), and conv + SSM state layers for Mamba and Mamba2. A component with
zero weight in every block holds none. Within a component, the layers of a zero-weight group are never run and
so never allocate anything (every layer is initialised lazily, on its first update).

`ManticoreCache` is a transformers `Cache` whose `layers` are all of those layers, so what `generate` does to
a cache (reorder beams, select or repeat rows, reset) goes through `Cache`'s own methods.

Shapes: b = batch; attention layers hold keys and values (b, heads, past, head_dim), Mamba layers a conv state
(b, channels, kernel) and an SSM state (b, channels, state).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from transformers import DynamicCache, PretrainedConfig
from transformers.cache_utils import Cache


class ManticoreCache(Cache):
    """One cache per component: `components[k]` is component k's `DynamicCache`, or None if it is not used.

    component_configs: the K components' configs (after any pruning), as the hybrid's adapters hold them.
    active: for each component, whether it has non-zero weight in some block (so its blocks run).
    groups: (L, K), which (block, component) groups have weight: the branches whose layers hold state.

    It also keeps the folded projectors of its generation (`folds`, see `Projector.folded`): made for the
    weights at first use, so don't change the hybrid's weights while continuing a cache.
    """

    def __init__(self, component_configs: Sequence[PretrainedConfig], active: Sequence[bool],
                 groups: Sequence[Sequence[bool]] | None = None):
        if len(component_configs) != len(active):
            raise ValueError(f"ManticoreCache needs one `active` flag per component: got {len(active)} flags for "
                             f"{len(component_configs)} components.")
        self.components: list[DynamicCache | None] = [
            DynamicCache(config=config) if on else None for config, on in zip(component_configs, active)
        ]
        super().__init__(layers=[layer for cache in self.components if cache is not None for layer in cache.layers])
        self.seen_tokens = 0  # positions processed so far (the same for every component)
        self.groups = None if groups is None else tuple(tuple(bool(g) for g in row) for row in groups)
        self.folds: dict = {}
        self._mixture: tuple[tuple, Any] | None = None

    def remember(self, logits: torch.Tensor, mixture: Any) -> None:
        """Keep α as a generation step read it, for the next steps while the logits are unchanged."""
        self._mixture = ((logits._version, logits.data_ptr()), mixture)

    def mixture_of(self, logits: torch.Tensor) -> Any | None:
        """The α a previous step of this generation read, if the logits have not changed since; else None."""
        if self._mixture is not None and self._mixture[0] == (logits._version, logits.data_ptr()):
            return self._mixture[1]
        return None

    @staticmethod
    def branches(weights: Sequence[Sequence[float]]) -> tuple[tuple[tuple[bool, ...], ...], list[bool]]:
        """From α's host values (L, K): which (block, component) groups have weight, and which components have
        weight in some block."""
        groups = tuple(tuple(w > 0 for w in row) for row in weights)
        return groups, [any(row[k] for row in groups) for k in range(len(groups[0]) if groups else 0)]

    @property
    def active(self) -> list[bool]:
        return [cache is not None for cache in self.components]

    def check_active(self, active: Sequence[bool], groups: Sequence[Sequence[bool]] | None = None) -> None:
        """Raise if this forward runs a branch the cache holds no state for: a component, or a (block,
        component) group, that α gave weight after the cache was made."""
        missing = [k for k, (on, cache) in enumerate(zip(active, self.components)) if on and cache is None]
        if missing:
            raise ValueError(
                f"Component(s) {missing} have mixture weight now but held none when this cache was made, so the cache "
                "has no state for them. Start generation again with a fresh cache after changing the mixture weights."
            )
        if groups is not None and self.groups is not None and self.seen_tokens and groups != self.groups:
            new = [(l, k) for l, row in enumerate(groups) for k, on in enumerate(row) if on and not self.groups[l][k]]
            if new:
                raise ValueError(
                    f"Block/component group(s) {new} have mixture weight now but had none while this cache was filled, "
                    "so their layers hold no state. Start generation again with a fresh cache after changing the "
                    "mixture weights.")

    def advance(self, new_tokens: int) -> None:
        """Record that a forward has processed `new_tokens` more positions."""
        self.seen_tokens += new_tokens

    def get_seq_length(self, layer_idx: int = 0) -> int:
        """The number of positions processed so far (every component has seen them all)."""
        return self.seen_tokens

    def get_max_length(self, layer_idx: int | None = None) -> int:
        return -1  # grows without a limit (sliding-window layers keep their window, SSM states have no length)

    @property
    def is_compileable(self) -> bool:
        return False  # the components' dynamic caches grow by concatenation

    def reset(self) -> None:
        super().reset()
        self.seen_tokens = 0
        self.folds.clear()
        self._mixture = None

    def crop(self, tokens_to_remove: int) -> None:
        """Drop the last `-tokens_to_remove` positions (a negative count, as `Cache.crop` takes); only caches whose
        every layer can be rolled back support it (not SSM states: see `is_croppable`)."""
        if not self.is_croppable:
            raise ValueError("This hybrid's cache can't be cropped: a Mamba branch's SSM state can't be rolled back.")
        super().crop(tokens_to_remove)
        self.seen_tokens -= abs(tokens_to_remove)

    def __repr__(self) -> str:
        parts = ", ".join(f"k{k}: " + ("none" if c is None else repr(c)) for k, c in enumerate(self.components))
        return f"ManticoreCache(seen_tokens={self.seen_tokens}, {parts})"

    def memory_bytes(self) -> int:
        """The bytes held by the cached tensors (keys, values, conv and SSM states) of every component."""
        total = 0
        for layer in self.layers:
            tensors = [getattr(layer, "keys", None), getattr(layer, "values", None)]
            tensors += list(getattr(layer, "conv_states", {}).values()) + list(getattr(layer, "recurrent_states", {}).values())
            total += sum(t.numel() * t.element_size() for t in tensors if isinstance(t, torch.Tensor))
        return total
