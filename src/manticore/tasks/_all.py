"""Imports every task module so that its tasks register. Add one line per new task module."""

from . import completions, image_classification, listops, lm, mad, pathfinder, text_classification  # noqa: F401
