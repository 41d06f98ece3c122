"""Writing the report's Markdown: number and α formatting (counts and bytes human-readable too), tables, images,
and the page being written."""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from manticore.rundir import LOWER_IS_BETTER

from .run import as_number


def fmt(value: Any, digits: int = 4) -> str:
    """A number with `digits` decimals (`digits` significant digits when huge or not finite); "—" otherwise."""
    number = as_number(value)
    if number is None:
        return "—"
    if math.isnan(number) or math.isinf(number) or abs(number) >= 1e4:
        return f"{number:.{digits}g}"
    return f"{number:.{digits}f}"


def _scaled(value: float, base: float, units: tuple[str, ...], separator: str) -> str:
    """value in the largest unit of `units` (each `base` times the last) that keeps it below `base`; three
    significant figures ("12.6k", "8.00 MiB"), a whole number in the first unit."""
    i = 0
    while abs(value) >= base - 0.5 and i < len(units) - 1:
        value, i = value / base, i + 1
    if i == 0:
        return f"{value:.0f}{separator}{units[0]}".rstrip()
    digits = 2 if abs(value) < 9.995 else 1 if abs(value) < 99.95 else 0
    return f"{value:.{digits}f}{separator}{units[i]}"


def human_count(value: Any) -> str:
    """A count (parameters, FLOPs) with k, M, G, T: 12608 -> "12.6k", 4218880 -> "4.22M"; "—" for a non-number."""
    number = as_number(value)
    if number is None or not math.isfinite(number):
        return fmt(value)
    return _scaled(number, 1000, ("", "k", "M", "G", "T"), "")


def human_bytes(value: Any) -> str:
    """Bytes in binary units: 2048 -> "2.00 KiB", 8388608 -> "8.00 MiB", 0 -> "0 B"; "—" for a non-number."""
    number = as_number(value)
    if number is None or not math.isfinite(number):
        return fmt(value)
    return _scaled(number, 1024, ("B", "KiB", "MiB", "GiB", "TiB"), " ")


def context_label(context: int) -> str:
    """A context length in tokens: 4096 -> "4K", 32768 -> "32K", 1000 -> "1000"."""
    return f"{context // 1024}K" if context % 1024 == 0 else str(context)


def fmt_p(p: float) -> str:
    return f"{p:.4g}" if p >= 1e-4 else f"{p:.3e}"


def fmt_alphas(alphas: Any) -> str:
    """[[0.7, 0.3], [0.3, 0.7]] -> "[0.70 0.30] [0.30 0.70]"; "—" for None or anything else."""
    try:
        return " ".join("[" + " ".join(f"{float(a):.2f}" for a in row) + "]" for row in alphas)
    except (TypeError, ValueError):
        return "—"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    """A Markdown table: every row must have one cell per header column (a ValueError names the first that
    doesn't, so a header can never silently label the wrong column); "|" inside a cell is escaped."""
    for i, row in enumerate(rows):
        if len(row) != len(header):
            raise ValueError(f"Table row {i} has {len(row)} cells for {len(header)} columns {header}: {row}")

    def line(cells) -> str:
        return "| " + " | ".join(str(cell).replace("|", "\\|") for cell in cells) + " |"

    return [line(header), "|" + "|".join("---" for _ in header) + "|", *(line(row) for row in rows)]


def component_labels(names: list[str] | None, num_components: int) -> list[str]:
    """The components' families when a saved hybrid config names them (and K matches), else "component k"."""
    return list(names) if names and len(names) == num_components else [f"component {k}" for k in range(num_components)]


def alpha_labels(names: list[str] | None, num_components: int) -> list[str]:
    """"α_k (family)" for each of the K components."""
    return [f"α_{k} ({name})" for k, name in enumerate(component_labels(names, num_components))]


def better(metric: str) -> str:
    """The metric's direction in words; metrics we don't know are taken as lower is better."""
    return "lower is better" if LOWER_IS_BETTER.get(metric, True) else "higher is better"


def image(path: Path, alt: str) -> str:
    return f"![{alt}]({path.name})"


class Page:
    """The report being written: where its PNGs go (names made safe and unique) and what it could not show.

    Sections add to `missing` as they find pieces absent; the report lists them near the top.
    """

    def __init__(self, run_dir: Path, missing: list[str] | None = None):
        self.run_dir, self.used = run_dir, set()
        self.missing: list[str] = list(missing or [])

    def png(self, kind: str, name: str) -> Path:
        """A new PNG path in the run directory for figure `kind` of stage or sweep `name`."""
        slug = re.sub(r"[^A-Za-z0-9_.]+", "-", "run" if name == "." else name).strip("-.") or "run"
        filename, n = f"{kind}-{slug}.png", 1
        while filename in self.used:
            n += 1
            filename = f"{kind}-{slug}-{n}.png"
        self.used.add(filename)
        return self.run_dir / filename
