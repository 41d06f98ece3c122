"""Registering the hybrid with transformers' Auto classes without importing transformers at `import manticore`.

`import manticore` must stay cheap (the CLI's --help imports it), but a saved hybrid must load through
`AutoConfig` / `AutoModelForCausalLM` / `AutoModelForSequenceClassification` after `import manticore`, even
when manticore's own classes were never touched. So `import manticore` registers at once if transformers'
Auto classes are already loaded, and otherwise installs an import hook that registers as soon as they load.

The hook waits until no transformers or manticore module is still initialising (registration imports both,
and neither may be half-loaded), then removes itself. `manticore.hybrid` registers when it loads, too.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

AUTO_MODULES = ("transformers.models.auto.configuration_auto", "transformers.models.auto.modeling_auto")
# The Auto class -> our class that it loads; registered in this process, and written into every saved hybrid's
# config.json as its `auto_map`, so another process loads it with trust_remote_code=True.
AUTO_MODELS = {"AutoModel": "ManticoreModel", "AutoModelForCausalLM": "ManticoreForCausalLM",
               "AutoModelForSequenceClassification": "ManticoreForSequenceClassification"}
REMOTE_CODE = "modeling_manticore"  # the module a saved hybrid carries: it imports the installed package


def register() -> None:
    """AutoConfig, AutoModel, AutoModelForCausalLM and AutoModelForSequenceClassification know the hybrid."""
    remove_hook()
    import transformers

    from . import hybrid

    transformers.AutoConfig.register(hybrid.ManticoreConfig.model_type, hybrid.ManticoreConfig, exist_ok=True)
    for auto, name in AUTO_MODELS.items():
        getattr(transformers, auto).register(hybrid.ManticoreConfig, getattr(hybrid, name), exist_ok=True)


def auto_map() -> dict[str, str]:
    """config.json's `auto_map`: each Auto class -> "modeling_manticore.<class>"."""
    return {"AutoConfig": f"{REMOTE_CODE}.ManticoreConfig", **{a: f"{REMOTE_CODE}.{c}" for a, c in AUTO_MODELS.items()}}


def write_remote_code(directory: str) -> None:
    """Put modeling_manticore.py in a saved hybrid's directory: Hugging Face's custom-code loader imports it
    (trust_remote_code=True) in a process that never imported manticore; it takes the classes from the
    installed `manticore` package, so the checkpoint carries no copy of our code."""
    from pathlib import Path

    names = ["ManticoreConfig", *AUTO_MODELS.values()]
    (Path(directory) / f"{REMOTE_CODE}.py").write_text(
        '"""Loads a saved Manticore hybrid through transformers\' Auto classes (trust_remote_code=True).\n\n'
        'The classes come from the installed `manticore` package (pip install manticore-hybrids)."""\n\n'
        f"from manticore.hybrid import {', '.join(names)}\n\n__all__ = {names!r}\n")


def _initialising(done: str | None = None) -> bool:
    """Whether a transformers or manticore module other than `done` (which has just run) is half-loaded."""
    return any(getattr(getattr(module, "__spec__", None), "_initializing", False)
               for name, module in list(sys.modules.items())
               if name.split(".")[0] in ("transformers", "manticore") and name != done)


class _Loader(importlib.abc.Loader):
    """A transformers module's own loader, which tells the hook when the module has loaded."""

    def __init__(self, loader, hook: RegisterOnImport):
        self.loader, self.hook = loader, hook

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        self.loader.exec_module(module)
        self.hook.loaded(module.__name__)

    def __getattr__(self, name):  # get_source, is_package, ...: the real loader's
        return getattr(self.loader, name)


class RegisterOnImport(importlib.abc.MetaPathFinder):
    """Watches transformers' imports; registers once its Auto classes have loaded and nothing is half-loaded."""

    def __init__(self):
        self.due = False

    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] != "transformers":
            return None
        spec = importlib.machinery.PathFinder.find_spec(fullname, path)
        if spec is not None and spec.loader is not None:
            spec.loader = _Loader(spec.loader, self)
        return spec

    def loaded(self, name: str) -> None:
        self.due = self.due or name in AUTO_MODULES
        if self.due and not _initialising(done=name):
            register()


def remove_hook() -> None:
    sys.meta_path[:] = [finder for finder in sys.meta_path if not isinstance(finder, RegisterOnImport)]


def register_now_or_on_import() -> None:
    """Register if transformers' Auto classes are loaded, else as soon as they are."""
    if any(name in sys.modules for name in AUTO_MODULES) and not _initialising():
        register()
    elif not any(isinstance(finder, RegisterOnImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, RegisterOnImport())
