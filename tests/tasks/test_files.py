"""Readers for data sets on disk: split files, records with their line numbers, carved splits."""

import json

import pytest

from manticore.tasks.files import carve_splits, read_csv_records, read_json_records, split_files


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
