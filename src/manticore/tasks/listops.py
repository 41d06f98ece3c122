"""Long Range Arena ListOps (Nangia & Bowman, 2018; Tay et al., 2021): the value of a nested list expression.

    [MAX 2 9 [MIN 4 7 ] 0 ]   ->  9

Glossary
    tree: an expression; a node is a digit leaf 0-9 or an operator with 2..max_args children (its arity).
    depth: the root has depth 1; a node at max_depth is always a leaf. Above it a node is an operator with
        probability 0.25 (LRA's generator).
    length: the number of tokens of a tree; a leaf adds one, an operator two ("[MAX" and "]").
    level: all nodes of one depth in a batch of trees, in order (tree by tree, left to right).
    n: trees in a batch; v: nodes at one level.

Operators: MIN, MAX, MED (median: for an even number of values, int(np.median(...)) as LRA, i.e. the floor
of the mean of the two middle values) and SM (sum modulo 10).

Tokens: pad=0, unk=1, eos=2, the digits 0-9 are 3..12, "[MIN" "[MAX" "[MED" "[SM" are 13..16 and "]" is 17.
Our choice, within LRA's pad/unk/eos vocabulary: every expression is followed by an eos, which gives causal
models a last position that has read the whole expression (a readout position). A sequence is thus
length + 1 <= max_length tokens. They are stored flat as uint8 (96k LRA-length examples take ~100 MB).

Generation follows LRA's distribution: trees are kept if min_length < length < max_length (strict, as LRA),
without duplicates within and across splits. Every node is drawn independently given its depth, so instead
of LRA's recursion the fast path samples a batch of trees a level at a time with numpy, abandons a tree as
soon as it is too long, and computes tokens (top down, from subtree sizes) and values (bottom up, with
segment reductions) for whole levels at once: ~0.15 s per 1,000 LRA-length examples. `evaluate` is the
slow reference, a stack machine over the tokens; the tests check one against the other. Splits are drawn
from their own random streams, test first, so the test set does not depend on num_train.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from ..checks import check, check_int, is_int
from .base import SequenceDataset, Task
from .cache import cached
from .seeded_rng import LRA_STREAMS, split_rng
from .spec import TaskSpec

PAD, UNK, EOS = "<pad>", "<unk>", "<eos>"
OPERATORS = ("MIN", "MAX", "MED", "SM")
CLOSE = "]"
VOCAB = (PAD, UNK, EOS, *(str(d) for d in range(10)), *(f"[{op}" for op in OPERATORS), CLOSE)
TOKEN_IDS = {token: i for i, token in enumerate(VOCAB)}
EOS_ID, DIGIT_0, OPERATOR_0, CLOSE_ID = TOKEN_IDS[EOS], TOKEN_IDS["0"], TOKEN_IDS["[MIN"], TOKEN_IDS[CLOSE]
OPERATOR_PROBABILITY = 0.25  # LRA's VALUE_P: below max_depth a node is an operator with this probability
BATCH_TREES = 4096  # trees sampled per batch; fixed so that a seed gives the same examples for any split size
NAME = "lra/listops"

Tree = int | tuple  # a digit, or (operator name, [children])


# ----------------------------------------------------------------------------------------- reference path

def apply(operator: str, values: Sequence[int]) -> int:
    """The value of one operator ("MIN", "MAX", "MED", "SM") applied to its children's values."""
    if operator == "MIN":
        return min(values)
    if operator == "MAX":
        return max(values)
    if operator == "MED":
        return int(np.median(values))  # LRA: an even count gives the floor of the mean of the middle two
    if operator == "SM":
        return sum(values) % 10
    raise ValueError(f"Unknown ListOps operator {operator!r}; accepted: {', '.join(OPERATORS)}.")


def evaluate(tree_or_tokens) -> int:
    """The value of an expression: a tree (digit or (operator, [children])), a string, tokens or token ids."""
    if isinstance(tree_or_tokens, (int, np.integer)) and not isinstance(tree_or_tokens, bool):
        return int(tree_or_tokens)
    if isinstance(tree_or_tokens, tuple):
        operator, children = tree_or_tokens
        return apply(operator.lstrip("["), [evaluate(child) for child in children])
    return _run_stack_machine(_as_tokens(tree_or_tokens))


def _as_tokens(expression) -> list[str]:
    """A string, a sequence of token strings, or token ids (list, array, tensor) -> token strings, no pad/eos."""
    if isinstance(expression, str):
        tokens = expression.split()
    elif isinstance(expression, (torch.Tensor, np.ndarray)):
        tokens = decode(expression.tolist()).split()
    elif len(expression) and not isinstance(expression[0], str):
        tokens = decode(expression).split()
    else:
        tokens = list(expression)
    return [t for t in tokens if t not in (PAD, EOS)]


def _run_stack_machine(tokens: list[str]) -> int:
    """Evaluate tokens left to right: an operator opens a frame, "]" closes it and passes its value up."""
    frames: list[tuple[str, list[int]]] = []
    result = None
    for token in tokens:
        if token.startswith("[") and token[1:] in OPERATORS:
            frames.append((token[1:], []))
            continue
        if token == CLOSE:
            if not frames:
                raise ValueError(f"Unbalanced ListOps expression: ']' without an operator in {' '.join(tokens)!r}.")
            operator, values = frames.pop()
            value = apply(operator, values)
        elif token.isdigit() and len(token) == 1:
            value = int(token)
        else:
            raise ValueError(f"Unknown ListOps token {token!r}; accepted: {', '.join(VOCAB)}.")
        if frames:
            frames[-1][1].append(value)
        elif result is None:
            result = value
        else:
            raise ValueError(f"ListOps expression has more than one top-level value: {' '.join(tokens)!r}.")
    if frames or result is None:
        raise ValueError(f"Incomplete ListOps expression: {' '.join(tokens)!r}.")
    return result


def encode(expression: str) -> list[int]:
    """'[MAX 2 9 ]' -> token ids (no eos appended); unknown tokens become unk."""
    return [TOKEN_IDS.get(token, TOKEN_IDS[UNK]) for token in expression.split()]


def decode(ids: Sequence[int]) -> str:
    """Token ids -> '[MAX 2 9 ] <eos>'; pads are dropped."""
    return " ".join(VOCAB[int(i)] for i in ids if int(i) != TOKEN_IDS[PAD])


# ------------------------------------------------------------------------------------- fast generation

def _sample_levels(rng: np.random.Generator, n: int, max_depth: int, max_args: int, max_length: int):
    """Sample the shapes of n trees level by level; trees reaching max_length tokens are abandoned.

    Returns (levels, length): levels[d] = (tree (v,), arity (v,), parent (v,) index into level d-1) and
    length (n,) the number of tokens of each tree (only meaningful where < max_length).
    """
    tree, parent = np.arange(n), np.full(n, -1)
    length = np.zeros(n, dtype=np.int64)
    levels = []
    for depth in range(1, max_depth + 1):
        if len(tree) == 0:
            break
        is_operator = rng.random(len(tree)) < OPERATOR_PROBABILITY if depth < max_depth else np.zeros(len(tree), bool)
        arity = np.where(is_operator, rng.integers(2, max_args + 1, len(tree)), 0)
        length += np.bincount(tree, weights=1 + is_operator, minlength=n).astype(np.int64)
        levels.append((tree, arity, parent))
        parent = np.repeat(np.arange(len(tree)), arity)
        alive = length[tree[parent]] < max_length  # stop growing trees that are already too long
        parent, tree = parent[alive], tree[parent[alive]]
    return levels, length


def _keep_trees(levels, keep: np.ndarray):
    """Restrict levels to the trees where keep (n,) is True; renumber trees and parents. -> levels."""
    new_tree_id = np.cumsum(keep) - 1
    kept, previous_index = [], None
    for tree, arity, parent in levels:
        mask = keep[tree]
        parent = previous_index[parent[mask]] if previous_index is not None else parent[mask]
        kept.append((new_tree_id[tree[mask]], arity[mask], parent))
        previous_index = np.cumsum(mask) - 1
    return kept


def _values(levels, digits: list, operators: list) -> np.ndarray:
    """Each node's value, bottom up; digits[d] / operators[d] (v,) are used at leaves / operator nodes."""
    below = None
    for d in range(len(levels) - 1, -1, -1):
        arity = levels[d][1]
        value = digits[d].copy()
        ops = np.flatnonzero(arity)
        if len(ops):
            value[ops] = _reduce_children(below, arity[ops], operators[d][ops])
        below = value
    return below


def _reduce_children(child_value: np.ndarray, arity: np.ndarray, operator: np.ndarray) -> np.ndarray:
    """Apply each operator (o,) to its contiguous run of `arity` children in child_value -> (o,)."""
    start = np.concatenate([[0], np.cumsum(arity)[:-1]])
    group = np.repeat(np.arange(len(arity)), arity)
    ordered = child_value[np.lexsort((child_value, group))]  # children sorted within each operator
    results = np.stack([
        np.minimum.reduceat(child_value, start),
        np.maximum.reduceat(child_value, start),
        (ordered[start + (arity - 1) // 2] + ordered[start + arity // 2]) // 2,  # int(np.median(...))
        np.add.reduceat(child_value, start) % 10,
    ])
    return results[operator, np.arange(len(arity))]


def _tokens(levels, digits: list, operators: list) -> tuple[np.ndarray, np.ndarray]:
    """Serialise the n trees, each followed by eos -> (flat tokens (sum of (length + 1),), offsets (n + 1,))."""
    sizes = _subtree_sizes(levels)
    offsets = np.concatenate([[0], np.cumsum(sizes[0] + 1)])  # + 1: the eos
    flat = np.full(offsets[-1], EOS_ID, dtype=np.uint8)
    position = offsets[:-1]
    for d, (_, arity, parent) in enumerate(levels):
        if d > 0:
            position = _child_positions(position, levels[d - 1][1], parent, sizes[d])
        ops = arity > 0
        flat[position[~ops]] = DIGIT_0 + digits[d][~ops]
        flat[position[ops]] = OPERATOR_0 + operators[d][ops]
        flat[position[ops] + sizes[d][ops] - 1] = CLOSE_ID
    return flat, offsets


def _subtree_sizes(levels) -> list[np.ndarray]:
    """Tokens in each node's subtree, bottom up: 1 for a leaf, 2 + the children's for an operator."""
    sizes = [None] * len(levels)
    below = None
    for d in range(len(levels) - 1, -1, -1):
        arity = levels[d][1]
        size = 1 + (arity > 0).astype(np.int64)
        if below is not None:
            size += np.bincount(levels[d + 1][2], weights=below, minlength=len(arity)).astype(np.int64)
        sizes[d] = below = size
    return sizes


def _child_positions(parent_position, parent_arity, parent, size) -> np.ndarray:
    """A child's position: its parent's + 1 + the sizes of its elder siblings. -> (v,)"""
    before = np.cumsum(size) - size  # tokens of all earlier nodes on this level
    first_child = (np.cumsum(parent_arity) - parent_arity)[parent]
    return parent_position[parent] + 1 + before - before[first_child]


def generate_batch(rng: np.random.Generator, max_depth: int = 10, max_args: int = 10, min_length: int = 500,
                   max_length: int = 2000, num_trees: int = BATCH_TREES):
    """Sample num_trees trees and keep those with min_length < length < max_length.

    Returns (flat tokens uint8, offsets (k + 1,), values (k,)): tree i (with its eos) is
    flat[offsets[i]:offsets[i + 1]], and its value is values[i]. Duplicates are not removed here.
    """
    levels, length = _sample_levels(rng, num_trees, max_depth, max_args, max_length)
    keep = (length > min_length) & (length < max_length)
    if not keep.any():
        return np.zeros(0, np.uint8), np.zeros(1, np.int64), np.zeros(0, np.int64)
    levels = _keep_trees(levels, keep)
    digits = [rng.integers(0, 10, len(tree)) for tree, _, _ in levels]  # used at leaves
    operators = [rng.integers(0, len(OPERATORS), len(tree)) for tree, _, _ in levels]  # used at operators
    flat, offsets = _tokens(levels, digits, operators)
    return flat, offsets, _values(levels, digits, operators)


def _longest_possible(max_depth: int, max_args: int) -> int:
    """The most tokens a tree can have: every node above max_depth an operator with max_args children."""
    length = 1
    for _ in range(max_depth - 1):
        length = 2 + max_args * length
    return length


def generate_split(rng: np.random.Generator, num_examples: int, seen: set, *, max_depth: int, max_args: int,
                   min_length: int, max_length: int, stall_batches: int = 200):
    """num_examples distinct expressions not in `seen` (which is updated) -> (flat tokens, offsets, labels)."""
    pieces, labels, stalled = [], [], 0
    while len(labels) < num_examples:
        flat, offsets, values = generate_batch(rng, max_depth, max_args, min_length, max_length)
        found = len(labels)
        for i in range(len(values)):
            tokens = flat[offsets[i]:offsets[i + 1]]
            key = tokens.tobytes()
            if key not in seen and len(labels) < num_examples:
                seen.add(key)
                pieces.append(tokens)
                labels.append(int(values[i]))
        stalled = 0 if len(labels) > found else stalled + 1
        if stalled >= stall_batches:
            raise ValueError(
                f"ListOps found only {len(labels)} of {num_examples} distinct expressions with {min_length} < length "
                f"< {max_length} after {stall_batches} batches without a new one (max_depth={max_depth}, "
                f"max_args={max_args}); widen the length range or ask for fewer examples.")
    lengths = np.array([len(p) for p in pieces], dtype=np.int64)
    flat = np.concatenate(pieces) if pieces else np.zeros(0, np.uint8)
    return flat, np.concatenate([[0], np.cumsum(lengths)]), np.array(labels, dtype=np.int64)


# ----------------------------------------------------------------------------------------------- the task

class RaggedSequences:
    """A list-like view of variable-length sequences stored flat: item i is flat[offsets[i]:offsets[i + 1]]."""

    def __init__(self, flat: torch.Tensor, offsets: torch.Tensor):
        self.flat, self.offsets = flat, offsets

    def __len__(self) -> int:
        return len(self.offsets) - 1

    def __getitem__(self, index: int) -> torch.Tensor:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} is out of range for {len(self)} sequences")
        index %= len(self)
        return self.flat[self.offsets[index]:self.offsets[index + 1]]


@dataclass(frozen=True, kw_only=True)
class ListOpsSettings:
    """lra/listops: LRA's split sizes and tree shapes by default."""

    num_train: int = 96_000
    """Training expressions (LRA: 96,000)."""
    num_test: int = 2_000
    """Test expressions (LRA: 2,000); drawn first, so they do not depend on num_train."""
    num_validation: int = 2_000
    """Validation expressions (LRA: 2,000)."""
    seed: int = 0
    """Seeds each split's random stream (seeded_rng.LRA_STREAMS)."""
    max_depth: int = 10
    """Depth of the deepest node; a node at max_depth is a leaf."""
    max_args: int = 10
    """The most children of an operator (each has 2 to max_args)."""
    min_length: int = 500
    """Expressions are longer than this many tokens (strictly, as LRA)."""
    max_length: int = 2000
    """Expressions are shorter than this many tokens (strictly); with its eos a sequence fits in max_length."""

    def __post_init__(self):
        for name in ("num_train", "num_test", "num_validation", "seed"):
            check_int(getattr(self, name), name, minimum=0, where=NAME)
        check_int(self.max_depth, "max_depth", minimum=1, where=NAME)
        check_int(self.max_args, "max_args", minimum=2, where=NAME)  # operators take 2..max_args
        check_int(self.max_length, "max_length", minimum=2, where=NAME)
        check(is_int(self.min_length) and 0 <= self.min_length < self.max_length - 1, "min_length",
              self.min_length, f"an integer with 0 <= min_length < max_length - 1 = {self.max_length - 1} "
              "(lengths lie strictly between them)", NAME)
        longest = _longest_possible(self.max_depth, self.max_args)
        check(self.min_length < longest, "min_length", self.min_length, f"an integer below {longest}: with max_depth="
              f"{self.max_depth} and max_args={self.max_args} a tree has at most {longest} tokens", NAME)


def listops(settings: ListOpsSettings, use_cache: bool = True) -> Task:
    """LRA ListOps: 10-way classification of an expression's value (LRA sizes: 96k / 2k / 2k, 500-2000 tokens)."""
    s = settings
    shape = dict(max_depth=s.max_depth, max_args=s.max_args, min_length=s.min_length, max_length=s.max_length)
    sizes = {"test": s.num_test, "validation": s.num_validation, "train": s.num_train}

    def build() -> dict:
        seen: set = set()  # test first, so that the test set does not depend on num_train
        data = {}
        for split, size in sizes.items():
            flat, offsets, labels = generate_split(split_rng(s.seed, split, LRA_STREAMS), size, seen, **shape)
            data[split] = {"flat": torch.from_numpy(flat), "offsets": torch.from_numpy(offsets),
                           "labels": torch.from_numpy(labels)}
        return data

    data = cached(NAME, asdict(s), build, use_cache)
    splits = {split: SequenceDataset(RaggedSequences(d["flat"], d["offsets"]), d["labels"]) for split, d in data.items()}
    return Task(name=NAME, kind="classification", vocab_size=len(VOCAB), num_labels=10,
                train=splits["train"], test=splits["test"], validation=splits["validation"], max_length=s.max_length,
                pad_token_id=TOKEN_IDS[PAD], metadata={"vocab": list(VOCAB), "settings": asdict(s)})


TASKS = (TaskSpec(NAME, ListOpsSettings, listops, "LRA ListOps: the value (0-9) of a nested MIN/MAX/MED/SM "
                  "expression, 10-way classification."),)
"""The task of this module, for the registry (registry.py)."""
