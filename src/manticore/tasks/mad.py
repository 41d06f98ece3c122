"""The MAD synthetic tasks (Poli et al., 2024, "Mechanistic Design and Scaling of Hybrid Architectures").

Six generated token tasks, each a `Task` of kind "lm" (paper, Appendix H, "MAD synthetics"):

    mad/in-context-recall        multi-query associative recall: k v k v ..., a random key -> value map per sequence
    mad/fuzzy-in-context-recall  recall where keys and values are motifs of 1..k tokens; sequences are left-padded
    mad/noisy-in-context-recall  recall where a pair slot holds noise tokens (from a separate noise vocabulary)
    mad/selective-copying        tokens scattered among blanks, a copy token, then the tokens again, in order
    mad/memorization             one fixed key -> value map for the whole dataset: (key, insert) -> value
    mad/compression              random tokens + a compression token; reconstruct the input (not in MAD_TASKS)

    task = tasks.get("mad/in-context-recall", preset="manticore-hard", seed=0)

Glossary
    N        examples in a split (num_train, num_test)
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

Presets: "baseline" is MAD's baseline for each task (configs/tasks/*.yml in MAD: 12,800 train / 1,280 test
examples, vocab 16 and length 128 for recall, ...). "manticore-hard" is the harder variant the Manticore paper
trains on (Appendix H): vocab 128 and 800 training examples, 80% noise, 96 tokens to copy, a memorization
vocab of 8,192. Test sizes stay at MAD's 1,280. Explicit settings override the preset.

Where we differ from MAD's generators (mad/data/instances.py), on purpose:
- Every example has exactly seq_len tokens (MAD's recall drops the last one); the last position, which has
  no next token, is unscored.
- Selective copying places the tokens uniformly among the blanks with the seeded generator (MAD used the
  global numpy RNG, so its data were not reproducible, and never put a blank after the last token).
- Fuzzy recall's training labels skip the left padding (predicting the next pad carries no information).
- Data are generated in vectorised numpy from a seeded generator per (seed, split), so the test split never
  reuses the train stream; memorization's key -> value map has a stream of its own, shared by both splits.
"""

from __future__ import annotations

from numbers import Real
from typing import Any, Callable

import numpy as np
import torch

from .base import IGNORE_INDEX, SequenceDataset, Task
from .cache import cached
from .registry import register

# The five tasks the paper uses (Appendix H): compression needs an encoder-decoder, so it is left out.
MAD_TASKS = (
    "mad/in-context-recall",
    "mad/fuzzy-in-context-recall",
    "mad/noisy-in-context-recall",
    "mad/selective-copying",
    "mad/memorization",
)

_MAD_SIZES = dict(num_train=12_800, num_test=1_280)  # MAD's defaults (MADConfig)
_HARD_SIZES = dict(num_train=800, num_test=1_280)  # the paper: "fewer training examples"; test size unchanged

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "mad/in-context-recall": {
        "baseline": dict(vocab_size=16, seq_len=128, **_MAD_SIZES),
        "manticore-hard": dict(vocab_size=128, seq_len=128, **_HARD_SIZES),
    },
    "mad/fuzzy-in-context-recall": {
        "baseline": dict(vocab_size=16, seq_len=128, k_motif_size=3, v_motif_size=3, **_MAD_SIZES),
        "manticore-hard": dict(vocab_size=128, seq_len=128, k_motif_size=3, v_motif_size=3, **_HARD_SIZES),
    },
    "mad/noisy-in-context-recall": {  # MAD's vocab_size 32 = 16 + 16 noise ids
        "baseline": dict(vocab_size=16, noise_vocab_size=16, frac_noise=0.2, seq_len=128, **_MAD_SIZES),
        "manticore-hard": dict(vocab_size=128, noise_vocab_size=16, frac_noise=0.8, seq_len=128, **_HARD_SIZES),
    },
    "mad/selective-copying": {
        "baseline": dict(vocab_size=16, seq_len=256, num_tokens_to_copy=16, **_MAD_SIZES),
        "manticore-hard": dict(vocab_size=128, seq_len=256, num_tokens_to_copy=96, **_HARD_SIZES),
    },
    "mad/memorization": {  # memorization trains on few examples; the test draws from the same map
        "baseline": dict(vocab_size=256, seq_len=32, num_train=256, num_test=1_280),
        "manticore-hard": dict(vocab_size=8192, seq_len=32, num_train=256, num_test=1_280),
    },
    "mad/compression": {  # the paper omits compression, so its hard preset is MAD's baseline
        "baseline": dict(vocab_size=16, seq_len=32, **_MAD_SIZES),
        "manticore-hard": dict(vocab_size=16, seq_len=32, **_MAD_SIZES),
    },
}

_STREAMS = {"train": 0, "test": 1, "map": 2}  # independent generator streams per seed

Split = str  # "train" or "test"
Generate = Callable[[np.random.Generator, int, Split], tuple[np.ndarray, np.ndarray]]


# ---------------------------------------------------------------------------------------------------------
# The registered builders
# ---------------------------------------------------------------------------------------------------------


@register("mad/in-context-recall")
def in_context_recall(preset: str = "baseline", seed: int = 0, num_train: int | None = None,
                      num_test: int | None = None, vocab_size: int | None = None, seq_len: int | None = None,
                      num_keys: int | None = None, use_cache: bool = True) -> Task:
    """Multi-query associative recall: k v k v ... with a random key -> value map per sequence.

    Keys are ids [0, vocab_size // 2), values the rest. num_keys: keys each sequence draws from (a random
    subset of the key half); None draws from the whole key half, as MAD does.
    """
    name = "mad/in-context-recall"
    s = _resolve(name, preset, seed=seed, num_train=num_train, num_test=num_test, vocab_size=vocab_size,
                 seq_len=seq_len, num_keys=num_keys)
    return _recall_task(name, preset, s, use_cache)


@register("mad/noisy-in-context-recall")
def noisy_in_context_recall(preset: str = "baseline", seed: int = 0, num_train: int | None = None,
                            num_test: int | None = None, vocab_size: int | None = None,
                            seq_len: int | None = None, frac_noise: float | None = None,
                            noise_vocab_size: int | None = None, num_keys: int | None = None,
                            use_cache: bool = True) -> Task:
    """Recall where each pair slot holds two noise tokens with probability frac_noise.

    Noise ids are [vocab_size, vocab_size + noise_vocab_size). The last pair (a query) and one earlier pair
    are never noise, so every sequence has a scored query.
    """
    name = "mad/noisy-in-context-recall"
    s = _resolve(name, preset, seed=seed, num_train=num_train, num_test=num_test, vocab_size=vocab_size,
                 seq_len=seq_len, frac_noise=frac_noise, noise_vocab_size=noise_vocab_size, num_keys=num_keys)
    return _recall_task(name, preset, s, use_cache)


@register("mad/fuzzy-in-context-recall")
def fuzzy_in_context_recall(preset: str = "baseline", seed: int = 0, num_train: int | None = None,
                            num_test: int | None = None, vocab_size: int | None = None,
                            seq_len: int | None = None, k_motif_size: int | None = None,
                            v_motif_size: int | None = None, use_cache: bool = True) -> Task:
    """Recall where keys are motifs of 1..k_motif_size tokens and values of 1..v_motif_size tokens.

    Id vocab_size - 1 is the pad token; keys are ids [0, K) with K = (vocab_size - 1) // 2, values
    [K, vocab_size - 1). A motif's tokens are distinct. Test keys all have k_motif_size tokens (as in MAD).
    """
    name = "mad/fuzzy-in-context-recall"
    s = _resolve(name, preset, seed=seed, num_train=num_train, num_test=num_test, vocab_size=vocab_size,
                 seq_len=seq_len, k_motif_size=k_motif_size, v_motif_size=v_motif_size)
    _check_fuzzy(name, s)
    vocab, k, v = s["vocab_size"], s["k_motif_size"], s["v_motif_size"]
    num_keys = (vocab - 1) // 2

    def generate(rng, n, split):
        tokens, scored = _fuzzy_recall(rng, n, vocab, s["seq_len"], k, v, test=split == "test")
        if split == "test":
            return tokens, _shift(tokens, scored)
        return tokens, _shift(tokens, tokens != vocab - 1)

    metadata = dict(
        key_ids=[0, num_keys], value_ids=[num_keys, vocab - 1], pad_token_id=vocab - 1,
        scored=dict(train="next token at every position, except where the next token is padding",
                    test="every value token of a key motif already seen in the sequence, at the position "
                         "before it (the last key token predicts the first value token)"),
    )
    return _make_task(name, preset, s, use_cache, generate, vocab, metadata, pad_token_id=vocab - 1)


@register("mad/selective-copying")
def selective_copying(preset: str = "baseline", seed: int = 0, num_train: int | None = None,
                      num_test: int | None = None, vocab_size: int | None = None, seq_len: int | None = None,
                      num_tokens_to_copy: int | None = None, use_cache: bool = True) -> Task:
    """num_tokens_to_copy (n) tokens scattered among blanks, the copy token, then n blanks.

    Ids: tokens [0, vocab_size - 2), blank vocab_size - 2, copy vocab_size - 1. Layout (length L):
    positions [0, L - n - 1) hold the n tokens at random places among blanks, position L - n - 1 the copy
    token, positions [L - n, L) blanks. Alignment, as in MAD: labels[L - n + j] = the j-th token to copy,
    i.e. the model writes the j-th token while reading the j-th blank after the copy token; everything else
    (the copy token included) is IGNORE_INDEX. Train and test are scored alike.
    """
    name = "mad/selective-copying"
    s = _resolve(name, preset, seed=seed, num_train=num_train, num_test=num_test, vocab_size=vocab_size,
                 seq_len=seq_len, num_tokens_to_copy=num_tokens_to_copy)
    _check_copying(name, s)
    vocab, n_copy = s["vocab_size"], s["num_tokens_to_copy"]

    def generate(rng, n, split):
        return _selective_copying(rng, n, vocab, s["seq_len"], n_copy)

    metadata = dict(
        token_ids=[0, vocab - 2], blank_token_id=vocab - 2, copy_token_id=vocab - 1,
        scored=dict(train=f"the last {n_copy} positions: the tokens to copy, in order",
                    test=f"the last {n_copy} positions: the tokens to copy, in order"),
    )
    return _make_task(name, preset, s, use_cache, generate, vocab, metadata)


@register("mad/memorization")
def memorization(preset: str = "baseline", seed: int = 0, num_train: int | None = None,
                 num_test: int | None = None, vocab_size: int | None = None, seq_len: int | None = None,
                 use_cache: bool = True) -> Task:
    """(key, insert) pairs; the label at each insert token is the key's value under one fixed map.

    Ids: insert vocab_size - 1; keys [0, K) with K = (vocab_size - 1) // 2; values [K, vocab_size - 1). The
    map (injective, seeded by `seed` alone) is the same for every example of both splits.
    """
    name = "mad/memorization"
    s = _resolve(name, preset, seed=seed, num_train=num_train, num_test=num_test, vocab_size=vocab_size,
                 seq_len=seq_len)
    _check_memorization(name, s)
    vocab = s["vocab_size"]
    value_of = _memorization_map(s["seed"], vocab)

    def generate(rng, n, split):
        return _memorization(rng, n, value_of, s["seq_len"], insert=vocab - 1)

    metadata = dict(
        key_ids=[0, len(value_of)], value_ids=[len(value_of), vocab - 1], insert_token_id=vocab - 1,
        scored=dict(train="the insert positions: the value of the key before them",
                    test="the insert positions: the value of the key before them"),
    )
    return _make_task(name, preset, s, use_cache, generate, vocab, metadata)


@register("mad/compression")
def compression(preset: str = "baseline", seed: int = 0, num_train: int | None = None,
                num_test: int | None = None, vocab_size: int | None = None, seq_len: int | None = None,
                use_cache: bool = True) -> Task:
    """Random tokens [0, vocab_size - 1) and the compression token vocab_size - 1 at the end.

    The target is the input itself (labels == input_ids): MAD trains an encoder-decoder that squeezes the
    sequence into the compression token's state and decodes it back. A causal LM reading labels as "target
    at position i" would only have to copy its current token, so this kind-"lm" task is meaningful only
    with such an encoder-decoder; the Manticore paper omits it for that reason (Appendix H).
    """
    name = "mad/compression"
    s = _resolve(name, preset, seed=seed, num_train=num_train, num_test=num_test, vocab_size=vocab_size,
                 seq_len=seq_len)
    _check_vocab(name, s, minimum=2, why="at least one token id and the compression token")
    _check_int(name, "seq_len", s["seq_len"], 2)
    vocab = s["vocab_size"]

    def generate(rng, n, split):
        return _compression(rng, n, vocab, s["seq_len"])

    metadata = dict(
        token_ids=[0, vocab - 1], compression_token_id=vocab - 1, needs_encoder_decoder=True,
        scored=dict(train="every position: labels are the input tokens (reconstruction)",
                    test="every position: labels are the input tokens (reconstruction)"),
    )
    return _make_task(name, preset, s, use_cache, generate, vocab, metadata)


# ---------------------------------------------------------------------------------------------------------
# Settings: presets, overrides, validation
# ---------------------------------------------------------------------------------------------------------


def _resolve(name: str, preset: str, **given: Any) -> dict[str, Any]:
    """The preset's settings for task `name`, overridden by every given setting that is not None."""
    if preset not in PRESETS[name]:
        raise ValueError(f"{name}: unknown preset={preset!r}; accepted: {', '.join(map(repr, PRESETS[name]))}.")
    settings = dict(PRESETS[name][preset])
    settings.update({k: v for k, v in given.items() if v is not None or k not in settings})
    _check_int(name, "seed", settings["seed"], 0)
    _check_int(name, "num_train", settings["num_train"], 1)
    _check_int(name, "num_test", settings["num_test"], 1)
    return settings


def _check_int(name: str, setting: str, value: Any, minimum: int) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise TypeError(f"{name}: {setting} must be an integer, got {value!r} ({type(value).__name__}).")
    if value < minimum:
        raise ValueError(f"{name}: {setting}={value} is too small; accepted: an integer >= {minimum}.")


def _check_vocab(name: str, s: dict[str, Any], minimum: int, why: str) -> None:
    _check_int(name, "vocab_size", s["vocab_size"], 1)
    if s["vocab_size"] < minimum:
        raise ValueError(f"{name}: vocab_size={s['vocab_size']} is too small; it needs >= {minimum} ({why}).")


def _check_recall(name: str, s: dict[str, Any]) -> None:
    _check_vocab(name, s, minimum=2, why="one half for keys and the other for values")
    _check_int(name, "seq_len", s["seq_len"], 4)
    if s["seq_len"] % 2:
        raise ValueError(f"{name}: seq_len={s['seq_len']} must be even (the sequence is key, value pairs).")
    if s["num_keys"] is not None:
        _check_int(name, "num_keys", s["num_keys"], 1)
        if s["num_keys"] > s["vocab_size"] // 2:
            raise ValueError(f"{name}: num_keys={s['num_keys']} exceeds the {s['vocab_size'] // 2} key ids of "
                             f"vocab_size={s['vocab_size']}; accepted: 1 to {s['vocab_size'] // 2}, or None.")
    if "frac_noise" in s:
        frac = s["frac_noise"]
        if isinstance(frac, bool) or not isinstance(frac, Real):
            raise TypeError(f"{name}: frac_noise must be a number, got {frac!r}.")
        if not 0 <= frac < 1:
            raise ValueError(f"{name}: frac_noise={frac} is out of range; accepted: 0 <= frac_noise < 1.")
        _check_int(name, "noise_vocab_size", s["noise_vocab_size"], 1 if frac > 0 else 0)


def _check_fuzzy(name: str, s: dict[str, Any]) -> None:
    _check_int(name, "k_motif_size", s["k_motif_size"], 1)
    _check_int(name, "v_motif_size", s["v_motif_size"], 1)
    k, v = s["k_motif_size"], s["v_motif_size"]
    _check_vocab(name, s, minimum=2 * max(k, v) + 1,
                 why=f"{k} distinct key ids, {v} distinct value ids (half of the ids each) and the pad token")
    _check_int(name, "seq_len", s["seq_len"], 2 * (k + v))
    if ((s["vocab_size"] - 1) // 2 + 1) ** k >= 2**62:
        raise ValueError(f"{name}: k_motif_size={k} is too large for vocab_size={s['vocab_size']} "
                         f"(key motifs are numbered in 62 bits).")


def _check_copying(name: str, s: dict[str, Any]) -> None:
    _check_vocab(name, s, minimum=3, why="at least one token id, the blank and the copy token")
    _check_int(name, "num_tokens_to_copy", s["num_tokens_to_copy"], 1)
    _check_int(name, "seq_len", s["seq_len"], 1)
    needed = 2 * s["num_tokens_to_copy"] + 2
    if s["seq_len"] < needed:
        raise ValueError(f"{name}: seq_len={s['seq_len']} is too short for num_tokens_to_copy="
                         f"{s['num_tokens_to_copy']}; it needs seq_len >= 2 * num_tokens_to_copy + 2 = {needed} "
                         f"(the tokens, at least one blank, the copy token and one answer slot per token).")


def _check_memorization(name: str, s: dict[str, Any]) -> None:
    _check_vocab(name, s, minimum=3, why="a key id, a value id and the insert token")
    _check_int(name, "seq_len", s["seq_len"], 2)
    if s["seq_len"] % 2:
        raise ValueError(f"{name}: seq_len={s['seq_len']} must be even (the sequence is key, insert pairs).")


# ---------------------------------------------------------------------------------------------------------
# Building a Task from a generator
# ---------------------------------------------------------------------------------------------------------


def _recall_task(name: str, preset: str, s: dict[str, Any], use_cache: bool) -> Task:
    """The Task for plain or noisy recall; settings s are resolved."""
    _check_recall(name, s)
    vocab, noise_vocab = s["vocab_size"], s.get("noise_vocab_size", 0)
    frac_noise = s.get("frac_noise", 0.0)

    def generate(rng, n, split):
        tokens, scored = _recall(rng, n, vocab, s["seq_len"], s["num_keys"], frac_noise, noise_vocab)
        return tokens, _shift(tokens, scored if split == "test" else None)

    metadata = dict(
        key_ids=[0, vocab // 2], value_ids=[vocab // 2, vocab],
        scored=dict(train="next token at every position but the last",
                    test="positions of a key already seen in the sequence; the label is its value"),
    )
    if noise_vocab:
        metadata["noise_ids"] = [vocab, vocab + noise_vocab]
    return _make_task(name, preset, s, use_cache, generate, vocab + noise_vocab, metadata)


def _make_task(name: str, preset: str, s: dict[str, Any], use_cache: bool, generate: Generate,
               vocab_size: int, metadata: dict[str, Any], pad_token_id: int = 0) -> Task:
    """Generate (or load from the cache) both splits and wrap them in a Task."""

    def build() -> dict[str, torch.Tensor]:
        data = {}
        for split in ("train", "test"):
            ids, labels = generate(_rng(s["seed"], split), s[f"num_{split}"], split)
            data[f"{split}_input_ids"] = torch.from_numpy(np.ascontiguousarray(ids, dtype=np.int64))
            data[f"{split}_labels"] = torch.from_numpy(np.ascontiguousarray(labels, dtype=np.int64))
        return data

    data = cached(name, s, build, use_cache)
    return Task(
        name=name, kind="lm", vocab_size=vocab_size, max_length=s["seq_len"], pad_token_id=pad_token_id,
        train=SequenceDataset(data["train_input_ids"], data["train_labels"]),
        test=SequenceDataset(data["test_input_ids"], data["test_labels"]),
        metadata=dict(preset=preset, settings=dict(s), **metadata),
    )


def _rng(seed: int, stream: str) -> np.random.Generator:
    """An independent generator for (seed, stream), stream one of train / test / map."""
    return np.random.default_rng([seed, _STREAMS[stream]])


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
    """-> tokens (N, L), labels (N, L): the tokens to copy at the last n_copy positions, in order."""
    blank, copy, region = vocab_size - 2, vocab_size - 1, seq_len - n_copy - 1
    to_copy = rng.integers(0, vocab_size - 2, (n, n_copy))
    places = np.sort(np.argsort(rng.random((n, region)), axis=1)[:, :n_copy], axis=1)  # random, in order
    tokens = np.full((n, seq_len), blank)
    tokens[np.arange(n)[:, None], places] = to_copy
    tokens[:, region] = copy
    labels = np.full((n, seq_len), IGNORE_INDEX)
    labels[:, seq_len - n_copy:] = to_copy
    return tokens, labels


def _memorization_map(seed: int, vocab_size: int) -> np.ndarray:
    """(K,) the fixed, injective map: value_of[key] for keys [0, K), values in [K, vocab_size - 1)."""
    keys_ids = (vocab_size - 1) // 2
    return keys_ids + _rng(seed, "map").permutation(vocab_size - 1 - keys_ids)[:keys_ids]


def _memorization(rng: np.random.Generator, n: int, value_of: np.ndarray, seq_len: int,
                  insert: int) -> tuple[np.ndarray, np.ndarray]:
    """-> tokens (N, L) = key, insert, key, insert, ...; labels (N, L): the value at each insert position."""
    keys = rng.integers(0, len(value_of), (n, seq_len // 2))
    tokens = np.stack([keys, np.full_like(keys, insert)], -1).reshape(n, seq_len)
    labels = np.stack([np.full_like(keys, IGNORE_INDEX), value_of[keys]], -1).reshape(n, seq_len)
    return tokens, labels


def _compression(rng: np.random.Generator, n: int, vocab_size: int, seq_len: int) -> tuple[np.ndarray, np.ndarray]:
    """-> tokens (N, L): L - 1 random ids and the compression token; labels (N, L) = tokens."""
    tokens = np.concatenate([rng.integers(0, vocab_size - 1, (n, seq_len - 1)),
                             np.full((n, 1), vocab_size - 1)], axis=1)
    return tokens, tokens.copy()
