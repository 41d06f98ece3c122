"""Registering the hybrid with transformers' Auto classes without importing transformers at `import manticore`.

`import manticore` must stay cheap (the CLI's --help imports it), but a saved hybrid must load through
`AutoConfig` / `AutoModelForCausalLM` / `AutoModelForSequenceClassification` after `import manticore`, even
when manticore's own classes were never touched. So `import manticore` registers at once if transformers'
Auto classes are already loaded, and otherwise installs an import hook that registers as soon as they load.

The hook waits until no transformers or manticore module is still initialising (registration imports both,
and neither may be half-loaded), then removes itself. Registering is importing `manticore.hybrid`,
which registers its classes when it loads (`manticore.hybrid.auto`).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import sys

AUTO_MODULES = ("transformers.models.auto.configuration_auto", "transformers.models.auto.modeling_auto")


def register() -> None:
    """Remove the hook and register the hybrid's Auto classes: importing `manticore.hybrid` registers them."""
    remove_hook()
    from . import hybrid  # noqa: F401


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
