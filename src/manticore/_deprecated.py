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


def alias(name: str, new: str, old: str | None = None) -> None:
    """Make the module `name` (being imported; its old path `old`, default `name`) an alias of `new`, with a
    DeprecationWarning. The new package's submodules are aliased too (`manticore.train.stages.base` is
    `manticore.workflow.stages.base`), so nothing loads twice. Run as a script (`python -m <old>`, name
    "__main__"), it runs the new module's `main()` instead."""
    old = old or name
    warnings.warn(f"{old} has moved to {new}; the old path works until manticore {REMOVED_IN}. "
                  f"Import {new} instead.", DeprecationWarning, stacklevel=3)
    module = importlib.import_module(new)
    if name == "__main__":
        raise SystemExit(module.main())
    sys.modules[name] = module
    for loaded in list(sys.modules):
        if loaded.startswith(new + "."):
            sys.modules[old + loaded[len(new):]] = sys.modules[loaded]
