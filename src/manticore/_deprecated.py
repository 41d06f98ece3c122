"""Old import paths that still work for one release: the module at the old path becomes the new one.

    # manticore/train/stages.py
    from .._deprecated import alias
    alias(__name__, "manticore.workflow.stages")

Importing the old path warns (DeprecationWarning) and binds the new module under both names, so
`from manticore.train.stages import run_stage` and `manticore.train.stages is manticore.workflow.stages` hold.
The new module is imported by name (importlib), not by an import statement: an alias is a signpost for
users, not a dependency of the package, and nothing inside the package imports an old path (a test checks).
"""

from __future__ import annotations

import importlib
import sys
import warnings

REMOVED_IN = "0.3"


def alias(old: str, new: str) -> None:
    """Make the module `old` (being imported) an alias of `new`, with a DeprecationWarning."""
    warnings.warn(f"{old} has moved to {new}; the old path works until manticore {REMOVED_IN}. "
                  f"Import {new} instead.", DeprecationWarning, stacklevel=3)
    sys.modules[old] = importlib.import_module(new)
