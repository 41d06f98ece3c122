"""Any Hugging Face decoder as a component, its layout discovered from the model itself (no family file).

A decoder built as token embedding → blocks → final norm (paper, Appendix B.1) is found by looking at its
base model:

- the token embedding: the module `get_input_embeddings()` returns (dropped: the hybrid embeds);
- the blocks: the `nn.ModuleList` of `num_hidden_layers` modules (the shallowest, e.g. `layers`, `h`,
  `decoder.layers`, `blocks`);
- the final norm: a norm module beside the blocks, registered after them (a decoder without one is allowed).

What the blocks need in a forward pass (the mask of each attention kind, rotary tables of each layer type, ALiBi
biases, the (b, t) padding mask of recurrent layers, the generation cache) is not rebuilt here. The base
model's own forward runs on the hybrid's hidden states with every block replaced by a *recorder*, which keeps
what the forward passed that block and hands its input straight back; the recorded calls are then replayed on
the real blocks, group by group. So each block gets exactly what its own model would pass it. Whatever the
forward does to its input before the first block (a learned or sinusoidal positional embedding, an embedding
scale, dropout) is recorded too, as the first block's input, and applied in the component's first group.

Discovery can't split a forward that changes the hidden states *between* blocks (a rescaling every n layers, a
shared block fed the embeddings): the recording sees it and the error says so; such a family needs its own
adapter file.

Shapes: b = batch, t = new positions, d = the component's d_model.
"""

from __future__ import annotations

import copy
import functools
import inspect
import json
from dataclasses import dataclass
from typing import Any, NamedTuple

import torch
from torch import nn
from transformers import AutoConfig, PretrainedConfig, PreTrainedModel
from transformers.cache_utils import Cache

from .base import ComponentAdapter, rename_layers

NORM_NAMES = ("norm", "ln_f", "norm_f", "final_layernorm", "final_layer_norm", "final_norm", "ln_out", "layer_norm",
              "layernorm", "final_ln")
CACHE_ARGUMENTS = ("past_key_values", "cache_params", "layer_past")
DEPTH_FIELDS = ("num_hidden_layers", "decoder_layers", "num_decoder_layers")


class UnsupportedLayout(ValueError):
    """Discovery did not find what a component needs; the message says what it found and what is missing."""


@dataclass(frozen=True)
class Layout:
    """Where a decoder keeps its parts, as dotted paths in its base model."""

    embedding: str  # the token embedding
    layers: str  # the nn.ModuleList of blocks
    norm: str | None  # the final norm, or None if it has none
    cache_argument: str | None  # the keyword its forward takes the generation cache by, or None
    root: str = ""  # the module whose forward runs the blocks ("" the base model; "decoder" in a DecoderWrapper)
    depth_field: str = "num_hidden_layers"  # the config field giving the number of blocks

    @classmethod
    def discover(cls, backbone: nn.Module, config: PretrainedConfig) -> Layout:
        """The layout of `backbone` (a base model, possibly on the meta device); UnsupportedLayout names what is
        missing."""
        found, missing = [], []
        modules = dict(backbone.named_modules())
        lists = {name: m for name, m in modules.items() if isinstance(m, nn.ModuleList) and name}
        layers, depth, depth_field = None, getattr(config, "num_hidden_layers", None), "num_hidden_layers"
        for field in DEPTH_FIELDS:  # encoder-decoder configs give the decoder's depth separately
            value = getattr(config, field, None)
            candidates = sorted((name for name, m in lists.items() if isinstance(value, int) and len(m) == value),
                                key=lambda n: (n.count("."), n))
            if candidates:
                layers, depth, depth_field = candidates[0], value, field
                break
        if layers:
            found.append(f"blocks {layers!r} ({depth})")
        else:
            others = ", ".join(f"{n!r} ({len(m)})" for n, m in list(lists.items())[:4] if n.count(".") <= 1) or "none"
            missing.append(f"a list of num_hidden_layers={depth} blocks (module lists: {others})")
        root = cls.find_root(backbone, layers or "")
        embedding = None
        for owner in (backbone, backbone.get_submodule(root) if root is not None else backbone):
            try:
                module = owner.get_input_embeddings()
            except (NotImplementedError, AttributeError):
                continue
            embedding = next((name for name, m in modules.items() if m is module and module is not None and name), None)
            if embedding:
                break
        (found if embedding else missing).append(f"token embedding {embedding!r}" if embedding else
                                                 "a token embedding (get_input_embeddings() returned none)")
        if root is None:
            missing.append("a forward taking inputs_embeds (in the base model or a module holding the blocks)")
        if missing:
            raise UnsupportedLayout(
                f"Component family {config.model_type!r} ({type(backbone).__name__}) can't be used: discovery found "
                f"{', '.join(found) or 'nothing usable'}; missing: {'; '.join(missing)}. Register an adapter for it "
                "(see docs/extending.md, 'A model family')."
            )
        norm = cls.find_norm(backbone, layers)
        parameters = inspect.signature(backbone.get_submodule(root).forward).parameters
        cache_argument = next((name for name in CACHE_ARGUMENTS if name in parameters), None)
        return cls(embedding, layers, norm, cache_argument, root, depth_field)

    @staticmethod
    def find_root(backbone: nn.Module, layers: str) -> str | None:
        """The module whose forward runs the blocks from inputs_embeds: the base model itself if its forward
        takes them, else the nearest module holding the blocks that does (a DecoderWrapper's `decoder`)."""
        parts = layers.split(".")[:-1]
        for cut in range(0, len(parts) + 1):
            path = ".".join(parts[:cut])
            if "inputs_embeds" in inspect.signature(backbone.get_submodule(path).forward).parameters:
                return path
        return None

    @staticmethod
    def find_norm(backbone: nn.Module, layers: str) -> str | None:
        """The final norm: a sibling of the blocks with a usual final-norm name (registered after them if several
        are), else the last module registered after the blocks whose class name says it is a norm; None if none."""
        parent_name, _, name = layers.rpartition(".")
        parent = backbone.get_submodule(parent_name)
        children = [(n, m) for n, m in parent.named_children() if m is not None]
        after = children[[n for n, _ in children].index(name) + 1:]
        prefix = parent_name + "." if parent_name else ""
        named = [n for n, _ in after if n in NORM_NAMES] or [n for n, _ in children if n in NORM_NAMES]
        if named:
            return prefix + named[0]
        norms = [n for n, m in after if "norm" in type(m).__name__.lower()]
        return prefix + norms[-1] if norms else None

    def describe(self) -> str:
        return (f"embedding {self.embedding!r}, blocks {self.layers!r}, final norm {self.norm!r}, "
                f"cache keyword {self.cache_argument!r}" + (f", run by {self.root!r}" if self.root else ""))


def build_backbone(config: PretrainedConfig) -> PreTrainedModel:
    """The base model of the family's causal LM for `config` (e.g. `LlamaModel`, or `BartDecoderWrapper` for
    the decoder of an encoder-decoder family), randomly initialised by its own rules. Where the base model class
    built on its own differs from the one inside the causal LM (BERT-like models drop their pooler there), the
    causal LM is built and its base model taken."""
    cls, same = base_model_class(config)
    if same:
        return cls._from_config(config)
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_config(config).base_model


@functools.lru_cache(maxsize=256)
def _base_model_class(config_json: str) -> tuple[type[PreTrainedModel], bool]:
    from transformers import AutoModelForCausalLM

    config = _config(config_json)
    try:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(config)
    except ValueError as err:
        raise UnsupportedLayout(f"Component family {config.model_type!r} has no causal LM class in transformers "
                                f"({' '.join(str(err).split())[:200]}).") from None
    if model.base_model is model:
        raise UnsupportedLayout(f"Component family {config.model_type!r} can't be used: its causal LM "
                                f"{type(model).__name__} has no separate base model (embedding and blocks without "
                                "the head) to discover.")
    cls = type(model.base_model)
    with torch.device("meta"):
        alone = cls._from_config(config)
    return cls, set(alone.state_dict()) == set(model.base_model.state_dict())


def base_model_class(config: PretrainedConfig) -> tuple[type[PreTrainedModel], bool]:
    """The class of `AutoModelForCausalLM`'s base model for `config` (found by building the LM on the meta
    device; cached), and whether that class built on its own has the same parameters."""
    return _base_model_class(_key(config))


def _key(config: PretrainedConfig) -> str:
    values = {k: v for k, v in config.to_dict().items() if k not in ("transformers_version", "_name_or_path")}
    return json.dumps(values, sort_keys=True, default=str)


def _config(config_json: str) -> PretrainedConfig:
    values = json.loads(config_json)
    return AutoConfig.for_model(values.pop("model_type"), **values)


@functools.lru_cache(maxsize=256)
def _discover(config_json: str) -> Layout:
    config = _config(config_json)
    cls, _ = _base_model_class(config_json)
    with torch.device("meta"):
        backbone = cls._from_config(config)
    return Layout.discover(backbone, config)


def discover(config: PretrainedConfig) -> Layout:
    """The layout of a component config's base model, found on the meta device (no memory, no weights); cached."""
    return _discover(_key(config))


class BlockCall(NamedTuple):
    """What a base model's forward passed one block: its input hidden states and every other argument."""

    hidden: torch.Tensor
    args: tuple
    kwargs: dict[str, Any]
    keyword: str | None  # the keyword the hidden states came by, or None if positional


class Stop(Exception):
    """Ends a recording forward pass once every block has been recorded."""


class Recorder(nn.Module):
    """Stands in for block `index` while its model's forward is recorded: keeps the call, returns the input.

    Attributes the forward reads from its blocks (attention_type, layer_idx, ...) are the real block's."""

    def __init__(self, block: nn.Module, index: int, log: list[BlockCall], returns: list):
        super().__init__()
        self.__dict__.update(block=block, index=index, log=log, returns=returns, stop_here=False)
        parameters = list(inspect.signature(block.forward).parameters)
        self.__dict__["hidden_name"] = parameters[0] if parameters else None

    def __getattr__(self, name: str):
        try:
            return super().__getattr__(name)
        except AttributeError:
            return getattr(self.__dict__["block"], name)

    def forward(self, *args, **kwargs):
        if args:
            hidden, args, keyword = args[0], args[1:], None
        else:
            keyword = self.hidden_name
            hidden = kwargs.pop(keyword)
        self.log.append(BlockCall(hidden, args, kwargs, keyword))
        if self.stop_here:
            raise Stop
        length = self.returns[0] if self.returns else None
        return hidden if length is None else (hidden,) + (None,) * (length - 1)


class DecoderAdapter(ComponentAdapter):
    """A component whose layout is discovered (see the module docstring); used for every family without its
    own adapter. `layout` says what was found."""

    def __init__(self, config: PretrainedConfig):
        nn.Module.__init__(self)
        self.layout = discover(config)
        self.backbone: PreTrainedModel = build_backbone(config)
        self.token_embedding = self.layout.embedding
        self.layers = self.layout.layers
        self.cache_argument = self.layout.cache_argument or "past_key_values"
        self.supports_cache = self.layout.cache_argument is not None
        self._set(self.layout.embedding, None)
        self._returns: list = []  # [n] once known: blocks return n-tuples; [None]: a tensor
        self._log: list[BlockCall] = []
        self._stopped = self._norm_after_blocks = False  # set by record / learn_returns
        self._recorders: tuple[nn.ModuleList, ...] = ()  # a tuple, so not registered as a submodule
        self._forward_keywords = set(inspect.signature(self.backbone.get_submodule(self.layout.root).forward).parameters)

    @classmethod
    def check(cls, config: PretrainedConfig) -> None:
        discover(config)

    @classmethod
    def depth_of(cls, config: PretrainedConfig) -> int:
        return getattr(config, discover(config).depth_field)

    def cache_config(self) -> PretrainedConfig:
        """The config, or for a decoder whose depth is in another field (an encoder-decoder's decoder_layers) a
        copy whose num_hidden_layers is that depth, so the cache gets one layer per block."""
        if self.layout.depth_field == "num_hidden_layers":
            return self.config
        config = copy.deepcopy(self.config)
        config.num_hidden_layers = self.num_blocks
        return config

    @classmethod
    def prune_config_dict(cls, values: dict[str, Any], keep: list[int], config: PretrainedConfig) -> dict[str, Any]:
        """The default (depth and `layer_types`), with the depth in the field discovery read it from."""
        values = super().prune_config_dict(values, keep, config)
        field = discover(config).depth_field
        if field != "num_hidden_layers":
            values[field] = len(keep)
        return values

    def _set(self, path: str, module: nn.Module | None) -> None:
        parent, _, name = path.rpartition(".")
        self.backbone.get_submodule(parent)._modules[name] = module

    @property
    def blocks(self) -> nn.ModuleList:
        return self.backbone.get_submodule(self.layout.layers)

    def final_norm(self, hidden: torch.Tensor) -> torch.Tensor:
        if self.layout.norm is None or not self._norm_after_blocks:
            return hidden
        return self.backbone.get_submodule(self.layout.norm)(hidden)

    def drop_unused(self, first: bool, last: bool) -> None:
        """Nothing is dropped: the recording forward runs the whole pre-block path of the base model."""

    @property
    def max_positions(self) -> int | None:
        """A learned positional table's size (config.max_position_embeddings) when the family has one."""
        limit = getattr(self.config, "max_position_embeddings", None)
        learned = any(isinstance(m, nn.Embedding) and m.num_embeddings in (limit, (limit or 0) + 2)
                      for name, m in self.backbone.named_modules() if "position" in name or name.endswith("wpe"))
        return limit if learned else None

    def prune_state_dict(self, state: dict[str, torch.Tensor], keep) -> dict[str, torch.Tensor]:
        return rename_layers(state, keep, self.layout.layers)

    # -- the forward path ----------------------------------------------------------------------------------
    def context(self, hidden, attention_mask, position_ids, cache: Cache | None = None) -> dict[str, Any]:
        """The base model's forward arguments for this pass; the blocks' calls are recorded by the first group
        that runs (`run_blocks`), with that group's input."""
        arguments = {"attention_mask": attention_mask, "position_ids": position_ids, "use_cache": cache is not None,
                     "output_attentions": False, "output_hidden_states": False}
        if cache is not None:
            arguments[self.cache_argument] = cache
        return {"forward": {k: v for k, v in arguments.items() if k in self._forward_keywords}}

    def record(self, hidden: torch.Tensor, context: dict[str, Any], stop_at: int | None = None) -> list[BlockCall]:
        """Run the base model's forward on hidden (b, t, d) with recorders for blocks; returns each block's call."""
        if not self._recorders:
            self._recorders = (nn.ModuleList(Recorder(b, i, self._log, self._returns) for i, b in enumerate(self.blocks)),)
        recorders = self._recorders[0]
        blocks = self.blocks
        hook = None
        if self.layout.norm is not None and stop_at is None:
            def stop(module, args):  # at the final norm, once every block is recorded (some also norm the input)
                if len(self._log) >= self.num_blocks:
                    raise Stop

            hook = self.backbone.get_submodule(self.layout.norm).register_forward_pre_hook(stop)
        if stop_at is not None:
            recorders[stop_at].__dict__["stop_here"] = True
        self._log.clear()
        self._set(self.layout.layers, recorders)
        self._stopped = False
        try:
            self.backbone.get_submodule(self.layout.root)(inputs_embeds=hidden, **context["forward"])
        except Stop:
            self._stopped = True
        finally:
            self._set(self.layout.layers, blocks)
            if hook is not None:
                hook.remove()
            if stop_at is not None:
                recorders[stop_at].__dict__["stop_here"] = False
        calls = list(self._log)
        self._log.clear()
        return calls

    def check_calls(self, calls: list[BlockCall], expected: int) -> None:
        """The recorded forward called every block once, in order, passing each the previous one's output."""
        if len(calls) != expected:
            raise UnsupportedLayout(
                f"{self.config.model_type}: its forward called {len(calls)} of its {expected} blocks in a pass, so "
                f"discovery ({self.layout.describe()}) can't run them in groups; it needs its own adapter.")
        for i in range(1, len(calls)):
            if calls[i].hidden is not calls[i - 1].hidden:
                raise UnsupportedLayout(
                    f"{self.config.model_type}: its forward changes the hidden states between blocks {i - 1} and {i} "
                    "(not only inside blocks), so discovery can't cut it into groups; it needs its own adapter.")

    def learn_returns(self, hidden: torch.Tensor) -> None:
        """Whether the blocks return a tensor or a tuple (so recorders return the same): block 0 runs once on a
        one-token input, in eval mode and without a cache (no state, no random numbers used). Then whether the
        norm discovery found runs after the last block (else it normalises something else, e.g. BART's
        layernorm_embedding, and the component has no final norm)."""
        probe = hidden.new_zeros(1, 1, hidden.shape[-1])
        context = self.context(probe, None, torch.zeros(1, 1, dtype=torch.long, device=hidden.device))
        training = self.backbone.training
        self.backbone.eval()
        try:
            with torch.no_grad():
                call = self.record(probe, context, stop_at=0)[0]
                out = self.replay(self.blocks[0], probe, call)
        finally:
            self.backbone.train(training)
        if isinstance(out, torch.Tensor):
            self._returns[:] = [None]
        elif isinstance(out, (tuple, list)):
            self._returns[:] = [len(out)]
        else:
            raise UnsupportedLayout(f"{self.config.model_type}: its blocks return a {type(out).__name__}, not hidden "
                                    "states or a tuple starting with them; it needs its own adapter.")
        if self.layout.norm is not None:
            self.backbone.eval()
            try:
                with torch.no_grad():
                    self.record(probe, context)
            finally:
                self.backbone.train(training)
            self._norm_after_blocks = self._stopped

    @staticmethod
    def replay(block: nn.Module, hidden: torch.Tensor, call: BlockCall):
        if call.keyword is None:
            return block(hidden, *call.args, **call.kwargs)
        return block(*call.args, **{call.keyword: hidden}, **call.kwargs)

    def run_blocks(self, hidden, start, stop, context, *, first, last):
        """Run blocks [start, stop) on hidden (b, t, d) as the base model's forward would; see ComponentAdapter."""
        if not self._returns:
            self.learn_returns(hidden)
        if first or "calls" not in context:  # the first group: its input goes through the pre-block path
            calls = self.record(hidden, context)
            self.check_calls(calls, self.num_blocks)
            context["calls"] = calls
            if first:
                hidden = calls[0].hidden
        for index in range(start, stop):
            out = self.replay(self.blocks[index], hidden, context["calls"][index])
            hidden = out[0] if isinstance(out, (tuple, list)) else out
        if last:
            hidden = self.final_norm(hidden)
        return hidden

