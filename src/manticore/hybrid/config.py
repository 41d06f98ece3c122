"""`ManticoreConfig`: everything needed to rebuild a hybrid without its original component checkpoints."""

from __future__ import annotations

from typing import Any

from transformers import AutoConfig, PretrainedConfig

from ..components.registry import adapter_class

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

    def __post_init__(self, **kwargs):
        if self.components is not None:
            self.components = [component_config_dict(c) for c in self.components]
            self._validate()
        super().__post_init__(**kwargs)

    def component_configs(self) -> list[PretrainedConfig]:
        return [rebuild_component_config(c) for c in self.components or []]

    @property
    def depths(self) -> list[int]:
        return [adapter_class(c).depth_of(c) for c in self.component_configs()]

    @property
    def widths(self) -> list[int]:
        return [c.hidden_size for c in self.component_configs()]

    def block_groups(self, k: int) -> list[tuple[int, int]]:
        """Component k's blocks cut into L contiguous groups: [(start, stop)] * L."""
        size = self.depths[k] // self.num_blocks
        return [(l * size, (l + 1) * size) for l in range(self.num_blocks)]

    def _validate(self) -> None:
        if len(self.components) == 0:
            raise ValueError("A Manticore hybrid needs at least one component model (K >= 1); got K = 0.")
        for k, c in enumerate(self.components):
            try:
                adapter_class(c["model_type"])
            except ValueError as err:
                raise ValueError(f"Component {k}: {err}") from None
        configs = self.component_configs()
        depths = [adapter_class(c).depth_of(c) for c in configs]
        self.adapters = [c.model_type for c in configs]
        if not isinstance(self.num_blocks, int) or isinstance(self.num_blocks, bool) or self.num_blocks <= 0:
            raise ValueError(
                f"num_blocks (L) must be a positive integer that divides every component's depth; got "
                f"{self.num_blocks!r}. With depths {depths}, L can be one of {valid_block_counts(depths)}."
            )
        if any(d % self.num_blocks for d in depths):
            raise ValueError(
                f"num_blocks={self.num_blocks} does not divide every component's depth (depths: {depths}). "
                f"L must divide each depth; values that work: {valid_block_counts(depths)}."
            )
        if self.projector_init not in PROJECTOR_INITS:
            raise ValueError(f"projector_init must be one of {PROJECTOR_INITS}, got {self.projector_init!r}.")
        self.hidden_size = max(c.hidden_size for c in configs)
        if self.vocab_size is None:
            self.vocab_size = configs[0].vocab_size
        if not isinstance(self.vocab_size, int) or self.vocab_size <= 0:
            raise ValueError(f"vocab_size must be a positive integer, got {self.vocab_size!r}.")
