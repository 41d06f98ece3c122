"""lra/pathfinder: label semantics by flood fill, balance, determinism, cache, row-major order, resolutions."""

import numpy as np
import pytest
import torch

from manticore import tasks
from manticore.tasks import pathfinder
from manticore.tasks.streams import LRA_STREAMS, split_rng

SMALL = dict(num_train=40, num_test=10, num_validation=10, use_cache=False)


def connected(mask: np.ndarray, a, b) -> bool:
    """Whether pixels a and b are in the same 8-connected component of mask (R, R) (flood fill)."""
    if not (mask[tuple(a)] and mask[tuple(b)]):
        return False
    reached = np.zeros_like(mask)
    reached[tuple(a)] = True
    while True:
        padded = np.pad(reached, 1)
        grown = np.zeros_like(mask)
        for dr in (0, 1, 2):
            for dc in (0, 1, 2):
                grown |= padded[dr:dr + mask.shape[0], dc:dc + mask.shape[1]]
        grown &= mask
        if grown[tuple(b)]:
            return True
        if (grown == reached).all():
            return False
        reached = grown


def check_semantics(drawn: pathfinder.PathfinderImage, same: bool) -> None:
    image, (a, b), snakes = drawn
    assert image.dtype == np.uint8 and snakes.dtype == bool and len(snakes) >= 2
    assert image[tuple(a)] > 0 and image[tuple(b)] > 0
    assert (image[snakes.any(0)] > 0).all()  # every snake pixel is drawn
    if same:
        assert snakes[0][tuple(a)] and snakes[0][tuple(b)]
        assert connected(snakes[0], a, b)  # through that snake's own pixels
    else:
        assert snakes[0][tuple(a)] and snakes[1][tuple(b)]
        assert not connected(snakes[0] | snakes[1], a, b)  # the target snakes don't touch
    assert connected(image > 0, a, b) == same  # the label is what the picture shows


def test_snakes_never_touch_each_other():
    drawn = pathfinder.generate_image(np.random.default_rng(0), 32, 14, same=False)
    for i, mask in enumerate(drawn.snakes):
        grown = np.pad(mask, 1)
        grown = np.stack([grown[r:r + 32, c:c + 32] for r in range(3) for c in range(3)]).any(0)
        others = np.delete(drawn.snakes, i, axis=0).any(0)
        assert not (grown & others).any()


@pytest.mark.parametrize("contour_length", [6, 9, 14])
def test_label_semantics_by_flood_fill(contour_length):
    rng = np.random.default_rng(contour_length)
    for i in range(30):
        same = i % 2 == 0
        drawn = pathfinder.generate_image(rng, 32, contour_length, same)
        check_semantics(drawn, same)
        assert len(drawn.snakes) <= 2 + pathfinder.default_num_distractors(32, contour_length)


@pytest.mark.parametrize("resolution", [64, 128])
def test_higher_resolutions_generate(resolution):
    rng = np.random.default_rng(resolution)
    for same in (True, False, True, False):
        drawn = pathfinder.generate_image(rng, resolution, 14, same)
        assert drawn.image.shape == (resolution, resolution)
        check_semantics(drawn, same)
    task = tasks.get("lra/pathfinder", resolution=resolution, num_train=4, num_test=2, num_validation=2,
                     use_cache=False)
    assert task.max_length == resolution ** 2 == task.train[0]["input_ids"].shape[0]


def test_task_examples_labels_and_tokens():
    task = tasks.get("lra/pathfinder", **SMALL)
    assert (task.kind, task.num_labels, task.vocab_size, task.max_length) == ("classification", 2, 256, 1024)
    for split, size in ((task.train, 40), (task.validation, 10), (task.test, 10)):
        assert len(split) == size
        labels = torch.stack([split[i]["labels"] for i in range(size)])
        assert labels.dim() == 1 and labels.sum().item() == size // 2  # exactly balanced
        ids = split[0]["input_ids"]
        assert ids.dtype == torch.long and ids.shape == (1024,)
        assert ids.min() >= 0 and ids.max() <= 255 and (ids == 255).any() and (ids == 0).any()
    batch = task.collate([task.train[i] for i in range(3)])
    assert batch["input_ids"].shape == (3, 1024) and batch["labels"].shape == (3,)


def test_flattening_is_row_major():
    task = tasks.get("lra/pathfinder", seed=5, **SMALL)
    rng = split_rng(5, "train", LRA_STREAMS)
    images, labels = pathfinder.generate_images(rng, 40)
    ids = task.train[3]["input_ids"]
    assert ids.tolist() == [int(images[3][r, c]) for r in range(32) for c in range(32)]
    assert torch.equal(task.train.labels, torch.from_numpy(labels))


def test_deterministic_per_seed_with_separate_split_streams():
    first, again = (tasks.get("lra/pathfinder", seed=1, **SMALL) for _ in range(2))
    other = tasks.get("lra/pathfinder", seed=2, **SMALL)
    assert torch.equal(first.train.input_ids, again.train.input_ids)
    assert torch.equal(first.test.labels, again.test.labels)
    assert not torch.equal(first.train.input_ids, other.train.input_ids)
    assert not torch.equal(first.train.input_ids[:10], first.test.input_ids)


def test_num_distractors():
    rng = np.random.default_rng(0)
    assert len(pathfinder.generate_image(rng, 32, 14, True, num_distractors=0).snakes) == 2
    assert pathfinder.default_num_distractors(32, 14) == 5  # LRA: 20 // (14 // 3)
    plain = tasks.get("lra/pathfinder", num_distractors=0, **SMALL)
    busy = tasks.get("lra/pathfinder", num_distractors=8, **SMALL)
    assert (plain.train.input_ids > 0).sum() < (busy.train.input_ids > 0).sum()


def test_cache_builds_once(monkeypatch):
    settings = dict(SMALL, use_cache=True, seed=9)
    built = tasks.get("lra/pathfinder", **settings)

    def fail(*args, **kwargs):
        raise AssertionError("generated again instead of loading the cache")

    monkeypatch.setattr(pathfinder, "generate_images", fail)
    loaded = tasks.get("lra/pathfinder", **settings)
    assert torch.equal(loaded.train.input_ids, built.train.input_ids)
    assert torch.equal(loaded.validation.labels, built.validation.labels)


@pytest.mark.parametrize("settings, named", [
    (dict(resolution=48), "resolution"),
    (dict(contour_length=1), "contour_length"),
    (dict(contour_length=6.5), "contour_length"),
    (dict(contour_length=46), "contour_length"),  # longer than fits at 32 x 32
    (dict(num_distractors=-1), "num_distractors"),
    (dict(num_test=-2), "num_test"),
])
def test_bad_settings_are_named(settings, named):
    with pytest.raises(ValueError, match=named):
        tasks.get("lra/pathfinder", use_cache=False, **settings)


def test_generate_image_rejects_bad_geometry():
    with pytest.raises(ValueError, match="contour_length=200"):
        pathfinder.generate_image(np.random.default_rng(0), 32, 200, True)
    with pytest.raises(ValueError, match="resolution"):
        pathfinder.generate_image(np.random.default_rng(0), 100, 14, True)
