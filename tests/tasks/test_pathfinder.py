"""lra/pathfinder: snakes2-like geometry (dashes, turns, spacing, markers on ends), antialiased grey levels, no
shortcuts (marker distance, flood fill), determinism, cache, presets, row-major order, resolutions."""

import numpy as np
import pytest
import torch
from scipy import ndimage

from manticore import tasks
from manticore.tasks import pathfinder
from manticore.tasks.seeded_rng import LRA_STREAMS, split_rng

SMALL = dict(num_train=40, num_test=10, num_validation=10, use_cache=False)


def balanced_accuracy(predicted: np.ndarray, labels: np.ndarray) -> float:
    predicted, labels = predicted.astype(bool), labels.astype(bool)
    return 0.5 * (predicted[labels].mean() + (~predicted[~labels]).mean())


def distance_rule(distance: np.ndarray, labels: np.ndarray) -> float:
    """The best one-threshold rule on marker distance (either direction), fitted on the first half ->
    balanced accuracy on the held-out second half."""
    half = len(labels) // 2
    fit = max(((balanced_accuracy(sign * distance[:half] <= sign * t, labels[:half]), t, sign)
               for t in np.unique(distance[:half]) for sign in (1, -1)), key=lambda c: c[0])
    _, t, sign = fit
    return balanced_accuracy(sign * distance[half:] <= sign * t, labels[half:])


def flood_fill_rule(images: np.ndarray, markers: np.ndarray, threshold: int) -> np.ndarray:
    """Predict 1 where both markers are in one 8-connected component of the pixels above threshold."""
    predicted = []
    for image, (a, b) in zip(images, markers):
        components, _ = ndimage.label(image > threshold, np.ones((3, 3), bool))
        predicted.append(components[tuple(a)] > 0 and components[tuple(a)] == components[tuple(b)])
    return np.array(predicted)


def turns(paddles: np.ndarray) -> np.ndarray:
    """Absolute changes of direction (radians) between consecutive paddles (n, 2, 2)."""
    direction = paddles[:, 1] - paddles[:, 0]
    heading = np.arctan2(direction[:, 0], direction[:, 1])
    return np.abs(np.angle(np.exp(1j * np.diff(heading))))


def check_scene(scene: pathfinder.PathfinderScene, resolution: int, contour_length: int, same: bool) -> None:
    """What every image shows: shape, grey levels, paddles of the reference's length, markers on target ends."""
    g = pathfinder.GEOMETRY[resolution]
    image, markers, snakes, paddles = scene.image, scene.markers, scene.snakes, scene.paddles
    assert image.shape == (resolution, resolution) and image.dtype == np.uint8 and image.max() == 255
    assert len(np.unique(image)) > 10  # antialiased grey levels, not black and white
    assert markers.shape == (2, 2) and markers.dtype.kind == "i"
    assert snakes.shape == (len(paddles), resolution, resolution) and snakes.dtype == bool
    assert [len(p) for p in paddles[:2]] == [contour_length, contour_length]
    assert all(len(p) == max(1, contour_length // 3) for p in paddles[2:])
    assert len(paddles) <= 2 + pathfinder.default_num_distractors(resolution, contour_length)
    for p in paddles:
        assert np.allclose(np.hypot(*(p[:, 1] - p[:, 0]).T), g.paddle_length)
    # markers: the origin of target 0, and the terminal of target 0 (label 1) or of target 1 (label 0)
    assert np.array_equal(markers[0], paddles[0][0, 0])
    assert np.array_equal(markers[1], paddles[0 if same else 1][-1, 1])
    assert snakes[0][tuple(markers[0])] and snakes[0 if same else 1][tuple(markers[1])]
    assert (image[snakes.any(0)] > 0).all()  # every snake pixel is drawn
    assert (image[tuple(markers.T)] > 128).all()  # marker centres are bright


@pytest.mark.parametrize("contour_length", [6, 9, 14])
def test_images_show_dashed_snakes_with_markers_on_target_ends(contour_length):
    rng = np.random.default_rng(contour_length)
    for i in range(16):
        check_scene(pathfinder.generate_scene(rng, 32, contour_length, same=i % 2 == 0), 32, contour_length, i % 2 == 0)


def test_dashes_gaps_turns_and_spacing_follow_the_reference():
    """Gaps of about 2m between dashes; turns within pi / (2 continuity), small ones likelier; distractors
    keep the clearance from every other snake; a target is as many pixels as the reference's (4.5 a paddle
    above 5% of its maximum, measured on the reference's own 32 px output)."""
    rng = np.random.default_rng(7)
    g = pathfinder.GEOMETRY[32]
    gaps, all_turns, pixels_per_paddle = [], [], []
    for i in range(12):
        scene = pathfinder.generate_scene(rng, 32, 14, same=bool(i % 2))
        clearance = g.clearance(scene.margin)
        for k, p in enumerate(scene.paddles):
            gaps += list(np.hypot(*(p[1:, 0] - p[:-1, 1]).T) / scene.margin)
            all_turns += list(turns(p))
            if k >= 2:  # a distractor: its centre line keeps the clearance from every other snake's
                mine = p[:, :1] + np.linspace(0, 1, 9)[:, None] * (p[:, 1:] - p[:, :1])  # (n, 9, 2) points
                others = np.concatenate([q for j, q in enumerate(scene.paddles) if j != k])
                theirs = others[:, :1] + np.linspace(0, 1, 9)[:, None] * (others[:, 1:] - others[:, :1])
                nearest = np.hypot(*(mine.reshape(-1, 1, 2) - theirs.reshape(1, -1, 2)).transpose(2, 0, 1)).min()
                assert nearest >= clearance - 2 / g.fine, (nearest, clearance)
        target = pathfinder._strokes(32, scene.paddles[0][:, 0], scene.paddles[0][:, 1], g.thickness)
        canvas = np.zeros(32 * 32)
        np.maximum.at(canvas, target[0].reshape(-1), target[1].reshape(-1))
        pixels_per_paddle.append((canvas > 0.05 * canvas.max()).sum() / 14)
    gaps, all_turns = np.array(gaps), np.degrees(all_turns)
    assert gaps.min() > 0.3 and 1.7 <= np.median(gaps) <= 2.3, np.percentile(gaps, [0, 50, 100])
    assert all_turns.max() <= 90 + 1e-6 and 25 <= all_turns.mean() <= 40, (all_turns.max(), all_turns.mean())
    assert 3.8 <= np.mean(pixels_per_paddle) <= 5.0, np.mean(pixels_per_paddle)


@pytest.fixture(scope="module")
def lra32():
    """400 images per LRA contour length at 32 px, labels alternating: {length: (images, markers, labels)}."""
    data = {}
    for contour_length in pathfinder.CONTOUR_LENGTHS:
        rng = np.random.default_rng(100 + contour_length)
        labels = np.arange(400) % 2
        drawn = [pathfinder.generate_image(rng, 32, contour_length, bool(label)) for label in labels]
        data[contour_length] = (np.stack([d.image for d in drawn]), np.stack([d.markers for d in drawn]), labels)
    return data


def test_marker_distance_does_not_give_the_label_away(lra32):
    """A threshold on marker distance, fitted on 200 images, scores about chance on the other 200 (one
    standard error is about 0.035; the old generator scored 0.82 / 0.72 / 0.59)."""
    scores = {}
    for contour_length, (_, markers, labels) in lra32.items():
        scores[contour_length] = distance_rule(np.hypot(*(markers[:, 0] - markers[:, 1]).T).astype(float), labels)
    assert all(abs(s - 0.5) <= 0.1 for s in scores.values()), f"held-out balanced accuracy by length: {scores}"


@pytest.mark.parametrize("threshold", [0, 16, 64, 128])
def test_flood_fill_over_drawn_pixels_does_not_give_the_label_away(lra32, threshold):
    """Whether the markers are connected through pixels above a grey level predicts the label at about chance
    (on continuous strokes, as the old generator drew them, it scored 1.0)."""
    scores = {length: balanced_accuracy(flood_fill_rule(images, markers, threshold), labels)
              for length, (images, markers, labels) in lra32.items()}
    assert all(abs(s - 0.5) <= 0.1 for s in scores.values()), f"balanced accuracy at threshold {threshold}: {scores}"


def test_same_seed_same_images_and_no_repeats():
    first = [pathfinder.generate_image(np.random.default_rng(3), 32, 9, same) for same in (True, False)]
    again = [pathfinder.generate_image(np.random.default_rng(3), 32, 9, same) for same in (True, False)]
    for a, b in zip(first, again):
        assert np.array_equal(a.image, b.image) and np.array_equal(a.markers, b.markers)
    rng = np.random.default_rng(3)
    assert not np.array_equal(pathfinder.generate_image(rng, 32, 9).image, pathfinder.generate_image(rng, 32, 9).image)


@pytest.mark.parametrize("resolution", [64, 128])
def test_higher_resolutions_generate(resolution):
    rng = np.random.default_rng(resolution)
    g = pathfinder.GEOMETRY[resolution]
    for same in (True, False, True, False):
        scene = pathfinder.generate_scene(rng, resolution, 14, same)
        check_scene(scene, resolution, 14, same)
        assert scene.margin in g.margins
        assert (turns(scene.paddles[0]) <= np.pi / (2 * g.continuity) + 1e-9).all()
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
        assert len(torch.unique(ids)) > 10  # grey levels
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


def test_sizes_presets():
    assert pathfinder.SIZE_PRESETS["lra"] == {"num_train": 160_000, "num_validation": 20_000, "num_test": 20_000}
    assert pathfinder.SIZE_PRESETS["cpu"] == {"num_train": 20_000, "num_validation": 2_500, "num_test": 2_500}
    task = tasks.get("lra/pathfinder", preset="lra", num_train=4, num_test=2, num_validation=2, use_cache=False)
    assert (len(task.train), len(task.validation), len(task.test)) == (4, 2, 2)
    assert task.metadata["preset"] == "lra"


def test_num_distractors():
    rng = np.random.default_rng(0)
    assert len(pathfinder.generate_image(rng, 32, 14, True, num_distractors=0).snakes) == 2
    assert pathfinder.default_num_distractors(32, 14) == 5  # LRA: 20 // (14 // 3)
    assert [pathfinder.default_num_distractors(r, 14) for r in (64, 128)] == [5, 8]  # 22 // 4, 35 // 4
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
    (dict(contour_length=21), "contour_length"),  # longer than max_contour_length
    (dict(num_distractors=-1), "num_distractors"),
    (dict(num_test=-2), "num_test"),
    (dict(preset="huge"), "preset"),
])
def test_bad_settings_are_named(settings, named):
    with pytest.raises(ValueError, match=named):
        tasks.get("lra/pathfinder", use_cache=False, **settings)


def test_generate_image_rejects_bad_geometry():
    with pytest.raises(ValueError, match="contour_length=200"):
        pathfinder.generate_image(np.random.default_rng(0), 32, 200, True)
    with pytest.raises(ValueError, match="resolution"):
        pathfinder.generate_image(np.random.default_rng(0), 100, 14, True)
