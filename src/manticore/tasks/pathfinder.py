"""Long Range Arena Pathfinder and Path-X (Linsley et al., 2018; Tay et al., 2021): are two markers connected?

An image holds two target snakes of `contour_length` paddles, shorter distractor snakes and two marker discs
at snake ends. Label 1: both markers are on the ends of the same snake; label 0: on ends of the two different
target snakes. The image is flattened row-major into a sequence of pixel tokens 0-255 (32 x 32 -> 1024
tokens; 128 x 128 is Path-X, 16384 tokens). The difficulty is the contour length in paddles: LRA's are 6, 9
and 14; any integer from 2 to `max_contour_length(R)` is accepted.

Glossary
    R: resolution, the image is R x R pixels; coordinates are (row, column).
    paddle: a straight segment of `paddle_length` pixels; a snake is a chain of paddles, end to start.
    turn: the change of direction between consecutive paddles, at most `max_turn` radians.
    margin: background pixels (Chebyshev distance) kept between different snakes and their markers, so that
        pixels of different snakes never touch (not even diagonally).
    k: candidate directions tried at once for the next paddle; s: sample points along a paddle.

How an image is drawn (our numpy version of Linsley et al.'s `snakes2`, not a port): a snake starts at a
random free point and grows by a curvature-limited random walk; each step draws k candidate turns, rasterises
all k paddles at once, and keeps the first that stays inside the image and off the blocked pixels (other
snakes and reserved marker discs, dilated by the margin, and the snake's own older paddles). A target
snake that gets stuck restarts; a distractor (a third of the contour length) that gets stuck is dropped.
Both ends of each target snake reserve room for a marker, so a marker never touches another snake.

Differences from LRA's data, on purpose: paddles touch end to end (Linsley's have small gaps), so a snake is
one 8-connected set of pixels and the label is exactly "the markers are connected through drawn pixels";
strokes are 1 pixel wide, bright (255) on black (0), without antialiasing; for label 0 the two marked ends
are at most one contour length apart, like the ends of one snake, so distance between markers is no cue.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import NamedTuple

import numpy as np
import torch

from .base import SequenceDataset, Task
from .cache import cached
from .registry import register
from .streams import LRA_STREAMS, split_rng

RESOLUTIONS = (32, 64, 128)  # Pathfinder-32, -64 and Path-X
CONTOUR_LENGTHS = (6, 9, 14)  # LRA's difficulties: easy, intermediate, hard
STROKE = 255  # snakes and markers; the background is 0
CANDIDATES = 16  # k: directions tried at once for each paddle
START_TRIES = 20  # start points tried for one snake
IMAGE_TRIES = 100  # images restarted before giving up (reachable only with contours near the longest)


@dataclass(frozen=True)
class Geometry:
    """Sizes in pixels at one resolution. Paddles scale linearly with R (LRA's are 2, 5, 5 pixels), so the
    three resolutions show the same scene at finer detail; the other values follow LRA's settings."""

    paddle_length: float  # pixels per paddle; a contour of 14 paddles spans ~0.9 R of path
    margin: int  # background pixels kept between different snakes (LRA: 1, 1, 2-3)
    marker_radius: float  # marker disc radius (LRA: 1.5, 2.5, 3)
    distractor_budget: int  # distractor paddles in an image by default (LRA: 20, 22, 35)
    max_turn: float = np.pi / 5  # largest change of direction between consecutive paddles, radians
    padding: int = 1  # snakes keep off this many border pixels


GEOMETRY = {32: Geometry(2.0, 1, 1.5, 20), 64: Geometry(4.0, 1, 2.5, 22), 128: Geometry(8.0, 2, 3.0, 35)}


class PathfinderImage(NamedTuple):
    """One generated image and what it shows.

    image: (R, R) uint8. markers: (2, 2) int (row, column) of the two marker centres (snake end pixels).
    snakes: (S, R, R) bool, one mask per snake: [0] and [1] the targets, the rest distractors.
    """

    image: np.ndarray
    markers: np.ndarray
    snakes: np.ndarray


class Snake(NamedTuple):
    """A drawn snake."""

    pixels: np.ndarray  # (p, 2) int, every pixel of the snake in drawing order (with repeats)
    ends: np.ndarray  # (2, 2) int, its first and last pixel


# ------------------------------------------------------------------------------------------ raster helpers

@cache  # constant shapes; callers don't modify them
def _square(radius: int) -> np.ndarray:
    """Offsets (o, 2) of the (2 radius + 1)^2 square: a Chebyshev-distance dilation."""
    r = np.arange(-radius, radius + 1)
    return np.stack(np.meshgrid(r, r, indexing="ij"), -1).reshape(-1, 2)


@cache  # constant shapes; callers don't modify them
def _disc(radius: float) -> np.ndarray:
    """Offsets (o, 2) of the pixels within `radius` of the centre."""
    offsets = _square(int(np.floor(radius)))
    return offsets[(offsets ** 2).sum(-1) <= radius ** 2]


@cache  # constant shapes; callers don't modify them
def _dilated_disc(radius: float, margin: int) -> np.ndarray:
    """Offsets (o, 2) of a disc grown by the margin square (a Minkowski sum): the room a marker reserves."""
    return np.unique((_disc(radius)[:, None, :] + _square(margin)[None, :, :]).reshape(-1, 2), axis=0)


def _stamp(grid: np.ndarray, pixels: np.ndarray, offsets: np.ndarray) -> None:
    """Set grid (R, R) at every pixel (p, 2) + offset (o, 2), clipped to the image."""
    points = (pixels[:, None, :] + offsets[None, :, :]).reshape(-1, 2).clip(0, grid.shape[0] - 1)
    grid[points[:, 0], points[:, 1]] = True


# ------------------------------------------------------------------------------------------- drawing snakes

class _Canvas:
    """The state of one image while its snakes are drawn.

    Occupancy lives in a flat grid with a border that is blocked from the start, so that staying inside the
    image is part of the one lookup that checks collisions, and no index needs clipping.
    """

    def __init__(self, resolution: int, geometry: Geometry):
        self.resolution, self.geometry = resolution, geometry
        self.border = int(np.ceil(geometry.paddle_length + geometry.marker_radius)) + geometry.margin + 2
        self.width = resolution + 2 * self.border
        grid = np.ones((self.width, self.width), bool)
        low, high = self.border + geometry.padding, self.border + resolution - geometry.padding
        grid[low:high, low:high] = False
        self.blocked = grid.reshape(-1)  # (width^2,): no new snake pixel may land here
        self.margin = self._offsets(_square(geometry.margin))
        self.marker_room = self._offsets(_disc(geometry.marker_radius))  # a marker's pixels must be free
        self.reserved_marker = self._offsets(_dilated_disc(geometry.marker_radius, geometry.margin))
        self.samples = np.linspace(0.0, 1.0, int(np.ceil(2 * geometry.paddle_length)) + 1)[None, :, None]  # <= 0.5 px
        # own paddles this far back are blocked too: far enough along the snake to be clear of the margin
        self.own_lag = int(np.ceil((geometry.margin + 2) / geometry.paddle_length)) + 1

    def _offsets(self, offsets: np.ndarray) -> np.ndarray:
        """Image offsets (o, 2) -> flat grid offsets (o,)."""
        return offsets[:, 0] * self.width + offsets[:, 1]

    def index(self, pixels: np.ndarray) -> np.ndarray:
        """Image pixels (..., 2) -> flat grid indices (...)."""
        return (pixels[..., 0] + self.border) * self.width + pixels[..., 1] + self.border

    def add(self, snake: Snake, reserve_ends: bool) -> None:
        """Block a finished snake (and, for a target, room for markers at both ends) for later snakes."""
        self.blocked[(self.index(snake.pixels)[:, None] + self.margin).reshape(-1)] = True
        if reserve_ends:
            self.blocked[(self.index(snake.ends)[:, None] + self.reserved_marker).reshape(-1)] = True

    def grow(self, rng: np.random.Generator, num_paddles: int, needs_marker_room: bool) -> Snake | None:
        """Try START_TRIES start points for a snake of num_paddles paddles; None if all get stuck."""
        low, high = self.geometry.padding, self.resolution - 1 - self.geometry.padding
        for _ in range(START_TRIES):
            start = rng.uniform(low, high, 2)
            at = self.index(np.floor(start + 0.5).astype(np.int64))
            if self.blocked[at] or (needs_marker_room and self.blocked[at + self.marker_room].any()):
                continue
            snake = self._walk(rng, start, num_paddles, needs_marker_room)
            if snake is not None:
                return snake
        return None

    def _walk(self, rng: np.random.Generator, start: np.ndarray, num_paddles: int, needs_marker_room: bool):
        """The curvature-limited random walk from start -> Snake, or None when it gets stuck.

        A step that finds no free candidate takes back the previous paddle and tries again from there, at
        most num_paddles times per snake.
        """
        occupied, stamped = self.blocked.copy(), 0  # blocked plus this snake's first `stamped` paddles
        paddles, backtracks = [], 0  # paddles: (pixels (s, 2), flat index (s,), end (2,), heading)
        while len(paddles) < num_paddles:
            point, heading = (start, None) if not paddles else paddles[-1][2:]
            step = self._step(rng, occupied, point, heading, needs_marker_room and len(paddles) == num_paddles - 1)
            if step is None:
                if not paddles or backtracks == num_paddles:
                    return None
                paddles.pop()
                backtracks += 1
                if stamped > max(0, len(paddles) + 1 - self.own_lag):  # un-stamp by starting over
                    occupied, stamped = self.blocked.copy(), 0
                continue
            paddles.append(step)
            while stamped < len(paddles) + 1 - self.own_lag:  # own paddles own_lag back are obstacles now
                occupied[(paddles[stamped][1][:, None] + self.margin).reshape(-1)] = True
                stamped += 1
        pixels = np.concatenate([p[0] for p in paddles])
        return Snake(pixels, np.stack([pixels[0], pixels[-1]]))

    def _step(self, rng, occupied, point, heading, needs_marker_room):
        """One paddle from point: k random turns, the first that fits -> (pixels, index, end, heading) or None."""
        length, max_turn = self.geometry.paddle_length, self.geometry.max_turn
        headings = rng.uniform(0, 2 * np.pi, CANDIDATES) if heading is None else \
            heading + rng.uniform(-max_turn, max_turn, CANDIDATES)
        ends = np.empty((CANDIDATES, 2))  # (k, 2)
        ends[:, 0], ends[:, 1] = point[0] + length * np.sin(headings), point[1] + length * np.cos(headings)
        pixels = np.floor(point + self.samples * (ends - point)[:, None, :] + 0.5).astype(np.int64)  # (k, s, 2)
        index = self.index(pixels)  # (k, s)
        fits = ~occupied[index].any(-1)
        if needs_marker_room:
            end_index = self.index(np.floor(ends + 0.5).astype(np.int64))
            fits &= ~self.blocked[end_index[:, None] + self.marker_room].any(-1)
        if not fits.any():
            return None
        choice = int(np.argmax(fits))  # candidates are random, so the first that fits is a random one
        return pixels[choice], index[choice], ends[choice], headings[choice]


def _choose_markers(rng: np.random.Generator, targets: list[Snake], same: bool, max_distance: float):
    """Marker centres (2, 2): both ends of target 0, or one end of each target at most max_distance apart."""
    if same:
        return targets[0].ends.copy()
    pairs = [(a, b) for a in targets[0].ends for b in targets[1].ends if np.hypot(*(a - b)) <= max_distance]
    if not pairs:
        return None
    a, b = pairs[rng.integers(len(pairs))]
    return np.stack([a, b])


def default_num_distractors(resolution: int, contour_length: int) -> int:
    """LRA's choice: a budget of distractor paddles (20 / 22 / 35) over distractors of contour_length // 3."""
    return GEOMETRY[resolution].distractor_budget // max(1, contour_length // 3)


def max_contour_length(resolution: int) -> int:
    """The longest contour accepted: two targets, with their margins, may cover at most 60% of the image.

    32 -> 45, 64 -> 96, 128 -> 119 paddles; near the limit, images take many tries (LRA uses 6 to 14).
    """
    g = GEOMETRY[resolution]
    free_area = (resolution - 2 * g.padding) ** 2
    return int(0.6 * free_area / (2 * g.paddle_length * (1 + 2 * g.margin)))


def generate_image(rng: np.random.Generator, resolution: int = 32, contour_length: int = 14, same: bool = True,
                   num_distractors: int | None = None) -> PathfinderImage:
    """Draw one image: two target snakes, distractors, and markers on one snake (same) or on both (not same)."""
    if resolution not in GEOMETRY:
        raise ValueError(f"Pathfinder resolution must be one of {RESOLUTIONS}, got {resolution!r}.")
    if not 2 <= contour_length <= max_contour_length(resolution):
        raise ValueError(f"Pathfinder contour_length must be 2 to {max_contour_length(resolution)} paddles at "
                         f"resolution {resolution} (LRA uses {CONTOUR_LENGTHS}), got contour_length={contour_length}.")
    geometry = GEOMETRY[resolution]
    num_distractors = default_num_distractors(resolution, contour_length) if num_distractors is None else num_distractors
    for _ in range(IMAGE_TRIES):
        canvas = _Canvas(resolution, geometry)
        targets = _draw_targets(rng, canvas, contour_length)
        markers = None if targets is None else \
            _choose_markers(rng, targets, bool(same), contour_length * geometry.paddle_length)
        if markers is not None:
            distractors = _draw_distractors(rng, canvas, max(1, contour_length // 3), num_distractors)
            return _render(resolution, geometry.marker_radius, targets + distractors, markers)
    raise ValueError(f"Pathfinder could not fit two snakes of contour_length={contour_length} paddles into a "
                     f"{resolution}x{resolution} image in {IMAGE_TRIES} tries; use a shorter contour_length "
                     f"(LRA uses {CONTOUR_LENGTHS}).")


def _draw_targets(rng: np.random.Generator, canvas: _Canvas, contour_length: int) -> list[Snake] | None:
    """The two target snakes, each with room for markers at both ends; None if they don't fit."""
    targets = []
    for _ in range(2):
        snake = canvas.grow(rng, contour_length, needs_marker_room=True)
        if snake is None:
            return None
        canvas.add(snake, reserve_ends=True)
        targets.append(snake)
    return targets


def _draw_distractors(rng: np.random.Generator, canvas: _Canvas, length: int, count: int) -> list[Snake]:
    """Up to `count` distractor snakes of `length` paddles; one that does not fit is left out."""
    distractors = []
    for _ in range(count):
        snake = canvas.grow(rng, length, needs_marker_room=False)
        if snake is not None:
            canvas.add(snake, reserve_ends=False)
            distractors.append(snake)
    return distractors


def _render(resolution: int, marker_radius: float, snakes: list[Snake], markers: np.ndarray) -> PathfinderImage:
    """Paint the snakes and the two markers -> PathfinderImage."""
    masks = np.zeros((len(snakes), resolution, resolution), bool)
    for mask, snake in zip(masks, snakes):
        mask[snake.pixels[:, 0], snake.pixels[:, 1]] = True
    image = np.zeros((resolution, resolution), np.uint8)
    image[masks.any(0)] = STROKE
    marker_pixels = np.zeros((resolution, resolution), bool)
    _stamp(marker_pixels, markers, _disc(marker_radius))
    image[marker_pixels] = STROKE
    return PathfinderImage(image, markers, masks)


# ----------------------------------------------------------------------------------------------- the task

def generate_images(rng: np.random.Generator, num_images: int, resolution: int = 32, contour_length: int = 14,
                    num_distractors: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """num_images images with exactly balanced labels in random order -> (images (n, R, R) uint8, labels (n,))."""
    labels = rng.permutation(np.arange(num_images) % 2)
    images = np.zeros((num_images, resolution, resolution), np.uint8)
    for i, label in enumerate(labels):
        images[i] = generate_image(rng, resolution, contour_length, bool(label), num_distractors).image
    return images, labels.astype(np.int64)


def _check_settings(resolution, contour_length, num_distractors, sizes: dict) -> None:
    """Raise a ValueError naming the first bad setting."""
    if not isinstance(resolution, int) or resolution not in RESOLUTIONS:
        raise ValueError(f"lra/pathfinder: resolution must be one of {RESOLUTIONS} (128 is Path-X), got {resolution!r}.")
    longest = max_contour_length(resolution)
    if not isinstance(contour_length, int) or isinstance(contour_length, bool) or not 2 <= contour_length <= longest:
        raise ValueError(f"lra/pathfinder: contour_length must be an integer from 2 to {longest} paddles at resolution "
                         f"{resolution} (LRA's difficulties are {CONTOUR_LENGTHS}), got {contour_length!r}.")
    if num_distractors is not None and (not isinstance(num_distractors, int) or num_distractors < 0):
        raise ValueError(f"lra/pathfinder: num_distractors must be None (LRA's default for the resolution) or an "
                         f"integer >= 0, got {num_distractors!r}.")
    for name, value in sizes.items():
        if not isinstance(value, int) or value < 0:
            raise ValueError(f"lra/pathfinder: {name} must be an integer >= 0, got {value!r}.")


@register("lra/pathfinder")
def pathfinder(resolution: int = 32, contour_length: int = 14, num_train: int = 20_000, num_test: int = 2_500,
               num_validation: int = 2_500, seed: int = 0, num_distractors: int | None = None,
               use_cache: bool = True) -> Task:
    """LRA Pathfinder (resolution 32 or 64) or Path-X (128): binary classification of pixel sequences.

    Sizes default to an eighth of LRA's 160k / 20k / 20k images, for CPUs (~4 ms an image). contour_length
    sets the difficulty (LRA: 6, 9, 14 paddles); num_distractors=None uses LRA's count for the resolution.
    """
    sizes = {"num_train": num_train, "num_test": num_test, "num_validation": num_validation}
    _check_settings(resolution, contour_length, num_distractors, sizes)
    settings = dict(resolution=resolution, contour_length=contour_length, seed=seed,
                    num_distractors=num_distractors, **sizes)

    def build() -> dict:
        data = {}
        for split in ("train", "validation", "test"):
            rng = split_rng(seed, split, LRA_STREAMS)
            images, labels = generate_images(rng, sizes[f"num_{split}"], resolution, contour_length, num_distractors)
            data[split] = {"pixels": torch.from_numpy(images.reshape(len(images), -1)),  # row-major, uint8
                           "labels": torch.from_numpy(labels)}
        return data

    data = cached("lra/pathfinder", settings, build, use_cache)
    splits = {split: SequenceDataset(d["pixels"], d["labels"]) for split, d in data.items()}
    return Task(name="lra/pathfinder", kind="classification", vocab_size=256, num_labels=2,
                train=splits["train"], test=splits["test"], validation=splits["validation"],
                max_length=resolution ** 2, metadata={"resolution": resolution, "settings": settings})
