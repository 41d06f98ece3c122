"""The project's named errors: expected failures (bad input, a busy or corrupt run directory) that the CLI
reports in one line with exit status 2. A traceback means a bug."""

from __future__ import annotations


def first_line(err: BaseException) -> str:
    """The first line of an exception's message, or its type's name when it has none (e.g. a bare EOFError)."""
    text = str(err).strip()
    return text.splitlines()[0] if text else type(err).__name__


def install_hint(extra: str | None = None) -> str:
    """How to install the package (with an optional extra such as "eval"), as it can be installed today: from a
    clone, or from the wheel `python -m build` writes (the package is not on PyPI)."""
    spec = f"[{extra}]" if extra else ""
    return (f"pip install '.{spec}' in a clone of Manticore, or pip install 'manticore_hybrids-<version>-py3-none-any"
            f".whl{spec}' (the wheel `python -m build` writes to dist/)")


class ManticoreError(Exception):
    """Base of the errors manticore raises for expected failures (besides ValueError / FileNotFoundError)."""


class RunDirectoryBusy(ManticoreError):
    """Another process holds the run directory's lock (one writer per run directory)."""


class TrainingDiverged(ManticoreError):
    """The loss or the weights became non-finite; training stopped and the last good checkpoint is kept."""


class SaveFailed(ManticoreError):
    """A model or file could not be written where the run needs it."""
