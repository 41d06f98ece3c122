"""Reading data sets on disk for the path-based tasks (language data, text and image classification).

Finds split files in a directory, reads JSON/JSONL/CSV records with their line or record number (for error
messages that name the file and the record), loads Hugging Face datasets, carves missing splits with a
seeded choice, counts labels, and fingerprints source files for the dataset cache.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
from pathlib import Path
from typing import Any, NamedTuple
from collections.abc import Iterable, Mapping

import numpy as np
import torch

from ..checks import check, invalid, is_int, is_number

SPLITS = ("train", "validation", "test")
SPLIT_WORDS = {"train": "train", "training": "train", "valid": "validation", "validation": "validation",
               "val": "validation", "dev": "validation", "test": "test", "testing": "test"}


class Record(NamedTuple):
    """One record of a data set and where it came from, for error messages: '<source> <unit> <number>'."""

    data: dict[str, Any]
    source: str
    unit: str  # "line", "record" (0-based index in a JSON list) or "row" (0-based dataset row)
    number: int

    @property
    def where(self) -> str:
        return f"{self.source} {self.unit} {self.number}"


def split_of(filename: str) -> str | None:
    """'ptb.valid.txt' -> 'validation'; 'alpaca_data.json' -> None. Words are split at '.', '_' and '-'."""
    words = re.split(r"[._\-]", Path(filename).name.lower())
    return next((SPLIT_WORDS[w] for w in words if w in SPLIT_WORDS), None)


def split_files(path: str | Path | Mapping[str, str | Path], suffixes: Iterable[str], layouts: str) -> dict[str, Path]:
    """Find a data set's files: split -> file. `layouts` describes what is accepted, for the errors.

    path is a file (its only split is train), a dict split -> file, or a directory whose files (with one
    of `suffixes`) name their split (train; valid/validation/val/dev; test), or that holds a single file.
    """
    suffixes = tuple(suffixes)
    if isinstance(path, Mapping):
        files = {SPLIT_WORDS.get(str(k).lower(), str(k)): Path(v) for k, v in path.items()}
        unknown = [k for k in files if k not in SPLITS]
        if unknown:
            raise ValueError(f"Unknown split name(s) {unknown} in path; accepted: train, validation (valid, dev), "
                             "test.")
    else:
        files = _files_in(Path(path), suffixes, layouts)
    for split, file in files.items():
        if not file.is_file():
            raise FileNotFoundError(f"{file} (the {split} split) does not exist. Accepted: {layouts}.")
    if "train" not in files:
        raise ValueError(f"No training file in {path}; found splits {sorted(files)}. Accepted: {layouts}.")
    return files


def _files_in(path: Path, suffixes: tuple[str, ...], layouts: str) -> dict[str, Path]:
    if path.is_file():
        return {"train": path}
    if not path.is_dir():
        raise FileNotFoundError(f"{path} does not exist. Accepted: {layouts}.")
    candidates = sorted(f for f in path.iterdir() if f.is_file() and f.name.lower().endswith(suffixes))
    found: dict[str, list[Path]] = {}
    for file in candidates:
        found.setdefault(split_of(file.name), []).append(file)
    if not any(s in found for s in SPLITS) and len(candidates) == 1:
        return {"train": candidates[0]}
    for split, matches in found.items():
        if split is not None and len(matches) > 1:
            raise ValueError(f"{path} has several {split} files: {[m.name for m in matches]}; pass path as a "
                             f"dict split -> file to choose. Accepted: {layouts}.")
    if not any(s in found for s in SPLITS):
        raise ValueError(f"{path} has no file whose name says its split (train/valid/test) among "
                         f"{[c.name for c in candidates] or 'its files'} (looked for {', '.join(suffixes)}). "
                         f"Accepted: {layouts}.")
    return {split: found[split][0] for split in SPLITS if split in found}


def check_encoding(encoding: str, where: str | None = None) -> str:
    """The name of a text encoding Python knows, or a ValueError naming the setting (and the task, `where`)."""
    import codecs

    try:
        return codecs.lookup(encoding).name
    except (LookupError, TypeError):
        raise invalid("encoding", encoding, "a text encoding Python knows, e.g. utf-8, latin-1, utf-16", where) from None


def check_optional_int(value: Any, field: str, minimum: int, where: str | None = None) -> None:
    """None, or an integer >= minimum (a setting whose None means "all"); else `manticore.checks`' ValueError."""
    check(value is None or (is_int(value) and value >= minimum), field, value, f"an integer >= {minimum} or null",
          where)


def text_lines(path: Path, encoding: str = "utf-8") -> Iterable[tuple[int, str]]:
    """(line number from 1, line) of a text file, read one line at a time (memory stays flat for a huge file).

    Bytes that don't decode as `encoding` are an error naming the file and line; so is a NUL byte, which
    text never holds (a binary file, or text in UTF-16/32 read as UTF-8: set encoding)."""
    if check_encoding(encoding).startswith(("utf-16", "utf-32")):  # wide: a newline is not the byte 0x0A alone
        number = 0
        with open(path, encoding=encoding) as f:
            try:
                for number, line in enumerate(f, 1):
                    yield number, line
            except UnicodeDecodeError as err:
                raise ValueError(f"{path} line {number + 1}: can't be decoded as {encoding} ({err.reason}); set "
                                 "encoding to the file's.") from None
        return
    with open(path, "rb") as f:
        for number, raw in enumerate(f, 1):
            if b"\0" in raw:
                raise ValueError(f"{path} line {number}: a NUL byte; this looks like a binary file, not text "
                                 f"(or text in another encoding: set encoding, now {encoding!r}).")
            try:
                yield number, raw.decode(encoding)
            except UnicodeDecodeError as err:
                raise ValueError(f"{path} line {number}: can't be decoded as {encoding} ({err.reason} at byte "
                                 f"{err.start} of the line); set encoding to the file's (e.g. latin-1).") from None


def read_text(path: Path, encoding: str = "utf-8") -> str:
    """A whole text file, checked as `text_lines` checks it."""
    return "".join(line for _, line in text_lines(path, encoding))


def read_lines(path: Path, encoding: str = "utf-8") -> list[Record]:
    """Non-empty lines, stripped, as records {'text': line} numbered from 1."""
    return [Record({"text": line.strip()}, str(path), "line", n) for n, line in text_lines(path, encoding)
            if line.strip()]


def read_json_records(path: Path, encoding: str = "utf-8") -> list[Record]:
    """A .jsonl file (one object a line, blank lines skipped) or a .json list of objects (or JSON Lines)."""
    if path.suffix.lower() != ".json":
        return _jsonl(path, text_lines(path, encoding))
    text = read_text(path, encoding)
    if path.suffix.lower() == ".json":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            if err.msg != "Extra data":  # "Extra data": several values, i.e. JSON Lines in a .json file
                raise ValueError(f"{path}: invalid JSON at line {err.lineno} column {err.colno}: {err.msg}.") from err
        else:
            return _json_list(path, data)
    return _jsonl(path, enumerate(text.splitlines(), 1))


def _json_list(path: Path, data: Any) -> list[Record]:
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of objects (or one object a line), "
                         f"got a {type(data).__name__}.")
    for i, item in enumerate(data):
        if not isinstance(item, dict):
            raise ValueError(f"{path} record {i}: expected a JSON object, got {type(item).__name__} {item!r:.80}.")
    return [Record(item, str(path), "record", i) for i, item in enumerate(data)]


def _jsonl(path: Path, lines: Iterable[tuple[int, str]]) -> list[Record]:
    records = []
    for n, line in lines:
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path} line {n}: invalid JSON at column {err.colno}: {err.msg}.") from err
        if not isinstance(item, dict):
            raise ValueError(f"{path} line {n}: expected a JSON object, got {type(item).__name__} {item!r:.80}.")
        records.append(Record(item, str(path), "line", n))
    return records


def read_csv_records(path: Path, encoding: str = "utf-8") -> list[Record]:
    """A .csv (or .tsv) file with a header row; each row a record numbered by its (last) line. Quoting is
    strict: an unterminated quote is an error, not two rows merged."""
    delimiter = "\t" if path.suffix.lower() == ".tsv" else ","
    reader = csv.DictReader((line for _, line in text_lines(path, encoding)), delimiter=delimiter, strict=True)
    try:
        records = [Record(row, str(path), "line", reader.line_num) for row in reader]
    except csv.Error as err:
        raise ValueError(f"{path} line {reader.line_num}: malformed CSV: {err}.") from err
    for record in records:
        if None in record.data:  # DictReader puts surplus fields under the key None
            raise ValueError(f"{record.where}: more fields than the header's {reader.fieldnames}.")
    return records


def read_records(path: Path, encoding: str = "utf-8") -> list[Record]:
    """Records of a .json / .jsonl / .csv / .tsv file, decoded as `encoding`."""
    suffix = path.suffix.lower()
    if suffix in (".json", ".jsonl"):
        return read_json_records(path, encoding)
    if suffix in (".csv", ".tsv"):
        return read_csv_records(path, encoding)
    raise ValueError(f"{path}: unknown record file type {suffix!r}; accepted: .json, .jsonl, .csv, .tsv.")


def is_hf_dataset_dir(path: str | Path) -> bool:
    """Whether path is a directory written by `datasets`' save_to_disk (a Dataset or a DatasetDict)."""
    path = Path(path)
    return path.is_dir() and any((path / name).is_file() for name in ("dataset_dict.json", "state.json"))


def load_hf_records(name_or_path: str | Path, config: str | None = None) -> dict[str, list[Record]]:
    """split -> records of a Hugging Face dataset: load_from_disk(path) if it is a saved one, else
    load_dataset(name, config). A single Dataset is the train split; splits named valid/dev count as validation."""
    try:
        import datasets
    except ModuleNotFoundError as err:
        raise ModuleNotFoundError("Hugging Face datasets are read with the 'datasets' package: "
                                  "pip install datasets") from err
    if is_hf_dataset_dir(name_or_path):
        loaded = datasets.load_from_disk(str(name_or_path))
    else:
        try:
            loaded = datasets.load_dataset(str(name_or_path), config)
        except Exception as err:  # many types: FileNotFoundError, DatasetNotFoundError, ConnectionError, ...
            raise ValueError(f"Could not load dataset {str(name_or_path)!r}: {err}\nAccepted: a directory written by "
                             "save_to_disk, or a dataset name load_dataset can reach (offline: in the local "
                             "cache).") from err
    parts = loaded if isinstance(loaded, Mapping) else {"train": loaded}
    out = {}
    for split, dataset in parts.items():
        canonical = SPLIT_WORDS.get(split.lower())
        if canonical is not None:
            out[canonical] = [Record(row, f"dataset {str(name_or_path)!r} split {split!r}", "row", i)
                              for i, row in enumerate(dataset)]
    if "train" not in out:
        raise ValueError(f"Dataset {str(name_or_path)!r} has no train split; it has {list(parts)}.")
    return out


def carve_splits(splits: dict[str, list], validation_fraction: float, test_fraction: float,
                 seed: int) -> dict[str, list]:
    """Fill in missing test (and, if validation_fraction > 0, validation) splits from a seeded random
    subset of train's items. Splits the source has are kept as they are; item order is preserved."""
    check_fractions(validation_fraction, test_fraction)
    fractions = {"test": test_fraction, "validation": validation_fraction}
    wanted = {s: f for s, f in fractions.items() if s not in splits and f > 0}
    if "test" not in splits and "test" not in wanted:
        raise ValueError("The data has no test split; provide one (a test file) or set test_fraction > 0.")
    if not wanted:
        return dict(splits)
    train = splits["train"]
    counts = {s: max(1, round(f * len(train))) for s, f in wanted.items()}
    if sum(counts.values()) >= len(train):
        raise ValueError(f"Cannot carve {', '.join(counts)} split(s) out of {len(train)} training item(s); "
                         "give separate split files or more data.")
    order = np.random.default_rng(seed).permutation(len(train))
    out, start = dict(splits), 0
    for split, count in counts.items():
        out[split] = [train[i] for i in sorted(order[start:start + count])]
        start += count
    out["train"] = [train[i] for i in sorted(order[start:])]
    return out


def check_fractions(validation_fraction: float, test_fraction: float, where: str | None = None) -> None:
    """Both shares of train that `carve_splits` may carve out: numbers in [0, 1); else a ValueError naming it."""
    for name, fraction in (("validation_fraction", validation_fraction), ("test_fraction", test_fraction)):
        check(is_number(fraction) and 0 <= fraction < 1, name, fraction, "a number in [0, 1)", where)


def source_fingerprint(paths: Iterable[str | Path]) -> str:
    """A digest of the (path, size, mtime) of every file in `paths` (files, or folders walked recursively),
    for cache keys: it changes when a file is edited, added or removed. A path that doesn't exist (a hub
    id) counts by its name. Pass the files a task reads, not a big parent folder: each file is stat'ed."""
    listing = []
    for path in paths:
        path = Path(path)
        if path.is_file():
            stat = path.stat()
            listing.append((str(path.resolve()), stat.st_size, stat.st_mtime_ns))
        elif path.is_dir():
            for folder, _, names in os.walk(path.resolve()):
                for name in names:
                    stat = os.stat(os.path.join(folder, name))
                    listing.append((os.path.join(folder, name), stat.st_size, stat.st_mtime_ns))
        else:
            listing.append((str(path), 0, 0))
    return hashlib.sha256(repr(sorted(listing)).encode()).hexdigest()


def count_labels(labels: Mapping[str, torch.Tensor], num_labels: int | None, source: str) -> int:
    """The number of classes: num_labels if given (checked against the labels), else max label + 1."""
    present = [int(t.max()) for t in labels.values() if len(t)]
    low = min((int(t.min()) for t in labels.values() if len(t)), default=0)
    if low < 0:
        raise ValueError(f"{source}: labels must be 0..K-1, found {low}.")
    largest = max(present, default=0)
    if num_labels is None:
        return largest + 1
    if not is_int(num_labels) or num_labels <= largest:
        raise ValueError(f"{source}: num_labels={num_labels!r} but the labels go up to {largest}; "
                         f"give num_labels > {largest} or None to infer it.")
    return num_labels
