"""`manticore quickstart`: the shipped tiny end-to-end run (configs/quickstart.yaml)."""

from __future__ import annotations

from pathlib import Path

from .run_config import load_run_config
from .workflow import run_stage

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


def run_quickstart(out_dir: str | Path = "runs/quickstart") -> dict:
    config = load_run_config(CONFIGS / "quickstart.yaml", [f"out_dir={out_dir}"])
    results = {}
    for stage in config.run:
        print(f"== {stage} ==", flush=True)
        results[stage] = run_stage(config, stage)
    return results
