"""Training: one engine for every stage (engine.py), search algorithms (search.py), stages (stages.py)."""

from .config import SearchConfig, TrainConfig
from .engine import Engine

__all__ = ["Engine", "SearchConfig", "TrainConfig"]
