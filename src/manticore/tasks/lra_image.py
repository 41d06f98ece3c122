"""Sequential image classification, LRA's "image" task (CIFAR-10 as grayscale pixel sequences): `lra/image`.

Sources (`path`):
- CIFAR-10, python version: the `cifar-10-batches-py` folder (or a folder holding it) with the pickled
  batches `data_batch_1` .. `data_batch_5` (train) and `test_batch`: dicts with b"data", (N, 3072) uint8
  (1024 red, then 1024 green, then 1024 blue values, each plane a 32x32 image row by row) and b"labels".
- idx files (MNIST, Fashion-MNIST): `train-images-idx3-ubyte`, `train-labels-idx1-ubyte`,
  `t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte`, each optionally gzipped (.gz). The name
  "fashion-mnist" stands for Debian's copy (`apt-get install dataset-fashion-mnist`) in NAMED_PATHS.
- a .npz file with x_train, y_train, x_test, y_test (and optionally x_val, y_val); images (N, H, W) gray,
  or RGB as (N, H, W, 3) (Keras' layout) or (N, 3, H, W); integer pixels 0..255.

Tokens: RGB becomes gray = round(0.299 R + 0.587 G + 0.114 B) (ITU-R BT.601 luma, as PIL's "L" and
tf.image.rgb_to_grayscale; halves round up), then each image is flattened row-major, so token
row * W + col is pixel (row, col). Ids are the gray levels 0..255 (vocab 256); every sequence is H * W long
(1024 for CIFAR-10, 784 for MNIST). Labels are class ids; num_labels is max id + 1 unless given.
"""

from __future__ import annotations

import gzip
import pickle
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..checks import check_int
from .base import SequenceDataset, Task
from .cache import cached
from .files import carve_splits, check_fractions, count_labels, source_fingerprint
from .spec import TaskSpec

NAMED_PATHS = {"fashion-mnist": Path("/usr/share/datasets/fashion-mnist")}  # Debian: dataset-fashion-mnist
NAME = "lra/image"
LUMA = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601
LAYOUTS = ("a cifar-10-batches-py folder (data_batch_1..5, test_batch); a folder of idx files "
           "(train-images-idx3-ubyte[.gz], train-labels-idx1-ubyte[.gz], t10k-images-idx3-ubyte[.gz], "
           "t10k-labels-idx1-ubyte[.gz]); a .npz with x_train, y_train, x_test, y_test; or 'fashion-mnist'")
IDX_NAME = re.compile(r"^(train|t10k)-(images|labels)[-.]idx[13]-ubyte(\.gz)?$")

Images = dict[str, tuple[np.ndarray, np.ndarray]]  # split -> (pixels (N, H, W) or (N, H, W, 3) uint8, labels (N,))


def to_gray(images: np.ndarray) -> np.ndarray:
    """(N, H, W, 3) RGB uint8 -> (N, H, W) uint8 luma; (N, H, W) is returned as it is."""
    if images.ndim == 3:
        return images
    return np.clip(np.floor(images.astype(np.float64) @ LUMA + 0.5), 0, 255).astype(np.uint8)


def to_tokens(images: np.ndarray) -> torch.Tensor:
    """(N, H, W[, 3]) -> (N, H * W) uint8, gray and flattened row-major."""
    gray = to_gray(images)
    return torch.from_numpy(np.ascontiguousarray(gray.reshape(len(gray), -1)))


# --- readers ---------------------------------------------------------------------------------------------


def read_cifar(folder: Path) -> Images:
    """cifar-10-batches-py -> train from data_batch_1..5, test from test_batch; pixels (N, 32, 32, 3)."""
    batches = sorted(folder.glob("data_batch_*"), key=lambda f: (len(f.name), f.name))
    if not batches:
        raise FileNotFoundError(f"{folder} has no data_batch_* files. Accepted: {LAYOUTS}.")
    splits = {"train": _concat([_cifar_batch(f) for f in batches])}
    if (folder / "test_batch").is_file():
        splits["test"] = _cifar_batch(folder / "test_batch")
    return splits


class CifarUnpickler(pickle.Unpickler):
    """Unpickles CIFAR's python batches and nothing else: dicts, lists, bytes, strings and numbers are built in;
    of the classes a pickle can name, only numpy's array reconstruction is allowed. Any other (a function to
    call, an object to build) is refused before it runs, with a named error."""

    ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
               ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
               ("numpy._core.multiarray", "scalar")}

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(
                f"refused to load {module}.{name}: a CIFAR batch holds only dicts, lists, bytes, strings, "
                "numbers and numpy arrays")
        return super().find_class(module, name)


def _cifar_batch(file: Path) -> tuple[np.ndarray, np.ndarray]:
    with open(file, "rb") as f:
        try:
            batch = CifarUnpickler(f, encoding="bytes").load()
        except Exception as err:  # a truncated, foreign or malicious file fails in many ways
            raise ValueError(f"{file}: not a CIFAR-10 python batch ({err}).") from None
    get = lambda key: batch.get(key.encode(), batch.get(key)) if isinstance(batch, dict) else None  # noqa: E731
    data, labels = get("data"), get("labels")
    if data is None or labels is None:
        keys = sorted(batch) if isinstance(batch, dict) else type(batch).__name__
        raise ValueError(f"{file}: expected a dict with b'data' (N, 3072) uint8 and b'labels', got {keys}.")
    data = np.asarray(data)
    if data.ndim != 2 or data.shape[1] != 3072 or len(data) != len(labels):
        raise ValueError(f"{file}: b'data' must be (N, 3072) with N = len(b'labels') = {len(labels)}, "
                         f"got {data.shape}.")
    return data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1), np.asarray(labels, dtype=np.int64)


def read_idx(file: Path) -> np.ndarray:
    """An idx file (MNIST's format: big-endian magic 0x0000 0x08 ndim, ndim int32 sizes, uint8 data)."""
    raw = (gzip.open if file.name.endswith(".gz") else open)(file, "rb").read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] != 0x08:
        raise ValueError(f"{file}: not an unsigned-byte idx file (magic {raw[:4].hex() or 'missing'}, "
                         "expected 000008nn).")
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    data = np.frombuffer(raw, dtype=np.uint8, offset=4 + 4 * ndim)
    if data.size != int(np.prod(shape)):
        raise ValueError(f"{file}: header says shape {shape} ({int(np.prod(shape))} values) but holds {data.size}.")
    return data.reshape(shape)


def read_idx_folder(folder: Path) -> Images:
    files = {IDX_NAME.match(f.name).groups()[:2]: f for f in sorted(folder.iterdir()) if IDX_NAME.match(f.name)}
    splits = {}
    for prefix, split in (("train", "train"), ("t10k", "test")):
        images, labels = files.get((prefix, "images")), files.get((prefix, "labels"))
        if images is None or labels is None:
            continue
        x, y = read_idx(images), read_idx(labels).astype(np.int64)
        if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
            raise ValueError(f"{images} {x.shape} and {labels} {y.shape} must be (N, H, W) images and (N,) labels.")
        splits[split] = (x, y)
    if "train" not in splits:
        raise FileNotFoundError(f"{folder} has no train-images-idx3-ubyte[.gz] with train-labels-idx1-ubyte[.gz]. "
                                f"Accepted: {LAYOUTS}.")
    return splits


def read_npz(file: Path) -> Images:
    with np.load(file, allow_pickle=False) as arrays:
        splits = {}
        for split, suffix in (("train", "train"), ("validation", "val"), ("test", "test")):
            if f"x_{suffix}" in arrays and f"y_{suffix}" in arrays:
                splits[split] = (_npz_images(file, f"x_{suffix}", arrays[f"x_{suffix}"]),
                                 _npz_labels(file, f"y_{suffix}", arrays[f"y_{suffix}"]))
    if "train" not in splits:
        raise ValueError(f"{file}: needs arrays x_train and y_train (and x_test, y_test); has {sorted(np.load(file))}.")
    for split, (x, y) in splits.items():
        if len(x) != len(y):
            raise ValueError(f"{file}: {split} has {len(x)} images but {len(y)} labels.")
    return splits


def _npz_labels(file: Path, key: str, y: np.ndarray) -> np.ndarray:
    """(N,) integer class ids; float labels are accepted only when they hold whole numbers (never truncated)."""
    y = np.asarray(y).reshape(-1)
    if np.issubdtype(y.dtype, np.floating) and y.size and np.all(np.isfinite(y)) and np.all(y == np.round(y)):
        y = y.astype(np.int64)
    if not np.issubdtype(y.dtype, np.integer) or isinstance(y.dtype, np.dtypes.BoolDType):
        raise ValueError(f"{file}: {key} must hold integer class ids, got {y.dtype}"
                         f"{f' such as {y[:3].tolist()}' if y.size else ''}.")
    return y.astype(np.int64)


def _npz_images(file: Path, key: str, x: np.ndarray) -> np.ndarray:
    """(N, H, W), (N, H, W, 1|3) or (N, 1|3, H, W) integer pixels -> (N, H, W) or (N, H, W, 3) uint8."""
    if x.size == 0:
        raise ValueError(f"{file}: {key} holds no images (shape {x.shape}).")
    if not np.issubdtype(x.dtype, np.integer) or (x.size and (x.min() < 0 or x.max() > 255)):
        raise ValueError(f"{file}: {key} must hold integer pixels 0..255, got {x.dtype}"
                         f"{f' in [{x.min()}, {x.max()}]' if x.size else ''}.")
    if x.ndim == 4 and x.shape[-1] not in (1, 3) and x.shape[1] in (1, 3):
        x = x.transpose(0, 2, 3, 1)  # channels first -> last
    if x.ndim == 4 and x.shape[-1] == 1:
        x = x[..., 0]
    if x.ndim not in (3, 4) or (x.ndim == 4 and x.shape[-1] != 3):
        raise ValueError(f"{file}: {key} has shape {x.shape}; accepted: (N, H, W), (N, H, W, 3) or (N, 3, H, W).")
    return x.astype(np.uint8)


def find_source(path: str | Path) -> tuple[str, Path, list[Path]]:
    """-> (layout "npz" | "cifar" | "idx", the file or folder to read, the files it reads)."""
    path = resolve_path(path)
    if path.is_file():
        if path.suffix.lower() != ".npz":
            raise ValueError(f"{path}: unknown image file type {path.suffix!r}. Accepted: {LAYOUTS}.")
        return "npz", path, [path]
    for folder in (path, path / "cifar-10-batches-py"):
        batches = sorted(folder.glob("data_batch_*")) + sorted(folder.glob("test_batch")) if folder.is_dir() else []
        if batches:
            return "cifar", folder, batches
    idx = sorted(f for f in path.iterdir() if IDX_NAME.match(f.name))
    if idx:
        return "idx", path, idx
    raise ValueError(f"{path} has neither CIFAR-10 batches nor idx files. Accepted: {LAYOUTS}.")


def read_images(path: str | Path) -> Images:
    """Any accepted layout (see the module docstring) -> split -> (pixels, labels)."""
    layout, location, _ = find_source(path)
    return {"npz": read_npz, "cifar": read_cifar, "idx": read_idx_folder}[layout](location)


def resolve_path(path: str | Path) -> Path:
    """A path, or a name in NAMED_PATHS; FileNotFoundError naming what is accepted."""
    local = Path(path)
    if not local.exists() and str(path) in NAMED_PATHS:
        local = NAMED_PATHS[str(path)]
        if not local.exists():
            raise FileNotFoundError(f"{path!r} is read from {local}, which is missing; install it with "
                                    f"`apt-get install dataset-fashion-mnist` or pass path= to the files.")
    if not local.exists():
        raise FileNotFoundError(f"{path} does not exist. Accepted: {LAYOUTS}.")
    return local


def _concat(parts: list[tuple[np.ndarray, np.ndarray]]) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate([x for x, _ in parts]), np.concatenate([y for _, y in parts])


# --- the task --------------------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class LraImageSettings:
    """lra/image: where the images are, and which of them to keep."""

    path: str = "cifar-10-batches-py"
    """A cifar-10-batches-py folder, a folder of idx files (MNIST), a .npz file, or 'fashion-mnist'."""
    num_labels: int | None = None
    """Classes; None: the largest label id + 1."""
    max_examples: int | None = None
    """Caps the images kept per split (None: all)."""
    seed: int = 0
    """Seeds the choice of the images carved into splits the source lacks."""
    validation_fraction: float = 0.0
    """The share of train carved into a validation split, if the source has none (0: none)."""
    test_fraction: float = 0.1
    """The share of train carved into a test split, if the source has none (CIFAR-10 and MNIST have one)."""

    def __post_init__(self):
        for name in ("num_labels", "max_examples"):
            if getattr(self, name) is not None:
                check_int(getattr(self, name), name, minimum=1, where=NAME)
        check_int(self.seed, "seed", minimum=0, where=NAME)
        check_fractions(self.validation_fraction, self.test_fraction, NAME)


def lra_image_task(settings: LraImageSettings, use_cache: bool = True) -> Task:
    """Sequential (grayscale, row-major) image classification from `path`; see the module docstring.

    seed, validation_fraction and test_fraction carve splits the source lacks from train (CIFAR-10 and
    MNIST have train and test, so only validation); then max_examples caps the images kept per split.
    """
    s = settings
    _, resolved, files = find_source(s.path)

    def build() -> dict[str, Any]:
        images = read_images(resolved)
        shapes = {split: x.shape[1:] for split, (x, _) in images.items()}
        if len(set(shapes.values())) > 1:
            sizes = ", ".join(f"{split}: {shape}" for split, shape in shapes.items())
            raise ValueError(f"{resolved}: the splits' images differ in size ({sizes}); every split must hold "
                             "images of one size.")
        index = carve_splits({split: list(range(len(y))) for split, (_, y) in images.items()},
                             s.validation_fraction, s.test_fraction, s.seed)
        out = {}
        for split, rows in index.items():
            x, y = images[split] if split in images else images["train"]
            rows = np.asarray(rows[:s.max_examples], dtype=np.int64)
            out[split] = {"input_ids": to_tokens(x[rows]), "labels": torch.from_numpy(y[rows])}
        return out

    recorded = {"path": str(resolved.resolve()), "source": source_fingerprint(files), "max_examples": s.max_examples,
                "seed": s.seed, "validation_fraction": s.validation_fraction, "test_fraction": s.test_fraction}
    data = cached(NAME, recorded, build, use_cache)
    count = count_labels({split: d["labels"] for split, d in data.items()}, s.num_labels, str(resolved))
    datasets = {split: SequenceDataset(d["input_ids"], d["labels"]) for split, d in data.items()}
    length = data["train"]["input_ids"].shape[1]
    return Task(name=NAME, kind="classification", vocab_size=256, train=datasets["train"], test=datasets["test"],
                validation=datasets.get("validation"), num_labels=count, max_length=length,
                pad_token_id=0,  # never used: every image of a source has the same H * W
                metadata={"path": str(resolved), "examples": {split: len(d) for split, d in datasets.items()},
                          "sequence_length": length})


TASKS = (TaskSpec(NAME, LraImageSettings, lra_image_task, "LRA image: sequential classification of "
                  "grayscale pixel sequences (CIFAR-10, MNIST, ...)."),)
"""The task of this module, for the registry (registry.py)."""
