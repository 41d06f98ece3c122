"""The package's layering, measured from its own source: no import cycle of modules or of top-level packages,
and every import goes down the floors of the layout (docs/layout.md). Function-local imports count (deferring
an import does not make the dependency go away); imports under `if TYPE_CHECKING:` don't (they never run)."""

import ast
import re
import importlib
import sys
import warnings
from collections import defaultdict
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "manticore"

# Floors, bottom up: a module may import its own floor or below (docs/layout.md draws the same picture).
FLOORS = {
    "errors": 1, "checks": 1, "settings": 1, "rundir": 1, "registry": 1, "_deprecated": 1,
    "kernels": 2, "tasks": 2, "report": 2,
    "components": 3,
    "hybrid": 4,
    "train": 5, "testing": 5,
    "workflow": 6,
    "tools": 7, "cli": 7, "demo": 7, "harness": 7, "_auto_hook": 7,
}


def modules() -> dict[str, Path]:
    """{dotted module name: file} of every module of the package (a package is its __init__.py)."""
    found = {}
    for path in PACKAGE.rglob("*.py"):
        parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        found[".".join(parts)] = path
    return found


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or \
        (isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def imported(name: str, path: Path, known: set[str]) -> set[str]:
    """The package's modules that module `name` imports, anywhere in its body but under TYPE_CHECKING."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    targets: set[str] = set()

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for other in child.orelse:
                    visit_node(other)
                continue
            visit_node(child)

    def visit_node(node: ast.AST) -> None:
        if isinstance(node, ast.Import):
            targets.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parts + ([node.module] if node.module else []))
            # `from a import b` imports the module a.b if there is one, else the name b from a
            targets.update(f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names)
        visit(node)

    visit(ast.parse(path.read_text()))
    return {t for t in targets if t in known and t != name}


def root_exports() -> dict[str, str]:
    """{name: module} of the names `manticore/__init__.py` loads on first use (`from manticore import X`)."""
    tree = ast.parse((PACKAGE / "__init__.py").read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "_EXPORTS" for t in node.targets):
            return {name: "manticore" + module for name, module in ast.literal_eval(node.value).items()}
    return {}


def graph() -> dict[str, set[str]]:
    """Module -> the modules it imports; `from manticore import X` of a lazily exported name counts as an import
    of the module X comes from (what runs when X is first used)."""
    found = modules()
    exports = root_exports()
    edges = {name: imported(name, path, set(found)) for name, path in found.items()}
    for name, path in found.items():
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "manticore" and not node.level:
                edges[name].update(exports[a.name] for a in node.names if a.name in exports)
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one node (Tarjan), each sorted."""
    index, low, stack, on_stack, out = {}, {}, [], set(), []

    def connect(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                connect(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                out.append(sorted(component))

    for node in sorted(edges):
        if node not in index:
            connect(node)
    return out


def top(module: str) -> str:
    """The top-level unit of a module: manticore.train.search.base -> train; the package itself -> ''."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def package_edges(edges: dict[str, set[str]]) -> dict[str, set[str]]:
    tops: dict[str, set[str]] = defaultdict(set)
    for a, targets in edges.items():
        tops[top(a)].update(top(b) for b in targets if top(b) not in (top(a), ""))
    return dict(tops)


def test_no_module_cycle():
    assert cycles(graph()) == []


def test_no_package_cycle():
    assert cycles(package_edges(graph())) == []


def test_every_import_goes_down_the_floors():
    units = {top(m) for m in modules() if m not in ALIASES} - {""}
    assert units <= set(FLOORS), f"place these in FLOORS (and docs/layout.md): {sorted(units - set(FLOORS))}"
    edges = {a: targets for a, targets in graph().items() if a not in ALIASES}
    upward = sorted(f"{a} (floor {FLOORS[a]}) imports {b} (floor {FLOORS[b]})"
                    for a, targets in package_edges(edges).items() if a
                    for b in targets if FLOORS[b] > FLOORS[a])
    assert upward == []


def test_the_checker_sees_cycles_and_local_imports(tmp_path):
    """The measurement itself: a function-local import counts, a TYPE_CHECKING one does not."""
    (tmp_path / "a.py").write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from pkg import c\n"
                                   "def f():\n    from pkg import b\n")
    (tmp_path / "b.py").write_text("import pkg.a\n")
    (tmp_path / "c.py").write_text("import pkg.a\n")
    known = {"pkg.a", "pkg.b", "pkg.c"}
    edges = {f"pkg.{n}": imported(f"pkg.{n}", tmp_path / f"{n}.py", known) for n in "abc"}
    assert edges == {"pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}, "pkg.c": {"pkg.a"}}
    assert cycles(edges) == [["pkg.a", "pkg.b"]]


# -- old import paths ----------------------------------------------------------------------------------------------
ALIASES = {"manticore.train.stages": "manticore.workflow.stages",
           "manticore.train.run_config": "manticore.workflow.run_config",
           "manticore.train.experiments": "manticore.workflow.experiments",
           "manticore.train.rundir": "manticore.rundir",
           "manticore.train.settings": "manticore.settings",
           "manticore.bench": "manticore.tools.bench",
           "manticore.components.sweep": "manticore.tools.families",
           "manticore.tasks.text_classification": "manticore.tasks.lra_text",
           "manticore.tasks.image_classification": "manticore.tasks.lra_image",
           "manticore.tasks.streams": "manticore.tasks.seeded_rng"}


@pytest.mark.parametrize("old", sorted(ALIASES))
def test_an_old_path_still_works_and_warns(old):
    sys.modules.pop(old, None)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        module = importlib.import_module(old)
    assert module is importlib.import_module(ALIASES[old])
    assert any(issubclass(w.category, DeprecationWarning) and ALIASES[old] in str(w.message) for w in caught)


def test_an_old_deep_path_is_the_new_module():
    """`manticore.train.stages.base` is `manticore.workflow.stages.base`: nothing loads twice."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        old = importlib.import_module("manticore.train.stages.base")
    new = importlib.import_module("manticore.workflow.stages.base")
    assert old is new and old.STAGES.names() == importlib.import_module("manticore.workflow.stages").names()


def test_an_old_script_path_runs_the_new_tool():
    import subprocess

    done = subprocess.run([sys.executable, "-m", "manticore.components.sweep", "--help"], capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "usage:" in done.stdout


def test_nothing_in_the_package_imports_an_old_path():
    importers = sorted(a for a, targets in graph().items() for b in targets if b in ALIASES)
    assert importers == []
    assert set(ALIASES) <= set(modules())  # each alias is a module of its own


def test_the_layout_page_draws_these_floors():
    """docs/layout.md's floor table is the one this test enforces."""
    page = (PACKAGE.parents[1] / "docs" / "layout.md").read_text()
    drawn = {}
    for floor, units in re.findall(r"^\| (\d) \| ([^|]+) \|", page, flags=re.M):
        drawn.update({unit: int(floor) for unit in re.findall(r"`([^`]+)`", units)})
    assert drawn == FLOORS


def test_the_reports_default_order_is_the_stage_registrys():
    """The report sits below the workflow and can't import its registry: rundir.STAGE_FOLDERS is the built-in
    stages' order for a report written on its own, and must follow the registry (a new stage adds its folder)."""
    from manticore import rundir
    from manticore.workflow import stages

    assert list(rundir.STAGE_FOLDERS) == [module.STAGE.name for module in stages.BUILT_IN]
