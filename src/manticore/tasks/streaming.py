"""Streamed corpora: training text read, tokenised and packed on the fly, never held whole in memory.

The task `lm/stream` (projector pretraining on a large corpus; `StreamSettings`):

    task: {name: lm/stream, path: /data/fineweb/, block_size: 2048, tokenizer: EleutherAI/pythia-410m}
    task: {name: lm/stream, format: hf, path: HuggingFaceFW/fineweb, hf_config: sample-10BT}

Sources (`Source`): local shards, a directory (searched recursively), a glob pattern, a file, or a list of them,
of JSON lines (.jsonl, or .json holding one record a line), Parquet (.parquet) or text (.txt: a line is a
document); or, with format "hf", a Hugging Face dataset read with `load_dataset(..., streaming=True)`, whose
shards are its data files (`IterableDataset.shard`). Records follow lm/text's formats ("text" with
`text_field`, "alpaca", "eli5"; lm.py), and the settings they share are lm.py's `TextSource`.

Training split (`StreamedText`): documents are tokenised a few at a time (`READ_AHEAD`) and packed into one
stream, eos + doc + eos + doc ..., cut into blocks of `block_size` inputs with next-token labels, exactly as
lm/text packs an in-memory split (packing.py). It is endless: when a process's documents run out (or its share of
`max_tokens` is read), its next epoch starts, so processes never fall out of step.

- Order: with `shuffle`, each epoch visits the shards in a new seeded order (the training seed and the epoch)
  and each process draws its documents from a seeded buffer of `shuffle_buffer` documents.
- Processes: with at least as many shards as processes, each process reads its own shards (every world-th
  shard of the epoch's order); with fewer, every process reads all of them and keeps every world-th document.
  Either way the processes' documents are disjoint and together cover the source.
- Memory: what is held is one batch, the shuffle buffer, the documents read ahead and the tokens not yet in a
  block; a test streams a corpus many times that size and measures the peak RSS.
- Resume: a process's position is four numbers (`Position`): the epoch, the document of that epoch (in the
  process's reading order) whose tokens start the next block, how many of its tokens were already used, and
  how many tokens the epoch had read before it. Under torch.distributed every process's position is shared
  after each batch (a gloo all-gather of 4 numbers), so the checkpoint rank 0 writes holds all of them.
  Resuming reopens the epoch's order and skips to that document (read again, not tokenised), so the resumed
  batches are exactly the uninterrupted run's. Skipping re-reads the epoch's documents up to the position: for a
  hub dataset that is a download again.
- Test split (held in memory, at most `eval_documents` documents and `eval_tokens` tokens): the first documents
  of the files at `eval_path`, or of the hub dataset's split `hf_eval_split`, or else of the source itself (in
  its own order: first shard first), which the training stream then skips. There is no validation split.

What lm/text does with a split held in memory does not apply here, so lm/stream has no `pack` (always on),
`max_examples`, `validation_fraction` or `test_fraction` (refused, with why), and caches nothing.
"""

from __future__ import annotations

import glob
import json
from collections import Counter, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any, ClassVar, NamedTuple

import numpy as np
import torch

from ..checks import check, check_int
from ..errors import install_hint
from .base import IGNORE_INDEX, Task
from .files import Record, check_encoding, check_optional_int
from .lm import TextSource, check_format, detect_format, record_examples
from .packing import blocks, encode_split, join_example
from .spec import Refusal, TaskSpec
from .tokenizers import get_tokenizer

STREAM_SUFFIXES = (".jsonl", ".json", ".parquet", ".txt")
READ_AHEAD = 64  # documents tokenised per call
SOURCES = ("a directory of .jsonl/.json/.parquet/.txt shards, a glob pattern, a file, or a list of them; or "
           "(format='hf') a Hugging Face dataset name")


# --- sources and documents ------------------------------------------------------------------------------------------
def shard_files(path: str | Sequence[str]) -> list[Path]:
    """The shard files of a local source, sorted: a directory (recursively), a glob, a file, or a list of these."""
    paths = [path] if isinstance(path, (str, Path)) else list(path)
    files: list[Path] = []
    for item in paths:
        item = str(item)
        if Path(item).is_dir():
            files += [f for f in Path(item).rglob("*") if f.suffix.lower() in STREAM_SUFFIXES and f.is_file()]
        elif any(c in item for c in "*?["):
            files += [Path(f) for f in glob.glob(item, recursive=True) if Path(f).suffix.lower() in STREAM_SUFFIXES]
        elif Path(item).is_file():
            if Path(item).suffix.lower() not in STREAM_SUFFIXES:
                raise ValueError(f"{item}: a streamed shard must be one of {', '.join(STREAM_SUFFIXES)}.")
            files.append(Path(item))
        else:
            raise FileNotFoundError(f"{item} does not exist. Accepted: {SOURCES}.")
    files = sorted(set(files))
    if not files:
        raise ValueError(f"No shard files ({', '.join(STREAM_SUFFIXES)}) in {path}. Accepted: {SOURCES}.")
    return files


def file_records(file: Path, text_field: str, encoding: str = "utf-8") -> Iterator[Record]:
    """The records of one shard, one at a time (a text line is {text_field: line})."""
    suffix = file.suffix.lower()
    if suffix == ".parquet":
        import pyarrow.parquet as pq

        row = 0
        for batch in pq.ParquetFile(file).iter_batches(batch_size=256):
            for data in batch.to_pylist():
                yield Record(data, str(file), "row", row)
                row += 1
        return
    with open(file, encoding=encoding) as f:
        for number, line in enumerate(f, 1):
            if suffix == ".txt":
                yield Record({text_field: line.rstrip("\n")}, str(file), "line", number)
                continue
            try:
                data = json.loads(line) if line.strip() else {text_field: ""}
            except json.JSONDecodeError as err:
                raise ValueError(f"{file} line {number}: not a JSON record ({err.msg}); streamed .json/.jsonl "
                                 "shards hold one record a line.") from None
            yield Record(data, str(file), "line", number)


def load_streamed(name: str, config: str | None, split: str):
    """`datasets.load_dataset(name, config, split=split, streaming=True)`, with an error that says what to install."""
    try:
        import datasets
    except ImportError as err:
        raise ImportError("Streaming a Hugging Face dataset needs the datasets package: "
                          f"{install_hint('data')}, or pip install datasets.") from err
    return datasets.load_dataset(name, config, split=split, streaming=True)


class Source:
    """The shards of a streamed source, each readable from its start: local files, or (hf) the data files of a
    `datasets` stream."""

    def __init__(self, path: Any, hf: bool, text_field: str = "text", hf_config: str | None = None,
                 hf_split: str = "train", encoding: str = "utf-8"):
        self.path, self.hf, self.text_field, self.hf_split, self.encoding = path, hf, text_field, hf_split, encoding
        if hf:
            self.files, self.dataset = None, load_streamed(path, hf_config, hf_split)
            self.num_shards = self.dataset.num_shards
        else:
            self.files, self.dataset = shard_files(path), None
            self.num_shards = len(self.files)

    def records(self, shard: int) -> Iterator[Record]:
        """Shard `shard`'s records in order."""
        if not self.hf:
            yield from file_records(self.files[shard], self.text_field, self.encoding)
            return
        rows = self.dataset.shard(self.num_shards, shard) if self.num_shards > 1 else self.dataset
        where = f"{self.path} ({self.hf_split}, shard {shard})"
        for row, data in enumerate(rows):
            yield Record(data, where, "row", row)

    def head(self, count: int) -> tuple[list[Record], dict[int, int]]:
        """The first `count` records in the source's own order (shard 0 first), and how many came from each shard."""
        taken: list[Record] = []
        per_shard: Counter = Counter()
        for shard in range(self.num_shards):
            for record in islice(self.records(shard), count - len(taken)):
                taken.append(record)
                per_shard[shard] += 1
            if len(taken) >= count:
                break
        return taken, dict(per_shard)

    def describe(self) -> str | list[str]:
        """The path as given (a dataset name, folder, glob or file, or a list of them)."""
        return str(self.path) if isinstance(self.path, (str, Path)) else [str(p) for p in self.path]


def buffer_shuffled(items: Iterable, size: int, rng: np.random.Generator) -> Iterator:
    """`items` in a seeded random order, holding at most `size` of them: each one out is drawn from the buffer."""
    buffer: list = []
    draws: Iterator[int] = iter(())
    for item in items:
        if len(buffer) < size:
            buffer.append(item)
            continue
        index = next(draws, None)
        if index is None:
            draws = iter(rng.integers(size, size=1024).tolist())
            index = next(draws)
        yield buffer[index]
        buffer[index] = item
    rng.shuffle(buffer)
    yield from buffer


class Documents:
    """One process's documents, epoch by epoch: `read(epoch, skip)` yields them after the first `skip`.

    held: shard -> how many of its first records are the test split's (skipped here)."""

    def __init__(self, source: Source, held: Mapping[int, int], shuffle: bool, shuffle_buffer: int, seed: int,
                 rank: int = 0, world: int = 1):
        self.source, self.held, self.shuffle, self.shuffle_buffer = source, dict(held), shuffle, shuffle_buffer
        self.seed, self.rank, self.world = seed % 2**63, rank, world

    def read(self, epoch: int, skip: int = 0) -> Iterator[Record]:
        """This process's documents of `epoch`, after the first `skip` of them (read and dropped)."""
        records = self._mine(epoch)
        if self.shuffle and self.shuffle_buffer > 1:
            rng = np.random.default_rng([self.seed, epoch, self.rank, 1])
            records = buffer_shuffled(records, self.shuffle_buffer, rng)
        return islice(records, skip, None)

    def _mine(self, epoch: int) -> Iterator[Record]:
        """The shards of the epoch's order that are this process's, or every world-th record of all of them."""
        count = self.source.num_shards
        order = list(range(count))
        if self.shuffle:
            order = np.random.default_rng([self.seed, epoch]).permutation(count).tolist()
        by_shard = count >= self.world
        index = 0
        for shard in order[self.rank::self.world] if by_shard else order:
            for record in islice(self.source.records(shard), self.held.get(shard, 0), None):
                if by_shard or index % self.world == self.rank:
                    yield record
                index += 1


# --- tokens and blocks ------------------------------------------------------------------------------------------
class StreamedText:
    """A streamed training split (not indexable, no length): `batch_stream(...)` gives the engine its batches.

    examples(record) -> the record's examples as (text, scored) segments (lm.py's formats).
    max_tokens: each epoch ends once the processes have read this many tokens together (None: the whole source).
    """

    def __init__(self, source: Source, held: Mapping[int, int], examples: Callable[[Record], list], tokenizer,
                 block_size: int, shuffle: bool = True, shuffle_buffer: int = 1000, max_tokens: int | None = None):
        self.source, self.held, self.examples, self.tokenizer = source, held, examples, tokenizer
        self.block_size, self.shuffle, self.shuffle_buffer, self.max_tokens = block_size, shuffle, shuffle_buffer, \
            max_tokens

    def documents(self, seed: int, rank: int = 0, world: int = 1) -> Documents:
        return Documents(self.source, self.held, self.shuffle, self.shuffle_buffer, seed, rank, world)

    def batch_stream(self, batch_size: int, collate: Callable, seed: int, rank: int = 0, world: int = 1) -> BlockStream:
        return BlockStream(self, batch_size, collate, seed, rank, world)

    def __repr__(self) -> str:
        return f"StreamedText(block_size={self.block_size}, tokenizer={self.tokenizer!r})"


class Position(NamedTuple):
    """Where the next block starts: `offset` tokens into document `document` of `epoch` (-1: the stream's first
    eos), whose epoch had read `before` tokens before it."""

    epoch: int
    document: int
    offset: int
    before: int


START = Position(0, -1, 0, 0)


class BlockStream:
    """An endless iterator of collated batches of packed blocks, with a `state_dict` (see the module docstring)."""

    def __init__(self, data: StreamedText, batch_size: int, collate: Callable, seed: int = 0, rank: int = 0,
                 world: int = 1):
        self.data, self.batch_size, self.collate, self.rank, self.world = data, batch_size, collate, rank, world
        self.documents = data.documents(seed, rank, world)
        if data.tokenizer.eos_token_id is None:
            raise ValueError(f"{data.tokenizer!r} has no eos (or sep) token; streamed text joins documents with it.")
        self.eos = data.tokenizer.eos_token_id
        self.budget = None if data.max_tokens is None else data.max_tokens // world
        if self.budget == 0:
            raise ValueError(f"max_tokens={data.max_tokens} is less than one token per process ({world}).")
        self._group = None  # the gloo group that shares positions, made on the first batch
        self._seek(START)
        self._table = torch.tensor([START] * world, dtype=torch.long)  # every process's position

    def __iter__(self) -> BlockStream:
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        batch = self.collate([self._block() for _ in range(self.batch_size)])
        self._share()
        return batch

    # -- the buffer: tokens read and not yet in a block, and the documents they come from
    def _seek(self, position: Position) -> None:
        """Start reading at `position` (the documents before it are skipped, not tokenised)."""
        self.epoch, self.read_docs, self.epoch_tokens = position.epoch, max(position.document, 0), position.before
        self._reader: Iterator[Record] | None = None
        self.tokens, self.scored = np.zeros(0, np.int64), np.zeros(0, bool)
        self.pieces: deque[list[int]] = deque()  # [epoch, document, tokens, tokens before it in its epoch]
        self.offset, self._pending = 0, position.offset  # tokens of pieces[0] used; still to drop after reading
        if position.document < 0:  # the stream starts with eos
            self._append(np.array([self.eos], np.int64), np.zeros(1, bool), [0, -1, 1, 0])

    def _append(self, tokens: np.ndarray, scored: np.ndarray, piece: list[int]) -> None:
        self.tokens, self.scored = np.concatenate([self.tokens, tokens]), np.concatenate([self.scored, scored])
        self.pieces.append(piece)

    def _drop(self, count: int) -> None:
        self.tokens, self.scored, self.offset = self.tokens[count:], self.scored[count:], self.offset + count
        while self.pieces and self.offset >= self.pieces[0][2] and len(self.tokens):
            self.offset -= self.pieces.popleft()[2]

    def position(self) -> Position:
        epoch, document, _, before = self.pieces[0]
        return Position(epoch, document, self.offset, before)

    def _block(self) -> dict[str, torch.Tensor]:
        """The next block with at least one scored target: input_ids (T,), labels (T,)."""
        T = self.block_size
        while True:
            while len(self.tokens) < T + 1 + self._pending:
                self._read()
            if self._pending:  # resuming partway into a document
                self._drop(self._pending)
                self._pending = 0
            x, y, scored = self.tokens[:T], self.tokens[1:T + 1], self.scored[1:T + 1]
            self._drop(T)
            if scored.any():
                labels = np.where(scored, y, IGNORE_INDEX)
                return {"input_ids": torch.from_numpy(x.copy()), "labels": torch.from_numpy(labels)}

    @property
    def block_size(self) -> int:
        return self.data.block_size

    def _read(self) -> None:
        """Tokenise the next READ_AHEAD documents into the buffer, or start the next epoch when this one is done."""
        if self._reader is None:
            self._reader = self.documents.read(self.epoch, self.read_docs)
        spent = self.budget is not None and self.epoch_tokens >= self.budget
        records = [] if spent else list(islice(self._reader, READ_AHEAD))
        if not records:
            if self.epoch_tokens == 0:  # else every epoch would end at once, forever
                raise ValueError(f"Process {self.rank} of {self.world} has no text to stream: the source holds fewer "
                                 "documents than processes, only the held-out test documents, or empty ones.")
            self.epoch, self.read_docs, self.epoch_tokens, self._reader = self.epoch + 1, 0, 0, None
            return
        examples = [self.data.examples(record) for record in records]
        tokenizer = self.data.tokenizer
        encode = getattr(tokenizer, "encode_arrays", tokenizer.encode_batch)
        texts = [text for exs in examples for example in exs for text, _ in example]
        ids = iter(encode(texts) if texts else [])
        for exs in examples:
            pieces = [join_example(example, ids, self.eos, np.int64) for example in exs]  # as an in-memory split
            tokens = np.concatenate([t for t, _ in pieces]) if pieces else np.zeros(0, np.int64)
            scored = np.concatenate([s for _, s in pieces]) if pieces else np.zeros(0, bool)
            self._append(tokens, scored, [self.epoch, self.read_docs, len(tokens), self.epoch_tokens])
            self.read_docs, self.epoch_tokens = self.read_docs + 1, self.epoch_tokens + len(tokens)
            if self.budget is not None and self.epoch_tokens >= self.budget:
                break  # the epoch ends with this document; the rest read ahead is not used

    # -- positions: shared between processes, kept in checkpoints
    def _share(self) -> None:
        """Every process's position after this batch (a collective: every process takes the same batches)."""
        mine = torch.tensor(self.position(), dtype=torch.long)
        if self.world == 1:
            self._table = mine[None]
            return
        import torch.distributed as dist

        if not (dist.is_available() and dist.is_initialized()):  # ranks driven by hand: only this one is known
            self._table = torch.full((self.world, 4), -1, dtype=torch.long)
            self._table[self.rank] = mine
            return
        if self._group is None:  # a CPU group, so sharing never waits on a GPU
            self._group = dist.new_group(backend="gloo")
        rows = [torch.empty(4, dtype=torch.long) for _ in range(self.world)]
        dist.all_gather(rows, mine, group=self._group)
        self._table = torch.stack(rows)

    def state_dict(self) -> dict[str, Any]:
        """positions: (world, 4) LongTensor, every process's `Position` (a plain tensor: checkpoints load with
        weights_only=True)."""
        return {"positions": self._table.clone()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if "positions" not in state:
            raise ValueError(f"Not a streamed corpus's position (it holds {sorted(state)}); a checkpoint written by "
                             "another version of the stream. Delete it to start the stage afresh.")
        table = torch.as_tensor(state["positions"], dtype=torch.long)
        if table.shape != (self.world, 4):
            raise ValueError(f"The stream position was saved by {table.shape[0]} process(es); resume with as many "
                             f"(this run has {self.world}).")
        if table[self.rank, 0] < 0:
            raise ValueError(f"The saved stream position does not hold process {self.rank}'s position (it was "
                             "saved without torch.distributed sharing positions between processes).")
        self._table = table.clone()
        self._seek(Position(*table[self.rank].tolist()))


# --- the task ------------------------------------------------------------------------------------------------------
# What lm/stream refuses of lm/text's settings and values, each with its own reason (`streaming: true` is taken:
# it is what lm/stream does).
REFUSED = {
    "pack": "streamed text is always packed into blocks",
    "max_examples": "a stream's epoch is capped by max_tokens (tokens, summed over the processes), not by records",
    "validation_fraction": "a stream has no validation split",
    "test_fraction": "its test split is the first eval_documents documents of eval_path, of hf_eval_split or of "
                     "the source itself",
    "streaming": Refusal("lm/stream always streams; lm/text reads a corpus into memory",
                         when=lambda value: value is not True, shown="false"),
    "path": Refusal("path is the training split's shards (a directory, glob, file or list of them), not a dict of "
                    "splits; give the test split's files as eval_path", when=lambda value: isinstance(value, Mapping),
                    shown="a dict of splits"),
}


@dataclass(frozen=True, kw_only=True)
class StreamSettings(TextSource):
    """lm/stream: a corpus too large for memory, its training split read on the fly."""

    name: ClassVar[str] = "lm/stream"

    path: str | list[str]
    """The training split's shards: a directory (searched recursively), a glob, a file, or a list of them, of
    .jsonl/.json/.parquet/.txt; with format 'hf', a Hugging Face dataset name. (Not a dict of splits: the test
    split is eval_path.)"""
    format: str | None = None
    """'text', 'alpaca' or 'eli5' (lm/text's record formats), or 'hf' (a hub dataset streamed with `datasets`,
    text in text_field); None: told from the first record."""
    max_tokens: int | None = None
    """Each epoch ends after this many tokens, summed over the processes (None: the whole source); the run's
    length is train.max_steps."""
    hf_split: str = "train"
    """format 'hf': the dataset's split to train on."""
    shuffle: bool = True
    """Visit the shards in a new seeded order each epoch (the training seed) and draw documents from a buffer."""
    shuffle_buffer: int = 1000
    """Documents in the shuffle buffer (0 or 1: no buffer)."""
    eval_path: str | list[str] | None = None
    """Files (as path) whose first documents are the test split; None: hf_eval_split, else the source's own
    first documents, which training then skips."""
    hf_eval_split: str | None = None
    """format 'hf': the dataset's split whose first documents are the test split."""
    eval_documents: int = 100
    """Documents in the test split (held in memory)."""
    eval_tokens: int | None = None
    """Caps the test split's tokens (None: all of its documents')."""

    def __post_init__(self):
        super().__post_init__()
        check_format(self.format, self.name)
        check_int(self.shuffle_buffer, "shuffle_buffer", minimum=0, where=self.name)
        check_int(self.eval_documents, "eval_documents", minimum=1, where=self.name)
        check_optional_int(self.eval_tokens, "eval_tokens", 1, self.name)
        check(not isinstance(self.path, Mapping), "path", self.path,
              "the training split's shards (a directory, glob, file or list of them), not a dict of splits (give the "
              "test split's files as eval_path)", self.name)
        check(self.eval_path is None or self.hf_eval_split is None, "hf_eval_split", self.hf_eval_split,
              f"null when eval_path is given ({self.eval_path!r}): the test split is one or the other, not both",
              self.name)
        check(self.hf_eval_split is None or self.format == "hf", "hf_eval_split", self.hf_eval_split,
              "null unless format='hf': it names a split of a Hugging Face dataset (local shards take eval_path)",
              self.name)


def stream_task(settings: StreamSettings, use_cache: bool = True) -> Task:
    """lm/stream: train streamed (`StreamedText`), test held in memory. Nothing is cached (use_cache unused)."""
    s, hf = settings, settings.format == "hf"
    tokenizer, encoding = get_tokenizer(s.tokenizer), check_encoding(s.encoding)
    source = Source(s.path, hf, s.text_field, s.hf_config, s.hf_split, encoding)  # missing files fail before training
    format = s.format or detect_format({"train": list(islice(source.records(0), 1))}, s.text_field)

    def examples(record: Record) -> list:
        return record_examples(record, "text" if hf else format, s.text_field, s.response_only_loss)

    test_records, held = _test_records(s, source, encoding)
    test_examples = [ex for record in test_records for ex in examples(record)]
    test = blocks(encode_split(test_examples, tokenizer, True, s.eval_tokens), s.block_size, True)
    if len(test) == 0:
        raise ValueError("Task 'lm/stream': the held-out test split has no scored tokens; raise eval_documents or "
                         "give eval_path.")
    train = StreamedText(source, held, examples, tokenizer, s.block_size, s.shuffle, s.shuffle_buffer, s.max_tokens)
    return Task(name="lm/stream", kind="lm", vocab_size=tokenizer.vocab_size, train=train, test=test,
                max_length=s.block_size, pad_token_id=tokenizer.pad_token_id, tokenizer=tokenizer,
                metadata={"tokenizer": repr(tokenizer), "block_size": s.block_size, "pack": True, "streaming": True,
                          "format": format, "source": source.describe(), "shards": source.num_shards,
                          "test_documents": len(test_records)})


def _test_records(settings: StreamSettings, source: Source, encoding: str) -> tuple[list[Record], dict[int, int]]:
    """The test split's records, and shard -> how many of its first records they are (when the source's own)."""
    s = settings
    if s.eval_path is not None:
        return Source(s.eval_path, False, s.text_field, encoding=encoding).head(s.eval_documents)[0], {}
    if s.hf_eval_split is not None:
        return Source(s.path, True, s.text_field, s.hf_config, s.hf_eval_split).head(s.eval_documents)[0], {}
    return source.head(s.eval_documents)


TASKS = (TaskSpec("lm/stream", StreamSettings, stream_task, "A corpus too large for memory (local shards or a hub "
                  "dataset), read, tokenised and packed on the fly; resumes exactly.", cached=False,
                  refused=REFUSED),)
"""The task of this module, for the registry (registry.py)."""
