"""The `manticore` command: thin subcommands over the library's functions.

    manticore demo [--out runs/demo]
    manticore build COMPONENT [COMPONENT ...] --num-blocks L --out DIR [--embeddings-from K] [--weights W]
    manticore inspect DIR
"""

from __future__ import annotations

import argparse
import json
import sys


def parse_weights(text: str):
    """'0.5,0.5' -> [0.5, 0.5]; '1,0;0.3,0.7' -> [[1, 0], [0.3, 0.7]]; or a JSON list."""
    text = text.strip()
    if text.startswith("["):
        return json.loads(text)
    rows = [[float(v) for v in row.split(",")] for row in text.split(";")]
    return rows[0] if len(rows) == 1 else rows


def cmd_demo(args) -> None:
    from .demo import run_demo

    run_demo(args.out, num_blocks=args.num_blocks, seed=args.seed)


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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="manticore", description="Build and inspect Manticore hybrids.")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="build a small GPT-Neo + Mamba hybrid, check it, save and reload it")
    demo.add_argument("--out", default="runs/demo", help="where to save the hybrid (default: runs/demo)")
    demo.add_argument("--num-blocks", type=int, default=2, help="L, the number of Manticore blocks")
    demo.add_argument("--seed", type=int, default=0)
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
