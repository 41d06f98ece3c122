"""The component-model interface (paper, Appendix B.1).

A component model is an embedding, a stack of blocks and a head. Manticore replaces the embedding and the
head with its own, and calls the blocks in contiguous groups. A `ComponentAdapter` wraps one family's
Hugging Face base model (e.g. `GPTNeoModel`) without its token embedding, and knows three things:

- how to run a contiguous range of the family's blocks on hidden states (`run_blocks`), with whatever the
  blocks need per forward pass (attention masks, rotary embeddings, the component's generation cache), built
  once by `context`;
- that the family's positional embeddings are applied in its first group (`embed_positions`);
- that its final norm runs in its last group (`final_norm`);
- how to prune its config and weights to a subset of its layers (`prune_config`, `prune_state_dict`), which
  `discretize` uses to drop the layers of branches a one-hot α never runs;
- how to scale its config down to a smaller, same-family copy (`scaled_config`), which programming by proxy
  searches with random weights (paper, Section 3.3 and Appendix G.3).

Shapes: b = batch, t = sequence length, d = the component's d_model.
"""

from __future__ import annotations

from typing import Any, ClassVar
from collections.abc import Sequence

import torch
from torch import nn
from transformers import AutoConfig, AutoModel, PretrainedConfig, PreTrainedModel
from transformers.cache_utils import Cache
from transformers.masking_utils import create_causal_mask, create_sliding_window_causal_mask

from ..checks import is_int
from .cost import Attention, LayerCost, cache_layer_kinds, linear_weights, measured_cache_bytes


class ComponentAdapter(nn.Module):
    """One component model's blocks, callable in contiguous groups.

    Subclasses set `model_types` and the attribute names of their base model, and override the hooks whose
    default doesn't fit. The wrapped base model is kept whole (so Hugging Face initialises and loads it with
    its own rules) except for its token embedding, which the hybrid replaces.
    """

    model_types: ClassVar[tuple[str, ...]] = ()
    token_embedding: ClassVar[str] = ""  # attribute of the base model holding the token embedding (dropped)
    layers: ClassVar[str] = ""  # attribute holding the nn.ModuleList of blocks
    norm: ClassVar[str] = ""  # attribute holding the final norm
    positional_embedding: ClassVar[str] = ""  # attribute of a learned positional embedding, if the family has one
    per_layer_lists: ClassVar[tuple[str, ...]] = ("layer_types",)  # config lists with one entry per layer
    proportional_fields: ClassVar[tuple[str, ...]] = ("intermediate_size",)  # sizes that scale with the width
    min_head_size: ClassVar[int] = 16  # scaled_config keeps at least this many channels per attention head
    cache_argument: ClassVar[str] = "past_key_values"  # the keyword the family's blocks take their cache by
    supports_cache: ClassVar[bool] = True  # whether it can keep a generation cache (a transformers Cache)

    def __init__(self, config: PretrainedConfig):
        super().__init__()
        self.backbone: PreTrainedModel = AutoModel.from_config(config)
        setattr(self.backbone, self.token_embedding, None)

    # -- what the hybrid needs to know -------------------------------------------------------------------
    @property
    def config(self) -> PretrainedConfig:
        return self.backbone.config

    @property
    def d_model(self) -> int:
        return self.config.hidden_size

    @property
    def blocks(self) -> nn.ModuleList:
        return getattr(self.backbone, self.layers)

    @property
    def num_blocks(self) -> int:
        return len(self.blocks)

    @property
    def max_positions(self) -> int | None:
        """The longest sequence the component supports, or None if it has no hard limit (rotary, SSMs)."""
        return None

    def cache_config(self) -> PretrainedConfig:
        """The config the component's generation cache (a `DynamicCache`) is built from: its layer kinds per block."""
        return self.config

    @classmethod
    def depth_of(cls, config: PretrainedConfig) -> int:
        """The number of blocks a component with this config has, without building it."""
        return config.num_hidden_layers

    @classmethod
    def check(cls, config: PretrainedConfig) -> None:
        """Raise a ValueError saying why this adapter can't wrap `config`; a registered family always can."""

    @property
    def name(self) -> str:
        return f"{self.config.model_type} (d_model={self.d_model}, {self.num_blocks} blocks)"

    # -- what a block costs (components/cost.py) -------------------------------------------------------------
    def layer_cost(self, index: int) -> LayerCost:
        """Block `index`'s parameters, FLOPs per token, KV bytes per token and recurrent-state bytes."""
        block = self.blocks[index]
        kind, window = self.cache_layer_kinds()[index]
        return LayerCost(
            params=sum(p.numel() for p in block.parameters()),
            linear_flops=2 * linear_weights(block),
            attention=None if kind == "recurrent" else self.attention(index, window),
            state_bytes=self.recurrent_state_bytes(index) if kind == "recurrent" else 0,
            scan_flops=self.scan_flops(index),
            dtype_bytes=next(self.backbone.parameters()).element_size(),
        )

    def cache_layer_kinds(self) -> list[tuple[str, int | None]]:
        """Per block: the kind of cache layer transformers keeps for it ('attention', 'sliding' or 'recurrent')
        and its sliding window."""
        if getattr(self, "_cache_kinds", None) is None:
            self._cache_kinds = cache_layer_kinds(self.cache_config())
        return self._cache_kinds

    def attention(self, index: int, window: int | None) -> Attention | None:
        """Block `index`'s attention from the config's head counts (None if the family has no attention)."""
        config = self.config
        heads = getattr(config, "num_attention_heads", None)
        if not heads:
            return None
        head_dim = getattr(config, "head_dim", None) or self.d_model // heads
        return Attention(heads, getattr(config, "num_key_value_heads", None) or heads, head_dim, window)

    def recurrent_state_bytes(self, index: int) -> int:
        """Bytes of recurrent state block `index` keeps per sequence, measured on the family's own cache (one
        token through the base model); families that know theirs say it in closed form (Mamba)."""
        if getattr(self, "_state_bytes", None) is None:
            with torch.no_grad():
                out = self.backbone(inputs_embeds=torch.zeros(1, 1, self.d_model, dtype=self.backbone.dtype),
                                    use_cache=True)
            cache = getattr(out, "past_key_values", None) or getattr(out, "cache_params", None)
            self._state_bytes = measured_cache_bytes(cache) if cache is not None else [0] * self.num_blocks
        return self._state_bytes[index]

    def scan_flops(self, index: int) -> int:
        """FLOPs per token of block `index` outside its matrix multiplies that grow with its state (0 unless the
        family counts them: Mamba's selective scan)."""
        return 0

    # -- the embedding and head (what the hybrid's own must do to reproduce this component's) -------------
    softcap_fields: ClassVar[tuple[str, ...]] = ("final_logit_softcapping", "logits_soft_cap", "output_logit_soft_cap")
    logit_multiplier_fields: ClassVar[tuple[str, ...]] = ("logit_scale", "lm_head_multiplier")  # logits * value
    logit_divisor_fields: ClassVar[tuple[str, ...]] = ("logits_scaling",)  # logits / value (Granite, MiniCPM3)

    @classmethod
    def head_settings(cls, model: PreTrainedModel) -> dict[str, Any]:
        """The `ManticoreConfig` settings under which the hybrid's embedding and LM head compute what component
        `model` (a causal LM) computes around its blocks, used with `embeddings_from`: the scale its embedding
        module applies (`embedding_multiplier`, e.g. Gemma's sqrt(d)), a factor on the logits
        (`logit_multiplier`: Cohere's logit_scale, Granite's 1 / logits_scaling), a final soft-cap
        (`final_logit_softcapping`: Gemma 2/3, RecurrentGemma, xLSTM) and an LM-head bias (`lm_head_bias`:
        Phi, GPT-J, CodeGen). Read from the config fields named in the class attributes above and from the
        modules; a family whose fields mean something else overrides this."""
        config = model.config
        settings: dict[str, Any] = {}
        scale = getattr(model.get_input_embeddings(), "embed_scale", None)
        if scale is not None and float(scale) != 1.0:
            settings["embedding_multiplier"] = float(scale)
        multiplier = 1.0
        for field in cls.logit_multiplier_fields:
            if isinstance(getattr(config, field, None), (int, float)):
                multiplier *= float(getattr(config, field))
        for field in cls.logit_divisor_fields:
            if isinstance(getattr(config, field, None), (int, float)):
                multiplier /= float(getattr(config, field))
        if multiplier != 1.0:
            settings["logit_multiplier"] = multiplier
        cap = next((getattr(config, f) for f in cls.softcap_fields if getattr(config, f, None)), None)
        if cap:
            settings["final_logit_softcapping"] = float(cap)
        head = model.get_output_embeddings()
        if getattr(head, "bias", None) is not None:
            settings["lm_head_bias"] = True
        return settings

    # -- the forward path ----------------------------------------------------------------------------------
    def context(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor | None, position_ids: torch.Tensor,
        cache: Cache | None = None,
    ) -> dict[str, Any]:
        """What every block needs for one forward pass: `prepare`'s masks and tables, and the component's own
        generation cache (a `DynamicCache`, passed under the family's keyword `cache_argument`) if there is one."""
        context = self.prepare(hidden, attention_mask, position_ids, cache)
        if cache is not None:
            context[self.cache_argument] = cache
        return context

    def prepare(
        self, hidden: torch.Tensor, attention_mask: torch.Tensor | None, position_ids: torch.Tensor,
        cache: Cache | None = None,
    ) -> dict[str, Any]:
        """Build what every block needs for one forward pass (masks, rotary tables), once per pass.

        hidden: (b, t, *) only its batch size, length, dtype and device are used; t counts the new positions.
        attention_mask: (b, past + t) with 1 for tokens and 0 for padding, or None.
        position_ids: (1, t) or (b, t), the new positions' indices.
        cache: the component's cache holding the `past` earlier positions, or None.
        """
        return {"attention_mask": attention_mask, "position_ids": position_ids}

    def causal_mask(self, hidden, attention_mask, position_ids, cache: Cache | None = None, sliding_window: bool = False):
        """The family's own causal (or sliding-window) mask for its attention implementation, or None.

        With a cache, the mask covers the cached positions too; its size is read from a layer of the right kind
        that already holds state (a layer whose group has zero weight holds none)."""
        build = create_sliding_window_causal_mask if sliding_window else create_causal_mask
        return build(config=self.config, inputs_embeds=hidden, attention_mask=attention_mask,
                     past_key_values=cache, position_ids=position_ids,
                     layer_idx=None if cache is None else self.mask_layer(cache, sliding_window))

    @staticmethod
    def mask_layer(cache: Cache, sliding_window: bool) -> int:
        """The index of an attention layer of the given kind in `cache`: one holding state if any does, else
        the first of that kind (before the first forward, when none holds state), else 0."""
        kinds = [i for i, (sliding, linear) in enumerate(zip(cache.is_sliding, cache.is_linear))
                 if sliding == sliding_window and not linear]
        filled = [i for i in kinds if getattr(cache.layers[i], "is_initialized", False)]
        return (filled or kinds or [0])[0]

    def embed_positions(self, hidden: torch.Tensor, context: dict[str, Any]) -> torch.Tensor:
        """Applied at the start of the first group: the family's positional embedding, if it has one."""
        return hidden

    def call_block(self, index: int, hidden: torch.Tensor, context: dict[str, Any]) -> torch.Tensor:
        """Run block `index` on hidden (b, t, d) -> (b, t, d)."""
        out = self.blocks[index](hidden, **context)
        return out[0] if isinstance(out, tuple) else out

    def final_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        """Applied at the end of the last group."""
        return getattr(self.backbone, self.norm)(hidden)

    def run_blocks(
        self, hidden: torch.Tensor, start: int, stop: int, context: dict[str, Any], *, first: bool, last: bool
    ) -> torch.Tensor:
        """Run blocks [start, stop) on hidden (b, t, d) -> (b, t, d).

        first: this group holds the component's original first layer, so the positional embedding is applied
        before its blocks; last: it holds the original last layer, so the final norm is applied after them.
        The caller says which (the Manticore block knows from the hybrid's config): after pruning, a group's
        local range no longer tells. Running [0, num_blocks) with first=last=True on the token embeddings
        reproduces the component's last hidden state.
        """
        if first:
            hidden = self.embed_positions(hidden, context)
        for index in range(start, stop):
            hidden = self.call_block(index, hidden, context)
        if last:
            hidden = self.final_norm(hidden)
        return hidden

    def drop_unused(self, first: bool, last: bool) -> None:
        """Remove the modules a pruned component never runs: its learned positional embedding when no group
        holds its first layer (first=False), and its final norm when none holds its last layer (last=False)."""
        if not first and self.positional_embedding:
            setattr(self.backbone, self.positional_embedding, None)
        if not last:
            setattr(self.backbone, self.norm, None)

    # -- pruning to a subset of layers (discretize) --------------------------------------------------------
    @classmethod
    def check_keep(cls, config: PretrainedConfig, keep: Sequence[int]) -> list[int]:
        depth = cls.depth_of(config)
        keep = [int(i) for i in keep]
        if not keep or keep != sorted(set(keep)) or keep[0] < 0 or keep[-1] >= depth:
            raise ValueError(
                f"keep must be a non-empty increasing list of layer indices in [0, {depth}) for this "
                f"{config.model_type} component; got {keep}."
            )
        return keep

    @classmethod
    def prune_config(cls, config: PretrainedConfig, keep: Sequence[int]) -> PretrainedConfig:
        """A config of the same family with only the layers `keep` (old indices, increasing): layer keep[j]
        becomes layer j. The default sets the depth (`num_hidden_layers`, through the config's attribute_map)
        and subsets the per-layer lists named in `per_layer_lists`; override `prune_config_dict` for
        families that describe layers otherwise."""
        keep = cls.check_keep(config, keep)
        values = config.to_dict()
        model_type = values.pop("model_type")
        for key in ("transformers_version", "_name_or_path"):
            values.pop(key, None)
        values = cls.prune_config_dict(values, keep, config)
        return AutoConfig.for_model(model_type, **values)

    @classmethod
    def prune_config_dict(cls, values: dict[str, Any], keep: list[int], config: PretrainedConfig) -> dict[str, Any]:
        """The hook behind `prune_config`: edit the config's dict (without model_type) for layers `keep`."""
        values[config.attribute_map.get("num_hidden_layers", "num_hidden_layers")] = len(keep)
        for name in cls.per_layer_lists:
            if isinstance(values.get(name), (list, tuple)):
                values[name] = [values[name][i] for i in keep]
        return values

    @classmethod
    def prune_state_dict(cls, state: dict[str, torch.Tensor], keep: Sequence[int]) -> dict[str, torch.Tensor]:
        """A backbone state dict for `prune_config(config, keep)`: layer keep[j]'s weights renamed to layer j
        (`{layers}.{i}.` -> `{layers}.{j}.`), the other layers' weights dropped, everything else unchanged."""
        return rename_layers(state, keep, cls.layers)

    # -- a smaller copy of the config (programming by proxy) ----------------------------------------------
    @classmethod
    def scaled_config(
        cls, config: PretrainedConfig, d_model: int, depth: int, max_length: int, vocab_size: int
    ) -> PretrainedConfig:
        """A smaller, same-family copy of `config` for a random-init proxy: width `d_model`, `depth` blocks,
        a vocabulary of `vocab_size`, learned positions for at least `max_length` tokens, no special token ids.

        The generic part is in `scaled_config_dict` (width, depth and vocabulary through the config's
        attribute_map, proportional sizes, per-layer lists, positions) and `scale_heads` (head counts shrink
        and keep dividing the width); families override those hooks where they describe things otherwise.
        """
        for name, value, least in (("d_model", d_model, 1), ("depth", depth, 1), ("vocab_size", vocab_size, 1),
                                   ("max_length", max_length, 0)):
            if not is_int(value) or value < least:
                raise ValueError(f"scaled_config needs an integer {name} >= {least}; got {value!r}.")
        values = config.to_dict()
        for key in ("model_type", "transformers_version", "architectures"):
            values.pop(key, None)
        values = cls.scaled_config_dict(values, config, d_model, depth, max_length, vocab_size)
        return type(config)(**values)

    @classmethod
    def scaled_config_dict(
        cls, values: dict[str, Any], config: PretrainedConfig, d_model: int, depth: int, max_length: int,
        vocab_size: int,
    ) -> dict[str, Any]:
        """The hook behind `scaled_config`: edit the config's dict (without model_type) for the smaller copy."""
        def name(generic: str) -> str:  # the family's own name of a generic field, e.g. num_hidden_layers -> n_layer
            return config.attribute_map.get(generic, generic)

        values.update({name("hidden_size"): d_model, name("num_hidden_layers"): depth, name("vocab_size"): vocab_size})
        values.update(bos_token_id=None, eos_token_id=None, pad_token_id=None)  # the proxy task has its own
        ratio = d_model / config.hidden_size
        for field in cls.proportional_fields:
            if isinstance(values.get(field), int):
                values[field] = max(1, round(values[field] * ratio))
        values = cls.scale_heads(values, config, d_model)
        for field in cls.per_layer_lists:
            if field in values:
                values[field] = None  # the config rebuilds its default for the new depth
        positions = name("max_position_embeddings")
        if isinstance(values.get(positions), int):
            values[positions] = max(values[positions], max_length)
        return values

    @classmethod
    def scale_heads(cls, values: dict[str, Any], config: PretrainedConfig, d_model: int) -> dict[str, Any]:
        """Attention heads for width d_model: at most d_model // min_head_size (at least 1), lowered until
        they divide d_model. The default reads `num_attention_heads` through the config's attribute_map."""
        field = config.attribute_map.get("num_attention_heads", "num_attention_heads")
        if isinstance(values.get(field), int):
            heads = max(1, min(values[field], d_model // cls.min_head_size))
            while d_model % heads:
                heads -= 1
            values[field] = heads
            if isinstance(values.get("head_dim"), int):  # an explicit head size follows the heads
                values["head_dim"] = d_model // heads
            if isinstance(values.get("num_key_value_heads"), int):  # one KV head divides any head count
                values["num_key_value_heads"] = 1
        return values


def rename_layers(state: dict[str, torch.Tensor], keep: Sequence[int], layers: str) -> dict[str, torch.Tensor]:
    """`state` with layer keep[j]'s tensors renamed `{layers}.{keep[j]}.` -> `{layers}.{j}.`, the other layers'
    tensors dropped, everything else unchanged."""
    prefix = layers + "."
    index = {old: new for new, old in enumerate(keep)}
    out = {}
    for key, value in state.items():
        if key.startswith(prefix):
            number, rest = key[len(prefix):].split(".", 1)
            if int(number) not in index:
                continue
            key = f"{prefix}{index[int(number)]}.{rest}"
        out[key] = value
    return out
