"""The `manticore` command: thin subcommands over the library's functions.

Workflow stages, one subcommand each (from the stage registry, `manticore.workflow.stages`), driven by a YAML
run config (src/manticore/configs/ ships some) with `--set key=value` overrides; `manticore <stage> --help` lists its settings:

    manticore run --config src/manticore/configs/demo.yaml   # the stages listed under `run:`, in order
    manticore <stage> [RUN_DIR] [--config FILE] [--set stages.<stage>.<field>=VALUE ...] [--resume]
        stages: pretrain, pretrain-projectors, program, search, retrain, discretize, sweep, baselines, pareto, eval,
                report
    manticore report runs/demo                           # a stage needs no config when its settings suffice
    manticore quickstart [--out runs/quickstart]         # a tiny end-to-end run in about a minute

Building and inspecting:

    manticore demo [--out runs/demo] [--set KEY=VALUE ...]
    manticore build COMPONENT [COMPONENT ...] --num-blocks L --out DIR [--embeddings-from K] [--weights W]
    manticore inspect DIR
    manticore tasks [NAME ...]                           # the tasks; with names, their settings

Several processes: `torchrun --nproc_per_node 2 -m manticore.cli search --config FILE`.

Only the standard library and the stage registry (which is light) load before a subcommand runs, so
`--help` is fast.
"""

from __future__ import annotations

import argparse
import json
import sys

from .errors import ManticoreError


def parse_weights(text: str):
    """'0.5,0.5' -> [0.5, 0.5]; '1,0;0.3,0.7' -> [[1, 0], [0.3, 0.7]]; or a JSON list."""
    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    rows = [[float(v) for v in row.split(",")] for row in text.split(";")]
    return rows[0] if len(rows) == 1 else rows


# -- the commands --------------------------------------------------------------------------------------------------
def load_config(args):
    from .workflow.run_config import load_run_config

    overrides = list(args.set or [])
    out = args.out or getattr(args, "run_dir", None)
    if out:
        overrides.append(f"out_dir={out}")
    return load_run_config(args.config, overrides)


def cmd_stage(args) -> None:
    from .workflow.stages import run_stage

    result = run_stage(load_config(args), args.command, resume=args.resume)
    print(json.dumps(result, indent=2, default=str)[:4000])


def cmd_run(args) -> None:
    from .workflow.stages import run_workflow

    run_workflow(load_config(args), args.resume,
                 on_result=lambda name, result: print(json.dumps(result, default=str)[:2000], flush=True))


def cmd_quickstart(args) -> None:
    from .workflow.run_config import shipped_config
    from .workflow.stages import run_workflow

    run_workflow(shipped_config("quickstart", [f"out_dir={args.out}"]))


def cmd_demo(args) -> None:
    from .demo import run_demo

    run_demo(args.out, list(args.set or []))


def cmd_experiments(args) -> None:
    from .workflow.experiments import load_experiments, run_experiments, select

    if args.report_only:
        from .report.experiments import write_experiments

        experiments = load_experiments()
        select([name.split("/", 1)[0] for name in args.names], experiments)  # unknown names are an error here too
        print(f"Wrote {write_experiments(list(experiments.values()), args.output)}")
        return
    try:
        print(f"Wrote {run_experiments(args.names, args.jobs, args.output)}")
    except RuntimeError as err:  # some runs failed; the tables were still written from the others
        print(f"manticore experiments: {err}", file=sys.stderr)
        sys.exit(1)


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


def cmd_eval_harness(args) -> None:
    from .harness import evaluate_harness, summary_table, write_results

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    limit = args.limit
    if limit is not None:
        if not (0 < limit < 1 or (limit >= 1 and limit == int(limit))):
            raise ValueError(f"--limit {limit:g} is not valid; accepted: a whole number of documents >= 1, or a "
                             "share of each task between 0 and 1.")
        limit = int(limit) if limit >= 1 else limit
    results = evaluate_harness(args.model_dir, tasks, include_path=args.include_path, tokenizer=args.tokenizer,
                               batch_size=args.batch_size, limit=limit, num_fewshot=args.num_fewshot,
                               device=args.device, dtype=args.dtype, seed=args.seed)
    print(summary_table(results))
    if args.output:
        write_results(results, args.output)
        print(f"Results written to {args.output}")


def cmd_tasks(args) -> None:
    """Every task with its line of doc; or, given names, each one's settings with their defaults and docs."""
    from . import tasks

    if args.names:
        print("\n\n".join(tasks.TASKS.get(name).help() for name in args.names))
        return
    width = max(map(len, tasks.names()))
    print("\n".join(f"{name:<{width}}  {tasks.TASKS[name].doc}" for name in tasks.names()))


# -- the parser ----------------------------------------------------------------------------------------------------
def add_config_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", default=None, help="YAML run config (see src/manticore/configs/)")
    parser.add_argument("--set", action="append", metavar="KEY=VALUE",
                        help="override a config field, e.g. train.max_steps=20 or stages.search.search.algorithm=gaea")
    parser.add_argument("--out", default=None, help="override out_dir (the run directory)")
    parser.add_argument("--resume", action="store_true", help="continue whatever is left: parts with no checkpoint "
                        "start fresh, finished ones are skipped, a checkpoint written with other settings is refused")


def stage_epilog(stage) -> str:
    """The stage's settings with their defaults and docs (and the search algorithms, where it searches)."""
    import typing

    from .train.search import ALGORITHMS, SearchConfig
    from .settings import describe

    listing = describe(stage.settings)
    if not listing:
        return "This stage has no settings of its own."
    where = f"stages.{stage.name}"
    text = f"Settings (`{where}:` in a run config, or --set {where}.FIELD=VALUE), with their defaults:\n"
    if "train" in typing.get_type_hints(stage.settings):
        text += ("`train` fields default to the run's top-level `train`"
                 + (f", then stages.{stage.train_defaults}.train" if stage.train_defaults else "") + ".\n")
    text += "\n" + listing
    if SearchConfig in typing.get_type_hints(stage.settings).values():
        text += "\n\nSearch algorithms (search.algorithm) and their search.hyperparameters:\n"
        for name, algorithm in ALGORITHMS.items():
            text += f"\n  {name}: {(algorithm.__doc__ or '').strip().splitlines()[0]}\n"
            text += describe(algorithm.Hyperparameters, "      ") or "      (no hyperparameters)"
    return text


def build_parser() -> argparse.ArgumentParser:
    from .workflow.stages import STAGES

    parser = argparse.ArgumentParser(prog="manticore", description="Build Manticore hybrids and run the workflow.")
    sub = parser.add_subparsers(dest="command", required=True)

    for stage in STAGES.values():
        command = sub.add_parser(stage.name, help=stage.help, description=stage.doc, epilog=stage_epilog(stage),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
        command.add_argument("run_dir", nargs="?", default=None, metavar="RUN_DIR", help="the run directory (out_dir)")
        add_config_arguments(command)
        command.set_defaults(func=cmd_stage)
    run = sub.add_parser("run", help="run the stages a config lists under `run:`")
    add_config_arguments(run)
    run.set_defaults(func=cmd_run)

    quickstart = sub.add_parser("quickstart", help="a tiny end-to-end run (pretrain, search, retrain, report)")
    quickstart.add_argument("--out", default="runs/quickstart")
    quickstart.set_defaults(func=cmd_quickstart)

    demo = sub.add_parser("demo", help="the workflow on the embedded default (configs/demo.yaml): pretrain, "
                                       "search, retrain, compare, discretize, report")
    demo.add_argument("--out", default="runs/demo", help="run directory (default: runs/demo)")
    demo.add_argument("--set", action="append", metavar="KEY=VALUE", help="override a field of configs/demo.yaml")
    demo.set_defaults(func=cmd_demo)

    experiments = sub.add_parser(
        "experiments", help="run the paper's experiments at CPU scale (configs/experiments.yaml); write EXPERIMENTS.md",
        description="Run the experiments listed in configs/experiments.yaml (each a shipped run config over its "
                    "variants, each variant in its own process), then write EXPERIMENTS.md's tables from the run "
                    "directories. NAME runs one experiment (e.g. c2-mad), NAME/VARIANT one variant "
                    "(e.g. c2-mad/memorization).")
    experiments.add_argument("names", nargs="*", help="experiments to run (default: all), e.g. c2-mad")
    experiments.add_argument("--jobs", type=int, default=2, help="variants run at once, one process each (default 2)")
    experiments.add_argument("--output", default="EXPERIMENTS.md", help="the tables' file (default EXPERIMENTS.md)")
    experiments.add_argument("--report-only", action="store_true", help="only rewrite the tables from the runs")
    experiments.set_defaults(func=cmd_experiments)

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

    harness = sub.add_parser(
        "eval-harness", help="evaluate a saved model with lm-evaluation-harness (pip install 'manticore-hybrids[eval]')",
        description="Run lm-eval tasks on a saved hybrid (or any saved causal LM) and its saved tokenizer: "
                    "loglikelihood, multiple-choice and generate_until tasks.")
    harness.add_argument("model_dir", help="a saved model directory (config.json, weights, tokenizer)")
    harness.add_argument("--tasks", required=True, help="comma-separated lm-eval task names")
    harness.add_argument("--include-path", default=None, help="a directory of local task YAMLs")
    harness.add_argument("--tokenizer", default=None, help="tokenizer directory or hub id (default: model_dir's)")
    harness.add_argument("--batch-size", type=int, default=8)
    harness.add_argument("--limit", type=float, default=None, help="documents per task (a fraction below 1: that share)")
    harness.add_argument("--num-fewshot", type=int, default=None)
    harness.add_argument("--device", default=None, help="default: cuda if available, else cpu")
    harness.add_argument("--dtype", choices=["float32", "bfloat16", "float16"], default=None)
    harness.add_argument("--seed", type=int, default=0)
    harness.add_argument("--output", default=None, help="also write the results as JSON to this file")
    harness.set_defaults(func=cmd_eval_harness)

    listing = sub.add_parser("tasks", help="list the registered tasks; `manticore tasks NAME` lists a task's settings")
    listing.add_argument("names", nargs="*", metavar="NAME", help="tasks whose settings to list, e.g. lm/stream")
    listing.set_defaults(func=cmd_tasks)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command not in ("tasks",):
        from transformers.utils import logging

        logging.set_verbosity_error()  # keep the command's own output readable
    try:
        args.func(args)
    except (ManticoreError, ValueError, TypeError, OSError, ImportError) as err:
        print(f"manticore {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
