"""The `manticore` command: thin subcommands over the library's functions.

Workflow stages, each configured by a YAML run config (see configs/) with `--set key=value` overrides:

    manticore run --config configs/demo.yaml             # the stages listed under `run:`, in order
    manticore pretrain | pretrain-projectors | search | retrain | baselines | program | sweep | eval
              --config FILE [--set train.max_steps=50 ...] [--out DIR] [--resume]
    manticore discretize MODEL_DIR --out DIR
    manticore report RUN_DIR
    manticore quickstart [--out runs/quickstart]         # a tiny end-to-end run in about a minute

Building and inspecting:

    manticore demo [--out runs/demo] [--set KEY=VALUE ...]
    manticore build COMPONENT [COMPONENT ...] --num-blocks L --out DIR [--embeddings-from K] [--weights W]
    manticore inspect DIR
    manticore tasks

Several processes: `torchrun --nproc_per_node 2 -m manticore.cli search --config FILE`.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def parse_weights(text: str):
    """'0.5,0.5' -> [0.5, 0.5]; '1,0;0.3,0.7' -> [[1, 0], [0.3, 0.7]]; or a JSON list."""
    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    rows = [[float(v) for v in row.split(",")] for row in text.split(";")]
    return rows[0] if len(rows) == 1 else rows


def cmd_demo(args) -> None:
    from .demo import run_demo

    run_demo(args.out, list(args.set or []))


def cmd_build(args) -> None:
    from . import ManticoreForCausalLM, ManticoreForSequenceClassification
    from .hybrid.summary import describe

    cls = ManticoreForCausalLM if args.head == "causal-lm" else ManticoreForSequenceClassification
    extra = {"num_labels": args.num_labels} if args.head == "classification" else {}
    model = cls.from_components(args.components, num_blocks=args.num_blocks, vocab_size=args.vocab_size,
                                embeddings_from=args.embeddings_from, **extra)
    if args.weights:
        model.set_mixture_weights(parse_weights(args.weights))
    model.save_pretrained(args.out)
    print(describe(model))
    print(f"\nSaved to {args.out}")


def cmd_inspect(args) -> None:
    from .hybrid.build import load_hybrid
    from .hybrid.summary import describe

    print(describe(load_hybrid(args.path)))


STAGE_HELP = {
    "pretrain": "train the components given as configs from scratch on a corpus",
    "pretrain-projectors": "components frozen; train projectors, mixture weights, embedding and head on text",
    "search": "search the mixture weights with the model (DARTS, GAEA or Gumbel-softmax)",
    "retrain": "freeze the searched mixture weights, rewind to the pre-search weights, fine-tune",
    "baselines": "fine-tune each component alone and the hybrid with the same budget over seeds",
    "program": "program the mixture weights (metadata or proxy MAD search) and fine-tune",
    "sweep": "fine-tune or evaluate over a grid of fixed mixture weights",
    "eval": "evaluate a saved model on the task",
}


def load_config(args):
    from .train.run_config import load_run_config

    overrides = list(args.set or [])
    if args.out:
        overrides.append(f"out_dir={args.out}")
    return load_run_config(args.config, overrides)


def cmd_stage(args) -> None:
    from .train.workflow import run_stage

    config = load_config(args)
    result = run_stage(config, args.command, resume=args.resume)
    print(json.dumps(result, indent=2, default=str)[:4000])


def cmd_run(args) -> None:
    from .train.workflow import run_stage

    config = load_config(args)
    if not config.run:
        raise ValueError(f"{args.config}: nothing to run; list stages under `run:` (e.g. [search, retrain, report]).")
    for stage in config.run:
        print(f"== {stage} ==", flush=True)
        result = run_stage(config, stage, resume=args.resume)
        print(json.dumps(result, default=str)[:2000], flush=True)


def cmd_report(args) -> None:
    from .report import write_report

    print(f"Wrote {write_report(args.run_dir)}")


def cmd_discretize(args) -> None:
    from .hybrid.build import load_hybrid
    from .hybrid.discretize import discretize

    model, report = discretize(load_hybrid(args.model))
    model.save_pretrained(args.out)
    (Path(args.out) / "discretize.json").write_text(json.dumps(report, indent=2, default=str))
    print(json.dumps(report, indent=2, default=str))


def cmd_quickstart(args) -> None:
    from .train.quickstart import run_quickstart

    run_quickstart(args.out)


def cmd_tasks(args) -> None:
    from . import tasks

    print("\n".join(tasks.names()))


def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="YAML run config (see configs/)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override a config field, e.g. train.max_steps=20 or stages.search.search.algorithm=gaea")
    parser.add_argument("--out", default=None, help="override out_dir")
    parser.add_argument("--resume", action="store_true", help="continue from the stage's last checkpoint")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="manticore", description="Build and inspect Manticore hybrids.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="the workflow on the embedded default (configs/demo.yaml): pretrain, "
                                       "search, retrain, compare, discretize, report")
    demo.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo)")
    demo.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a field of configs/demo.yaml")
    demo.set_defaults(func=cmd_demo)

    build = sub.add_parser("build", help="build a hybrid from component checkpoints / hub ids and save it")
    build.add_argument("components", nargs="+", help="local checkpoint directories or hub ids")
    build.add_argument("--num-blocks", type=int, default=1, help="L; must divide every component's depth")
    build.add_argument("--vocab-size", type=int, default=None, help="default: the first component's")
    build.add_argument("--embeddings-from", type=int, default=None, help="init embedding/head from component k")
    build.add_argument("--weights", default=None, help="mixture weights, e.g. '0.5,0.5' or '1,0;0.3,0.7' (per block)")
    build.add_argument("--head", choices=["causal-lm", "classification"], default="causal-lm")
    build.add_argument("--num-labels", type=int, default=2, help="classes, with --head classification")
    build.add_argument("--out", required=True, help="output directory")
    build.set_defaults(func=cmd_build)

    inspect = sub.add_parser("inspect", help="describe a saved hybrid")
    inspect.add_argument("path")
    inspect.set_defaults(func=cmd_inspect)

    for name, text in STAGE_HELP.items():
        stage = sub.add_parser(name, help=text, description=text)
        add_config_arguments(stage)
        stage.set_defaults(func=cmd_stage)
    run = sub.add_parser("run", help="run the stages a config lists under `run:`")
    add_config_arguments(run)
    run.set_defaults(func=cmd_run)

    discretize = sub.add_parser("discretize", help="replace α by its argmax one-hot and drop unused branches")
    discretize.add_argument("model", help="a saved hybrid directory")
    discretize.add_argument("--out", required=True, help="where to save the discretized hybrid")
    discretize.set_defaults(func=cmd_discretize)

    report = sub.add_parser("report", help="write report.md and plots for a run directory")
    report.add_argument("run_dir")
    report.set_defaults(func=cmd_report)

    quickstart = sub.add_parser("quickstart", help="a tiny end-to-end run (pretrain, search, retrain, report)")
    quickstart.add_argument("--out", default="runs/quickstart")
    quickstart.set_defaults(func=cmd_quickstart)

    listing = sub.add_parser("tasks", help="list the registered task names")
    listing.set_defaults(func=cmd_tasks)
    return parser


def main(argv: list[str] | None = None) -> int:
    from transformers.utils import logging

    logging.set_verbosity_error()  # keep the command's own output readable
    args = build_parser().parse_args(argv)
    try:
        args.func(args)
    except (ValueError, TypeError) as err:
        print(f"manticore {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
