"""A disk cache for generated datasets: built once per (task, settings), written atomically.

The cache lives in $MANTICORE_CACHE (default ~/.cache/manticore). An entry is a torch file of tensors (and
lists of tensors) keyed by a hash of the task name and its settings; a temporary file is renamed into
place, so an interrupted build leaves nothing half-written.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any
from collections.abc import Callable

import torch

from ..errors import first_line

CACHE_VERSION = 2  # bump when a generator's output changes for the same settings (2: MAD, Pathfinder)


def cache_dir() -> Path:
    return Path(os.environ.get("MANTICORE_CACHE", Path.home() / ".cache" / "manticore"))


def cache_key(name: str, settings: dict[str, Any]) -> str:
    blob = json.dumps({"name": name, "settings": settings, "version": CACHE_VERSION}, sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def cached(name: str, settings: dict[str, Any], build: Callable[[], dict[str, Any]], use_cache: bool = True) -> dict[str, Any]:
    """Return build()'s dict of tensors, loading it from the cache if it was built before with these settings."""
    if not use_cache:
        return build()
    path = cache_dir() / "tasks" / name.replace("/", "__") / f"{cache_key(name, settings)}.pt"
    if path.exists():
        try:  # tensors and plain data only: a file that asks for anything else is refused, never run
            return torch.load(path, weights_only=True)
        except Exception as err:  # a truncated, corrupt or foreign entry: it is derived data, so rebuild it
            warnings.warn(f"{path}: unreadable dataset cache entry ({first_line(err)}); rebuilding it.",
                          stacklevel=2)
    data = build()
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".tmp", delete=False) as tmp:
        torch.save(data, tmp)
    os.replace(tmp.name, path)
    return data
