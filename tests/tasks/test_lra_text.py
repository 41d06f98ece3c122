"""lra/text: byte-level IMDb from the aclImdb folder, CSV/JSONL files and HF datasets on disk."""

import json

import pytest
import torch

from manticore import tasks

REVIEWS = {
    ("train", "pos"): ["A wonderful film.", "Loved every minute, é!"],
    ("train", "neg"): ["Dull and slow.", "I walked out."],
    ("test", "pos"): ["Great acting."],
    ("test", "neg"): ["Terrible plot."],
}


def write_imdb(root):
    for (split, label), texts in REVIEWS.items():
        (root / "aclImdb" / split / label).mkdir(parents=True)
        for i, text in enumerate(texts):
            (root / "aclImdb" / split / label / f"{i}_{7 if label == 'pos' else 2}.txt").write_text(text)
    (root / "aclImdb" / "train" / "unsup").mkdir()
    (root / "aclImdb" / "train" / "unsup" / "0_0.txt").write_text("unlabelled, ignored")
    return root


def decoded(dataset):
    return {bytes(dataset[i]["input_ids"].tolist()).decode(): int(dataset[i]["labels"]) for i in range(len(dataset))}


def test_acl_imdb_folder_reads_bytes_and_labels(tmp_path):
    task = tasks.get("lra/text", path=str(write_imdb(tmp_path)), use_cache=False)
    assert (task.kind, task.num_labels, task.vocab_size, task.pad_token_id, task.max_length) == \
        ("classification", 2, 259, 256, 1000)
    assert task.metadata["label_names"] == ["neg", "pos"] and task.validation is None
    assert decoded(task.train) == {"A wonderful film.": 1, "Loved every minute, é!": 1, "Dull and slow.": 0,
                                   "I walked out.": 0}
    assert decoded(task.test) == {"Great acting.": 1, "Terrible plot.": 0}
    assert task.train[0]["labels"].dim() == 0
    batch = task.collate([task.train[0], task.train[1]])
    assert batch["labels"].shape == (2,) and (batch["input_ids"][batch["attention_mask"] == 0] == 256).all()


def test_truncation_and_carved_validation(tmp_path):
    task = tasks.get("lra/text", path=str(write_imdb(tmp_path) / "aclImdb"), max_length=5, validation_fraction=0.25,
                     use_cache=False)
    assert max(len(task.train[i]["input_ids"]) for i in range(len(task.train))) == 5
    assert bytes(task.test[0]["input_ids"].tolist()) == b"Terri"  # neg files come first
    assert (len(task.train), len(task.validation), len(task.test)) == (3, 1, 2)


def test_csv_with_string_labels_and_named_fields(tmp_path):
    path = tmp_path / "IMDB Dataset.csv"
    rows = [("Great, really \"great\".", "positive"), ("Bad.", "negative"), ("Fine\nfilm", "positive"),
            ("Awful", "negative"), ("Superb", "positive")]
    path.write_text("review,sentiment\n" + "".join('"' + t.replace('"', '""') + f'",{s}\n' for t, s in rows))
    task = tasks.get("lra/text", path=str(path), text_field="review", label_field="sentiment", test_fraction=0.2,
                     use_cache=False)
    assert task.metadata["label_names"] == ["negative", "positive"]
    everything = {**decoded(task.train), **decoded(task.test)}
    assert everything == {t: int(s == "positive") for t, s in rows} and len(task.test) == 1


def test_jsonl_split_files_with_integer_labels_and_num_labels(tmp_path):
    for split, rows in {"train": [("a", 0), ("b", 2), ("c", 1)], "test": [("d", 2)]}.items():
        (tmp_path / f"{split}.jsonl").write_text("\n".join(json.dumps({"text": t, "label": y}) for t, y in rows))
    task = tasks.get("lra/text", path=str(tmp_path), use_cache=False)
    assert task.num_labels == 3 and task.metadata["label_names"] is None
    assert decoded(task.test) == {"d": 2}
    assert tasks.get("lra/text", path=str(tmp_path), num_labels=5, use_cache=False).num_labels == 5
    with pytest.raises(ValueError, match="num_labels=2 but the labels go up to 2"):
        tasks.get("lra/text", path=str(tmp_path), num_labels=2, use_cache=False)


def test_errors_name_the_file_line_and_setting(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"text": "ok", "label": 1}\n{"text": "ok", "label": 0}\n{"body": "no text", "label": 1}\n')
    with pytest.raises(ValueError, match=r"data\.jsonl line 3: no 'text'.*text_field="):
        tasks.get("lra/text", path=str(path), use_cache=False)
    with pytest.raises(FileNotFoundError, match="nothing-here does not exist.*aclImdb"):
        tasks.get("lra/text", path=str(tmp_path / "nothing-here"))


def test_cache_returns_the_same_tensors(tmp_path):
    root = write_imdb(tmp_path)
    first, second = (tasks.get("lra/text", path=str(root), max_length=8) for _ in range(2))
    assert torch.equal(first.train[3]["input_ids"], second.train[3]["input_ids"])


def test_hf_dataset_on_disk(tmp_path):
    datasets = pytest.importorskip("datasets")
    dd = datasets.DatasetDict({
        "train": datasets.Dataset.from_dict({"text": ["good", "bad", "fine"], "label": [1, 0, 1]}),
        "test": datasets.Dataset.from_dict({"text": ["meh"], "label": [0]}),
        "unsupervised": datasets.Dataset.from_dict({"text": ["?"], "label": [-1]}),
    })
    dd.save_to_disk(tmp_path / "imdb")
    task = tasks.get("lra/text", path=str(tmp_path / "imdb"), use_cache=False)
    assert decoded(task.train) == {"good": 1, "bad": 0, "fine": 1} and decoded(task.test) == {"meh": 0}
