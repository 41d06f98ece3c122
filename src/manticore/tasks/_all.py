"""Imports every task module so that its tasks register. Add one line per new task module."""

import importlib

for _module in ("mad", "listops", "pathfinder", "text_classification", "image_classification", "lm", "completions"):
    try:
        importlib.import_module(f"{__package__}.{_module}")
    except ModuleNotFoundError as err:  # modules still being written are skipped until they exist
        if err.name != f"{__package__}.{_module}":
            raise
