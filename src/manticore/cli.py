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
    manticore cost DIR [--context N ...] [--latency]     # what it costs per branch and per layout (params, FLOPs, KV)
    manticore tasks [NAME ...]                           # the tasks; with names, their settings

Several processes: `torchrun --nproc_per_node 2 -m manticore.cli search --config FILE`.

Only the standard library and the stage registry (which is light) load before a subcommand runs, so
`--help` is fast.
"""

from __future__ import annotations

import argparse
import json
import os
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

    run_workflow(load_config(args), args.resume)  # each stage ends with its one-line summary


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
    source = save_tokenizer(args.tokenizer, args.components, args.out)
    print(describe(model))
    print(f"\nSaved to {args.out}" + (f", with the tokenizer of {source}" if source else
                                      " without a tokenizer (no component has one; pass --tokenizer)"))


def save_tokenizer(tokenizer: str | None, components: list[str], out: str) -> str | None:
    """Save `tokenizer`, or else the first component's that has one, beside the built hybrid (so that
    `pipeline` and lm-eval load its directory as it is); returns where it came from, None if nowhere."""
    from pathlib import Path

    from transformers import AutoTokenizer

    from .components.sources import check_source

    if tokenizer is None:
        has_one = [c for c in components if Path(c).is_dir() and any(
            (Path(c) / name).exists() for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json"))]
        if not has_one:
            return None
        tokenizer = has_one[0]
    check_source(tokenizer, "Tokenizer")
    AutoTokenizer.from_pretrained(tokenizer).save_pretrained(out)
    return tokenizer


def cmd_prune(args) -> None:
    from . import rundir
    from .report.markdown import human_bytes

    with rundir.exclusive(args.run_dir):
        done = rundir.prune(args.run_dir, dry_run=args.dry_run)
    verb = "would remove" if args.dry_run else "removed"
    print(f"{args.run_dir}: {verb} {done['files']} checkpoint(s), {human_bytes(done['bytes'])}, of finished runs in "
          f"{', '.join(done['stages']) or 'no stage'}; results, logs and models are kept.")
    if done["unfinished"]:
        print(f"Kept the checkpoints of unfinished runs (they can resume): {', '.join(done['unfinished'])}.")


def cmd_inspect(args) -> None:
    from .hybrid.build import load_hybrid
    from .hybrid.summary import describe

    print(describe(load_hybrid(args.path)))


COST_CONTEXTS = (4096, 32768)  # `manticore cost`'s default context lengths
MAX_LAYOUT_ROWS = 16  # more layouts than this: only each component alone is listed


def text_table(header: list[str], rows: list[list[str]], left: int = 1) -> list[str]:
    """Columns two spaces apart, the first `left` aligned left and the others right (numbers)."""
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    return ["  ".join(str(cell).ljust(w) if i < left else str(cell).rjust(w)
                      for i, (cell, w) in enumerate(zip(row, widths))).rstrip() for row in [header, *rows]]


def cmd_cost(args) -> None:
    from .hybrid.build import load_hybrid

    contexts = list(dict.fromkeys(args.context or COST_CONTEXTS))
    for context in contexts:
        if context < 1:
            raise ValueError(f"--context {context} is not valid; accepted: a number of tokens >= 1.")
    if not os.path.isdir(args.path):
        raise ValueError(f"{args.path!r} is not a directory; give the folder of a saved hybrid (save_pretrained's).")
    hybrid = load_hybrid(args.path)
    if args.latency and hybrid.get_output_embeddings() is None:
        raise ValueError(f"--latency times decoding, which needs a causal LM; {args.path!r} holds a "
                         f"{type(hybrid).__name__}. Without --latency its counted costs are printed.")
    hybrid.eval()
    if args.decode:
        print("\n".join(decode_comparison(hybrid, args.decode, args.rounds, where=args.path)))
        return
    print("\n".join(cost_profile(hybrid, contexts, args.latency, where=args.path)))


def parse_layout(text: str, names: list[str], num_blocks: int) -> list[int]:
    """"mamba,mamba,gpt_neo" (names or indices, one per block) -> component indices; a ValueError says why not."""
    parts = [p.strip() for p in text.split(",")]
    if len(parts) != num_blocks:
        raise ValueError(f"--decode {text!r} names {len(parts)} block(s); the hybrid has L={num_blocks}: give one "
                         f"component per block, from {', '.join(names)} (or their indices).")
    choice = []
    for part in parts:
        if part.isdigit() and int(part) < len(names):
            choice.append(int(part))
        elif part in names:
            choice.append(names.index(part))
        else:
            raise ValueError(f"--decode {text!r}: {part!r} is not a component; accepted: {', '.join(names)} or "
                             f"0..{len(names) - 1}.")
    return choice


def decode_comparison(hybrid, layouts: list[str], rounds: int, where: str) -> list[str]:
    """`manticore cost --decode`'s lines: each layout's measured decode time per token, end to end, against
    every component alone (all cut from the same hybrid and timed in turns, so a slow spell hits all alike)."""
    from .hybrid.cost import decode_times

    names, L = list(hybrid.config.adapters), hybrid.config.num_blocks
    if rounds < 1:
        raise ValueError(f"--rounds {rounds} is not valid; accepted: an integer >= 1.")
    chosen = {",".join(names[k] for k in parse_layout(t, names, L)): parse_layout(t, names, L) for t in layouts}
    alone = {f"{name} alone": [k] * L for k, name in enumerate(names)}
    models = {label: hybrid.discretize(choice=choice) for label, choice in {**alone, **chosen}.items()}
    limits = [m for m in (getattr(c, "max_positions", None) for c in hybrid.base_model.components) if m]
    room = min([128, *limits])  # prompt and decoded tokens together must fit every component's positions
    prompt, tokens = room // 2, room - room // 2 - 1
    seconds = decode_times(models, prompt_length=prompt, tokens=tokens, rounds=rounds)
    fastest = min(seconds[label] for label in alone)
    rows = [[label, f"{seconds[label] * 1e3:.3f}", f"{1 / seconds[label]:,.0f}", f"{seconds[label] / fastest:.3f}"]
            for label in models]
    return [f"Decode time per token of {where}'s layouts, measured end to end here (batch 1, a {prompt}-token prompt, "
            f"{tokens} greedy tokens, the median of {rounds} interleaved rounds):", "",
            *text_table(["layout", "ms/token", "tokens/s", "x fastest component"], rows)]


def cost_profile(hybrid, contexts: list[int], latency: bool = False, where: str = "the hybrid") -> list[str]:
    """`manticore cost`'s lines: the counted cost of each branch, of each discrete layout (each component alone
    when there are more than MAX_LAYOUT_ROWS) and of α as saved; with `latency`, each one's measured ms per token
    on this machine and the model's end-to-end decode speed."""
    from .hybrid.cost import CostModel
    from .report.markdown import context_label, fmt_alphas, human_bytes, human_count

    base, costs = hybrid.base_model, CostModel.of(hybrid)
    names, (L, K) = costs.names, costs.shape
    profile, at = costs.profile(contexts), [context_label(c) for c in contexts]
    lines = [f"Cost of {where}: {' + '.join(names)}, L={L} blocks, vocab {base.config.vocab_size}. Counted from its "
             "modules, batch 1: FLOPs per token decoded after N tokens of context, cache bytes per sequence of N.", "",
             "Branches (component k's blocks in block l, as a layout runs them; projectors run only while 0 < α < 1):"]
    rows = [[str(b["block"]), b["name"], str(b["layers"] or "pruned"), human_count(b[f"params@{contexts[0]}"]),
             human_count(b["projector_params"]), *(human_count(b[f"flops@{c}"]) for c in contexts),
             *(human_bytes(b[f"kv_bytes@{c}"]) for c in contexts), human_bytes(b[f"state_bytes@{contexts[0]}"])]
            for b in profile["branches"]]
    lines += text_table(["block", "component", "layers", "params", "projector params",
                         *(f"FLOPs/token@{a}" for a in at), *(f"KV@{a}" for a in at), "state"], rows, left=2)
    lines.append(f"embedding and head: {human_count(profile['head']['params'])} params, "
                 f"{human_count(profile['head']['flops'])} FLOPs/token")

    pruned = base.mixture.pruned or [[False] * K for _ in range(L)]
    layouts = [c for c in costs.layouts() if not any(pruned[l][k] for l, k in enumerate(c))]
    listed = layouts if len(layouts) <= MAX_LAYOUT_ROWS else [c for c in layouts if len(set(c)) == 1]
    saved = hybrid.mixture_weights().detach()
    mixtures = [(", ".join(names[k] for k in c), c) for c in listed] + [(f"α as saved {fmt_alphas(saved)}", saved)]
    lines += ["", f"Layouts (one component per block; {len(listed)} of {len(layouts)}"
              + (", each component alone" if len(listed) < len(layouts) else "") + ") and the mixture as saved:"]
    rows = [[label, human_count(costs.cost(m, "params")), *(human_count(costs.cost(m, "flops", c)) for c in contexts),
             *(human_bytes(costs.cost(m, "kv_bytes", c)) for c in contexts), human_bytes(costs.cost(m, "state_bytes"))]
            for label, m in mixtures]
    lines += text_table(["layout", "params", *(f"FLOPs/token@{a}" for a in at), *(f"KV@{a}" for a in at), "state"],
                        rows)
    return lines + (latency_profile(hybrid, costs, mixtures) if latency else [])


def latency_profile(hybrid, costs, mixtures: list[tuple[str, object]]) -> list[str]:
    """Measured ms per token of each branch (profile_latency) and of each of `mixtures` (the sum of its parts),
    and the model's decode speed end to end (decode_seconds_per_token)."""
    from .hybrid.cost import decode_seconds_per_token

    names, (L, K) = costs.names, costs.shape
    limits = [c.max_positions for c in hybrid.base_model.components if c.max_positions is not None]
    prompt = min([64, *(limit // 2 for limit in limits)])  # the prompt and the decoded tokens fit every position table
    tokens = min([32, *(limit - prompt for limit in limits)])
    latency = costs.profile_latency(hybrid, prefill_length=prompt, decode_tokens=min(16, tokens))
    machine = latency.machine
    lines = ["", f"Measured here ({machine['threads']} threads, {machine['device']}), batch 1: a {prompt}-token prefill, "
                 f"then {machine['decode_tokens']} decoded tokens, medians of {machine['repeats']}; ms per token:"]
    rows = [[str(l), names[k], f"{latency.decode[l][k] * 1e3:.3f}", f"{latency.decode_projectors[l][k] * 1e3:.3f}",
             f"{latency.prefill[l][k] * 1e3:.3f}", f"{latency.prefill_projectors[l][k] * 1e3:.3f}"]
            for l in range(L) for k in range(K)]
    lines += text_table(["block", "component", "decode", "decode projectors", "prefill", "prefill projectors"], rows,
                        left=2)
    lines += [f"the rest (embedding, head, the step's own work): decode {latency.decode_rest * 1e3:.3f}, prefill "
              f"{latency.prefill_rest * 1e3:.3f}", ""]
    rows = [[label, f"{costs.cost(m, 'decode_latency') * 1e3:.3f}", f"{costs.cost(m, 'prefill_latency') * 1e3:.3f}"]
            for label, m in mixtures]
    lines += text_table(["layout (the sum of its parts)", "decode", "prefill"], rows)
    seconds = decode_seconds_per_token(hybrid, prompt_length=prompt, tokens=tokens)
    saved = hybrid.mixture_weights().detach()
    return lines + ["", f"The model as saved, end to end: {seconds * 1e3:.3f} ms per decoded token, {1 / seconds:,.0f} "
                        f"tokens/s (greedy, after a {prompt}-token prompt; the sum of its parts: "
                        f"{costs.cost(saved, 'decode_latency') * 1e3:.3f} ms)."]


def cmd_eval_harness(args) -> None:
    from .harness import evaluate_harness, summary_table, write_results

    tasks = [t.strip() for t in args.tasks.split(",") if t.strip()]
    limit = args.limit
    if limit is not None:
        if not (0 < limit < 1 or (limit >= 1 and limit == int(limit))):
            raise ValueError(f"--limit {limit:g} is not valid; accepted: a whole number of documents >= 1, or a "
                             "share of each task between 0 and 1.")
        limit = int(limit) if limit >= 1 else limit
    import logging

    if not os.environ.get("LMEVAL_LOG_LEVEL"):  # lm-eval's notes on a model passed in, not by name, are expected
        logging.getLogger("lm_eval").setLevel(logging.ERROR)
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
    build.add_argument("--tokenizer", default=None,
                       help="a tokenizer directory or hub id to save with the hybrid (default: the first component's "
                            "that has one)")
    build.add_argument("--out", required=True, help="output directory")
    build.set_defaults(func=cmd_build)

    prune = sub.add_parser("prune", help="delete the checkpoints of a run's finished stages, keeping results and models",
                           description="Delete checkpoint.pt and checkpoint-previous.pt wherever a result.json says "
                                       "the run finished; unfinished runs keep theirs. --resume afterwards keeps the "
                                       "pruned stages as they are.")
    prune.add_argument("run_dir")
    prune.add_argument("--dry-run", action="store_true", help="only say what would be removed")
    prune.set_defaults(func=cmd_prune)

    inspect = sub.add_parser("inspect", help="describe a saved hybrid")
    inspect.add_argument("path")
    inspect.set_defaults(func=cmd_inspect)

    cost = sub.add_parser(
        "cost", help="what a saved hybrid costs: per branch and per layout, params, FLOPs, KV-cache and state bytes",
        description="The cost profile of a saved hybrid (manticore.hybrid.cost.CostModel): per branch (component k's "
                    "blocks in block l) its parameters, FLOPs per decoded token and KV-cache bytes per sequence at "
                    "each context, and recurrent-state bytes; then every discrete layout (each component alone when "
                    f"there are more than {MAX_LAYOUT_ROWS}) and the mixture as saved. --latency also times every "
                    "branch and the whole model here.")
    cost.add_argument("path", metavar="MODEL_DIR", help="a saved hybrid (save_pretrained)")
    cost.add_argument("--context", type=int, nargs="+", action="extend", metavar="N",
                      help=f"context lengths in tokens (default: {' '.join(map(str, COST_CONTEXTS))})")
    cost.add_argument("--latency", action="store_true",
                      help="also measure decode and prefill ms per token of each branch and layout on this machine, "
                           "and the model's decode tokens/s end to end")
    cost.add_argument("--decode", nargs="+", metavar="LAYOUT", default=None,
                      help="measure end to end the decode time per token of these discrete layouts (one component "
                           "per block, by name or index, e.g. mamba,mamba,mamba,gpt_neo), each cut from the hybrid "
                           "and taking turns with every component alone; prints each against the fastest component")
    cost.add_argument("--rounds", type=int, default=7, help="rounds of --decode's interleaved timing (median)")
    cost.set_defaults(func=cmd_cost)

    harness = sub.add_parser(
        "eval-harness", help="evaluate a saved model with lm-evaluation-harness (the `eval` extra)",
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
        logging.disable_progress_bar()  # transformers' per-load and per-save bars; our own bars stay
    try:
        args.func(args)
    except (ManticoreError, ValueError, TypeError, OSError, ImportError) as err:
        print(f"manticore {args.command}: error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
