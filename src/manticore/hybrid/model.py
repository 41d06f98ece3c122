"""The Manticore hybrid (paper, Appendix B.4) as Hugging Face `PreTrainedModel`s.

    x_1 = Manticore-embed(input_ids)                       (b, t, D)
    x_{l+1} = Manticore-Block^(l)(x_l), l = 1..L           (b, t, D)
    logits = head(x_{L+1})                                 (b, t, V) or (b, num_labels)

Shapes: b = batch, t = sequence length, D = d_max (the widest component), V = vocabulary size,
K = number of components, L = number of Manticore blocks.
"""

from __future__ import annotations

from typing import Any
from collections.abc import Callable, Iterator

import torch
from torch import nn
from transformers import GenerationMixin, PreTrainedModel
from transformers import initialization as init
from transformers.loss.loss_utils import ForCausalLMLoss, ForSequenceClassificationLoss
from transformers.modeling_outputs import (
    BaseModelOutputWithPast,
    CausalLMOutputWithPast,
    SequenceClassifierOutput,
)

from ..components.registry import adapter_class
from .auto import auto_map, write_remote_code
from .block import ManticoreBlock
from .cache import ManticoreCache
from .config import ManticoreConfig
from .mixture import Mixture, MixtureWeights
from .projector import Projector


class ManticorePreTrainedModel(PreTrainedModel):
    """Weight init, and the mixture-weight API shared by the base model and its heads."""

    config_class = ManticoreConfig
    config: ManticoreConfig
    base_model_prefix = "model"
    main_input_name = "input_ids"
    _no_split_modules = ["ManticoreBlock"]
    _supports_sdpa = True
    supports_gradient_checkpointing = True  # each ManticoreBlock is a GradientCheckpointingLayer

    @classmethod
    def from_pretrained(cls, pretrained_model_name_or_path, *args, strict: bool = True, **kwargs):
        """PreTrainedModel.from_pretrained, strict by default: tensors the checkpoint lacks (which transformers
        would initialise at random), tensors it has that the config doesn't describe, and non-finite weights
        are errors naming them. strict=False loads anyway, as transformers does."""
        from safetensors import SafetensorError

        return_info = kwargs.pop("output_loading_info", False)
        try:
            model, info = super().from_pretrained(pretrained_model_name_or_path, *args, output_loading_info=True,
                                                  **kwargs)
        except SafetensorError as err:
            raise ValueError(f"{pretrained_model_name_or_path}: a weights file is corrupt ({err}). Save the model "
                             "again, or copy it again from where it came from.") from None
        if strict:
            check_loaded(model, info, pretrained_model_name_or_path)
        return (model, info) if return_info else model

    def save_pretrained(self, save_directory, *args, **kwargs) -> None:
        """PreTrainedModel.save_pretrained, plus the `auto_map` and modeling_manticore.py that let
        `AutoModelForCausalLM.from_pretrained(dir, trust_remote_code=True)` load it in any process, and its model
        card (README.md: card.py)."""
        self.config.auto_map = auto_map()
        super().save_pretrained(save_directory, *args, **kwargs)
        if kwargs.get("is_main_process", True):
            from .card import write_model_card

            write_remote_code(save_directory)
            write_model_card(save_directory, self)

    def push_to_hub(self, repo_id: str, *, tokenizer=None, commit_message: str | None = None,
                    private: bool | None = None, token: bool | str | None = None, max_shard_size: int | str = "50GB",
                    create_pr: bool = False, revision: str | None = None, commit_description: str | None = None,
                    tags: list[str] | None = None):
        """Upload the hybrid to the Hugging Face Hub: exactly what `save_pretrained` writes (weights, config,
        modeling_manticore.py and this hybrid's model card, with `tags` added), and the tokenizer's files if one
        is given. transformers' own push_to_hub would replace the card with the repository's or a template."""
        import tempfile

        from transformers.utils.hub import hf_api

        from .card import write_model_card

        repo_id = hf_api().create_repo(repo_id, private=private, token=token, exist_ok=True).repo_id
        with tempfile.TemporaryDirectory() as work_dir:
            self.save_pretrained(work_dir, max_shard_size=max_shard_size)
            if tags:
                write_model_card(work_dir, self, tags=tags)
            if tokenizer is not None:
                tokenizer.save_pretrained(work_dir)
            return self._upload_modified_files(work_dir, repo_id, files_timestamps={}, commit_message=commit_message,
                                               token=token, create_pr=create_pr, revision=revision,
                                               commit_description=commit_description)

    def _init_weights(self, module: nn.Module) -> None:
        super()._init_weights(module)  # embeddings and Linear heads: normal(0, initializer_range)
        if isinstance(module, Projector) and module.init == "trunc_pad":
            init.copy_(module.linear.weight, torch.eye(module.d_out, module.d_in))
            if module.linear.bias is not None:
                init.zeros_(module.linear.bias)
        elif isinstance(module, MixtureWeights):
            init.copy_(module.logits, module.initial_logits())  # uniform α (0 on pruned branches)

    # -- mixture weights (the architecture parameters) -------------------------------------------------
    def mixture_weights(self) -> torch.Tensor:
        """α: (L, K), each row softmax-normalised."""
        return self.base_model.mixture()

    def set_mixture_weights(self, weights) -> None:
        """Program α: weights of shape (K,) (every block) or (L, K), rows >= 0 summing to 1; zeros allowed.

        A component whose weight is exactly 0 in a block is not computed in that block. In a pruned hybrid
        (`discretize`), a branch whose layers were removed must get weight 0 (a ValueError says which).
        """
        self.base_model.mixture.set(weights)

    def freeze_mixture_weights(self) -> None:
        self.base_model.mixture.freeze()

    def unfreeze_mixture_weights(self) -> None:
        self.base_model.mixture.unfreeze()

    def architecture_parameters(self) -> list[nn.Parameter]:
        """The mixture-weight parameters (the NAS 'architecture parameters')."""
        return [self.base_model.mixture.logits]

    def model_parameters(self) -> list[nn.Parameter]:
        """Every other trainable parameter; disjoint from `architecture_parameters()`."""
        arch = {id(p) for p in self.architecture_parameters()}
        return [p for p in self.parameters() if p.requires_grad and id(p) not in arch]

    def projector_parameters(self) -> Iterator[nn.Parameter]:
        """The projectors' parameters (pretrained while the components stay frozen)."""
        for block in self.base_model.blocks:
            yield from block.parameters()

    def component_parameters(self) -> Iterator[nn.Parameter]:
        """The component models' own parameters (their blocks, positional embeddings and final norms)."""
        return self.base_model.components.parameters()

    # -- discretization (paper, B.4) ---------------------------------------------------------------------
    def discretize(self, prune: bool = True, example_input_ids: torch.Tensor | None = None,
                   return_report: bool = False, repeats: int = 5, choice: list[int] | None = None):
        """A new hybrid with each block's α replaced by its argmax one-hot (ties -> lowest index).

        prune=True drops what the one-hot α never runs: unused components, the layers (and projectors) of
        zero-weight groups, and the now-unused positional embeddings and final norms; the result is a smaller
        hybrid that saves and reloads on its own. prune=False keeps the structure and only sets α.
        With `example_input_ids` (b, t), the report times both forwards and checks the logits match. `choice`
        (one component index per block) discretizes to that layout instead of the argmax.
        Returns the new model, or (model, report) with return_report=True; see `hybrid.discretize`.
        """
        from .discretize import discretize

        model, report = discretize(self, prune=prune, example_input_ids=example_input_ids, repeats=repeats,
                                   choice=choice)
        return (model, report) if return_report else model

    # -- construction from pretrained components -------------------------------------------------------
    @classmethod
    def from_components(
        cls,
        components: list,
        num_blocks: int = 1,
        vocab_size: int | None = None,
        embeddings_from: int | None = None,
        **config_kwargs: Any,
    ):
        """Build a hybrid from K component models and copy their blocks' weights in.

        components: each a `PreTrainedModel`, a local checkpoint directory or hub id (loaded with
            `from_pretrained`), or a `PretrainedConfig` (a randomly initialised, from-scratch component).
        num_blocks: L, which must divide every component's depth.
        vocab_size: the hybrid's vocabulary; default the first component's.
        embeddings_from: k to initialise the embedding and LM head from component k (in the first d_k
            dimensions, zeros elsewhere); None for a fresh normal init.
        config_kwargs: any other `ManticoreConfig` field (e.g. `num_labels`, `projector_init`).
        """
        from .build import build_from_components

        return build_from_components(cls, components, num_blocks, vocab_size, embeddings_from, **config_kwargs)


class ManticoreModel(ManticorePreTrainedModel):
    """Embedding and L Manticore blocks; returns the last hidden state (b, t, D)."""

    def __init__(self, config: ManticoreConfig):
        super().__init__(config)
        if not config.components:
            raise ValueError("ManticoreConfig.components is empty: a hybrid needs at least one component (K >= 1).")
        configs = config.component_configs()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size)
        self.components = nn.ModuleList(adapter_class(c)(c) for c in configs)
        K = len(configs)
        groups = [config.block_groups(k) for k in range(K)]
        firsts, lasts = [config.first_group(k) for k in range(K)], [config.last_group(k) for k in range(K)]
        for component, first, last in zip(self.components, firsts, lasts):
            component.drop_unused(first is not None, last is not None)
        self.blocks = nn.ModuleList(
            ManticoreBlock(
                config.hidden_size,
                [c.d_model for c in self.components],
                [g[l] for g in groups],
                config.projector_bias,
                config.projector_init,
                firsts=[f == l for f in firsts],
                lasts=[f == l for f in lasts],
            )
            for l in range(config.num_blocks)
        )
        self.mixture = MixtureWeights(config.num_blocks, K, config.pruned())
        self._position_limits: list[int | None] | None = None
        self.post_init()

    def get_input_embeddings(self) -> nn.Embedding:
        return self.embed_tokens

    def set_input_embeddings(self, value: nn.Embedding) -> None:
        self.embed_tokens = value

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        mixture_sampler: Callable[[torch.Tensor], torch.Tensor] | None = None,
        past_key_values: ManticoreCache | None = None,
        use_cache: bool | None = None,
        **kwargs,
    ) -> BaseModelOutputWithPast:
        """input_ids: (b, t) -> last_hidden_state (b, t, D).

        attention_mask: (b, past + t), 1 = token, 0 = padding. position_ids: (b, t) or (1, t); default the next
        t positions after the cache's.
        past_key_values: a `ManticoreCache` holding `past` earlier positions; only the t new ones are processed
            and the cache is updated in place. use_cache=True without one starts a new cache (returned as
            `past_key_values`); the default (None) uses no cache, so a plain forward keeps no state.
        mixture_sampler: logits (L, K) -> α (L, K) for this forward (a search algorithm's sampler); None: α.
        """
        x = self.embed(input_ids, inputs_embeds)
        (alphas, weights, active), cache = self.mixture_and_cache(past_key_values, use_cache, mixture_sampler)
        past = 0 if cache is None else cache.get_seq_length()
        if attention_mask is not None and tuple(attention_mask.shape) != (x.shape[0], past + x.shape[1]):
            raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)}; expected (batch, cached + new "
                             f"positions) = ({x.shape[0]}, {past + x.shape[1]}).")
        self.check_sequence_length(past + x.shape[1], active)
        if position_ids is None:
            position_ids = torch.arange(past, past + x.shape[1], device=x.device)[None]
        contexts = [c.context(x, attention_mask, position_ids, None if cache is None else cache.components[k])
                    if on else None for k, (c, on) in enumerate(zip(self.components, active))]
        # the weights used in the math: tensors when α gets a gradient, else the host floats (fewer ops)
        mix = [row.unbind(0) for row in alphas.unbind(0)] if alphas.requires_grad else weights
        folds = cache.folds if cache is not None and not torch.is_grad_enabled() else None  # generation only
        hidden_states = [x] if output_hidden_states else None
        for block, alpha, weight in zip(self.blocks, mix, weights):
            x = block(x, alpha, weight, self.components, contexts, folds)
            if hidden_states is not None:
                hidden_states.append(x)
        if cache is not None:
            cache.advance(x.shape[1])
        return BaseModelOutputWithPast(last_hidden_state=x, past_key_values=cache,
                                       hidden_states=None if hidden_states is None else tuple(hidden_states))

    def new_cache(self, weights: list[list[float]] | None = None) -> ManticoreCache:
        """An empty `ManticoreCache` for this hybrid under α (L, K) host values (default: the current α): a cache
        for each component with weight in some block."""
        if weights is None:
            weights = self.mixture.resolve().weights
        groups, active = ManticoreCache.branches(weights)
        return ManticoreCache([c.cache_config() for c in self.components], active, groups)

    def caches(self, weights: list[list[float]] | None = None) -> bool:
        """Whether every component with weight can keep a generation cache (a discovered family whose forward
        takes none, e.g. RWKV's state, can't)."""
        if weights is None:
            weights = self.mixture.resolve().weights
        _, active = ManticoreCache.branches(weights)
        return all(c.supports_cache for c, on in zip(self.components, active) if on)

    def mixture_and_cache(self, past_key_values, use_cache: bool | None,
                          sampler: Callable[[torch.Tensor], torch.Tensor] | None) -> tuple[Mixture, ManticoreCache | None]:
        """α for this forward, with its values on the host read once (not once per block), and the cache the
        forward reads and updates. A generation step whose α is unchanged reuses what its first step read."""
        fixed = sampler is None and not torch.is_grad_enabled()
        if fixed and isinstance(past_key_values, ManticoreCache):
            mixture = past_key_values.mixture_of(self.mixture.logits)
            if mixture is not None:
                return mixture, past_key_values
        mixture = self.mixture.resolve(sampler)
        cache = self.cache_for(past_key_values, use_cache, mixture.weights)
        if fixed and cache is not None:
            cache.remember(self.mixture.logits, mixture)
        return mixture, cache

    def cache_for(self, past_key_values, use_cache: bool | None, weights: list[list[float]]) -> ManticoreCache | None:
        """The cache this forward reads and updates: the one given, a new one (use_cache), or None (also when a
        component with weight can't keep a generation cache: then every step re-runs the whole sequence)."""
        if past_key_values is None:
            return self.new_cache(weights) if use_cache and self.caches(weights) else None
        if not isinstance(past_key_values, ManticoreCache):
            raise TypeError(
                f"A Manticore hybrid's past_key_values must be a ManticoreCache (one cache per component); got "
                f"{type(past_key_values).__name__}. Pass None with use_cache=True (as generate does) to start one, "
                "or model.model.new_cache()."
            )
        groups, active = ManticoreCache.branches(weights)
        if groups != past_key_values.groups:  # the usual case, the same branches as when the cache was made, is free
            past_key_values.check_active(active, groups)
        return past_key_values

    def embed(self, input_ids: torch.Tensor | None, inputs_embeds: torch.Tensor | None) -> torch.Tensor:
        """(b, t) token ids -> (b, t, D), checking the ids are in the vocabulary."""
        if (input_ids is None) == (inputs_embeds is None):
            raise ValueError("Pass exactly one of input_ids (b, t) or inputs_embeds (b, t, d_max).")
        if inputs_embeds is not None:  # used as given: NaN is not looked for (a host sync per forward); it makes
            # NaN logits, and the training engine stops on a non-finite loss (TrainingDiverged)
            if inputs_embeds.dim() != 3 or inputs_embeds.shape[1] == 0 or inputs_embeds.shape[2] != self.config.hidden_size:
                raise ValueError(f"inputs_embeds must have shape (batch, length >= 1, d_max={self.config.hidden_size}); "
                                 f"got {tuple(inputs_embeds.shape)}.")
            return inputs_embeds
        if input_ids.dim() != 2 or input_ids.shape[1] == 0:
            raise ValueError(f"input_ids must have shape (batch, length >= 1); got {tuple(input_ids.shape)}.")
        if input_ids.device.type == "cpu" or torch.compiler.is_compiling():
            try:  # out-of-range ids raise IndexError on CPU: check them only then, at no cost otherwise
                x = self.embed_tokens(input_ids)
            except IndexError:
                self.check_vocabulary(input_ids)
                raise
        else:
            self.check_vocabulary(input_ids)  # elsewhere (CUDA) a bad id is a device-side assert: check first
            x = self.embed_tokens(input_ids)
        multiplier = self.config.embedding_multiplier
        return x if multiplier == 1.0 else x * torch.tensor(multiplier, dtype=x.dtype)

    def check_vocabulary(self, input_ids: torch.Tensor) -> None:
        """Raise a ValueError naming the token ids outside [0, vocab_size), if there are any."""
        bad = input_ids[(input_ids < 0) | (input_ids >= self.config.vocab_size)]
        if bad.numel():
            raise ValueError(
                f"Token ids must be in [0, vocab_size={self.config.vocab_size}); got {bad.unique()[:5].tolist()}. "
                "Check that the tokenizer matches the hybrid's vocabulary."
            )

    def check_sequence_length(self, length: int, used: list[bool]) -> None:
        """Raise if a component used (non-zero weight in some block) can't take `length` positions."""
        if self._position_limits is None:  # read once: the components' position tables are fixed when built
            self._position_limits = [c.max_positions for c in self.components]
        for k, (component, on, limit) in enumerate(zip(self.components, used, self._position_limits)):
            if on and limit is not None and length > limit:
                raise ValueError(
                    f"Input length {length} exceeds component {k} ({component.name}), which supports at most "
                    f"{limit} positions. Shorten the input, or set component {k}'s mixture weights to 0 "
                    "(model.set_mixture_weights) so it is not used."
                )


def non_finite_parameters(model: nn.Module) -> list[str]:
    """Names of parameters holding NaN or ±inf; a hybrid's mixture logits may hold -inf (an exact zero weight).
    Of a sharded model (FSDP), this process's shards are checked."""
    arch = {id(p) for p in getattr(model, "architecture_parameters", lambda: [])()}

    def bad(p: torch.Tensor, is_arch: bool) -> bool:
        p = p.to_local() if hasattr(p, "to_local") else p  # a DTensor's shard
        return bool((torch.isnan(p).any() or (p == float("inf")).any()) if is_arch else not torch.isfinite(p).all())

    return [name for name, p in model.named_parameters() if bad(p, id(p) in arch)]


def check_loaded(model: nn.Module, info: dict, source) -> None:
    """Raise if a loaded checkpoint did not describe the model exactly, or holds non-finite weights."""
    problems = {what: sorted(str(k) for k in info.get(key) or [])
                for what, key in (("missing", "missing_keys"), ("unexpected", "unexpected_keys"),
                                  ("of another shape", "mismatched_keys"))}
    problems = {what: keys for what, keys in problems.items() if keys}
    if problems:
        listed = "; ".join(f"{len(keys)} {what}: {', '.join(keys[:4])}{' ...' if len(keys) > 4 else ''}"
                           for what, keys in problems.items())
        raise ValueError(f"{source}: the saved weights don't match the hybrid its config.json describes ({listed}). "
                         "The files may be corrupt or from another model; pass strict=False to load anyway (missing "
                         "tensors are then initialised at random).")
    bad = non_finite_parameters(model)
    if bad:
        raise ValueError(f"{source}: non-finite weights in {', '.join(bad[:4])}{' ...' if len(bad) > 4 else ''}. The "
                         "file is corrupt, or the model diverged before it was saved; pass strict=False to load anyway.")


def labels_are_floats(labels: torch.Tensor | None) -> bool:
    return labels is not None and labels.is_floating_point()


def checked_loss(loss: Callable[[], torch.Tensor], labels: torch.Tensor, classes: int | None) -> torch.Tensor:
    """loss(), with labels outside [0, classes) (other than -100, ignored) named instead of torch's IndexError.
    On CPU they are looked for only when the loss fails (no cost otherwise); elsewhere (a device-side assert)
    first. classes None: no range to check (regression)."""
    if classes is None:
        return loss()
    if labels.device.type != "cpu":
        check_labels(labels, classes)
        return loss()
    try:
        return loss()
    except (IndexError, RuntimeError):
        check_labels(labels, classes)
        raise


def check_labels(labels: torch.Tensor, classes: int) -> None:
    bad = labels[((labels < 0) & (labels != -100)) | (labels >= classes)]
    if bad.numel():
        raise ValueError(f"Labels must be in [0, {classes}) (or -100, ignored); got {bad.unique()[:5].tolist()}.")


class ManticoreForCausalLM(ManticorePreTrainedModel, GenerationMixin):
    """A Manticore hybrid with a causal language-modelling head: logits (b, t, V).

    `generate()` keeps a `ManticoreCache` (each used component's own cache) by default, so each step runs only
    the new token; greedy search, sampling and beam search all work, and `use_cache=False` re-runs the prefix.
    """

    _tied_weights_keys = {"lm_head.weight": "model.embed_tokens.weight"}

    def __init__(self, config: ManticoreConfig):
        super().__init__(config)
        self.model = ManticoreModel(config)
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=config.lm_head_bias)
        self.post_init()

    def get_output_embeddings(self) -> nn.Linear:
        return self.lm_head

    def set_output_embeddings(self, value: nn.Linear) -> None:
        self.lm_head = value

    @classmethod
    def _supports_default_dynamic_cache(cls) -> bool:
        """No: a `DynamicCache` built from the hybrid's config would not fit; see `_prepare_cache_for_generation`."""
        return False

    def _prepare_cache_for_generation(self, generation_config, model_kwargs: dict, *args, **kwargs) -> None:
        """generate's cache: a fresh `ManticoreCache` (assisted decoding needs one before the first forward),
        unless the caller passed a cache or use_cache=False."""
        if model_kwargs.get("past_key_values") is None and not self.model.caches():
            generation_config.use_cache = model_kwargs["use_cache"] = False  # each step re-runs the sequence
        if model_kwargs.get("past_key_values") is not None or generation_config.use_cache is False:
            return super()._prepare_cache_for_generation(generation_config, model_kwargs, *args, **kwargs)
        if generation_config.cache_implementation not in (None, "dynamic"):
            raise ValueError(f"cache_implementation={generation_config.cache_implementation!r} is not supported by "
                             "Manticore hybrids: they keep a ManticoreCache (each component's dynamic cache).")
        model_kwargs["past_key_values"] = self.model.new_cache()

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.LongTensor | None = None,
        output_hidden_states: bool | None = None,
        mixture_sampler: Callable[[torch.Tensor], torch.Tensor] | None = None,
        past_key_values: ManticoreCache | None = None,
        use_cache: bool | None = None,
        logits_to_keep: int | torch.Tensor = 0,
        **kwargs,
    ) -> CausalLMOutputWithPast:
        """labels: (b, t) token ids, -100 to ignore; shifted inside, so labels = input_ids trains next-token.
        logits_to_keep: compute logits for only the last n positions (0: all), or for the positions a 1-d tensor
        lists; generate asks for 1. mixture_sampler, past_key_values, use_cache: see ManticoreModel.forward."""
        out = self.model(input_ids, attention_mask, position_ids, inputs_embeds, output_hidden_states,
                         mixture_sampler=mixture_sampler, past_key_values=past_key_values, use_cache=use_cache)
        hidden = out.last_hidden_state
        keep = slice(-logits_to_keep, None) if isinstance(logits_to_keep, int) else logits_to_keep
        logits = self.logits(hidden[:, keep])
        loss = None if labels is None else checked_loss(
            lambda: ForCausalLMLoss(logits, labels, self.config.vocab_size, **kwargs), labels, self.config.vocab_size)
        return CausalLMOutputWithPast(loss=loss, logits=logits, past_key_values=out.past_key_values,
                                      hidden_states=out.hidden_states)


    def logits(self, hidden: torch.Tensor) -> torch.Tensor:
        """(b, t, D) -> (b, t, V): the LM head, then the logit multiplier and soft-cap of the config."""
        logits = self.lm_head(hidden)
        if self.config.logit_multiplier != 1.0:
            logits = logits * self.config.logit_multiplier
        cap = self.config.final_logit_softcapping
        return logits if cap is None else torch.tanh(logits / cap) * cap


class ManticoreForSequenceClassification(ManticorePreTrainedModel):
    """A Manticore hybrid with a classification head on the last non-padding token: logits (b, num_labels)."""

    def __init__(self, config: ManticoreConfig):
        super().__init__(config)
        self.model = ManticoreModel(config)
        self.score = nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def forward(
        self,
        input_ids: torch.LongTensor | None = None,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.LongTensor | None = None,
        inputs_embeds: torch.Tensor | None = None,
        labels: torch.Tensor | None = None,
        output_hidden_states: bool | None = None,
        mixture_sampler: Callable[[torch.Tensor], torch.Tensor] | None = None,
        **kwargs,
    ) -> SequenceClassifierOutput:
        """labels: (b,) class ids (or floats for num_labels == 1, regression). mixture_sampler: see
        ManticoreModel.forward."""
        out = self.model(input_ids, attention_mask, position_ids, inputs_embeds, output_hidden_states,
                         mixture_sampler=mixture_sampler)
        hidden = out.last_hidden_state
        last = self.last_token_index(input_ids, attention_mask, hidden.shape[:2])
        logits = self.score(hidden[torch.arange(hidden.shape[0], device=hidden.device), last])
        classes = self.config.num_labels if self.config.num_labels > 1 and not labels_are_floats(labels) else None
        loss = None if labels is None else checked_loss(
            lambda: ForSequenceClassificationLoss(labels, logits, self.config), labels, classes)
        return SequenceClassifierOutput(loss=loss, logits=logits, hidden_states=out.hidden_states)

    def last_token_index(self, input_ids, attention_mask, shape) -> torch.Tensor:
        """(b,) index of each sequence's last non-padding token (left or right padding)."""
        b, t = shape
        if attention_mask is not None:
            keep = attention_mask.bool()
        elif input_ids is not None and self.config.pad_token_id is not None:
            keep = input_ids != self.config.pad_token_id
        else:
            return torch.full((b,), t - 1, dtype=torch.long)
        positions = torch.arange(t, device=keep.device).expand(b, t)
        return torch.where(keep, positions, -1).amax(-1).clamp(min=0)
