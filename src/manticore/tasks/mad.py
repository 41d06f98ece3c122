"""The MAD synthetic tasks (Poli et al., 2024, "Mechanistic Design and Scaling of Hybrid Architectures").

Six generated token tasks, each a `Task` of kind "lm" (paper, Appendix H, "MAD synthetics"), each with one
settings dataclass here, which is also what the registry builds from a task section:

    mad/in-context-recall        InContextRecall: multi-query associative recall, k v k v ..., a random
                                 key -> value map per sequence
    mad/fuzzy-in-context-recall  FuzzyInContextRecall: keys and values are motifs of 1..k tokens; left-padded
    mad/noisy-in-context-recall  NoisyInContextRecall: a pair slot holds noise tokens (a separate noise vocabulary)
    mad/selective-copying        SelectiveCopying: tokens scattered among blanks, a copy token, then the tokens
    mad/memorization             Memorization: one fixed key -> value map for the whole dataset
    mad/compression              Compression: random tokens + a compression token; reconstruct the input
                                 (not in MAD_TASKS)

    task = tasks.get("mad/in-context-recall", preset="manticore-hard", seed=0)
    task = InContextRecall.manticore_hard(seed=0).task("manticore-hard")  # the same Task

Glossary
    N        examples in a split (num_train, num_validation, num_test)
    L        sequence length (seq_len); every example has exactly L tokens, and Task.max_length = L
    P        pair slots per sequence: a key-value pair or (noisy recall) two noise tokens
    K        number of key token ids; keys are ids [0, K), values come from the ids after them
    k, v     longest key / value motif (fuzzy recall: k_motif_size, v_motif_size)
    scored   a position whose label is not IGNORE_INDEX

Labels are aligned (base.py): labels[i] is the target of the prediction made at position i, so the task
does the shifting, as MAD does. Recall-style tasks train on next-token targets at every position (MAD's
training targets) and test only on recall: the test label at the position of a key that was already seen
in the sequence is the value bound to it (for a motif, every value token is scored, each at the position
just before it). Selective copying, memorization and compression have the same targets in both splits.
Task.metadata["scored"] says, per split, what is scored.

Vocabulary: `vocab_size` follows MAD: it counts every id the task uses, its special tokens included (pad,
copy, blank, insert, compression, which take the last ids), except noise, whose `noise_vocab_size` ids are
appended after it, so Task.vocab_size = vocab_size + noise_vocab_size. The paper's noisy recall ("vocab 128,
noise vocab 16") is MAD's vocab_size 144.

Presets: the `preset` setting says where every setting left unset (None) comes from. "baseline" (each
class's BASELINE) is MAD's baseline for the task (configs/tasks/*.yml in MAD: 12,800 train / 1,280 test
examples, vocab 16 and length 128 for recall, ...). "manticore-hard" applies the class's HARD on top: the
harder variant the Manticore paper trains on (Appendix H): vocab 128 and 800 training examples, 80% noise,
96 tokens to copy, a memorization vocab of 8,192. Test sizes stay at MAD's 1,280. Settings given replace the
preset's values. The named constructors `baseline()`, `manticore_hard()` and `from_preset(preset)` set it.

Where we match MAD's generators (mad/data/instances.py):
- Selective copying spaces the tokens as MAD does: each of the L - 2n - 1 blanks goes before one of the n
  tokens drawn uniformly (MAD's np.insert at np.random.randint(0, n) indices), so the gaps before the
  tokens are multinomial, near-regular (about (L - 2n - 1) / n each), and no blank follows the last token,
  which sits right before the copy token.
- Memorization's map is MAD's generate_kv_map shape: K = (vocab_size - 1) // 2 keys, each bound to its own
  value, fixed for the dataset; training keys are drawn uniformly over all K keys, as in MAD.

Where we differ, on purpose:
- Every example has exactly seq_len tokens (MAD's recall drops the last one); the last position, which has
  no next token, is unscored.
- Memorization's test keys are drawn uniformly from the keys that occur in the train split: it tests facts
  seen in training. MAD draws them from all K keys, so with vocab 8,192 (K = 4,095) and 256 x 16 training
  keys only about 64% of its test keys occur in training and test accuracy is capped near 64%. At MAD's
  baseline (vocab 256, K = 127) training sees every key (all but surely), so the two agree there.
- Selective copying draws from the seeded generator (MAD used the global numpy RNG for the placement, so
  its data were not reproducible).
- Fuzzy recall's training labels skip the left padding (predicting the next pad carries no information).
- Data are generated in vectorised numpy from a seeded generator per (seed, split) (seeded_rng.MAD_STREAMS),
  so the test split never reuses the train stream; memorization's key -> value map has a stream of its
  own, shared by both splits.

Metrics: MAD reports torchmetrics' macro-averaged accuracy; the engine reports it as `macro_accuracy`,
beside plain `accuracy` (train/metrics.py).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, ClassVar, Literal

import numpy as np
import torch

from ..checks import check, check_int, check_one_of, is_int, is_number
from .base import IGNORE_INDEX, SequenceDataset, Task
from .cache import cached
from .seeded_rng import MAD_STREAMS, split_rng
from .spec import TaskSpec

# The five tasks the paper uses (Appendix H): compression needs an encoder-decoder, so it is left out.
MAD_TASKS = (
    "mad/in-context-recall",
    "mad/fuzzy-in-context-recall",
    "mad/noisy-in-context-recall",
    "mad/selective-copying",
    "mad/memorization",
)

PRESETS = ("baseline", "manticore-hard")  # the values of `preset`; also the named constructors baseline() ...
HARD_NUM_TRAIN = 800  # the paper: "fewer training examples"; the test size stays MAD's

Split = str  # "train" or "test"


# ---------------------------------------------------------------------------------------------------------
# Settings shared by every task, and building a Task from them
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class MadTask(ABC):
    """The settings every MAD task shares; a subclass adds its own, validates them and generates its data.

    A setting left as None takes its preset's value (`BASELINE`, then `HARD` for "manticore-hard"); after
    construction every setting holds its value. Two settings that differ only in `preset` are equal.
    """

    name: ClassVar[str]  # the registered task name, e.g. "mad/in-context-recall"
    BASELINE: ClassVar[Mapping[str, Any]] = MappingProxyType(
        dict(num_train=12_800, num_validation=256, num_test=1_280, vocab_size=16, seq_len=128))  # MAD's MADConfig
    # (MAD has no validation split: ours is drawn like the test split, from its own stream, for what selects
    # among models, e.g. search.select='validation', without looking at the test split)
    HARD: ClassVar[Mapping[str, Any]] = MappingProxyType(dict(vocab_size=128, num_train=HARD_NUM_TRAIN))

    preset: Literal["baseline", "manticore-hard"] = field(default="baseline", compare=False)
    """Where the settings left unset come from: MAD's baseline, or the paper's harder variant (Appendix H)."""
    seed: int = 0
    """Seeds every random stream of the task (seeded_rng.MAD_STREAMS): the splits and memorization's map."""
    num_train: int | None = None
    """N of the train split (None: the preset's; baseline 12,800, manticore-hard 800)."""
    num_validation: int | None = None
    """N of the validation split, drawn and scored like the test split from a stream of its own (None: the
    preset's, 256)."""
    num_test: int | None = None
    """N of the test split (None: the preset's, 1,280)."""
    vocab_size: int | None = None
    """Token ids the task uses, its special tokens included (noisy recall appends its noise ids after them);
    None: the preset's (baseline 16, manticore-hard 128)."""
    seq_len: int | None = None
    """L: tokens in every example (Task.max_length); None: the preset's (128)."""

    def __post_init__(self):
        check_one_of(self.preset, "preset", PRESETS, self.name)
        for setting, value in self.preset_values().items():
            if getattr(self, setting) is None:
                object.__setattr__(self, setting, value)  # frozen: the preset's value, once, here
        check_int(self.seed, "seed", minimum=0, where=self.name)
        check_int(self.num_train, "num_train", minimum=1, where=self.name)
        check_int(self.num_validation, "num_validation", minimum=1, where=self.name)
        check_int(self.num_test, "num_test", minimum=1, where=self.name)

    @classmethod
    def baseline(cls, **overrides: Any) -> MadTask:
        """MAD's baseline settings for this task, with `overrides` replacing some."""
        return cls(preset="baseline", **overrides)

    @classmethod
    def manticore_hard(cls, **overrides: Any) -> MadTask:
        """The Manticore paper's harder variant (Appendix H; the class's HARD), with `overrides` replacing some."""
        return cls(preset="manticore-hard", **overrides)

    @classmethod
    def from_preset(cls, preset: str, **overrides: Any) -> MadTask:
        """The settings of `preset` ("baseline" or "manticore-hard"), given the overrides."""
        return cls(preset=preset, **overrides)

    def preset_values(self) -> dict[str, Any]:
        """The values this preset gives the settings left unset."""
        return {**self.BASELINE, **(self.HARD if self.preset == "manticore-hard" else {})}

    def data_settings(self) -> dict[str, Any]:
        """Every setting but `preset` (which only filled the others in): Task.metadata["settings"], cache key."""
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "preset"}

    @property
    def task_vocab_size(self) -> int:
        """Task.vocab_size: every id the inputs use."""
        return self.vocab_size

    @property
    def pad_token_id(self) -> int:
        """Task.pad_token_id: what collate pads with."""
        return 0

    @abstractmethod
    def generate(self, rng: np.random.Generator, n: int, split: Split) -> tuple[np.ndarray, np.ndarray]:
        """N examples of `split` drawn from rng -> input ids (N, L), aligned labels (N, L)."""

    @abstractmethod
    def describe(self) -> dict[str, Any]:
        """Task.metadata beyond the preset and settings: the token ids' roles and, per split, what is scored."""

    def task(self, preset: str | None = None, use_cache: bool = True) -> Task:
        """Generate (or load from the cache) the three splits and wrap them in a Task.

        preset: recorded in Task.metadata["preset"]: the preset these settings came from (None: neither).
        The cache key is derived from the task name, every setting and cache.CACHE_VERSION (bumped when a
        generator's output changes), so equal settings share an entry and old data is never loaded.
        """
        settings = self.data_settings()

        def build() -> dict[str, torch.Tensor]:
            data = {}
            for split in ("train", "validation", "test"):
                rng = split_rng(self.seed, split, MAD_STREAMS)  # validation: drawn as the test split is
                ids, labels = self.generate(rng, settings[f"num_{split}"], "train" if split == "train" else "test")
                data[f"{split}_input_ids"] = torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64))
                data[f"{split}_labels"] = torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))
            return data

        data = cached(self.name, settings, build, use_cache)
        return Task(
            name=self.name, kind="lm", vocab_size=self.task_vocab_size, max_length=self.seq_len,
            pad_token_id=self.pad_token_id,
            train=SequenceDataset(data["train_input_ids"], data["train_labels"]),
            validation=SequenceDataset(data["validation_input_ids"], data["validation_labels"]),
            test=SequenceDataset(data["test_input_ids"], data["test_labels"]),
            metadata=dict(preset=preset, settings=settings, **self.describe()),
        )

    def _check_int(self, setting: str, minimum: int, why: str, even: bool = False) -> None:
        """check_int's check, its accepted values explained by `why` (and even, if `even`)."""
        value = getattr(self, setting)
        ok = is_int(value) and value >= minimum and (not even or value % 2 == 0)
        check(ok, setting, value, f"an {'even ' if even else ''}integer >= {minimum}{f' ({why})' if why else ''}",
              self.name)

    def _check_vocab(self, minimum: int, why: str) -> None:
        self._check_int("vocab_size", minimum, why)


# ---------------------------------------------------------------------------------------------------------
# The six tasks
# ---------------------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class InContextRecall(MadTask):
    """Multi-query associative recall: k v k v ... with a random key -> value map per sequence.

    Keys are ids [0, vocab_size // 2), values the rest. The last pair is a query: it repeats an earlier key.
    """

    name = "mad/in-context-recall"

    num_keys: int | None = None
    """Keys each sequence draws from, a random subset of the key half; None: the whole key half, as MAD."""

    def __post_init__(self):
        super().__post_init__()
        self._check_vocab(minimum=2, why="one half for keys and the other for values")
        self._check_int("seq_len", 4, "the sequence is key, value pairs", even=True)
        keys = self.vocab_size // 2
        check(self.num_keys is None or (is_int(self.num_keys) and 1 <= self.num_keys <= keys), "num_keys",
              self.num_keys, f"an integer in [1, {keys}] (the key ids of vocab_size={self.vocab_size}), or null "
              "(all of them)", self.name)

    def noise(self) -> tuple[float, int]:
        """(frac_noise, noise_vocab_size): plain recall has no noise."""
        return 0.0, 0

    @property
    def task_vocab_size(self) -> int:
        return self.vocab_size + self.noise()[1]

    def generate(self, rng: np.random.Generator, n: int, split: Split) -> tuple[np.ndarray, np.ndarray]:
        tokens, scored = _recall(rng, n, self.vocab_size, self.seq_len, self.num_keys, *self.noise())
        return tokens, _shift(tokens, scored if split == "test" else None)

    def describe(self) -> dict[str, Any]:
        vocab, noise_vocab = self.vocab_size, self.noise()[1]
        metadata = dict(
            key_ids=[0, vocab // 2], value_ids=[vocab // 2, vocab],
            scored=dict(train="next token at every position but the last",
                        test="positions of a key already seen in the sequence; the label is its value"),
        )
        if noise_vocab:
            metadata["noise_ids"] = [vocab, vocab + noise_vocab]
        return metadata


@dataclass(frozen=True, kw_only=True)
class NoisyInContextRecall(InContextRecall):
    """Recall where each pair slot holds two noise tokens with probability frac_noise.

    Noise ids are [vocab_size, vocab_size + noise_vocab_size). The last pair (a query) and one earlier pair
    are never noise, so every sequence has a scored query. MAD's vocab_size is vocab_size + noise_vocab_size.
    """

    name = "mad/noisy-in-context-recall"
    BASELINE = MappingProxyType({**MadTask.BASELINE, "frac_noise": 0.2, "noise_vocab_size": 16})
    HARD = MappingProxyType({**MadTask.HARD, "frac_noise": 0.8})  # the paper: vocab 128, noise vocab 16, 80% noise

    frac_noise: float | None = None
    """Probability that a pair slot is noise; accepted: 0 <= frac_noise < 1. None: the preset's (baseline 0.2,
    manticore-hard 0.8)."""
    noise_vocab_size: int | None = None
    """Noise token ids, appended after vocab_size; at least 1 when frac_noise > 0. None: the preset's (16)."""

    def __post_init__(self):
        super().__post_init__()
        frac = self.frac_noise
        check(is_number(frac) and 0 <= frac < 1, "frac_noise", frac, "a number in [0, 1)", self.name)
        self._check_int("noise_vocab_size", 1 if frac > 0 else 0, "noise needs noise tokens" if frac > 0 else "")

    def noise(self) -> tuple[float, int]:
        return self.frac_noise, self.noise_vocab_size


@dataclass(frozen=True, kw_only=True)
class FuzzyInContextRecall(MadTask):
    """Recall where keys are motifs of 1..k_motif_size tokens and values of 1..v_motif_size tokens.

    Id vocab_size - 1 is the pad token; keys are ids [0, K) with K = (vocab_size - 1) // 2, values
    [K, vocab_size - 1). A motif's tokens are distinct. Test keys all have k_motif_size tokens (as in MAD).
    """

    name = "mad/fuzzy-in-context-recall"
    BASELINE = MappingProxyType({**MadTask.BASELINE, "k_motif_size": 3, "v_motif_size": 3})

    k_motif_size: int | None = None
    """k: the most tokens in a key motif (None: the preset's, 3)."""
    v_motif_size: int | None = None
    """v: the most tokens in a value motif (None: the preset's, 3)."""

    def __post_init__(self):
        super().__post_init__()
        check_int(self.k_motif_size, "k_motif_size", minimum=1, where=self.name)
        check_int(self.v_motif_size, "v_motif_size", minimum=1, where=self.name)
        k, v = self.k_motif_size, self.v_motif_size
        self._check_vocab(minimum=2 * max(k, v) + 1,
                          why=f"{k} distinct key ids, {v} distinct value ids (half of the ids each) and the pad token")
        self._check_int("seq_len", 2 * (k + v), "2 * (k_motif_size + v_motif_size)")
        base, longest = (self.vocab_size - 1) // 2 + 1, 1
        while base ** (longest + 1) < 2**62:
            longest += 1
        check(k <= longest, "k_motif_size", k, f"an integer in [1, {longest}] at vocab_size={self.vocab_size} (key "
              "motifs are numbered in 62 bits)", self.name)

    @property
    def pad_token_id(self) -> int:
        return self.vocab_size - 1

    def generate(self, rng: np.random.Generator, n: int, split: Split) -> tuple[np.ndarray, np.ndarray]:
        pad, test = self.pad_token_id, split == "test"
        tokens, scored = _fuzzy_recall(rng, n, self.vocab_size, self.seq_len, self.k_motif_size,
                                       self.v_motif_size, test=test)
        return tokens, _shift(tokens, scored if test else tokens != pad)

    def describe(self) -> dict[str, Any]:
        pad = self.pad_token_id
        num_keys = pad // 2
        return dict(
            key_ids=[0, num_keys], value_ids=[num_keys, pad], pad_token_id=pad,
            scored=dict(train="next token at every position, except where the next token is padding",
                        test="every value token of a key motif already seen in the sequence, at the position "
                             "before it (the last key token predicts the first value token)"),
        )


@dataclass(frozen=True, kw_only=True)
class SelectiveCopying(MadTask):
    """num_tokens_to_copy (n) tokens scattered among blanks, the copy token, then n blanks.

    Ids: tokens [0, vocab_size - 2), blank vocab_size - 2, copy vocab_size - 1. Layout (length L):
    positions [0, L - n - 1) hold the n tokens among L - 2n - 1 blanks, spaced as in MAD: each blank goes
    before a uniformly drawn token, so the gap before each token is Binomial(L - 2n - 1, 1/n) blanks and the
    last token sits at L - n - 2, next to the copy token at L - n - 1; positions [L - n, L) are blanks.
    Alignment, as in MAD: labels[L - n + j] = the j-th token to copy, i.e. the model writes the j-th token
    while reading the j-th blank after the copy token; everything else (the copy token included) is
    IGNORE_INDEX. Train and test are scored alike.
    """

    name = "mad/selective-copying"
    BASELINE = MappingProxyType({**MadTask.BASELINE, "seq_len": 256, "num_tokens_to_copy": 16})
    HARD = MappingProxyType({**MadTask.HARD, "num_tokens_to_copy": 96})  # the paper: 96 tokens to copy

    seq_len: int | None = None
    """L: tokens in every example; at least 2 * num_tokens_to_copy + 2. None: the preset's (256)."""
    num_tokens_to_copy: int | None = None
    """n: the tokens scattered among the blanks, to be copied after the copy token. None: the preset's
    (baseline 16, manticore-hard 96)."""

    def __post_init__(self):
        super().__post_init__()
        self._check_vocab(minimum=3, why="at least one token id, the blank and the copy token")
        check_int(self.num_tokens_to_copy, "num_tokens_to_copy", minimum=1, where=self.name)
        self._check_int("seq_len", 2 * self.num_tokens_to_copy + 2,
                        f"2 * num_tokens_to_copy + 2 for num_tokens_to_copy={self.num_tokens_to_copy}: the tokens, "
                        "at least one blank, the copy token and one answer slot per token")

    def generate(self, rng: np.random.Generator, n: int, split: Split) -> tuple[np.ndarray, np.ndarray]:
        return _selective_copying(rng, n, self.vocab_size, self.seq_len, self.num_tokens_to_copy)

    def describe(self) -> dict[str, Any]:
        vocab, scored = self.vocab_size, f"the last {self.num_tokens_to_copy} positions: the tokens to copy, in order"
        return dict(token_ids=[0, vocab - 2], blank_token_id=vocab - 2, copy_token_id=vocab - 1,
                    num_blanks=self.seq_len - 2 * self.num_tokens_to_copy - 1, scored=dict(train=scored, test=scored))


@dataclass(frozen=True, kw_only=True)
class Memorization(MadTask):
    """(key, insert) pairs; the label at each insert token is the key's value under one fixed map.

    Ids: insert vocab_size - 1; keys [0, K) with K = (vocab_size - 1) // 2; values [K, vocab_size - 1). The
    map (injective, seeded by `seed` alone) is the same for every example of both splits. Training keys are
    uniform over all K keys (as in MAD); test keys are uniform over the facts, the keys that occur in the
    train split (`facts()`), so every test key was seen in training (MAD draws them from all K keys).
    """

    name = "mad/memorization"
    BASELINE = MappingProxyType({**MadTask.BASELINE, "num_train": 256, "vocab_size": 256, "seq_len": 32})
    HARD = MappingProxyType({"vocab_size": 8192})  # the paper: a vocab of 8,192; the sizes stay MAD's

    num_train: int | None = None
    """N of the train split: memorization trains on few examples; the test asks about the keys they hold.
    None: the preset's (256)."""
    vocab_size: int | None = None
    """Token ids: keys, values and the insert token. None: the preset's (baseline 256, manticore-hard 8,192)."""
    seq_len: int | None = None
    """L: tokens in every example, (key, insert) pairs, so even. None: the preset's (32)."""

    def __post_init__(self):
        super().__post_init__()
        self._check_vocab(minimum=3, why="a key id, a value id and the insert token")
        self._check_int("seq_len", 2, "the sequence is key, insert pairs", even=True)

    def generate(self, rng: np.random.Generator, n: int, split: Split) -> tuple[np.ndarray, np.ndarray]:
        value_of = _memorization_map(self.seed, self.vocab_size)
        keys = np.arange(len(value_of)) if split == "train" else self.facts()
        return _memorization(rng, n, value_of, keys, self.seq_len, insert=self.vocab_size - 1)

    def facts(self) -> np.ndarray:
        """(F,) the distinct keys of the train split, sorted: the keys the test split asks about.

        Redraws the train split's keys from its stream (cheap: num_train * L / 2 integers).
        """
        rng = split_rng(self.seed, "train", MAD_STREAMS)
        num_keys = (self.vocab_size - 1) // 2
        return np.unique(_memorization_keys(rng, self.num_train, self.seq_len // 2, np.arange(num_keys)))

    def describe(self) -> dict[str, Any]:
        insert = self.vocab_size - 1
        scored = "the insert positions: the value of the key before them"
        return dict(key_ids=[0, insert // 2], value_ids=[insert // 2, insert], insert_token_id=insert,
                    num_facts=len(self.facts()),
                    scored=dict(train=scored, test=f"{scored}; test keys all occur in the train split"))


@dataclass(frozen=True, kw_only=True)
class Compression(MadTask):
    """Random tokens [0, vocab_size - 1) and the compression token vocab_size - 1 at the end.

    The target is the input itself (labels == input_ids): MAD trains an encoder-decoder that squeezes the
    sequence into the compression token's state and decodes it back. A causal LM reading labels as "target
    at position i" would only have to copy its current token, so this kind-"lm" task is meaningful only
    with such an encoder-decoder; the Manticore paper omits it for that reason (Appendix H).
    """

    name = "mad/compression"
    BASELINE = MappingProxyType({**MadTask.BASELINE, "seq_len": 32})
    HARD = MappingProxyType({})  # the paper omits compression, so its hard preset is MAD's baseline

    seq_len: int | None = None
    """L: tokens in every example, the compression token included. None: the preset's (32)."""

    def __post_init__(self):
        super().__post_init__()
        self._check_vocab(minimum=2, why="at least one token id and the compression token")
        self._check_int("seq_len", 2, "at least one token and the compression token")

    def generate(self, rng: np.random.Generator, n: int, split: Split) -> tuple[np.ndarray, np.ndarray]:
        return _compression(rng, n, self.vocab_size, self.seq_len)

    def describe(self) -> dict[str, Any]:
        scored = "every position: labels are the input tokens (reconstruction)"
        return dict(token_ids=[0, self.vocab_size - 1], compression_token_id=self.vocab_size - 1,
                    needs_encoder_decoder=True, scored=dict(train=scored, test=scored))


SETTINGS: dict[str, type[MadTask]] = {cls.name: cls for cls in (
    InContextRecall, FuzzyInContextRecall, NoisyInContextRecall, SelectiveCopying, Memorization, Compression)}
"""Each task name's settings class."""


def mad_task(settings: MadTask, use_cache: bool = True) -> Task:
    """The registry's builder of every MAD task: generate (or load) the data these settings describe."""
    return settings.task(settings.preset, use_cache)


TASKS = tuple(TaskSpec(name, cls, mad_task, "MAD: " + cls.__doc__.strip().splitlines()[0]) for name, cls in SETTINGS.items())
"""The MAD tasks, for the registry (registry.py)."""


def _shift(tokens: np.ndarray, scored: np.ndarray | None) -> np.ndarray:
    """Aligned next-token labels (N, L): labels[:, i] = tokens[:, i + 1] where scored[:, i + 1].

    scored: (N, L) bool, None to score every next token. The last position has no next token: IGNORE_INDEX.
    """
    labels = np.full_like(tokens, IGNORE_INDEX)
    nxt = tokens[:, 1:]
    labels[:, :-1] = nxt if scored is None else np.where(scored[:, 1:], nxt, IGNORE_INDEX)
    return labels


# ---------------------------------------------------------------------------------------------------------
# The generators: numpy arrays, vectorised over the N examples
# ---------------------------------------------------------------------------------------------------------


def _recall(rng: np.random.Generator, n: int, vocab_size: int, seq_len: int, num_keys: int | None,
            frac_noise: float, noise_vocab_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Recall sequences -> tokens (N, L), scored (N, L) bool: values of keys seen earlier in the sequence.

    P = L / 2 slots of (key, value) or two noise tokens. The last slot is a query: it repeats the key of a
    random earlier pair, so every sequence has a scored value (MAD's final probe).
    """
    keys_ids, slots = vocab_size // 2, seq_len // 2
    rows = np.arange(n)
    keys = _draw_keys(rng, n, slots, keys_ids, num_keys)  # (N, P)
    noise = _noise_slots(rng, n, slots, frac_noise)  # (N, P)
    keys[:, -1] = keys[rows, _pick(rng, ~noise[:, :-1])]
    value_of = rng.integers(keys_ids, vocab_size, (n, keys_ids))  # (N, K): this sequence's map
    pairs = np.stack([keys, np.take_along_axis(value_of, keys, 1)], -1)  # (N, P, 2)
    if noise.any():
        noise_tokens = rng.integers(vocab_size, vocab_size + noise_vocab_size, (n, slots, 2))
        pairs = np.where(noise[..., None], noise_tokens, pairs)
    codes = np.where(noise, keys_ids + np.arange(slots), keys)  # a noise slot never matches anything
    seen = _first_occurrence(codes) != np.arange(slots)
    scored = np.zeros((n, slots, 2), dtype=bool)
    scored[..., 1] = seen & ~noise
    return pairs.reshape(n, seq_len), scored.reshape(n, seq_len)


def _draw_keys(rng: np.random.Generator, n: int, slots: int, keys_ids: int, num_keys: int | None) -> np.ndarray:
    """Keys (N, P) uniform over [0, keys_ids), or over a random subset of num_keys of them per sequence."""
    if num_keys is None or num_keys == keys_ids:
        return rng.integers(0, keys_ids, (n, slots))
    subset = np.argsort(rng.random((n, keys_ids)), axis=1)[:, :num_keys]  # (N, num_keys)
    return np.take_along_axis(subset, rng.integers(0, num_keys, (n, slots)), 1)


def _noise_slots(rng: np.random.Generator, n: int, slots: int, frac_noise: float) -> np.ndarray:
    """(N, P) bool: which slots hold noise. The last slot and one random earlier slot never do."""
    noise = np.zeros((n, slots), dtype=bool)
    if frac_noise > 0:
        noise = rng.random((n, slots)) < frac_noise
        noise[np.arange(n), rng.integers(0, slots - 1, n)] = False
        noise[:, -1] = False
    return noise


def _pick(rng: np.random.Generator, allowed: np.ndarray) -> np.ndarray:
    """(N,) one index per row, uniform over the row's True entries of allowed (N, m); each row has one."""
    return np.argmax(np.where(allowed, rng.random(allowed.shape), -1.0), axis=1)


def _first_occurrence(codes: np.ndarray) -> np.ndarray:
    """(N, P) -> (N, P): for each slot, the index of the first slot in its row with the same code."""
    slots = codes.shape[1]
    order = np.argsort(codes, axis=1, kind="stable")  # stable: equal codes stay in slot order
    ordered = np.take_along_axis(codes, order, 1)
    starts = np.ones_like(ordered, dtype=bool)
    starts[:, 1:] = ordered[:, 1:] != ordered[:, :-1]
    group_start = np.maximum.accumulate(np.where(starts, np.arange(slots), 0), axis=1)
    first = np.empty_like(order)
    np.put_along_axis(first, order, np.take_along_axis(order, group_start, 1), 1)
    return first


def _fuzzy_recall(rng: np.random.Generator, n: int, vocab_size: int, seq_len: int, k: int, v: int,
                  test: bool) -> tuple[np.ndarray, np.ndarray]:
    """Fuzzy recall -> tokens (N, L) left-padded with vocab_size - 1, scored (N, L) bool.

    Slots are (key motif, value motif) pairs; a key motif seen before keeps its first value. The sequence is
    the longest prefix of slots that fits with a final query slot, a copy of an earlier slot (MAD's probe).
    """
    pad, keys_ids = vocab_size - 1, (vocab_size - 1) // 2
    slots, rows = seq_len // 2, np.arange(n)[:, None]
    key_len = np.full((n, slots), k) if test else rng.integers(1, k + 1, (n, slots))
    key_tok = _motifs(rng, (n, slots), k, keys_ids)  # (N, P, k)
    first = _first_occurrence(_motif_codes(key_tok, key_len, keys_ids))  # (N, P)
    val_len = rng.integers(1, v + 1, (n, slots))[rows, first]
    val_tok = keys_ids + _motifs(rng, (n, slots), v, pad - keys_ids)[rows, first]  # (N, P, v)
    seen = first != np.arange(slots)

    # The query copies a slot that fits whatever the query's length; keep the slots that fit before it.
    ends = np.cumsum(key_len + val_len, axis=1)  # (N, P)
    query = _pick(rng, ends <= seq_len - (k + v))[:, None]  # (N, 1)
    query_len = (key_len + val_len)[rows, query]
    kept = ends + query_len <= seq_len
    key_len, key_tok, val_len, val_tok = (np.concatenate([a, a[rows, query]], 1)
                                          for a in (key_len, key_tok, val_len, val_tok))
    kept, seen = np.concatenate([kept, np.ones((n, 1), bool)], 1), np.concatenate([seen, np.ones((n, 1), bool)], 1)
    return _pack_motifs(key_tok, key_len, val_tok, val_len, kept, seen, seq_len, pad)


def _motifs(rng: np.random.Generator, shape: tuple[int, ...], size: int, alphabet: int) -> np.ndarray:
    """shape + (size,) ids in [0, alphabet), distinct along the last axis, uniform over ordered motifs."""
    out = np.zeros(shape + (size,), dtype=np.int64)
    for j in range(size):
        pick, taken = rng.integers(0, alphabet - j, shape), np.sort(out[..., :j], axis=-1)
        for m in range(j):  # skip over the ids already taken, in increasing order
            pick = pick + (pick >= taken[..., m])
        out[..., j] = pick
    return out


def _motif_codes(tok: np.ndarray, length: np.ndarray, alphabet: int) -> np.ndarray:
    """(N, P, k) motif tokens and (N, P) lengths -> (N, P) int64 codes, equal iff the motifs are equal."""
    used = np.arange(tok.shape[-1]) < length[..., None]
    digits = np.where(used, tok + 1, 0)
    return (digits * (alphabet + 1) ** np.arange(tok.shape[-1], dtype=np.int64)).sum(-1)


def _pack_motifs(key_tok: np.ndarray, key_len: np.ndarray, val_tok: np.ndarray, val_len: np.ndarray,
                 kept: np.ndarray, seen: np.ndarray, seq_len: int, pad: int) -> tuple[np.ndarray, np.ndarray]:
    """Lay kept slots out back to back, right-aligned in (N, L) after left padding.

    key_tok (N, S, k), val_tok (N, S, v), key_len / val_len / kept / seen (N, S). Returns tokens (N, L) and
    scored (N, L): the value tokens of seen slots.
    """
    n, k, v = key_tok.shape[0], key_tok.shape[-1], val_tok.shape[-1]
    col = np.arange(k + v)
    kl, vl = key_len[..., None], val_len[..., None]
    is_key, is_val = col < kl, (col >= kl) & (col < kl + vl)
    key_part = np.pad(key_tok, ((0, 0), (0, 0), (0, v)))  # (N, S, k + v)
    val_part = np.take_along_axis(val_tok, np.clip(col - kl, 0, v - 1), -1)
    tok = np.where(is_key, key_part, val_part).reshape(n, -1)
    valid = ((is_key | is_val) & kept[..., None]).reshape(n, -1)
    scored_slot = (is_val & seen[..., None]).reshape(n, -1)
    dest = seq_len - valid.sum(1, keepdims=True) + np.cumsum(valid, axis=1) - 1  # right-aligned
    row, src = np.nonzero(valid)
    tokens, scored = np.full((n, seq_len), pad), np.zeros((n, seq_len), dtype=bool)
    tokens[row, dest[row, src]] = tok[row, src]
    scored[row, dest[row, src]] = scored_slot[row, src]
    return tokens, scored


def _selective_copying(rng: np.random.Generator, n: int, vocab_size: int, seq_len: int,
                       n_copy: int) -> tuple[np.ndarray, np.ndarray]:
    """-> tokens (N, L), labels (N, L): the tokens to copy at the last n_copy positions, in order.

    MAD's spacing: each of the B = L - 2 n_copy - 1 blanks is inserted before a token drawn uniformly, so
    the gaps before the tokens, gaps (N, n_copy), are Multinomial(B, uniform) and none follows the last one.
    """
    blank, copy, region = vocab_size - 2, vocab_size - 1, seq_len - n_copy - 1
    to_copy = rng.integers(0, vocab_size - 2, (n, n_copy))
    gaps = rng.multinomial(region - n_copy, np.full(n_copy, 1 / n_copy), size=n)  # (N, n_copy)
    places = np.cumsum(gaps, axis=1) + np.arange(n_copy)  # token j follows j tokens and its gaps; the last: region - 1
    tokens = np.full((n, seq_len), blank)
    tokens[np.arange(n)[:, None], places] = to_copy
    tokens[:, region] = copy
    labels = np.full((n, seq_len), IGNORE_INDEX)
    labels[:, seq_len - n_copy:] = to_copy
    return tokens, labels


def _memorization_map(seed: int, vocab_size: int) -> np.ndarray:
    """(K,) the fixed, injective map: value_of[key] for keys [0, K), values in [K, vocab_size - 1)."""
    keys_ids = (vocab_size - 1) // 2
    return keys_ids + split_rng(seed, "map", MAD_STREAMS).permutation(vocab_size - 1 - keys_ids)[:keys_ids]


def _memorization_keys(rng: np.random.Generator, n: int, slots: int, keys: np.ndarray) -> np.ndarray:
    """(N, P) keys drawn uniformly from `keys` (F,)."""
    return keys[rng.integers(0, len(keys), (n, slots))]


def _memorization(rng: np.random.Generator, n: int, value_of: np.ndarray, keys: np.ndarray, seq_len: int,
                  insert: int) -> tuple[np.ndarray, np.ndarray]:
    """-> tokens (N, L) = key, insert, key, insert, ... with keys drawn from `keys` (F,); labels (N, L): the
    value of the key (value_of (K,)) at each insert position."""
    keys = _memorization_keys(rng, n, seq_len // 2, keys)
    tokens = np.stack([keys, np.full_like(keys, insert)], -1).reshape(n, seq_len)
    labels = np.stack([np.full_like(keys, IGNORE_INDEX), value_of[keys]], -1).reshape(n, seq_len)
    return tokens, labels


def _compression(rng: np.random.Generator, n: int, vocab_size: int, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """-> tokens (N, L): L - 1 random ids and the compression token; labels (N, L) = tokens."""
    tokens = np.concatenate([rng.integers(0, vocab_size - 1, (n, seq_len - 1)),
                             np.full((n, 1), vocab_size - 1)], axis=1)
    return tokens, tokens.copy()
