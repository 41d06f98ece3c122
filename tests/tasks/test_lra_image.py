"""lra/image: CIFAR-10 pickles, idx files and .npz, as grayscale pixels flattened row-major."""

import gzip
import pickle

import numpy as np
import pytest

from manticore import tasks
from manticore.tasks import lra_image
from manticore.tasks.lra_image import to_gray


def cifar_batch(labels, seed):
    """A batch dict as CIFAR-10 pickles it: b'data' (N, 3072) = R plane, G plane, B plane, each 32x32 row-major."""
    rgb = np.random.default_rng(seed).integers(0, 256, (len(labels), 32, 32, 3), dtype=np.uint8)
    data = rgb.transpose(0, 3, 1, 2).reshape(len(labels), -1)
    return rgb, {b"batch_label": b"x", b"labels": list(labels), b"data": data}


def write_cifar(root):
    folder = root / "cifar-10-batches-py"
    folder.mkdir(parents=True)
    images = {}
    for name, labels, seed in (("data_batch_1", [0, 1, 2], 1), ("data_batch_2", [3, 9], 2), ("test_batch", [4, 5], 3)):
        rgb, batch = cifar_batch(labels, seed)
        if name == "data_batch_1":  # known pixels: (row 0, col 1) pure red, (row 2, col 0) = (10, 20, 30)
            rgb[0, 0, 1], rgb[0, 2, 0] = (255, 0, 0), (10, 20, 30)
            batch[b"data"] = rgb.transpose(0, 3, 1, 2).reshape(len(labels), -1)
        (folder / name).write_bytes(pickle.dumps(batch))
        images[name] = rgb
    return root, images


def write_idx(path, array, compress):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in array.shape)
    (gzip.open if compress else open)(path, "wb").write(header + array.astype(np.uint8).tobytes())


def test_cifar_pickles_become_gray_row_major_tokens(tmp_path):
    root, images = write_cifar(tmp_path)
    task = tasks.get("lra/image", path=str(root), use_cache=False)
    assert (task.kind, task.vocab_size, task.max_length, task.num_labels) == ("classification", 256, 1024, 10)
    assert (len(task.train), len(task.test)) == (5, 2)
    first = task.train[0]["input_ids"]
    assert first[0 * 32 + 1] == 76  # round(0.299 * 255) = round(76.245)
    assert first[2 * 32 + 0] == 18  # round(0.299*10 + 0.587*20 + 0.114*30) = round(18.15)
    expected = np.floor(images["data_batch_1"][0].astype(float) @ [0.299, 0.587, 0.114] + 0.5).reshape(-1)
    assert first.tolist() == expected.astype(int).tolist()
    assert [int(task.train[i]["labels"]) for i in range(5)] == [0, 1, 2, 3, 9]
    assert [int(task.test[i]["labels"]) for i in range(2)] == [4, 5]


def test_gray_conversion_of_known_pixels():
    pixels = np.array([[[[0, 0, 0], [255, 255, 255], [0, 255, 0], [0, 0, 255]]]], dtype=np.uint8)
    assert to_gray(pixels).tolist() == [[[0, 255, 150, 29]]]  # 0.587*255 = 149.7, 0.114*255 = 29.07


@pytest.mark.parametrize("compress", [False, True])
def test_idx_files_flatten_row_major(tmp_path, compress):
    rng = np.random.default_rng(0)
    train, test = rng.integers(0, 256, (4, 3, 5)), rng.integers(0, 256, (2, 3, 5))  # H=3 != W=5
    ext = ".gz" if compress else ""
    write_idx(tmp_path / f"train-images-idx3-ubyte{ext}", train, compress)
    write_idx(tmp_path / f"train-labels-idx1-ubyte{ext}", np.array([1, 0, 1, 2]), compress)
    write_idx(tmp_path / f"t10k-images-idx3-ubyte{ext}", test, compress)
    write_idx(tmp_path / f"t10k-labels-idx1-ubyte{ext}", np.array([2, 2]), compress)
    task = tasks.get("lra/image", path=str(tmp_path), use_cache=False)
    assert task.max_length == 15 and task.num_labels == 3
    x = task.train[1]["input_ids"]
    assert x[1 * 5 + 4] == train[1, 1, 4] and x.tolist() == train[1].reshape(-1).tolist()
    assert task.test[1]["input_ids"].tolist() == test[1].reshape(-1).tolist()


def test_npz_layouts_and_carved_validation(tmp_path):
    rng = np.random.default_rng(0)
    rgb_last = rng.integers(0, 256, (10, 4, 4, 3), dtype=np.uint8)
    path = tmp_path / "cifar.npz"
    np.savez(path, x_train=rgb_last, y_train=np.arange(10) % 4, x_test=rgb_last[:2], y_test=np.array([[1], [3]]))
    task = tasks.get("lra/image", path=str(path), validation_fraction=0.2, use_cache=False)
    assert (len(task.train), len(task.validation), len(task.test), task.num_labels) == (8, 2, 2, 4)
    assert task.test[0]["input_ids"].tolist() == to_gray(rgb_last[:1]).reshape(-1).tolist()
    first = tmp_path / "first.npz"
    np.savez(first, x_train=rgb_last.transpose(0, 3, 1, 2), y_train=np.zeros(10, int))
    carved = tasks.get("lra/image", path=str(first), num_labels=10, use_cache=False)
    assert carved.num_labels == 10 and len(carved.test) == 1 and len(carved.train) == 9
    ids = sorted(tuple(ds[i]["input_ids"].tolist()) for ds in (carved.train, carved.test) for i in range(len(ds)))
    assert ids == sorted(tuple(row) for row in to_gray(rgb_last).reshape(10, -1).tolist())


def test_named_path_and_malformed_files(tmp_path, monkeypatch):
    write_idx(tmp_path / "train-images-idx3-ubyte", np.zeros((2, 2, 2)), False)
    (tmp_path / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x09\x01garbage")
    with pytest.raises(ValueError, match=r"train-labels-idx1-ubyte: not an unsigned-byte idx file"):
        tasks.get("lra/image", path=str(tmp_path), use_cache=False)
    monkeypatch.setitem(lra_image.NAMED_PATHS, "tiny-mnist", tmp_path / "absent")
    with pytest.raises(FileNotFoundError, match="apt-get install dataset-fashion-mnist"):
        tasks.get("lra/image", path="tiny-mnist")
    with pytest.raises(FileNotFoundError, match="nope does not exist.*cifar-10-batches-py.*idx"):
        tasks.get("lra/image", path=str(tmp_path / "nope"))
    floats = tmp_path / "f.npz"
    np.savez(floats, x_train=np.zeros((2, 3, 3), np.float32), y_train=np.zeros(2, int))
    with pytest.raises(ValueError, match=r"f\.npz: x_train must hold integer pixels 0\.\.255, got float32"):
        tasks.get("lra/image", path=str(floats), use_cache=False)
    bad = tmp_path / "cifar" / "cifar-10-batches-py"
    bad.mkdir(parents=True)
    (bad / "data_batch_1").write_bytes(pickle.dumps({b"pixels": []}))
    with pytest.raises(ValueError, match=r"data_batch_1: expected a dict with b'data'"):
        tasks.get("lra/image", path=str(tmp_path / "cifar"), use_cache=False)


def test_cache_and_max_examples(tmp_path):
    root, _ = write_cifar(tmp_path)
    task = tasks.get("lra/image", path=str(root / "cifar-10-batches-py"), max_examples=2)
    again = tasks.get("lra/image", path=str(root / "cifar-10-batches-py"), max_examples=2)
    assert len(task.train) == len(again.train) == 2 and again.train[1]["input_ids"].equal(task.train[1]["input_ids"])
