"""Bad data files get named errors (issue 11, point 7): an `encoding` setting (UTF-8 by default), undecodable
bytes and binary files named with file and line, labels as the format says, npz and image checks."""

import json

import numpy as np
import pytest

from manticore import tasks


def write(path, data: bytes):
    path.write_bytes(data)
    return path


def test_undecodable_bytes_name_the_file_and_line(tmp_path):
    path = write(tmp_path / "train.txt", "first line\nsecond: caf\xe9\n".encode("latin-1"))
    with pytest.raises(ValueError, match=r"train.txt line 2: can't be decoded as utf-8 .*set encoding"):
        tasks.get("lm/text", path=str(path), use_cache=False)
    task = tasks.get("lm/text", path=str(path), encoding="latin-1", use_cache=False, validation_fraction=0.0,
                     test_fraction=0.5, block_size=8)
    assert task.train is not None


def test_utf16_text_reads_with_its_encoding(tmp_path):
    path = write(tmp_path / "train.txt", "héllo wörld\nsecond line here\n".encode("utf-16"))
    with pytest.raises(ValueError, match=r"train.txt line 1: (a NUL byte|can't be decoded)"):
        tasks.get("lm/text", path=str(path), use_cache=False)
    assert tasks.get("lm/text", path=str(path), encoding="utf-16", use_cache=False, block_size=4,
                     validation_fraction=0.0, test_fraction=0.5).train is not None


def test_binary_files_are_refused(tmp_path):
    path = write(tmp_path / "train.jsonl", b'{"text": "ok", "label": 0}\n\x00\x01\x02binary\n')
    with pytest.raises(ValueError, match=r"train.jsonl line 2: a NUL byte; this looks like a binary file"):
        tasks.get("lra/text", path=str(path), use_cache=False)


def test_an_unknown_encoding_is_named(tmp_path):
    path = write(tmp_path / "train.txt", b"text\n")
    with pytest.raises(ValueError, match="encoding='klingon' is not valid in lm/text; accepted: a text encoding Python knows"):
        tasks.get("lm/text", path=str(path), encoding="klingon", use_cache=False)


@pytest.mark.parametrize("rows,match", [
    ('text,label\na,0\nb,0.5\n', r"the label '0.5' is neither an integer class nor a class name"),
    ('text,label\na,0\nb,pos\n', r"Labels mix integer classes \(\['0'\]\) and class names \(\['pos'\]\)"),
    ('text,label\na,"0\nb,1\n', r"malformed CSV|line"),
])
def test_csv_labels_are_what_the_format_says(tmp_path, rows, match):
    path = write(tmp_path / "train.csv", rows.encode())
    with pytest.raises(ValueError, match=match):
        tasks.get("lra/text", path=str(path), use_cache=False)


def test_jsonl_list_labels_are_refused(tmp_path):
    path = write(tmp_path / "train.jsonl", "".join(json.dumps(r) + "\n" for r in
                                                   [{"text": "a", "label": 0}, {"text": "b", "label": [1]}]).encode())
    with pytest.raises(ValueError, match=r"train.jsonl line 2: the label \[1\] is neither"):
        tasks.get("lra/text", path=str(path), use_cache=False)


def test_npz_problems_are_named(tmp_path):
    empty = tmp_path / "empty.npz"
    np.savez(empty, x_train=np.zeros((0, 4, 4), np.uint8), y_train=np.zeros(0, np.int64))
    with pytest.raises(ValueError, match="x_train holds no images"):
        tasks.get("lra/image", path=str(empty), use_cache=False)
    floats = tmp_path / "floats.npz"
    np.savez(floats, x_train=np.zeros((2, 4, 4), np.uint8), y_train=np.array([0.5, 1.0]),
             x_test=np.zeros((2, 4, 4), np.uint8), y_test=np.array([0, 1]))
    with pytest.raises(ValueError, match="y_train must hold integer class ids, got float64 such as"):
        tasks.get("lra/image", path=str(floats), use_cache=False)
    sizes = tmp_path / "sizes.npz"
    np.savez(sizes, x_train=np.zeros((2, 4, 4), np.uint8), y_train=np.array([0, 1]),
             x_test=np.zeros((2, 5, 5), np.uint8), y_test=np.array([0, 1]))
    with pytest.raises(ValueError, match=r"the splits' images differ in size \(train: \(4, 4\), test: \(5, 5\)\)"):
        tasks.get("lra/image", path=str(sizes), use_cache=False)
