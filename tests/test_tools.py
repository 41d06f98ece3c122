"""Every measurement tool (`manticore.tools`) imports and answers `--help`: they run by hand or by make targets,
never in the suite, so this is what keeps a moved import or a renamed flag from going unnoticed."""

import pkgutil
import subprocess
import sys

import manticore.tools

TOOLS = sorted(m.name for m in pkgutil.iter_modules(manticore.tools.__path__))

SCRIPT = """
import contextlib, importlib, io, sys
for name in sys.argv[1:]:
    module = importlib.import_module(f"manticore.tools.{name}")
    sys.argv = [name, "--help"]
    out = io.StringIO()
    try:
        with contextlib.redirect_stdout(out):
            module.main()
    except SystemExit as stop:
        assert stop.code in (0, None), (name, stop.code)
    else:
        raise AssertionError(f"{name}: --help did not exit")
    assert "usage:" in out.getvalue(), (name, out.getvalue()[:200])
    print(name, "ok")
"""


def test_every_tool_is_listed_and_answers_help():
    assert set(TOOLS) == {"bench", "families", "probes", "strategies", "scan_backends", "scan_timing",
                          "demo_generation", "recall_plateau"}
    for name in TOOLS:
        assert f"{name}.py" in manticore.tools.__doc__, f"tools/__init__.py does not describe {name}"
    done = subprocess.run([sys.executable, "-c", SCRIPT, *TOOLS], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stdout.split() == [word for name in TOOLS for word in (name, "ok")]
