"""The package ships: `python -m build` makes a wheel and an sdist that `twine check` accepts, and the wheel,
installed into a fresh virtual environment, loads a saved hybrid through transformers' Auto classes
(trust_remote_code=True) and generates."""

import shutil
import site
import subprocess
import sys
import venv
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytest.importorskip("build")


@pytest.fixture(scope="module")
def dist(tmp_path_factory):
    """The wheel and sdist, built from a copy of the source (the checkout is left as it was)."""
    source, out = tmp_path_factory.mktemp("source"), tmp_path_factory.mktemp("dist")
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    shutil.copytree(ROOT / "src", source / "src", ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    done = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--sdist", "--wheel", "--outdir",
                           str(out), str(source)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    return out


def test_the_wheel_and_sdist_pass_twine_check(dist):
    wheel, sdist = sorted(dist.glob("*.whl")), sorted(dist.glob("*.tar.gz"))
    assert len(wheel) == len(sdist) == 1
    done = subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, wheel + sdist)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2


def test_the_wheel_installed_in_a_fresh_environment_loads_and_generates_a_saved_hybrid(dist, tmp_path):
    import torch

    import manticore
    from manticore.testing import tiny_config

    torch.manual_seed(0)
    hybrid = manticore.ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", vocab=64), tiny_config("mamba", vocab=64)], num_blocks=2).eval()
    hybrid.save_pretrained(tmp_path / "hybrid")
    expected = hybrid.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=4, do_sample=False)[0].tolist()

    env = tmp_path / "env"
    venv.create(env, with_pip=True)
    python = env / "bin" / "python"
    wheel = next(dist.glob("*.whl"))
    clean = {"HF_HUB_OFFLINE": "1", "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}  # nothing of this process's
    done = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", str(wheel)],
                          capture_output=True, text=True, timeout=300, env=clean)
    assert done.returncode == 0, done.stderr[-2000:]
    installed = next(line for line in done.stdout.splitlines() if line.startswith("Successfully installed"))
    assert installed == "Successfully installed manticore-hybrids-0.1.0"
    # torch, transformers and the rest come from this environment's site-packages, listed after the wheel's own
    # (a path in a .pth is added without running the .pth files in it, so the editable checkout stays out)
    site_dir = next(Path(p) for p in (env / "lib").glob("python*/site-packages"))
    (site_dir / "zz-deps.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    script = (
        "import json, sys, torch, manticore\n"
        "from transformers import AutoModelForCausalLM\n"
        f"model = AutoModelForCausalLM.from_pretrained({str(tmp_path / 'hybrid')!r}, trust_remote_code=True).eval()\n"
        "out = model.generate(torch.tensor([[1, 2, 3]]), max_new_tokens=4, do_sample=False)[0].tolist()\n"
        "print(json.dumps({'file': manticore.__file__, 'tokens': out}))\n")
    ran = subprocess.run([str(python), "-c", script], capture_output=True, text=True, timeout=300,
                         env=clean, cwd=tmp_path)
    assert ran.returncode == 0, ran.stderr[-3000:]
    import json

    result = json.loads(ran.stdout.strip().splitlines()[-1])
    assert result["file"].startswith(str(site_dir))  # the wheel's copy, not the checkout
    assert result["tokens"] == expected
    assert (env / "bin" / "manticore").exists()  # the console script
