"""Evaluate a saved hybrid (or any saved causal LM) with EleutherAI's lm-evaluation-harness.

    manticore eval-harness runs/demo/retrain/model --tasks hellaswag,lambada_openai
    manticore eval-harness MODEL_DIR --tasks my_task --include-path my_tasks/     # local task YAMLs

The model is loaded with `AutoModelForCausalLM.from_pretrained` (a hybrid through manticore's Auto classes),
its tokenizer from the same directory (the workflow saves one beside every model trained on a language
task), and both are handed to lm-eval's Hugging Face model (`HFLM`), so loglikelihood, multiple-choice and
`generate_until` tasks all run, generation through the hybrid's cache. The context limit given to lm-eval is
the smallest position limit among the components with mixture weight (learned positions), else lm-eval's
default. lm-eval is an optional extra, `eval` (`pip install '.[eval]'` in a clone).

Hub tasks need their datasets (downloaded by `datasets`); a local task is a YAML file in `include_path`
whose `dataset_path: json` points at local JSON lines (see tests/test_harness.py for one of each kind).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from .errors import install_hint

INSTALL_HINT = f"lm-eval is not installed; install the `eval` extra: {install_hint('eval')}"


def import_lm_eval():
    try:
        import lm_eval
        from lm_eval.models.huggingface import HFLM
        from lm_eval.tasks import TaskManager
    except ImportError as err:
        raise ImportError(f"{INSTALL_HINT} ({err})") from None
    return lm_eval, HFLM, TaskManager


def load_for_harness(model_dir: str | Path, tokenizer: str | Path | None = None, device: str | None = None,
                     dtype: str | None = None):
    """(model in eval mode on `device`, its tokenizer) from a saved directory, with errors that say what's missing."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    import manticore  # noqa: F401  (registers the hybrid with the Auto classes)

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir} is not a saved model: it has no config.json. Pass the directory a "
                                "stage wrote (e.g. runs/demo/retrain/model) or one saved with save_pretrained.")
    source = Path(tokenizer) if tokenizer is not None else model_dir
    if tokenizer is None and not (model_dir / "tokenizer_config.json").is_file():
        raise FileNotFoundError(
            f"{model_dir} has no tokenizer (tokenizer_config.json). Models trained on language tasks get one "
            "saved beside them; otherwise pass --tokenizer with a tokenizer directory or hub id.")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch_dtype = getattr(torch, dtype) if dtype else None
    model = AutoModelForCausalLM.from_pretrained(model_dir, dtype=torch_dtype).to(device).eval()
    return model, AutoTokenizer.from_pretrained(source)


def context_limit(model) -> int | None:
    """The longest input the model takes: for a hybrid, the smallest position limit among the components with
    mixture weight (None if none has one); for another model, None (lm-eval reads its config)."""
    base = getattr(model, "base_model", None)
    if not hasattr(base, "components") or not hasattr(base, "mixture"):
        return None
    active = base.mixture.resolve().active
    limits = [c.max_positions for c, on in zip(base.components, active) if on and c.max_positions is not None]
    return min(limits) if limits else None


def evaluate_harness(
    model_dir: str | Path,
    tasks: list[str],
    *,
    include_path: str | Path | None = None,
    tokenizer: str | Path | None = None,
    batch_size: int = 8,
    limit: int | float | None = None,
    num_fewshot: int | None = None,
    device: str | None = None,
    dtype: str | None = None,
    log_samples: bool = False,
    seed: int = 0,
) -> dict[str, Any]:
    """Run lm-eval `tasks` on the model saved in `model_dir`; returns lm-eval's results dict ("results",
    "configs", ..., and "samples" with log_samples=True).

    include_path: a directory of task YAMLs to add to lm-eval's own. limit: at most this many documents per
    task (a fraction: that share). dtype: "bfloat16", "float16" or "float32" (default: as saved).
    """
    lm_eval, HFLM, TaskManager = import_lm_eval()
    if not tasks:
        raise ValueError("Name at least one lm-eval task (e.g. --tasks lambada_openai,hellaswag).")
    if include_path is not None and not Path(include_path).is_dir():
        raise FileNotFoundError(f"--include-path {include_path} is not a directory of task YAMLs.")
    manager = task_manager(TaskManager, tasks, include_path)
    model, tok = load_for_harness(model_dir, tokenizer, device, dtype)
    lm = HFLM(pretrained=model, tokenizer=tok, batch_size=batch_size, max_length=context_limit(model))
    try:
        return lm_eval.simple_evaluate(
            model=lm, tasks=list(tasks), num_fewshot=num_fewshot, limit=limit, task_manager=manager,
            log_samples=log_samples, random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed,
            fewshot_random_seed=seed,
        )
    except ConnectionError as err:  # a hub task's dataset, offline or without network
        from .errors import first_line

        raise ValueError(f"{first_line(err)}: lm-eval task(s) {', '.join(tasks)} download their datasets from the "
                         "Hugging Face Hub. Without it, evaluate local task YAMLs with their data on disk "
                         "(--include-path DIR).") from None


def task_manager(TaskManager, tasks: list[str], include_path: str | Path | None):
    """lm-eval's TaskManager for `tasks`: only the local YAMLs when they hold every task (indexing lm-eval's own
    ~15,000 task files takes seconds), else lm-eval's tasks plus the local ones; raises on unknown names."""
    if include_path is not None:
        local = TaskManager(include_path=str(include_path), include_defaults=False)
        if all(local.match_tasks([t]) for t in tasks):
            return local
    manager = TaskManager(include_path=str(include_path) if include_path is not None else None)
    unknown = [t for t in tasks if not manager.match_tasks([t])]
    if unknown:
        where = f" or in {include_path}" if include_path is not None else " (add --include-path for local task YAMLs)"
        raise ValueError(f"Unknown lm-eval task(s) {unknown}: not among lm-eval's {len(manager.all_tasks)} tasks{where}.")
    return manager


def summary_table(results: dict[str, Any]) -> str:
    """lm-eval's own Markdown table of the metrics."""
    from lm_eval.utils import make_table

    return make_table(results)


def write_results(results: dict[str, Any], path: str | Path) -> None:
    """The metrics, task configs and versions as JSON (samples left out)."""
    keep = {k: v for k, v in results.items() if k != "samples"}
    Path(path).write_text(json.dumps(keep, indent=2, default=str))
