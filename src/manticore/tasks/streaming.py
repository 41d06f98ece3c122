"""Streamed corpora: training text read, tokenised and packed on the fly, never held whole in memory.

`lm/text` with `streaming: true` (projector pretraining on a large corpus):

    task: {name: lm/text, streaming: true, path: /data/fineweb/, block_size: 2048, tokenizer: EleutherAI/pythia-410m}
    task: {name: lm/text, streaming: true, format: hf, path: HuggingFaceFW/fineweb, hf_config: sample-10BT}

Sources: local shards, a directory (searched recursively), a glob pattern, a file, or a list of them, of
JSON lines (.jsonl, or .json holding one record a line), Parquet (.parquet) or text (.txt: a line is a
document); or, with format "hf", a Hugging Face dataset name read with `load_dataset(..., streaming=True)`.
Records follow lm/text's formats ("text" with `text_field`, "alpaca", "eli5").

Training split (`StreamedText`): documents are tokenised a few at a time (`READ_AHEAD`) and packed into one
stream, eos + doc + eos + doc ..., cut into blocks of `block_size` inputs with next-token labels, exactly as
lm/text packs an in-memory split. It is endless: when a process's documents run out, its next epoch starts
(shards reshuffled with `seed` and the epoch when `shuffle` is on), so processes never fall out of step.

- Processes: with at least as many files as processes, each process reads its own files (every
  world-th file of the epoch's order); with fewer files (or a hub dataset with fewer shards) every process
  reads all of them and keeps every world-th document. Either way the processes' documents are disjoint.
- Memory: what is held is one batch, the documents read ahead and the tokens not yet in a block; a test
  streams a corpus many times that size and measures the peak RSS.
- Resume: the position (epoch, documents this process has consumed in it, and the tokens not yet in a block)
  is part of the engine's checkpoint; resuming reopens the epoch's order and skips those documents (read, not
  tokenised), so the resumed batches are exactly the uninterrupted run's.
- Test split: held in memory, at most `eval_tokens` tokens: from `eval_path` if given, else the first
  `eval_documents` documents of the source (the first file in sorted order; a hub dataset's first rows), which
  the training stream then skips.
"""

from __future__ import annotations

import glob
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from .base import IGNORE_INDEX, Task
from .files import Record

STREAM_SUFFIXES = (".jsonl", ".json", ".parquet", ".txt")
READ_AHEAD = 64  # documents tokenised per call
SOURCES = ("a directory of .jsonl/.json/.parquet/.txt shards, a glob pattern, a file, or a list of them; or "
           "(format='hf') a Hugging Face dataset name")


# --- documents ----------------------------------------------------------------------------------------------------
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


class Documents:
    """One process's documents of a source, epoch by epoch: `read(epoch, skip)` yields them after `skip`."""

    def __init__(self, path: Any, hf: bool, text_field: str, hf_config: str | None, hf_split: str,
                 holdout: int, shuffle: bool, seed: int, rank: int, world: int, encoding: str = "utf-8"):
        self.path, self.hf, self.text_field, self.encoding = path, hf, text_field, encoding
        self.hf_config, self.hf_split, self.holdout = hf_config, hf_split, holdout
        self.shuffle, self.seed, self.rank, self.world = shuffle, seed, rank, world
        self.files = None if hf else shard_files(path)

    def read(self, epoch: int, skip: int = 0) -> Iterator[Record]:
        """This process's documents of `epoch`, after the first `skip` of them (read and dropped)."""
        records = self._hf(epoch) if self.hf else self._local(epoch)
        for index, record in enumerate(records):
            if index >= skip:
                yield record

    def _local(self, epoch: int) -> Iterator[Record]:
        first = self.files[0]  # its first `holdout` documents are the test split
        order = list(self.files)
        if self.shuffle:
            generator = torch.Generator().manual_seed(self.seed * 100_003 + epoch)
            order = [order[i] for i in torch.randperm(len(order), generator=generator).tolist()]
        by_file = len(order) >= self.world
        mine = order[self.rank::self.world] if by_file else order
        index = 0
        for file in mine:
            for number, record in enumerate(file_records(file, self.text_field, self.encoding)):
                if file == first and number < self.holdout:
                    continue
                if by_file or index % self.world == self.rank:
                    yield record
                index += 1

    def _hf(self, epoch: int) -> Iterator[Record]:
        dataset = load_streamed(self.path, self.hf_config, self.hf_split).skip(self.holdout)
        if self.shuffle:
            dataset = dataset.shuffle(seed=self.seed, buffer_size=1000)
            dataset.set_epoch(epoch)
        if self.world > 1:
            from datasets.distributed import split_dataset_by_node

            dataset = split_dataset_by_node(dataset, rank=self.rank, world_size=self.world)
        for row, data in enumerate(dataset):
            yield Record(data, f"{self.path} ({self.hf_split})", "row", row)


def load_streamed(name: str, config: str | None, split: str):
    """`datasets.load_dataset(name, config, split=split, streaming=True)`, with an error that says what to install."""
    try:
        import datasets
    except ImportError as err:
        raise ImportError("Streaming a Hugging Face dataset needs the datasets package: "
                          "pip install 'manticore-hybrids[data]'.") from err
    return datasets.load_dataset(name, config, split=split, streaming=True)


def holdout_records(documents: Documents, count: int) -> list[Record]:
    """The first `count` documents of the source (before any shuffling or sharding): the test split's."""
    if documents.hf:
        return [Record(data, documents.path, "row", row)
                for row, data in enumerate(load_streamed(documents.path, documents.hf_config, documents.hf_split)
                                           .take(count))]
    records = file_records(documents.files[0], documents.text_field, documents.encoding)
    return [record for _, record in zip(range(count), records)]


# --- tokens and blocks ------------------------------------------------------------------------------------------
class StreamedText:
    """A streamed training split (not indexable, no length): `batch_stream(...)` gives the engine its batches.

    examples(record) -> the record's examples as (text, scored) segments (lm.py's formats).
    """

    def __init__(self, documents: Callable[[int, int], Documents], examples: Callable[[Record], list], tokenizer,
                 block_size: int):
        self.documents, self.examples, self.tokenizer, self.block_size = documents, examples, tokenizer, block_size

    def batch_stream(self, batch_size: int, collate: Callable, seed: int, rank: int = 0, world: int = 1) -> BlockStream:
        return BlockStream(self, batch_size, collate, rank, world)

    def __repr__(self) -> str:
        return f"StreamedText(block_size={self.block_size}, tokenizer={self.tokenizer!r})"


class BlockStream:
    """An endless iterator of collated batches of packed blocks, with a `state_dict` (see the module docstring)."""

    def __init__(self, data: StreamedText, batch_size: int, collate: Callable, rank: int = 0, world: int = 1):
        from .lm import _join  # one example's tokens + eos and which are scored: the same as an in-memory split

        self.data, self.batch_size, self.collate, self.rank, self.world = data, batch_size, collate, rank, world
        self._join = _join
        self.documents = data.documents(rank, world)
        eos = data.tokenizer.eos_token_id
        if eos is None:
            raise ValueError(f"{data.tokenizer!r} has no eos (or sep) token; streamed text joins documents with it.")
        self.eos = eos
        self.epoch, self.consumed = 0, 0
        self.tokens, self.scored = np.array([eos], np.int64), np.zeros(1, bool)  # the stream starts with eos
        self._reader: Iterator[Record] | None = None

    def __iter__(self) -> BlockStream:
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        return self.collate([self._block() for _ in range(self.batch_size)])

    def _block(self) -> dict[str, torch.Tensor]:
        """The next block with at least one scored target: input_ids (T,), labels (T,)."""
        T = self.block_size
        while True:
            while len(self.tokens) < T + 1:
                self._read()
            x, y, scored = self.tokens[:T], self.tokens[1:T + 1], self.scored[1:T + 1]
            self.tokens, self.scored = self.tokens[T:], self.scored[T:]
            if scored.any():
                labels = np.where(scored, y, IGNORE_INDEX)
                return {"input_ids": torch.from_numpy(x.copy()), "labels": torch.from_numpy(labels)}

    @property
    def block_size(self) -> int:
        return self.data.block_size

    def _read(self) -> None:
        """Tokenise the next READ_AHEAD documents (starting the next epoch when this one is done) into the buffer."""
        if self._reader is None:
            self._reader = self.documents.read(self.epoch, self.consumed)
        records = [r for _, r in zip(range(READ_AHEAD), self._reader)]
        if not records:
            if self.consumed == 0:
                raise ValueError(f"Process {self.rank} of {self.world} has no documents to stream: the source holds "
                                 "fewer documents than processes, or only the held-out test documents.")
            self.epoch, self.consumed, self._reader = self.epoch + 1, 0, None
            return
        examples = [ex for record in records for ex in self.data.examples(record)]
        tokenizer = self.data.tokenizer
        encode = getattr(tokenizer, "encode_arrays", tokenizer.encode_batch)
        ids = iter(encode([text for example in examples for text, _ in example]) if examples else [])
        pieces = [self._join(example, ids, self.eos, np.int64) for example in examples]
        self.tokens = np.concatenate([self.tokens] + [t for t, _ in pieces])
        self.scored = np.concatenate([self.scored] + [s for _, s in pieces])
        self.consumed += len(records)

    def state_dict(self) -> dict[str, Any]:
        """Where this process is: plain numbers and tensors (checkpoints load with weights_only=True)."""
        return {"epoch": self.epoch, "documents": self.consumed, "tokens": torch.from_numpy(self.tokens.copy()),
                "scored": torch.from_numpy(self.scored.copy())}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.epoch, self.consumed = int(state["epoch"]), int(state["documents"])
        self.tokens, self.scored = state["tokens"].numpy().astype(np.int64), state["scored"].numpy().astype(bool)
        self._reader = None  # reopened at (epoch, documents) on the next read


def streamed_task(name: str, path: Any, hf: bool, format: str, examples: Callable[[Record], list], tokenizer,
                  block_size: int, text_field: str, hf_config: str | None, hf_split: str, shuffle: bool, seed: int,
                  eval_path: Any, eval_documents: int, eval_tokens: int | None, encoding: str) -> Task:
    """The Task of a streamed source: train streamed (`StreamedText`), test held in memory."""
    from .lm import blocks, encode_split

    if not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}.")
    if not (isinstance(eval_documents, int) and eval_documents >= 1):
        raise ValueError(f"eval_documents must be a positive integer, got {eval_documents!r}.")
    holdout = 0 if eval_path is not None else eval_documents

    def documents(rank: int, world: int) -> Documents:
        return Documents(path, hf, text_field, hf_config, hf_split, holdout, shuffle, seed, rank, world, encoding)

    source = documents(0, 1)  # checks the source now: missing files fail before any training
    if eval_path is not None:
        test_records = [r for file in shard_files(eval_path) for r in file_records(file, text_field, encoding)]
    else:
        test_records = holdout_records(source, eval_documents)
    test_examples = [ex for record in test_records for ex in examples(record)]
    test = blocks(encode_split(test_examples, tokenizer, True, eval_tokens), block_size, True)
    if len(test) == 0:
        raise ValueError(f"Task {name!r}: the held-out test split has no scored tokens; raise eval_documents or "
                         "give eval_path.")
    where = path if hf else [str(f) for f in source.files]
    return Task(name=name, kind="lm", vocab_size=tokenizer.vocab_size, train=StreamedText(documents, examples, tokenizer,
                block_size), test=test, max_length=block_size, pad_token_id=tokenizer.pad_token_id,
                tokenizer=tokenizer,
                metadata={"tokenizer": repr(tokenizer), "block_size": block_size, "pack": True, "streaming": True,
                          "format": format, "source": where, "test_documents": len(test_records)})
