"""Language data for fine-tuning (PTB, Alpaca, ELI5, any text) and projector pretraining (the embedded corpus).

Tasks (kind "lm"): `lm/text` (any source below; `format` is detected or given), its aliases `lm/ptb`
(format "text"), `lm/alpaca` and `lm/eli5`, and `lm/shakespeare` (the embedded corpus, split by work; the
default data for pretraining projectors).

Sources (`path`): a file; a directory whose file names say their split (Penn Treebank's
`ptb.train.txt` / `ptb.valid.txt` / `ptb.test.txt`, or `train.jsonl`, `dev.json`, `test.csv`, ...); a dict
split -> file; a directory written by `datasets`' save_to_disk; or, with format "hf", a dataset name for
`datasets.load_dataset(path, hf_config)`.

Formats:
- "text": each non-empty line of a .txt/.tokens/.raw file is a document (PTB: one sentence a line), or
  each record's `text_field` in a .json/.jsonl/.csv file.
- "alpaca": records with "instruction", "output" and optional "input" (a .json list, as alpaca_data.json),
  shown with the Stanford Alpaca prompt template (ALPACA_PROMPT) followed by the output.
- "eli5": records with a question ("title" or "question") and answers: "answers" as {"text": [str, ...]}
  (the HF eli5 layout), as [str, ...] or as [{"text": str}, ...], or one "answer" string. Each answer is
  its own example, "Question: {question}\\nAnswer: {answer}".
- "hf": rows of a Hugging Face dataset, text in `text_field`.
With format=None, .txt/.tokens/.raw files are "text" and records (files or a save_to_disk dataset) are
told apart by the first training record's fields: instruction+output, title/question+answers, text_field.

Tokens: each example is tokenized and followed by eos; a split is one stream, eos + example + eos +
example + eos ..., cut into blocks of `block_size` (pack=True) or one sequence per example, truncated
(pack=False). In both, input_ids = stream[i : i+T] and labels = stream[i+1 : i+T+1], so labels[j] is the
target of the prediction at position j; a label is IGNORE_INDEX when its target token is unscored. With
`response_only_loss=True` the prompt tokens (Alpaca template with instruction and input, ELI5 "Question:
...\\nAnswer:") are unscored and the response and its eos are scored; this holds across block boundaries,
since scoring is decided per target token. Blocks with no scored target are dropped.

Splits missing from the source are carved from train by a seeded random choice of records:
`test_fraction`, and `validation_fraction` (0 for none). Processed tokens are cached (`cached()`), keyed by
the files' sizes and mtimes, the tokenizer and the settings.
"""

from __future__ import annotations

import inspect
import warnings
from pathlib import Path
from typing import Any
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import torch

from .base import IGNORE_INDEX, SequenceDataset, Task
from .cache import cached
from .corpora import corpus_names, corpus_works, load_corpus, shakespeare_dir
from .files import (Record, carve_splits, check_encoding, is_hf_dataset_dir, load_hf_records, read_lines, read_records,
                    source_fingerprint, split_files)
from .registry import register
from .tokenizers import get_tokenizer, id_dtype

FORMATS = ("text", "alpaca", "eli5", "hf")
TEXT_SUFFIXES = (".txt", ".tokens", ".raw")
RECORD_SUFFIXES = (".json", ".jsonl", ".csv", ".tsv")
LAYOUTS = ("a .txt/.tokens/.raw/.json/.jsonl/.csv file; a directory of split files named like ptb.train.txt, "
           "ptb.valid.txt, ptb.test.txt or train.jsonl, validation.jsonl, test.jsonl; a dict split -> file; "
           "a save_to_disk directory; or (format='hf') a dataset name")

# Stanford Alpaca's template (github.com/tatsu-lab/stanford_alpaca, train.py): the output follows directly.
ALPACA_PROMPT = {
    "input": ("Below is an instruction that describes a task, paired with an input that provides further "
              "context. Write a response that appropriately completes the request.\n\n"
              "### Instruction:\n{instruction}\n\n### Input:\n{input}\n\n### Response:"),
    "no_input": ("Below is an instruction that describes a task. Write a response that appropriately "
                 "completes the request.\n\n### Instruction:\n{instruction}\n\n### Response:"),
}
ENCODE_CHUNK = 1024  # examples tokenized per call, so max_tokens can stop early

Segments = list[tuple[str, bool]]  # one example: (text, scored) pieces, tokenized separately and joined


# --- reading sources ---------------------------------------------------------------------------------------


def read_source(path: Any, format: str | None, text_field: str = "text",
                hf_config: str | None = None, encoding: str = "utf-8") -> tuple[str, dict[str, list[Record]]]:
    """-> (format, split -> records). Records of text lines are {text_field: line}."""
    if format is not None and format not in FORMATS:
        raise ValueError(f"Unknown format {format!r}; accepted: {', '.join(FORMATS)} (or None to detect it).")
    files = source_files(path, format)
    if files is None:
        splits = load_hf_records(path, hf_config)
    else:
        splits = {split: _read_file(file, format, text_field, encoding) for split, file in files.items()}
    return format or detect_format(splits, text_field), splits


def source_files(path: Any, format: str | None) -> dict[str, Path] | None:
    """split -> file of a file-based source; None for a Hugging Face dataset (a save_to_disk folder or name)."""
    if format == "hf" and isinstance(path, Mapping):
        raise ValueError("format 'hf' takes a dataset name or a save_to_disk directory as path, not a dict of files.")
    if format == "hf" or (not isinstance(path, Mapping) and is_hf_dataset_dir(path)):
        return None
    if not isinstance(path, Mapping) and not Path(path).exists():
        raise FileNotFoundError(f"{path} does not exist. Accepted: {LAYOUTS}.")
    return split_files(path, TEXT_SUFFIXES + RECORD_SUFFIXES, LAYOUTS)


def _read_file(file: Path, format: str | None, text_field: str, encoding: str = "utf-8") -> list[Record]:
    suffix = file.suffix.lower()
    if suffix in RECORD_SUFFIXES:
        return read_records(file, encoding)
    if format in ("alpaca", "eli5"):
        raise ValueError(f"{file}: {format} data must be a .json, .jsonl or .csv file of records, got {suffix!r}.")
    if suffix not in TEXT_SUFFIXES and format is None:
        raise ValueError(f"{file}: cannot tell the format from {suffix!r}; accepted: "
                         f"{', '.join(TEXT_SUFFIXES + RECORD_SUFFIXES)}, or set format= (one of {', '.join(FORMATS)}).")
    return [Record({text_field: r.data["text"]}, r.source, r.unit, r.number) for r in read_lines(file, encoding)]


def detect_format(splits: dict[str, list[Record]], text_field: str = "text") -> str:
    """From the first training record's fields: instruction+output -> alpaca, answers -> eli5, text_field -> text."""
    if not splits["train"]:
        raise ValueError("The training split is empty.")
    first = splits["train"][0]
    keys = set(first.data)
    if {"instruction", "output"} <= keys:
        return "alpaca"
    if keys & {"answers", "answer"} and keys & {"title", "question"}:
        return "eli5"
    if text_field in keys:
        return "text"
    raise ValueError(f"{first.where}: cannot tell the format from its fields {sorted(keys)}; expected "
                     f"instruction+output (alpaca), title/question+answers (eli5) or {text_field!r} (text). "
                     "Set format= or text_field=.")


# --- records -> examples -------------------------------------------------------------------------------------


def _string(record: Record, key: str, accepted: str) -> str:
    if key not in record.data:
        raise ValueError(f"{record.where}: missing {key!r} (fields: {sorted(record.data)}). Accepted: {accepted}.")
    value = record.data[key]
    if not isinstance(value, str):
        raise ValueError(f"{record.where}: {key!r} must be a string, got {type(value).__name__}. Accepted: {accepted}.")
    return value


def text_examples(record: Record, text_field: str) -> list[Segments]:
    text = _string(record, text_field, f"records with a string field {text_field!r} (set text_field=)")
    return [[(text, True)]] if text else []


def alpaca_examples(record: Record, response_only_loss: bool) -> list[Segments]:
    accepted = 'Alpaca records {"instruction": str, "input": str (optional), "output": str}'
    instruction, output = _string(record, "instruction", accepted), _string(record, "output", accepted)
    given = _string(record, "input", accepted) if "input" in record.data and record.data["input"] is not None else ""
    template = ALPACA_PROMPT["input" if given else "no_input"]
    prompt = template.format(instruction=instruction, input=given)
    return [[(prompt, not response_only_loss), (output, True)]]


def eli5_examples(record: Record, response_only_loss: bool) -> list[Segments]:
    accepted = ('ELI5 records with "title" or "question" (str) and "answers" ({"text": [str, ...]}, [str, ...] or '
                '[{"text": str}, ...]) or "answer" (str)')
    question = _string(record, "title" if "title" in record.data else "question", accepted)
    prompt = f"Question: {question}\nAnswer:"
    return [[(prompt, not response_only_loss), (" " + answer, True)] for answer in _answers(record, accepted) if answer]


def _answers(record: Record, accepted: str) -> list[str]:
    data = record.data
    if "answers" not in data:
        return [_string(record, "answer", accepted)]
    answers = data["answers"]
    if isinstance(answers, Mapping):
        answers = answers.get("text")
    if isinstance(answers, list):
        answers = [a.get("text") if isinstance(a, Mapping) else a for a in answers]
        if all(isinstance(a, str) for a in answers):
            return answers
    raise ValueError(f"{record.where}: cannot read 'answers' {data['answers']!r:.100}. Accepted: {accepted}.")


def record_examples(record: Record, format: str, text_field: str, response_only_loss: bool) -> list[Segments]:
    """One record's examples (ELI5: one per answer); errors name the record."""
    if format == "alpaca":
        return alpaca_examples(record, response_only_loss)
    if format == "eli5":
        return eli5_examples(record, response_only_loss)
    return text_examples(record, text_field)


# --- examples -> token streams -> blocks ---------------------------------------------------------------------


def encode_split(examples: Sequence[Segments], tokenizer, pack: bool,
                 max_tokens: int | None) -> dict[str, torch.Tensor]:
    """Tokenize examples into streams: tokens (n,) int16/int32, scored (n,) bool, lengths (streams,) long.

    pack=True: one stream eos + ex + eos + ex + eos ...; pack=False: one stream eos + ex + eos per example.
    max_tokens caps the split's input tokens (a stream of n tokens has n - 1 inputs).
    """
    eos = tokenizer.eos_token_id
    if eos is None:
        raise ValueError(f"{tokenizer!r} has no eos (or sep) token; LM tasks join documents with it.")
    pieces, budget = [], np.inf if max_tokens is None else max_tokens
    dtype = np.int16 if id_dtype(tokenizer.vocab_size) == torch.int16 else np.int32  # the storage dtype, from the start
    encode = getattr(tokenizer, "encode_arrays", tokenizer.encode_batch)  # compact ids where the tokenizer has them
    for start in range(0, len(examples), ENCODE_CHUNK):
        chunk = examples[start:start + ENCODE_CHUNK]
        ids = iter(encode([text for example in chunk for text, _ in example]))
        for example in chunk:
            tokens, scored = _join(example, ids, eos, dtype)
            pieces.append((tokens, scored))
            budget -= len(tokens)
            if budget <= 0:
                break
        if budget <= 0:
            break
    return _streams(pieces, eos, pack, max_tokens, id_dtype(tokenizer.vocab_size))


def _join(example: Segments, ids, eos: int, dtype=np.int32) -> tuple[np.ndarray, np.ndarray]:
    """One example's tokens + eos, and whether each is scored (eos is scored with the last segment)."""
    parts = [np.asarray(next(ids), dtype=dtype) for _ in example]  # the ids' storage dtype, not int64
    tokens = np.concatenate(parts + [np.array([eos], dtype=dtype)])
    scored = np.concatenate([np.full(len(p), s, dtype=bool) for p, (_, s) in zip(parts, example)] + [np.ones(1, bool)])
    return tokens, scored


def _streams(pieces, eos: int, pack: bool, max_tokens: int | None, dtype: torch.dtype) -> dict[str, torch.Tensor]:
    start = (np.array([eos], dtype=np.dtype(str(dtype).replace("torch.", ""))), np.zeros(1, bool))
    if pack:
        streams = [(np.concatenate([start[0]] + [t for t, _ in pieces]),
                    np.concatenate([start[1]] + [s for _, s in pieces]))]
        if max_tokens is not None:
            streams = [(t[: max_tokens + 1], s[: max_tokens + 1]) for t, s in streams]
    else:
        streams, total = [], 0
        for t, s in pieces:
            if max_tokens is not None and streams and total + len(t) > max_tokens:
                break
            streams.append((np.concatenate([start[0], t]), np.concatenate([start[1], s])))
            total += len(t)
    if not streams:
        streams = [start]
    return {"tokens": torch.from_numpy(np.concatenate([t for t, _ in streams])).to(dtype),
            "scored": torch.from_numpy(np.concatenate([s for _, s in streams])),
            "lengths": torch.tensor([len(t) for t, _ in streams], dtype=torch.long)}


def blocks(data: Mapping[str, torch.Tensor], block_size: int, pack: bool) -> SequenceDataset:
    """Streams -> examples input_ids (t,), labels (t,), t <= block_size; labels[j] = input_ids[j + 1] where scored."""
    inputs, labels, lengths = [], [], data["lengths"].tolist()
    for tokens, scored in zip(data["tokens"].split(lengths), data["scored"].split(lengths)):
        x, y = tokens[:-1], torch.where(scored[1:], tokens[1:], torch.tensor(IGNORE_INDEX, dtype=tokens.dtype))
        xs, ys = (x.split(block_size), y.split(block_size)) if pack else ((x[:block_size],), (y[:block_size],))
        scored_per_block = torch.nn.functional.pad(y != IGNORE_INDEX, (0, -len(y) % block_size))
        keep = scored_per_block.view(-1, block_size).any(1).tolist()  # block i holds y[i*T : (i+1)*T]
        inputs += [xb for xb, k in zip(xs, keep) if k]
        labels += [yb for yb, k in zip(ys, keep) if k]
    return SequenceDataset(inputs, labels)


# --- tasks ---------------------------------------------------------------------------------------------------


def build_lm_task(name: str, settings: dict[str, Any], read: Callable[[], tuple[dict[str, list[Segments]], dict]],
                  tokenizer, block_size: int, pack: bool, max_tokens: int | None, use_cache: bool,
                  metadata: dict[str, Any]) -> Task:
    """Encode (or load from the cache) each split's examples, cut them into blocks and make the Task.

    read() -> (split -> examples, info for the metadata) is called only when the cache misses.
    """
    if not isinstance(block_size, int) or block_size < 1:
        raise ValueError(f"block_size must be a positive integer, got {block_size!r}.")
    if max_tokens is not None and max_tokens < 1:
        raise ValueError(f"max_tokens must be a positive integer or None, got {max_tokens!r}.")

    def build() -> dict[str, Any]:
        examples, info = read()
        splits = {split: encode_split(exs, tokenizer, pack, max_tokens) for split, exs in examples.items()}
        return {"info": info, "splits": splits}

    cached_data = cached(name, {**settings, "tokenizer": tokenizer.fingerprint, "pack": pack, "max_tokens": max_tokens},
                         build, use_cache)
    data = cached_data["splits"]
    datasets = {split: blocks(d, block_size, pack) for split, d in data.items()}
    for split, dataset in datasets.items():
        if len(dataset) == 0:
            raise ValueError(f"Task {name!r}: the {split} split has no scored tokens "
                             "(check the data, max_examples and block_size).")
        dropped = 0 if pack else len(data[split]["lengths"]) - len(dataset)
        if dropped:
            warnings.warn(f"Task {name!r}: {dropped} {split} example(s) have no scored token within block_size="
                          f"{block_size} (a long prompt with response_only_loss?) and were dropped.", stacklevel=2)
    counts = {split: int(d["lengths"].sum() - len(d["lengths"])) for split, d in data.items()}
    return Task(name=name, kind="lm", vocab_size=tokenizer.vocab_size, train=datasets["train"], test=datasets["test"],
                validation=datasets.get("validation"), max_length=block_size, pad_token_id=tokenizer.pad_token_id,
                tokenizer=tokenizer,
                metadata={"tokenizer": repr(tokenizer), "block_size": block_size, "pack": pack, "tokens": counts,
                          **metadata, **cached_data["info"]})


@register("lm/text")
def text_task(path: str | Mapping[str, str], format: str | None = None, tokenizer: str = "byte", block_size: int = 256,
              text_field: str = "text", hf_config: str | None = None, response_only_loss: bool = False,
              pack: bool = True, max_examples: int | None = None, max_tokens: int | None = None, seed: int = 0,
              validation_fraction: float = 0.05, test_fraction: float = 0.05, encoding: str = "utf-8",
              use_cache: bool = True, streaming: bool = False, shuffle: bool = True, shuffle_buffer: int = 1000,
              hf_split: str = "train", eval_path: str | list[str] | None = None, hf_eval_split: str | None = None,
              eval_documents: int = 100, eval_tokens: int | None = None) -> Task:
    """Language data from `path` in `format` (detected when None); see the module docstring. Text files are
    decoded as `encoding` (UTF-8 by default); undecodable bytes and binary files are errors naming the line.

    seed, validation_fraction and test_fraction carve splits the source lacks (by record). Then
    max_examples caps the records (lines, JSON records, dataset rows) kept per split, so a capped split is
    a subset of the uncapped one; max_tokens caps the input tokens per split.

    streaming=True reads the training split on the fly instead (tasks/streaming.py), for corpora too large for
    memory: path is a directory, glob, file or list of .jsonl/.json/.parquet/.txt shards, or with format 'hf' a
    hub dataset name, split `hf_split`, streamed with `datasets`. Each process reads its own shards; the
    stream is endless and its position is in every checkpoint, so --resume continues exactly.
      shuffle: visit the shards in a new seeded order each epoch (the training seed) and draw documents from a
        buffer of `shuffle_buffer` documents (0 or 1: no buffer).
      max_tokens: each epoch ends after this many tokens, summed over the processes (None: the whole source);
        the run's length is train.max_steps.
      Test split, held in memory: the first `eval_documents` documents (at most `eval_tokens` tokens) of the
        files at `eval_path`, or of the hub split `hf_eval_split`, or else of the source itself, which training
        then skips. No validation split (bilevel search needs one). pack is always on; max_examples,
        validation_fraction and test_fraction do not apply; nothing is cached.
    """
    tok = get_tokenizer(tokenizer)
    if format is not None and format not in FORMATS:
        raise ValueError(f"Unknown format {format!r}; accepted: {', '.join(FORMATS)} (or None to detect it).")
    encoding = check_encoding(encoding)
    if streaming:
        _check_streamed(pack, max_examples, validation_fraction, test_fraction)
        return _streamed_text(path, format, tok, block_size, text_field, hf_config, response_only_loss, hf_split,
                              shuffle, shuffle_buffer, max_tokens, eval_path, hf_eval_split, eval_documents,
                              eval_tokens, encoding)

    def read() -> tuple[dict[str, list[Segments]], dict]:
        fmt, splits = read_source(path, format, text_field, hf_config, encoding)
        grouped = {split: [record_examples(r, fmt, text_field, response_only_loss) for r in records]
                   for split, records in splits.items()}  # checks every record before anything is carved
        carved = carve_splits(grouped, validation_fraction, test_fraction, seed)  # by record: answers stay together
        examples = {split: [ex for group in groups[:max_examples] for ex in group] for split, groups in carved.items()}
        return examples, {"format": fmt, "carved_splits": sorted(set(carved) - set(splits))}

    path_key = {k: str(v) for k, v in path.items()} if isinstance(path, Mapping) else str(path)
    files = source_files(path, format)  # also fails early on a missing path
    settings = {"path": path_key, "source": source_fingerprint(files.values() if files else [path]), "format": format,
                "text_field": text_field, "hf_config": hf_config, "response_only_loss": response_only_loss,
                "max_examples": max_examples, "seed": seed, "validation_fraction": validation_fraction,
                "test_fraction": test_fraction, "encoding": encoding}
    return build_lm_task("lm/text", settings, read, tok, block_size, pack, max_tokens, use_cache,
                         {"path": path_key, "response_only_loss": response_only_loss})


def _check_streamed(pack: bool, max_examples: int | None, validation_fraction: float, test_fraction: float) -> None:
    """Settings of in-memory splits that a streamed task cannot honour are errors, not silently ignored."""
    wrong = {name: value for name, value, default in (("pack", pack, True), ("max_examples", max_examples, None),
                                                      ("validation_fraction", validation_fraction, 0.05),
                                                      ("test_fraction", test_fraction, 0.05)) if value != default}
    if wrong:
        raise ValueError(f"streaming=True does not take {wrong}: streamed text is always packed, its epoch is capped "
                         "by max_tokens, and its test split is eval_documents (or eval_path / hf_eval_split).")


def _validate_text(**settings: Any) -> None:
    """Check lm/text's values that need no file, tokenizer or hub (run configs are validated offline)."""
    from .streaming import check_settings

    values = inspect.signature(text_task).bind(**settings)
    values.apply_defaults()
    v = values.arguments
    if v["format"] is not None and v["format"] not in FORMATS:
        raise ValueError(f"Unknown format {v['format']!r}; accepted: {', '.join(FORMATS)} (or None to detect it).")
    if v["streaming"]:
        _check_streamed(v["pack"], v["max_examples"], v["validation_fraction"], v["test_fraction"])
        check_settings(v["path"], v["format"] == "hf", v["block_size"], v["shuffle_buffer"], v["max_tokens"],
                       v["eval_path"], v["hf_eval_split"], v["eval_documents"], v["eval_tokens"])


text_task.validate = _validate_text


def _streamed_text(path, format, tok, block_size, text_field, hf_config, response_only_loss, hf_split, shuffle,
                   shuffle_buffer, max_tokens, eval_path, hf_eval_split, eval_documents, eval_tokens,
                   encoding) -> Task:
    """lm/text with streaming=True: see tasks/streaming.py."""
    from .streaming import check_settings, file_records, shard_files, streamed_task

    hf = format == "hf"
    check_settings(path, hf, block_size, shuffle_buffer, max_tokens, eval_path, hf_eval_split, eval_documents,
                   eval_tokens)
    if format is None:  # from the first record, as for an in-memory source
        first = next(file_records(shard_files(path)[0], text_field, encoding), None)
        format = detect_format({"train": [first] if first else []}, text_field)

    def examples(record: Record) -> list[Segments]:
        return record_examples(record, "text" if hf else format, text_field, response_only_loss)

    return streamed_task("lm/text", path, hf, format, examples, tok, block_size, text_field=text_field,
                         hf_config=hf_config, hf_split=hf_split, shuffle=shuffle, shuffle_buffer=shuffle_buffer,
                         max_tokens=max_tokens, eval_path=eval_path, hf_eval_split=hf_eval_split,
                         eval_documents=eval_documents, eval_tokens=eval_tokens, encoding=encoding)


def _alias(alias: str, format: str, doc: str) -> None:
    """Register `alias` as lm/text with a fixed format (and the same settings otherwise)."""

    def build(**settings) -> Task:
        task = text_task(format=format, **settings)
        task.name = alias
        return task

    signature = inspect.signature(text_task)
    build.__signature__ = signature.replace(parameters=[p for p in signature.parameters.values() if p.name != "format"])
    build.__doc__, build.__name__ = doc, alias.replace("/", "_")
    build.validate = lambda **settings: _validate_text(format=format, **settings)
    register(alias)(build)


_alias("lm/ptb", "text", "Penn Treebank: path is the folder of ptb.train.txt, ptb.valid.txt, ptb.test.txt.")
_alias("lm/alpaca", "alpaca", "Alpaca instructions: path is alpaca_data.json (a list of records).")
_alias("lm/eli5", "eli5", "ELI5: path is a .jsonl file (or split files, or a save_to_disk directory).")


@register("lm/shakespeare")
def shakespeare_task(corpus: str = "shakespeare", tokenizer: str = "byte", block_size: int = 256, pack: bool = True,
                     max_examples: int | None = None, max_tokens: int | None = None, use_cache: bool = True) -> Task:
    """The embedded corpus (corpora.py), split by work; each work is one document. max_examples caps works per split."""
    if corpus not in corpus_names():
        raise ValueError(f"Unknown corpus {corpus!r}; available: {', '.join(corpus_names())}.")
    tok = get_tokenizer(tokenizer)

    def read() -> tuple[dict[str, list[Segments]], dict]:
        texts = load_corpus(corpus)
        return {split: [[(text, True)] for text in texts[split][:max_examples]] for split in texts}, {}

    settings = {"corpus": corpus, "source": source_fingerprint([shakespeare_dir()]), "max_examples": max_examples}
    works = {split: corpus_works(corpus, split)[:max_examples] for split in ("train", "validation", "test")}
    return build_lm_task("lm/shakespeare", settings, read, tok, block_size, pack, max_tokens, use_cache,
                         {"corpus": corpus, "works": works, "format": "text"})
