"""Byte-level text classification, LRA's "text" task (IMDb reviews read as bytes): `lra/text`.

Sources (`path`):
- the `aclImdb/` folder (or a folder holding it): `train/pos`, `train/neg`, `test/pos`, `test/neg` of .txt
  files, one review each; neg = 0, pos = 1 (`train/unsup` is ignored);
- a .csv/.tsv/.json/.jsonl file, a folder of split files (train.csv, test.csv, ...) or a dict split -> file,
  with the text in `text_field` and the label in `label_field` (e.g. the Kaggle IMDb CSV: text_field="review",
  label_field="sentiment");
- a directory written by `datasets`' save_to_disk (e.g. the HF "imdb" dataset), with the same fields.

Labels: integers (or strings of integers, as CSV gives them) are class ids 0..K-1; other strings
("positive", "negative") are numbered in sorted order over all splits (metadata["label_names"]).
num_labels is inferred as max id + 1 unless given.

Examples: input_ids (t,) with t <= max_length (LRA uses 1000 for IMDb, 4000 in its longer variant; longer
texts are truncated), labels a scalar class id. With the default byte tokenizer ids are the UTF-8 bytes
0..255 and the pad id is 256 (vocab 259, tokenizers.ByteTokenizer).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from ..checks import check_int
from .base import SequenceDataset, Task
from .cache import cached
from .files import (Record, carve_splits, check_encoding, check_fractions, count_labels, is_hf_dataset_dir,
                    load_hf_records, read_records, read_text, source_fingerprint, split_files)
from .spec import TaskSpec
from .tokenizers import get_tokenizer, id_dtype

RECORD_SUFFIXES = (".csv", ".tsv", ".json", ".jsonl")
LAYOUTS = ("the aclImdb folder (train/pos, train/neg, test/pos, test/neg .txt files); a .csv/.tsv/.json/.jsonl "
           "file; a folder of split files (train.csv, test.csv, ...); a dict split -> file; or a save_to_disk "
           "directory")
IMDB_CLASSES = ("neg", "pos")
NAME = "lra/text"


def imdb_root(path: Path) -> Path | None:
    """path itself or path/aclImdb if it has the aclImdb layout (train/pos and train/neg), else None."""
    for root in (path, path / "aclImdb"):
        if all((root / "train" / c).is_dir() for c in IMDB_CLASSES):
            return root
    return None


def read_imdb(root: Path, encoding: str = "utf-8") -> dict[str, list[tuple[str, Any]]]:
    """split -> [(text, label)] from aclImdb/{train,test}/{neg,pos}/*.txt, files in name order, neg first."""
    splits = {}
    for split in ("train", "test"):
        if not (root / split).is_dir():
            continue
        examples = []
        for label, name in enumerate(IMDB_CLASSES):
            folder = root / split / name
            if not folder.is_dir():
                raise FileNotFoundError(f"{folder} is missing; the aclImdb layout has {split}/neg and {split}/pos.")
            examples += [(read_text(f, encoding), label) for f in sorted(folder.glob("*.txt"))]
        splits[split] = examples
    return splits


def source_paths(path: Any) -> list[Path]:
    """The files and folders a source is read from (for the cache key); FileNotFoundError if there are none."""
    if isinstance(path, Mapping):
        return list(split_files(path, RECORD_SUFFIXES, LAYOUTS).values())
    root = imdb_root(Path(path))
    if root is not None:
        return [root / split / c for split in ("train", "test") for c in IMDB_CLASSES if (root / split / c).is_dir()]
    if not Path(path).exists():
        raise FileNotFoundError(f"{path} does not exist. Accepted: {LAYOUTS}.")
    return [Path(path)] if is_hf_dataset_dir(path) else list(split_files(path, RECORD_SUFFIXES, LAYOUTS).values())


def read_labelled_records(path: Any, text_field: str, label_field: str, hf_config: str | None = None,
                          encoding: str = "utf-8") -> dict[str, list[tuple[str, Any]]]:
    """split -> [(text, raw label)] from record files or a HF dataset; errors name the file and line/record."""
    if not isinstance(path, Mapping) and is_hf_dataset_dir(path):
        splits = load_hf_records(path, hf_config)
    else:
        splits = {split: read_records(file, encoding) for split, file in split_files(path, RECORD_SUFFIXES, LAYOUTS).items()}
    return {split: [_text_and_label(r, text_field, label_field) for r in records] for split, records in splits.items()}


def _text_and_label(record: Record, text_field: str, label_field: str) -> tuple[str, Any]:
    for field, setting in ((text_field, "text_field"), (label_field, "label_field")):
        if record.data.get(field) in (None, ""):
            raise ValueError(f"{record.where}: no {field!r} (fields: {sorted(k for k in record.data if k)}); "
                             f"set {setting}= to the field that holds it.")
    text, label = record.data[text_field], record.data[label_field]
    if not isinstance(text, str) or not text:
        raise ValueError(f"{record.where}: {text_field!r} must be a non-empty string, got {text!r:.60}.")
    if isinstance(label, bool) or not isinstance(label, (int, str)) or (isinstance(label, str) and _is_number(label)
                                                                       and _as_int(label) is None):
        raise ValueError(f"{record.where}: the label {label!r:.40} is neither an integer class nor a class name "
                         "(a string that is not a number).")
    return text, label


def label_ids(splits: Mapping[str, list[tuple[str, Any]]]) -> tuple[dict[str, torch.Tensor], list[str] | None]:
    """Raw labels -> split -> ids (n,); with the label names when labels were (non-integer) strings."""
    raw = [label for examples in splits.values() for _, label in examples]
    as_ints = [_as_int(label) for label in raw]
    if all(i is not None for i in as_ints):
        names, lookup = None, lambda label: _as_int(label)
    elif any(i is not None for i in as_ints):
        numbers = sorted({str(label) for label, i in zip(raw, as_ints) if i is not None})[:3]
        words = sorted({str(label) for label, i in zip(raw, as_ints) if i is None})[:3]
        raise ValueError(f"Labels mix integer classes ({numbers}) and class names ({words}); use one or the other.")
    else:
        names = sorted({str(label) for label in raw})
        index = {name: i for i, name in enumerate(names)}
        lookup = lambda label: index[str(label)]  # noqa: E731
    ids = {split: torch.tensor([lookup(label) for _, label in examples], dtype=torch.long)
           for split, examples in splits.items()}
    return ids, names


def _as_int(label: Any) -> int | None:
    """An integer class: an int, or a string of one (CSV gives strings); None otherwise."""
    if isinstance(label, int) and not isinstance(label, bool):
        return label
    if isinstance(label, str) and label.strip().lstrip("-").isdigit():
        return int(label.strip())
    return None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def encode_texts(texts: list[str], tokenizer, max_length: int) -> dict[str, torch.Tensor]:
    """texts -> tokens (sum of lengths,) flat and lengths (n,), each text truncated to max_length ids."""
    dtype = id_dtype(tokenizer.vocab_size)
    rows = [torch.tensor(row[:max_length], dtype=dtype) for row in tokenizer.encode_batch(texts)]
    flat = torch.cat(rows) if rows else torch.zeros(0, dtype=dtype)
    return {"tokens": flat, "lengths": torch.tensor([len(row) for row in rows], dtype=torch.long)}


@dataclass(frozen=True, kw_only=True)
class LraTextSettings:
    """lra/text: where the labelled texts are, and how they become byte (or token) sequences."""

    path: str | dict[str, str]
    """The aclImdb folder, a .csv/.tsv/.json/.jsonl file, a folder of split files, a dict split -> file, or a
    save_to_disk directory (the module docstring has the layouts)."""
    max_length: int = 1000
    """Tokens per example; longer texts are truncated (LRA: 1000 for IMDb, 4000 in its longer variant)."""
    tokenizer: str = "byte"
    """'byte' (UTF-8 bytes, as LRA), or a Hugging Face tokenizer's folder or hub id."""
    text_field: str = "text"
    """The record field that holds the text (records only; e.g. 'review' for the Kaggle IMDb CSV)."""
    label_field: str = "label"
    """The record field that holds the label (e.g. 'sentiment')."""
    num_labels: int | None = None
    """Classes; None: the largest label id + 1."""
    hf_config: str | None = None
    """The configuration of a Hugging Face dataset, where it has several."""
    max_examples: int | None = None
    """Caps the examples kept per split, in file order (None: all)."""
    seed: int = 0
    """Seeds the choice of the examples carved into splits the source lacks."""
    validation_fraction: float = 0.0
    """The share of train carved into a validation split, if the source has none (0: none)."""
    test_fraction: float = 0.1
    """The share of train carved into a test split, if the source has none (aclImdb has one)."""
    encoding: str = "utf-8"
    """The text files' encoding; undecodable bytes are an error naming the file and line."""

    def __post_init__(self):
        check_int(self.max_length, "max_length", minimum=1, where=NAME)
        for name in ("num_labels", "max_examples"):
            if getattr(self, name) is not None:
                check_int(getattr(self, name), name, minimum=1, where=NAME)
        check_int(self.seed, "seed", minimum=0, where=NAME)
        check_fractions(self.validation_fraction, self.test_fraction, NAME)
        check_encoding(self.encoding, NAME)


def lra_text_task(settings: LraTextSettings, use_cache: bool = True) -> Task:
    """Byte-level IMDb (or any labelled text) from `path`; see the module docstring.

    seed, validation_fraction and test_fraction carve splits the source lacks (aclImdb has train and test,
    so only validation); then max_examples caps the examples kept per split, in file order.
    """
    s = settings
    path, tok, encoding = s.path, get_tokenizer(s.tokenizer), check_encoding(s.encoding)

    def build() -> dict[str, Any]:
        root = None if isinstance(path, Mapping) else imdb_root(Path(path))
        raw = read_imdb(root, encoding) if root else read_labelled_records(path, s.text_field, s.label_field,
                                                                           s.hf_config, encoding)
        raw = {split: examples[:s.max_examples]
               for split, examples in carve_splits(raw, s.validation_fraction, s.test_fraction, s.seed).items()}
        labels, names = label_ids(raw)
        return {"names": names or (list(IMDB_CLASSES) if root else None),
                "splits": {split: {**encode_texts([t for t, _ in examples], tok, s.max_length), "labels": labels[split]}
                           for split, examples in raw.items()}}

    path_key = {k: str(v) for k, v in path.items()} if isinstance(path, Mapping) else str(path)
    recorded = {"path": path_key, "source": source_fingerprint(source_paths(path)), "max_length": s.max_length,
                "tokenizer": tok.fingerprint, "text_field": s.text_field, "label_field": s.label_field,
                "hf_config": s.hf_config, "max_examples": s.max_examples, "seed": s.seed,
                "validation_fraction": s.validation_fraction, "test_fraction": s.test_fraction, "encoding": encoding}
    data = cached(NAME, recorded, build, use_cache)
    splits = data["splits"]
    count = count_labels({split: d["labels"] for split, d in splits.items()}, s.num_labels, str(path_key))
    datasets = {split: SequenceDataset(list(d["tokens"].split(d["lengths"].tolist())), d["labels"])
                for split, d in splits.items()}
    return Task(name=NAME, kind="classification", vocab_size=tok.vocab_size, train=datasets["train"],
                test=datasets["test"], validation=datasets.get("validation"), num_labels=count,
                max_length=s.max_length, pad_token_id=tok.pad_token_id,
                metadata={"path": path_key, "tokenizer": repr(tok), "label_names": data["names"],
                          "examples": {split: len(d) for split, d in datasets.items()}})


TASKS = (TaskSpec(NAME, LraTextSettings, lra_text_task, "LRA text: byte-level classification of "
                  "labelled texts (IMDb reviews)."),)
"""The task of this module, for the registry (registry.py)."""
