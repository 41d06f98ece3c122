"""Where a model is loaded from: a local checkpoint directory or a Hugging Face Hub id, checked before
transformers is asked, so that what is wrong is said in one line of our own.

    check_source("runs/demo")        # ValueError: holds no model; lists the model directories below it
    check_source("./no/such/dir")    # ValueError: no such directory
    check_source("gpt2")             # a hub id: fine when cached, offline mode is on, or the Hub answers

A hub id with no network would otherwise wait through transformers' retries before its error; here it fails
at once with the hint to set HF_HUB_OFFLINE=1 (the cache only) or to pass a local path.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path
from urllib.parse import urlparse

CONFIG = "config.json"
HUB_TIMEOUT_S = 3.0
MAX_LISTED = 8


def looks_like_path(source: str) -> bool:
    """Whether `source` names a local path rather than a hub id ("name" or "namespace/name")."""
    return (os.path.exists(source) or source.startswith((".", "/", "~")) or source.count("/") > 1
            or "\\" in source or source.endswith("/"))


def model_dirs(root: Path, depth: int = 4) -> list[Path]:
    """Directories below `root` (at most `depth` levels down) that hold a config.json, shallowest first."""
    found = []
    for level in range(1, depth + 1):
        found += sorted(p.parent for p in root.glob("/".join(["*"] * level) + f"/{CONFIG}"))
    return found


def offline() -> bool:
    return os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on")


def hub_reachable(timeout: float = HUB_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the Hub's endpoint (HF_ENDPOINT, default huggingface.co) opens in time."""
    url = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    try:
        with socket.create_connection((url.hostname, url.port or (443 if url.scheme == "https" else 80)), timeout):
            return True
    except OSError:
        return False


def cached(repo_id: str) -> bool:
    """Whether the Hub cache holds `repo_id`'s config.json."""
    try:
        from huggingface_hub import try_to_load_from_cache

        return isinstance(try_to_load_from_cache(repo_id, CONFIG), str)
    except Exception:  # an id the Hub's rules reject is not cached
        return False


def check_source(source: str | os.PathLike, what: str = "model") -> None:
    """Raise a ValueError in one line if `source` can't be a model: a path that doesn't exist, a directory that
    holds no model (listing the model directories below it), or a hub id that is neither cached nor reachable."""
    text = os.fspath(source)
    if looks_like_path(text):
        path = Path(text).expanduser()
        if not path.exists():
            raise ValueError(f"{what} {text!r}: no such file or directory.")
        if path.is_dir() and not (path / CONFIG).exists():
            below = model_dirs(path)
            listed = ", ".join(str(p) for p in below[:MAX_LISTED]) + (", ..." if len(below) > MAX_LISTED else "")
            raise ValueError(f"{what} {text!r} holds no model (no {CONFIG})"
                             + (f"; the model directories below it: {listed}." if below else
                                "; none of the directories below it holds one either."))
        return
    if offline() or cached(text):
        return
    if not hub_reachable():
        raise ValueError(f"{what} {text!r} is not a local path, and the Hugging Face Hub can't be reached: pass a "
                         "local checkpoint directory, or set HF_HUB_OFFLINE=1 to read only the local cache.")
