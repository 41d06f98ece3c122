"""Writing the report's Markdown: number and α formatting, tables, images, and the page being written."""

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


def fmt_p(p: float) -> str:
    return f"{p:.4g}" if p >= 1e-4 else f"{p:.3e}"


def fmt_alphas(alphas: Any) -> str:
    """[[0.7, 0.3], [0.3, 0.7]] -> "[0.70 0.30] [0.30 0.70]"; "—" for None or anything else."""
    try:
        return " ".join("[" + " ".join(f"{float(a):.2f}" for a in row) + "]" for row in alphas)
    except (TypeError, ValueError):
        return "—"


def table(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


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
