"""Long Range Arena Pathfinder and Path-X (Linsley et al., 2018; Tay et al., 2021): are two markers connected?

An image holds two target snakes of `contour_length` paddles (dashes), shorter distractor snakes, and two
marker discs on target snake ends. Label 1: the markers are the two ends of one target; label 0: one end of
each target. The image is flattened row-major into pixel tokens 0-255 (32 x 32 -> 1024 tokens; 128 x 128 is
Path-X, 16384 tokens). The difficulty is the contour length in paddles: LRA's splits are 6, 9 and 14 (LRA's
own Pathfinder and Path-X numbers use 14, its "hard" split).

This is our numpy rewrite of Linsley et al.'s `snakes2.py` / `snakes.py` (github.com/drewlinsley/pathfinder)
with the per-resolution settings that LRA documents in its data builder (lra_benchmarks/data/pathfinder.py,
classes Pathfinder32 / 64 / 128); no code is shared.

Glossary
    R: resolution, the image is R x R pixels; coordinates are (row, column), pixel centres at integers.
    paddle: one dash, a straight antialiased stroke `paddle_length` (L) long and `thickness` wide.
    margin (m): LRA's paddle margin. Consecutive paddles of a snake are about 2m apart along the snake (the
        dashes' gaps); other paddles must keep their centre lines `clearance` = 2m + thickness - 1 apart.
    pivot: where a snake turns between two paddles; the next pivot lies L + 2m on, and the paddle between
        them has its head L + m from the pivot, its tail L back from the head (so m of gap on either side).
    turn: the change of direction at a pivot; a candidate turn has weight cos(min(continuity * turn,
        pi / 2))^2 (the reference's continuity weighting): turns up to 90 degrees at 32 px (continuity 1.0),
        50 degrees at 64 / 128 px (1.8), small turns much likelier.
    seed distance (sd): the two targets' first paddles start sd apart, near the middle of the image.
    origin / terminal: a target's first / last paddle end; a marker pair is an origin and a terminal.
    contrast: a snake's stroke intensity before the image is scaled so that its brightest pixel is 255.
    grid: the occupancy grid (`fine` cells per pixel) on which every placed paddle blocks the cells closer
        than the clearance to it; a candidate paddle fits if none of its sample cells is blocked.

How an image is drawn
1. Seeds: the first target's origin lies in the reference's middle box [2 sd, R - 2 sd), the second target's
   sd from it in a random direction; each first paddle points in a uniform random direction.
2. The targets grow alternately, one paddle each per round, to contour_length paddles. A paddle's head is
   one of K stratified candidates on the circle of radius L + m around the pivot, snapped to a pixel centre
   as in the reference; a candidate is drawn with the continuity weight among those that fit. A paddle
   becomes an obstacle once the next paddle of its snake is placed: a snake may approach its own newest
   paddle, and (as in the reference, where the two targets share one mask) each target the other's newest.
3. Distractors: `budget // (contour_length // 3)` snakes of contour_length // 3 paddles (budget 20 / 22 / 35
   at 32 / 64 / 128 px; LRA's formula), grown one at a time from a random free start; one that gets stuck
   is retried 4 more times, then left out (as in the reference).
4. Markers: discs of `marker_radius` on the origin of a random target and on the terminal of the same target
   (label 1) or of the other one (label 0). The two origins are only sd apart, so both pairs are about as
   far apart: marker distance predicts the label at about chance (a fitted threshold's held-out balanced
   accuracy on 400 images per length at 32 px: 0.49-0.54 ours, 0.45-0.52 the reference's; see the tests).
5. Rendering: each paddle is a stroke (butt ends) filtered with a tent of radius FILTER_RADIUS (0.75 px)
   along and across it, times its snake's contrast; markers are discs with the same soft edge and value 1;
   the image is the pixelwise maximum, scaled so that its maximum is 255 (what scipy.misc.imsave did to the
   reference's float images), rounded to uint8. Distractors are brighter than targets at 32 px (contrast
   2.0 vs 1.5), as LRA's settings make them.

Settings (LRA's builder docstrings, the rest snakes2_wrapper.py's defaults); R: L, thickness, margin,
marker radius, sd, continuity, distractor budget, target / distractor contrast, padding 1 everywhere:
    32: 2, 0.5, 1, 1.5, 7, 1.0, 20, 1.5 / 2.0      64: 5, 1.0, 1, 2.5, 12, 1.8, 22, 0.8 / 0.8
    128: 5, 1.5, 2 or 3 (drawn per image), 3.0, 20, 1.8, 35, 0.9 / 0.9

Measured against the reference (its code run with LRA's 32 px settings, 400 images per length; ours the
same): target pixels above 5% of their maximum, per paddle: 4.5 (reference), 4.2 (ours); a flood fill over
pixels above any of 0-96 grey levels predicts the label at 0.50-0.55 (reference) and 0.48-0.53 (ours)
balanced accuracy; the two targets' bright pixels (above half their maximum) touch or are 8-adjacent in
30-56% (reference) and 20-33% (ours) of images, for lengths 6 to 14.

What differs from the reference, knowingly:
- The reference rounds pivots up and heads down (ceil / floor) at every paddle, which drifts its snakes by
  about half a pixel per paddle towards the bottom right; we round to the nearest pixel.
- When a target gets stuck the reference starts both targets over (at 64 px and 14 paddles only about one
  start in 1,500 succeeds, which makes it take seconds an image). We first undo the stuck round and the one
  before it (ROLLBACK_ROUNDS), up to MAX_ROLLBACKS times, then start over. At 32 px and 14 paddles this
  leaves end-to-end distances, turns and where the ends lie as with plain restarts (measured); it makes the
  rare survivors at 64 and 128 px cheap to find, and may favour snakes that turn late before a border.
- Fitting is a distance test on a fine grid rather than the reference's soft raster masks (mask sums
  < 1.8 with 3 tries per paddle); the candidate heads are K stratified angles snapped to pixels rather
  than every pixel on the circle; the last paddle of both targets is an obstacle for distractors (the
  reference forgets the first target's).
- Antialiasing is the tent filter, not drawing at 2x and Lanczos resampling: our strokes have no ringing
  halo (18-25% of our pixels are non-zero, 35-45% of the reference's) and fewer distinct grey levels.
- No single-paddle distractors and no per-paddle contrast jitter (LRA's settings turn both off).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal, NamedTuple

import numpy as np
import torch

from ..checks import check, check_int, check_one_of, is_int
from .base import SequenceDataset, Task
from .cache import cached
from .seeded_rng import LRA_STREAMS, split_rng
from .spec import TaskSpec

RESOLUTIONS = (32, 64, 128)  # Pathfinder-32, -64 and Path-X
CONTOUR_LENGTHS = (6, 9, 14)  # LRA's difficulties: easy, intermediate, hard (the one LRA reports)
SIZE_PRESETS = {  # images per split
    "cpu": {"num_train": 20_000, "num_validation": 2_500, "num_test": 2_500},  # an eighth of LRA's, the default
    "lra": {"num_train": 160_000, "num_validation": 20_000, "num_test": 20_000},  # LRA's split sizes
}
GENERATOR = "snakes2-numpy-1"  # part of the cache key: change it whenever the images change for the same settings
CANDIDATES = 16  # K: stratified candidate turns per paddle
FILTER_RADIUS = 0.75  # antialiasing tent filter, pixels (see the module docstring)
SEED_CANDIDATES = 32  # random (start, direction) pairs tried at once for a distractor's first paddle
SEED_TRIES = 3  # the reference's paddle retrials when placing a seed paddle
DISTRACTOR_TRIES = 5  # the reference tries a distractor snake 1 + 4 times
TARGET_TRIES = 500  # restarts of the two target snakes before giving up
ROLLBACK_ROUNDS = 2  # a stuck round is undone with the round before it ...
MAX_ROLLBACKS = 10  # ... at most this many times per start (0: restart at once, as the reference does)
NAME = "lra/pathfinder"


@dataclass(frozen=True)
class Geometry:
    """LRA's snakes2 settings at one resolution, in pixels (see the module docstring for the sources)."""

    paddle_length: float  # L
    thickness: float  # stroke width
    margins: tuple[int, ...]  # paddle margin m; one is drawn per image
    marker_radius: float
    seed_distance: float  # distance between the two target snakes' origins
    continuity: float  # turn weight cos(continuity * turn)^2, zero beyond pi / (2 continuity)
    distractor_budget: int  # distractor paddles: budget // (contour_length // 3) snakes of contour_length // 3
    target_contrast: float  # snake_contrast * paddle_contrast
    distractor_contrast: float  # snake_contrast (the reference applies no paddle contrast to distractors)
    padding: int = 1  # border pixels no stroke may enter
    fine: int = 2  # occupancy grid cells per pixel (per axis)

    def clearance(self, margin: int) -> float:
        """Smallest distance between the centre lines of two paddles that are not consecutive in a snake."""
        return 2 * margin + self.thickness - 1


GEOMETRY = {
    32: Geometry(2.0, 0.5, (1,), 1.5, 7.0, 1.0, 20, 1.5, 2.0, fine=4),
    64: Geometry(5.0, 1.0, (1,), 2.5, 12.0, 1.8, 22, 0.8, 0.8),
    128: Geometry(5.0, 1.5, (2, 3), 3.0, 20.0, 1.8, 35, 0.9, 0.9),
}


class PathfinderImage(NamedTuple):
    """One generated image and what it shows.

    image: (R, R) uint8. markers: (2, 2) int (row, column) of the two marker centres (snake end pixels):
    markers[0] is the origin of snakes[0]; markers[1] the terminal of snakes[0] (label 1) or of snakes[1]
    (label 0). snakes: (S, R, R) bool, the pixels to which each snake's strokes give at least one grey
    level: [0] and [1] the targets, then the distractors.
    """

    image: np.ndarray
    markers: np.ndarray
    snakes: np.ndarray


class PathfinderScene(NamedTuple):
    """An image with its geometry: PathfinderImage's fields plus paddles, a list of (n_s, 2, 2) float
    arrays (each paddle's start and end point, in drawing order) in the order of `snakes`, and the margin."""

    image: np.ndarray
    markers: np.ndarray
    snakes: np.ndarray
    paddles: list
    margin: int


# ------------------------------------------------------------------------------------------ the fine grid

@dataclass(frozen=True)
class _Layout:
    """Constants for drawing at one resolution and margin; the occupancy grid is flat, `fine` cells per pixel,
    with a blocked frame around the allowed area so that fitting and staying inside are one lookup."""

    geometry: Geometry
    resolution: int
    margin: int
    width: int  # grid cells per side
    origin: int  # flat index of image point (0, 0)
    template: np.ndarray  # (width^2,) bool: the frame blocked, the inside free
    stamp: np.ndarray  # (o,) flat offsets of the disc of radius `clearance`
    along: np.ndarray  # (s,) distances of a paddle's sample points from its start: 0 .. L
    turns: np.ndarray  # (K,) the lowest candidate turn of each stratum; a random fraction of turn_step is added
    turn_step: float
    low: float  # the allowed box for centre lines, in image coordinates
    high: float

    @property
    def strides(self) -> np.ndarray:
        return np.array([self.width, 1])


@cache
def _layout(resolution: int, margin: int) -> _Layout:
    g = GEOMETRY[resolution]
    f, length, clearance = g.fine, g.paddle_length, g.clearance(margin)
    low = g.padding + margin - 0.5
    high = resolution - 1 - low
    border = int(np.ceil((length + 2 * margin + clearance + 2) * f))  # any sample or stamp stays on the grid
    width = resolution * f + 2 * border
    cells = (np.arange(width) - border) / f  # image coordinate of each cell centre
    inside = (cells >= low - 1e-9) & (cells <= high + 1e-9)
    template = ~(inside[:, None] & inside[None, :]).reshape(-1)
    radius = int(np.floor(clearance * f - 1e-9))
    r = np.arange(-radius, radius + 1)
    dr, dc = np.meshgrid(r, r, indexing="ij")
    # cells closer than `clearance` to a sample point (the test is "distance >= clearance")
    disc = (dr ** 2 + dc ** 2) < (clearance * f) ** 2
    stamp = (dr[disc] * width + dc[disc]).astype(np.int64)
    samples = int(np.ceil(length * f)) + 1  # at most one cell apart
    along = np.linspace(0, length, samples)
    widest = min(np.pi / (2 * g.continuity), np.pi)  # the turn weight is zero beyond
    step = 2 * widest / CANDIDATES
    turns = -widest + step * np.arange(CANDIDATES)
    return _Layout(geometry=g, resolution=resolution, margin=margin, width=width, origin=border * width + border,
                   template=template, stamp=stamp, along=along, turns=turns, turn_step=step, low=low, high=high)


# ------------------------------------------------------------------------------------------- drawing snakes

class _Snake:
    """A snake while it grows on `grid` (the occupancy grid it checks and marks): its paddles, the pivot and
    heading for the next one, and its newest paddle's cells, which become an obstacle only once the next
    paddle is placed. So a snake may come close to its own newest paddle and, as in the reference, the two
    targets (which share a grid) to each other's newest paddle."""

    def __init__(self, layout: _Layout, grid: np.ndarray, tail: np.ndarray, heading: float, cells: np.ndarray):
        """The first paddle starts at tail (the snake's origin), along heading; cells: its grid cells."""
        direction = np.array([np.sin(heading), np.cos(heading)])
        self.layout, self.grid = layout, grid
        self.paddles = [(tail, tail + layout.geometry.paddle_length * direction)]
        self.pivot = _snap(tail + (layout.geometry.paddle_length + layout.margin) * direction)
        self.heading, self.pending = heading, cells

    def add(self, start, end, heading, cells) -> None:
        """Append a paddle (its end points, direction and grid cells); the next pivot lies L + 2m further."""
        self._block()
        self.paddles.append((start, end))
        step = (self.layout.geometry.paddle_length + 2 * self.layout.margin) * np.array([np.sin(heading), np.cos(heading)])
        self.pivot = _snap(self.pivot + step)
        self.heading, self.pending = heading, cells

    def _block(self) -> None:
        """Mark every cell closer than the clearance to the newest paddle."""
        self.grid[(self.pending[:, None] + self.layout.stamp).reshape(-1)] = True

    def state(self) -> tuple:
        """What restore() needs to return to this point (the grid is saved by the caller)."""
        return len(self.paddles), self.pivot, self.heading, self.pending

    def restore(self, state: tuple) -> None:
        count, self.pivot, self.heading, self.pending = state
        del self.paddles[count:]

    def finish(self) -> np.ndarray:
        """Mark the newest paddle too -> paddles (n, 2, 2) as start and end points."""
        self._block()
        return np.array([np.stack(p) for p in self.paddles])


def _snap(points: np.ndarray) -> np.ndarray:
    """Pivots and paddle heads on pixel centres, as in the reference (rounded here, not ceil / floor)."""
    return np.rint(points)


def _paddle_cells(layout: _Layout, starts: np.ndarray, units: np.ndarray) -> np.ndarray:
    """Grid cells (k, s) of the paddles from starts (k, 2) along unit vectors (k, 2)."""
    cells = np.rint((starts[:, None, :] + layout.along[:, None] * units[:, None, :]) * layout.geometry.fine)
    return cells.astype(np.int64) @ layout.strides + layout.origin


def _extend(rng: np.random.Generator, snake: _Snake) -> bool:
    """Add one paddle to snake: a turn drawn by continuity weight among those that fit -> whether one fitted.

    K stratified candidate heads lie on the circle of radius L + m around the pivot (snapped to pixels); a
    paddle runs L back from its head towards the pivot, and its turn is the direction from the pivot to
    the snapped head minus the snake's heading.
    """
    layout = snake.layout
    g = layout.geometry
    jitter, pick = rng.random(2)
    angles = snake.heading + layout.turns + jitter * layout.turn_step
    heads = np.empty((CANDIDATES, 2))
    heads[:, 0], heads[:, 1] = np.sin(angles), np.cos(angles)
    heads = _snap(snake.pivot + (g.paddle_length + layout.margin) * heads)
    units = heads - snake.pivot
    units /= np.sqrt((units * units).sum(1))[:, None]
    headings = np.arctan2(units[:, 0], units[:, 1])
    turns = np.abs((headings - snake.heading + np.pi) % (2 * np.pi) - np.pi)
    starts = heads - g.paddle_length * units
    cells = _paddle_cells(layout, starts, units)
    bend = g.continuity * turns
    weights = np.where(bend < np.pi / 2, np.cos(bend) ** 2, 0.0)  # exactly 0 from pi / 2 on (cos gives 6e-17)
    cumulative = np.cumsum(weights * ~snake.grid[cells].any(-1))
    if cumulative[-1] <= 0:
        return False
    # the first candidate whose cumulative weight exceeds pick * total: never one of weight 0
    choice = int(np.searchsorted(cumulative, pick * cumulative[-1], side="right"))
    snake.add(starts[choice], heads[choice], headings[choice], cells[choice])
    return True


def _seeds(layout: _Layout, grid: np.ndarray, tails: np.ndarray, headings: np.ndarray):
    """First paddles starting at tails (k, 2) along headings (k,) -> (fits (k,) bool, grid cells (k, s))."""
    cells = _paddle_cells(layout, tails, np.stack([np.sin(headings), np.cos(headings)], -1))
    return ~grid[cells].any(-1), cells


def _seed_targets(rng: np.random.Generator, layout: _Layout) -> tuple[np.ndarray, list[_Snake]] | None:
    """The first paddles of the two targets: the first origin in the reference's middle box, the second
    seed_distance from it; each in a uniform direction, SEED_TRIES tries each -> (grid, snakes) or None."""
    g, resolution = layout.geometry, layout.resolution
    low, high = 2 * g.seed_distance - 0.5, resolution - 2 * g.seed_distance - 0.5
    grid = layout.template.copy()
    snakes: list[_Snake] = []
    for _ in range(2):
        for _ in range(SEED_TRIES):
            if not snakes:
                tail = _snap(rng.uniform(low, high, 2))
            else:
                angle = rng.uniform(-np.pi, np.pi)
                tail = _snap(snakes[0].paddles[0][0] + g.seed_distance * np.array([np.sin(angle), np.cos(angle)]))
            heading = rng.uniform(-np.pi, np.pi)
            fits, cells = _seeds(layout, grid, tail[None], np.array([heading]))
            if fits[0]:
                snakes.append(_Snake(layout, grid, tail, heading, cells[0]))
                break
        else:
            return None
    return grid, snakes


def _grow_targets(rng: np.random.Generator, layout: _Layout, contour_length: int):
    """The two targets grown alternately, one paddle each per round -> (grid, [paddles of each]) or None.

    A round in which a snake gets stuck is undone together with the round before it (ROLLBACK_ROUNDS), at
    most MAX_ROLLBACKS times; then the caller starts over with new seeds, which is all the reference does.
    """
    seeded = _seed_targets(rng, layout)
    if seeded is None:
        return None
    grid, snakes = seeded
    saved: list[tuple] = []  # saved[r - 1]: the grid and both snakes at the start of round r
    done, rollbacks = 1, 0  # paddles per snake so far
    while done < contour_length:
        del saved[done:]
        if len(saved) < done:
            saved.append((grid.copy(), [snake.state() for snake in snakes]))
        if _extend(rng, snakes[0]) and _extend(rng, snakes[1]):
            done += 1
            continue
        if rollbacks == MAX_ROLLBACKS:
            return None
        rollbacks += 1
        done = max(1, done + 1 - ROLLBACK_ROUNDS)
        grid[:] = saved[done - 1][0]
        for snake, state in zip(snakes, saved[done - 1][1]):
            snake.restore(state)
    return grid, [snake.finish() for snake in snakes]


def _draw_distractor(rng: np.random.Generator, layout: _Layout, grid: np.ndarray, length: int) -> np.ndarray | None:
    """One distractor of `length` paddles from a random free start; put on grid -> paddles, or None."""
    for _ in range(DISTRACTOR_TRIES):
        tails = _snap(rng.uniform(layout.low, layout.high, (SEED_CANDIDATES, 2)))
        headings = rng.uniform(-np.pi, np.pi, SEED_CANDIDATES)
        fits, cells = _seeds(layout, grid, tails, headings)
        if not fits.any():
            continue
        first = int(np.argmax(fits))  # the candidates are random, so the first that fits is a random one
        snake = _Snake(layout, grid.copy(), tails[first], headings[first], cells[first])
        if all(_extend(rng, snake) for _ in range(length - 1)):
            paddles = snake.finish()
            grid[:] = snake.grid
            return paddles
    return None


# ------------------------------------------------------------------------------------------------ rendering

def _tent_cdf(x: np.ndarray) -> np.ndarray:
    """The integral up to x of the tent filter of radius FILTER_RADIUS (area 1)."""
    x = np.clip(x / FILTER_RADIUS, -1.0, 1.0)
    return np.where(x < 0, (x + 1) ** 2 / 2, 1 - (1 - x) ** 2 / 2)


@cache
def _window(size: int) -> np.ndarray:
    """Offsets (size^2, 2) of a size x size pixel window."""
    r = np.arange(size)
    return np.stack(np.meshgrid(r, r, indexing="ij"), -1).reshape(-1, 2)


def _strokes(resolution: int, starts: np.ndarray, ends: np.ndarray, thickness: float):
    """Antialiased strokes (butt ends) -> (flat pixel index (P, w^2), intensity (P, w^2) in [0, 1]).

    A stroke is the rectangle `thickness` wide over the segment, filtered with a tent of radius 1 pixel
    along and across the segment: intensity = (box(thickness) * tent)(across) x (box(length) * tent)(along).
    """
    length = np.hypot(*(ends - starts).T)
    unit = (ends - starts) / length[:, None]
    normal = np.stack([-unit[:, 1], unit[:, 0]], -1)
    size = int(np.ceil(length.max() + thickness)) + 4
    corner = np.floor(np.minimum(starts, ends) - thickness / 2 - 1).astype(np.int64)
    pixels = corner[:, None, :] + _window(size)[None]  # (P, w^2, 2)
    rel = pixels - starts[:, None, :]
    along = (rel * unit[:, None, :]).sum(-1)
    across = (rel * normal[:, None, :]).sum(-1)
    half = thickness / 2
    value = (_tent_cdf(across + half) - _tent_cdf(across - half)) * (_tent_cdf(along) - _tent_cdf(along - length[:, None]))
    return _clip_to_image(resolution, pixels, value)


def _discs(resolution: int, centres: np.ndarray, radius: float):
    """Antialiased discs (the edge filtered with the tent) -> (flat pixel index (n, w^2), intensity (n, w^2))."""
    size = 2 * int(np.ceil(radius)) + 5
    pixels = centres[:, None, :] - size // 2 + _window(size)[None]
    distance = np.hypot(*np.moveaxis(pixels - centres[:, None, :], -1, 0))
    return _clip_to_image(resolution, pixels, _tent_cdf(radius - distance))


def _clip_to_image(resolution: int, pixels: np.ndarray, value: np.ndarray):
    on_image = ((pixels >= 0) & (pixels < resolution)).all(-1)
    index = np.where(on_image, pixels[..., 0] * resolution + pixels[..., 1], 0)
    return index, np.where(on_image, value, 0.0)


def _render(resolution: int, geometry: Geometry, snakes: list[np.ndarray], markers: np.ndarray):
    """Paint snakes (targets first) and markers -> (image (R, R) uint8, masks (S, R, R) bool: the pixels to
    which each snake's strokes give at least one grey level)."""
    paddles = np.concatenate(snakes)  # (P, 2, 2)
    owner = np.repeat(np.arange(len(snakes)), [len(s) for s in snakes])
    contrast = np.where(owner < 2, geometry.target_contrast, geometry.distractor_contrast)
    index, value = _strokes(resolution, paddles[:, 0], paddles[:, 1], geometry.thickness)
    value *= contrast[:, None]
    canvas = np.zeros(resolution * resolution)
    np.maximum.at(canvas, index.reshape(-1), value.reshape(-1))
    marker_index, marker_value = _discs(resolution, markers, geometry.marker_radius)
    np.maximum.at(canvas, marker_index.reshape(-1), marker_value.reshape(-1))
    scale = 255.0 / canvas.max()  # bytescale: the maximum -> 255
    image = np.rint(canvas * scale).astype(np.uint8)
    masks = np.zeros((len(snakes), resolution * resolution), bool)
    visible = value * scale >= 0.5
    masks[np.broadcast_to(owner[:, None], index.shape)[visible], index[visible]] = True
    return image.reshape(resolution, resolution), masks.reshape(-1, resolution, resolution)


# ----------------------------------------------------------------------------------------------- one image

def default_num_distractors(resolution: int, contour_length: int) -> int:
    """LRA's choice: a budget of distractor paddles (20 / 22 / 35) over distractors of contour_length // 3."""
    return GEOMETRY[resolution].distractor_budget // max(1, contour_length // 3)


def max_contour_length(resolution: int) -> int:
    """The longest contour accepted: 20 paddles at every resolution (LRA uses 6 to 14).

    Both targets grow from the middle of the image and may not run into each other or the border; longer
    ones need ever more restarts (at 20 paddles about 20 ms an image at 32 px, 150 ms at 64 px)."""
    if resolution not in GEOMETRY:
        raise ValueError(f"Pathfinder resolution must be one of {RESOLUTIONS}, got {resolution!r}.")
    return 20


def _check_geometry(resolution, contour_length) -> None:
    if resolution not in GEOMETRY:
        raise ValueError(f"Pathfinder resolution must be one of {RESOLUTIONS}, got {resolution!r}.")
    if not 2 <= contour_length <= max_contour_length(resolution):
        raise ValueError(f"Pathfinder contour_length must be 2 to {max_contour_length(resolution)} paddles at "
                         f"resolution {resolution} (LRA uses {CONTOUR_LENGTHS}), got contour_length={contour_length}.")


def generate_scene(rng: np.random.Generator, resolution: int = 32, contour_length: int = 14, same: bool = True,
                   num_distractors: int | None = None) -> PathfinderScene:
    """Draw one image with its geometry: two target snakes, distractors, markers on one snake (same) or two."""
    _check_geometry(resolution, contour_length)
    g = GEOMETRY[resolution]
    num_distractors = default_num_distractors(resolution, contour_length) if num_distractors is None else num_distractors
    margin = g.margins[int(rng.integers(len(g.margins)))]
    layout = _layout(resolution, margin)
    for _ in range(TARGET_TRIES):
        grown = _grow_targets(rng, layout, contour_length)
        if grown is not None:
            break
    else:
        raise ValueError(f"Pathfinder could not grow two snakes of contour_length={contour_length} paddles in a "
                         f"{resolution}x{resolution} image in {TARGET_TRIES} tries; use a shorter contour_length "
                         f"(LRA uses {CONTOUR_LENGTHS}).")
    grid, targets = grown
    length = max(1, contour_length // 3)
    distractors = [d for d in (_draw_distractor(rng, layout, grid, length) for _ in range(num_distractors))
                   if d is not None]
    first = int(rng.integers(2))
    targets = [targets[first], targets[1 - first]]  # snakes[0] carries markers[0], its origin
    origin, terminal = targets[0][0, 0], targets[0 if same else 1][-1, 1]
    markers = np.rint(np.stack([origin, terminal])).astype(np.int64)
    snakes = targets + distractors
    image, masks = _render(resolution, g, snakes, markers)
    return PathfinderScene(image, markers, masks, snakes, margin)


def generate_image(rng: np.random.Generator, resolution: int = 32, contour_length: int = 14, same: bool = True,
                   num_distractors: int | None = None) -> PathfinderImage:
    """Draw one image: two target snakes, distractors, and markers on one snake (same) or on both (not same)."""
    scene = generate_scene(rng, resolution, contour_length, same, num_distractors)
    return PathfinderImage(scene.image, scene.markers, scene.snakes)


# ----------------------------------------------------------------------------------------------- the task

def generate_images(rng: np.random.Generator, num_images: int, resolution: int = 32, contour_length: int = 14,
                    num_distractors: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """num_images images with exactly balanced labels in random order -> (images (n, R, R) uint8, labels (n,))."""
    labels = rng.permutation(np.arange(num_images) % 2)
    images = np.zeros((num_images, resolution, resolution), np.uint8)
    for i, label in enumerate(labels):
        images[i] = generate_image(rng, resolution, contour_length, bool(label), num_distractors).image
    return images, labels.astype(np.int64)


@dataclass(frozen=True, kw_only=True)
class PathfinderSettings:
    """lra/pathfinder: Pathfinder-32 at LRA's hardest contour length, with a CPU-sized split by default."""

    resolution: Literal[32, 64, 128] = 32
    """R: images are R x R pixels, R * R tokens (32 and 64: Pathfinder; 128: Path-X)."""
    contour_length: int = 14
    """Paddles per target snake, the difficulty: LRA's are 6, 9 and 14 (the one LRA reports); at most 20."""
    num_train: int | None = None
    """Training images (None: the preset's)."""
    num_test: int | None = None
    """Test images (None: the preset's)."""
    num_validation: int | None = None
    """Validation images (None: the preset's)."""
    seed: int = 0
    """Seeds each split's random stream (seeded_rng.LRA_STREAMS)."""
    num_distractors: int | None = None
    """Distractor snakes per image (None: LRA's count for the resolution and contour length)."""
    preset: Literal["cpu", "lra"] = "cpu"
    """Split sizes: 'cpu', an eighth of LRA's (20,000 / 2,500 / 2,500 train / validation / test images), or
    'lra', LRA's (160,000 / 20,000 / 20,000)."""

    def __post_init__(self):
        check_one_of(self.resolution, "resolution", RESOLUTIONS, NAME)
        longest = max_contour_length(self.resolution)
        check(is_int(self.contour_length) and 2 <= self.contour_length <= longest, "contour_length",
              self.contour_length, f"an integer from 2 to {longest} paddles at resolution {self.resolution} "
              f"(LRA's difficulties are {CONTOUR_LENGTHS})", NAME)
        check_one_of(self.preset, "preset", SIZE_PRESETS, NAME)
        check_int(self.seed, "seed", minimum=0, where=NAME)
        for name in ("num_train", "num_test", "num_validation", "num_distractors"):
            if getattr(self, name) is not None:
                check_int(getattr(self, name), name, minimum=0, where=NAME)

    def sizes(self) -> dict[str, int]:
        """num_train, num_test, num_validation: each as given, else the preset's."""
        given = {"num_train": self.num_train, "num_test": self.num_test, "num_validation": self.num_validation}
        return {name: SIZE_PRESETS[self.preset][name] if value is None else value for name, value in given.items()}


def pathfinder(settings: PathfinderSettings, use_cache: bool = True) -> Task:
    """LRA Pathfinder (resolution 32 or 64) or Path-X (128): binary classification of pixel sequences.

    One core draws about 400 / 250 / 120 images a second at 32 px and contour length 6 / 9 / 14, and
    270 / 160 / 50 at 128 px, so the "cpu" preset at 14 paddles takes about 4 minutes at 32 px and 9 at
    128 px; "lra" eight times as long.
    """
    s, sizes = settings, settings.sizes()
    recorded = dict(resolution=s.resolution, contour_length=s.contour_length, seed=s.seed,
                    num_distractors=s.num_distractors, generator=GENERATOR, **sizes)

    def build() -> dict:
        data = {}
        for split in ("train", "validation", "test"):
            rng = split_rng(s.seed, split, LRA_STREAMS)
            images, labels = generate_images(rng, sizes[f"num_{split}"], s.resolution, s.contour_length,
                                             s.num_distractors)
            data[split] = {"pixels": torch.from_numpy(images.reshape(len(images), -1)),  # row-major, uint8
                           "labels": torch.from_numpy(labels)}
        return data

    data = cached(NAME, recorded, build, use_cache)
    splits = {split: SequenceDataset(d["pixels"], d["labels"]) for split, d in data.items()}
    return Task(name=NAME, kind="classification", vocab_size=256, num_labels=2,
                train=splits["train"], test=splits["test"], validation=splits["validation"],
                max_length=s.resolution ** 2, metadata={"resolution": s.resolution, "preset": s.preset,
                                                        "settings": recorded})


TASKS = (TaskSpec(NAME, PathfinderSettings, pathfinder, "LRA Pathfinder (32, 64 px) and Path-X (128 px): are the "
                  "two markers on one dashed snake? Binary classification of pixel sequences."),)
"""The task of this module, for the registry (registry.py)."""
