"""`ManticoreConfig`: everything needed to rebuild a hybrid without its original component checkpoints."""

from __future__ import annotations

from typing import Any

from transformers import AutoConfig, PretrainedConfig

from ..checks import is_int, is_number

PROJECTOR_INITS = ("trunc_pad", "normal")


def component_config_dict(config: PretrainedConfig | dict[str, Any]) -> dict[str, Any]:
    """A component config as a JSON-ready dict that names its `model_type`."""
    if isinstance(config, PretrainedConfig):
        config = config.to_dict()
    if not isinstance(config, dict) or "model_type" not in config:
        raise TypeError(
            f"A component config must be a transformers PretrainedConfig or a dict with a 'model_type' key, "
            f"got {config!r:.200}"
        )
    return {k: v for k, v in config.items() if k not in ("transformers_version", "_name_or_path")}


def rebuild_component_config(config: dict[str, Any]) -> PretrainedConfig:
    """The PretrainedConfig of one stored component dict."""
    config = dict(config)
    return AutoConfig.for_model(config.pop("model_type"), **config)


def accepted_keywords(cls: type[PretrainedConfig]) -> set[str]:
    """The keywords a config accepts: its own fields, PretrainedConfig's, the ones PretrainedConfig's
    __post_init__ consumes, and the generation parameters it drops."""
    from dataclasses import fields

    from transformers import GenerationConfig

    consumed = {"torch_dtype", "num_labels", "name_or_path", "_name_or_path", "_commit_hash", "output_attentions",
                "attn_implementation", "experts_implementation", "per_layer_config", "rope_scaling", "rope_theta",
                "auto_map", "model_type", "transformers_version", "tokenizer_class", "task_specific_params"}
    own = {name for klass in cls.__mro__ for name in getattr(klass, "__annotations__", {})}
    return own | {f.name for f in fields(PretrainedConfig)} | consumed | set(GenerationConfig._get_default_generation_params())


def check_keywords(cls: type[PretrainedConfig], kwargs: dict[str, Any]) -> None:
    """Refuse keywords the config doesn't know (a misspelt field would otherwise be stored and ignored)."""
    import difflib

    accepted = accepted_keywords(cls)
    unknown = sorted(k for k in kwargs if k not in accepted)
    if unknown:
        own = sorted(k for k in getattr(cls, "__annotations__", {}) if not k.startswith("_"))
        hints = [f"{k!r} (did you mean {close[0]!r}?)" if (close := difflib.get_close_matches(k, own, n=1)) else repr(k)
                 for k in unknown]
        raise ValueError(f"{cls.__name__} got unknown keyword(s) {', '.join(hints)}; its fields are {own}.")


def valid_block_counts(depths: list[int]) -> list[int]:
    """Every L that divides all component depths."""
    return [n for n in range(1, min(depths) + 1) if all(d % n == 0 for d in depths)]


class ManticoreConfig(PretrainedConfig):
    """Configuration of a Manticore hybrid (paper, Appendix B).

    Args:
        components: the K component configs, as transformers configs or their dicts (stored as dicts).
        num_blocks: L, the number of Manticore blocks; it must divide every component's depth.
        vocab_size: the hybrid's vocabulary (one shared tokenizer).
        hidden_size: d_max, the widest component's d_model (derived from `components`).
        adapters: the component family of each component, i.e. its `model_type` (derived).
        projector_bias: whether the projectors' Linear maps have a bias.
        projector_init: "trunc_pad" (the Linear starts as the Trunc/Pad map) or "normal".
        initializer_range: std of the normal init of new embeddings, heads and "normal" projectors.
        groups: explicit block groups, or None (default) for the uniform split (paper, B.4): per component k,
            per Manticore block l, [start, stop) in component k's own layer numbering. The groups of a
            component are contiguous and cover its layers in order; an empty group (start == stop) is a
            branch that was pruned (`discretize`), and its mixture weight must stay 0. With explicit groups,
            L need not divide the depths.
        first_groups: per component, the block whose group holds the component's original first layer
            (it applies the family's positional embedding), or None where that group was pruned. Default
            (None): block 0 for every component. Must name the component's first non-empty group.
        last_groups: likewise for the original last layer (it applies the final norm); default block L-1.
        embedding_multiplier: the token embedding's output is multiplied by this (Gemma's sqrt(d)); default 1.
        logit_multiplier: the LM head's logits are multiplied by this (Cohere's logit_scale, Granite's
            1 / logits_scaling); default 1.
        final_logit_softcapping: logits -> cap * tanh(logits / cap) after the multiplier (Gemma 2/3); None: off.
        lm_head_bias: whether the LM head has a bias (Phi, GPT-J, CodeGen).
        component_sources: where each component came from (a local path or hub id), None for one built from a
            config or given as a model without one; the model card names them.
        With `from_components(..., embeddings_from=k)` these four are set from component k (its adapter's
        `head_settings`), so a one-hot hybrid computes component k's logits exactly; passing one overrides it.
    """

    model_type = "manticore"

    components: list[dict[str, Any]] | None = None
    num_blocks: int = 1
    vocab_size: int | None = None
    hidden_size: int | None = None
    adapters: list[str] | None = None
    projector_bias: bool = True
    projector_init: str = "trunc_pad"
    initializer_range: float = 0.02
    tie_word_embeddings: bool = False
    pad_token_id: int | None = None
    bos_token_id: int | None = None
    eos_token_id: int | None = None
    groups: list[list[list[int]]] | None = None
    first_groups: list[int | None] | None = None
    last_groups: list[int | None] | None = None
    embedding_multiplier: float = 1.0
    logit_multiplier: float = 1.0
    final_logit_softcapping: float | None = None
    lm_head_bias: bool = False
    component_sources: list[str | None] | None = None

    def __post_init__(self, **kwargs):
        check_keywords(type(self), kwargs)
        if self.components is not None:
            self.components = [component_config_dict(c) for c in self.components]
            self._validate()
        super().__post_init__(**kwargs)
        if not is_int(self.num_labels) or self.num_labels < 1:
            raise ValueError(f"num_labels must be an integer >= 1 (1 for regression), got {self.num_labels!r}.")

    def component_configs(self) -> list[PretrainedConfig]:
        return [rebuild_component_config(c) for c in self.components or []]

    @property
    def depths(self) -> list[int]:
        from ..components.registry import adapter_class

        return [adapter_class(c).depth_of(c) for c in self.component_configs()]

    @property
    def widths(self) -> list[int]:
        return [c.hidden_size for c in self.component_configs()]

    def block_groups(self, k: int) -> list[tuple[int, int]]:
        """Component k's blocks cut into L contiguous groups: [(start, stop)] * L (explicit or uniform)."""
        if self.groups is not None:
            return [(int(a), int(b)) for a, b in self.groups[k]]
        size = self.depths[k] // self.num_blocks
        return [(l * size, (l + 1) * size) for l in range(self.num_blocks)]

    def first_group(self, k: int) -> int | None:
        """The block whose group applies component k's positional embedding, or None (pruned)."""
        return 0 if self.first_groups is None else self.first_groups[k]

    def last_group(self, k: int) -> int | None:
        """The block whose group applies component k's final norm, or None (pruned)."""
        return self.num_blocks - 1 if self.last_groups is None else self.last_groups[k]

    def pruned(self) -> list[list[bool]]:
        """(L, K): True where component k's group in block l is empty (pruned); its mixture weight is 0."""
        groups = [self.block_groups(k) for k in range(len(self.components or []))]
        return [[g[l][0] == g[l][1] for g in groups] for l in range(self.num_blocks)]

    def _validate(self) -> None:
        from ..components.registry import adapter_class, check_component

        if len(self.components) == 0:
            raise ValueError("A Manticore hybrid needs at least one component model (K >= 1); got K = 0.")
        for k, c in enumerate(self.components):
            try:
                adapter_class(c["model_type"])
            except ValueError as err:
                raise ValueError(f"Component {k}: {err}") from None
        configs = self.component_configs()
        for k, c in enumerate(configs):
            try:
                check_component(c)
            except ValueError as err:
                raise ValueError(f"Component {k}: {err}") from None
        depths = [adapter_class(c).depth_of(c) for c in configs]
        self.adapters = [c.model_type for c in configs]
        if not is_int(self.num_blocks) or self.num_blocks <= 0:
            raise ValueError(
                f"num_blocks (L) must be a positive integer that divides every component's depth; got "
                f"{self.num_blocks!r}. With depths {depths}, L can be one of {valid_block_counts(depths)}."
            )
        if self.groups is not None:
            self._validate_groups(depths)
        if self.groups is None and any(d % self.num_blocks for d in depths):
            raise ValueError(
                f"num_blocks={self.num_blocks} does not divide every component's depth (depths: {depths}). "
                f"L must divide each depth; values that work: {valid_block_counts(depths)}."
            )
        if self.groups is not None or self.first_groups is not None or self.last_groups is not None:
            self._validate_ends(depths)
        self._validate_head()
        if self.projector_init not in PROJECTOR_INITS:
            raise ValueError(f"projector_init must be one of {PROJECTOR_INITS}, got {self.projector_init!r}.")
        self.hidden_size = max(c.hidden_size for c in configs)
        if self.vocab_size is None:
            self.vocab_size = configs[0].vocab_size
        if not is_int(self.vocab_size) or self.vocab_size <= 0:
            raise ValueError(f"vocab_size must be a positive integer, got {self.vocab_size!r}.")


    def _validate_head(self) -> None:
        for name in ("embedding_multiplier", "logit_multiplier", "final_logit_softcapping"):
            value = getattr(self, name)
            if value is None and name == "final_logit_softcapping":
                continue
            if not is_number(value) or value <= 0:
                raise ValueError(f"{name} must be a finite number > 0{' or None' if name.startswith('final') else ''}; "
                                 f"got {value!r}.")
            setattr(self, name, float(value))
        if not isinstance(self.lm_head_bias, bool):
            raise ValueError(f"lm_head_bias must be True or False; got {self.lm_head_bias!r}.")

    def _validate_groups(self, depths: list[int]) -> None:
        """Explicit groups: K x L contiguous [start, stop) ranges covering each depth; first/last consistent."""
        K, L = len(depths), self.num_blocks
        groups = self.groups
        if not isinstance(groups, (list, tuple)) or len(groups) != K:
            raise ValueError(f"groups must have one entry per component (K = {K}); got {groups!r:.200}.")
        clean = []
        for k, (component, depth) in enumerate(zip(groups, depths)):
            if not isinstance(component, (list, tuple)) or len(component) != L:
                raise ValueError(f"groups[{k}] must have one [start, stop] per Manticore block (L = {L}); "
                                 f"got {component!r:.200}.")
            position = 0
            for l, group in enumerate(component):
                if (not isinstance(group, (list, tuple)) or len(group) != 2
                        or not all(is_int(i) for i in group)):
                    raise ValueError(f"groups[{k}][{l}] must be [start, stop] (two ints); got {group!r}.")
                start, stop = group
                if start != position or stop < start:
                    raise ValueError(
                        f"groups[{k}] must be contiguous ranges [start, stop) covering component {k}'s layers "
                        f"0..{depth - 1} in order; block {l} has {list(group)}, expected start {position}."
                    )
                position = stop
            if position != depth:
                raise ValueError(f"groups[{k}] covers {position} layers but component {k} has {depth}.")
            if all(a == b for a, b in component):
                raise ValueError(f"groups[{k}] are all empty: component {k} runs in no block; remove it instead.")
            clean.append([[int(a), int(b)] for a, b in component])
        self.groups = clean

    def _validate_ends(self, depths: list[int]) -> None:
        """first_groups / last_groups name each component's first / last non-empty group, or None."""
        K, L = len(depths), self.num_blocks
        for name, default, pick, end in (("first_groups", 0, min, "first"), ("last_groups", L - 1, max, "last")):
            given = getattr(self, name)
            if given is not None and (not isinstance(given, (list, tuple)) or len(given) != K):
                raise ValueError(f"{name} must have one entry (a block index or None) per component (K = {K}); "
                                 f"got {given!r}.")
            for k in range(K):
                used = [l for l, (a, b) in enumerate(self.block_groups(k)) if a != b]
                value = default if given is None else given[k]
                if value is not None and value != pick(used):
                    raise ValueError(
                        f"{name}[{k}] = {value!r}, but component {k}'s {end} non-empty group is in block "
                        f"{pick(used)}; it must name that block, or be None if the component's original {end} "
                        f"layers were pruned."
                    )
            if given is not None:
                setattr(self, name, list(given))
