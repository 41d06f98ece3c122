"""The family sweep: which of transformers' causal LMs a one-hot hybrid reproduces exactly.

For every model type in transformers' `MODEL_FOR_CAUSAL_LM_MAPPING_NAMES`, a tiny random model is built
(`tiny_config`, from `manticore.testing`'s generic recipe), its weights are noised (every parameter moved by
random noise, the LM head scaled up, so zero biases, unit norm weights and logits too small to reach a soft-cap
don't hide a difference), and a one-hot hybrid with `embeddings_from=0` is compared with it in float32, on logits, to `TOLERANCE`:

- `L=1` and `L=2`: the hybrid with one Manticore block, and with the component cut into two groups;
- `padded`: a right-padded batch with an attention mask (valid positions compared);
- `cache`: greedy generation with the hybrid's cache equals generation without it, token for token.

    make families                                # the whole sweep; writes docs/families.md
    python -m manticore.tools.families gemma opt  # some model types

`tests/components/test_families.py` runs the families the docs name on every `make test`.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from dataclasses import dataclass, field

import torch

from ..testing import generic_config

TOLERANCE = 1e-4
VOCAB = 97

SLOW = 60  # seconds a model type may take before it is reported as a timeout


def tiny_config(model_type: str):
    """A tiny config of `model_type` (`manticore.testing.generic_config`, vocabulary 97); scalar multipliers of 1
    (Granite's embedding_multiplier and logits_scaling, ...) are set to 1.5, since factors of 1 would hide where
    they are applied."""
    config = generic_config(model_type, vocab=VOCAB)
    for name, value in config.to_dict().items():
        if isinstance(value, float) and value == 1.0 and ("multiplier" in name or name == "logits_scaling"):
            setattr(config, name, 1.5)
    return config


@torch.no_grad()
def noise(model: torch.nn.Module, seed: int = 0) -> None:
    """Move every parameter by N(0, 0.1²) noise and scale the LM head by 20 (see the module docstring)."""
    generator = torch.Generator().manual_seed(seed)
    for parameter in model.parameters():
        if parameter.is_floating_point():
            parameter.add_(torch.randn(parameter.shape, generator=generator, dtype=parameter.dtype) * 0.1)
    head = model.get_output_embeddings()
    if head is not None and head.weight is not model.get_input_embeddings().weight:
        head.weight.mul_(20)


@dataclass
class Result:
    model_type: str
    status: str  # "exact", "inexact", "unsupported", "fails", "not buildable", "timeout"
    adapter: str = ""
    diffs: dict[str, float] = field(default_factory=dict)
    cache: bool | None = None
    reason: str = ""
    seconds: float = 0.0

    @property
    def exact(self) -> bool:
        return self.status == "exact"


def check_family(model_type: str, generate: bool = True) -> Result:
    """Build a tiny noised `model_type` and compare one-hot hybrids with it (see the module docstring)."""
    from transformers import AutoModelForCausalLM

    from ..hybrid.model import ManticoreForCausalLM
    from ..components.registry import adapter_class

    start = time.perf_counter()
    try:
        config = tiny_config(model_type)
        config.use_cache = False
        torch.manual_seed(0)
        model = AutoModelForCausalLM.from_config(config).eval()
    except Exception as err:  # noqa: BLE001 - a sweep records every reason
        return Result(model_type, "not buildable", reason=_reason(err), seconds=time.perf_counter() - start)
    noise(model)
    ids = torch.randint(0, VOCAB, (2, 9), generator=torch.Generator().manual_seed(1))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    try:
        with torch.no_grad():
            reference = model(input_ids=ids, use_cache=False).logits
            padded_reference = model(input_ids=ids, attention_mask=mask, use_cache=False).logits
    except Exception as err:  # noqa: BLE001
        return Result(model_type, "not buildable", reason="the tiny model's own forward fails: " + _reason(err),
                      seconds=time.perf_counter() - start)
    result = Result(model_type, "exact")
    try:
        result.adapter = adapter_class(config).__name__
        depth = adapter_class(config).depth_of(config)
        hybrid = None
        for blocks in (1, 2):
            if depth % blocks:
                continue
            hybrid = ManticoreForCausalLM.from_components([model], num_blocks=blocks, embeddings_from=0).eval()
            with torch.no_grad():
                result.diffs[f"L={blocks}"] = _diff(hybrid(input_ids=ids).logits, reference)
                padded = hybrid(input_ids=ids, attention_mask=mask).logits
            if blocks == 1:
                valid = mask.bool()
                result.diffs["padded"] = _diff(padded[valid], padded_reference[valid])
        if generate and hybrid is not None:
            prompt = ids[:1, :4]
            cached = hybrid.generate(prompt, max_new_tokens=6, do_sample=False, pad_token_id=0)
            plain = hybrid.generate(prompt, max_new_tokens=6, do_sample=False, pad_token_id=0, use_cache=False)
            result.cache = torch.equal(cached, plain)
        worst = max(result.diffs.values())
        if not worst <= TOLERANCE or result.cache is False:
            result.status = "inexact"
            result.reason = f"max |Δ logits| {worst:.1e}" + (", cached generation differs" if result.cache is False else "")
    except ValueError as err:
        result.status = "unsupported" if "can't be used" in str(err) or "needs its own adapter" in str(err) else "fails"
        result.reason = _reason(err)
    except Exception as err:  # noqa: BLE001
        result.status, result.reason = "fails", _reason(err)
    result.seconds = time.perf_counter() - start
    return result


def _diff(a: torch.Tensor, b: torch.Tensor) -> float:
    if a.shape != b.shape:
        return float("inf")
    return (a.float() - b.float()).abs().max().item()


def _reason(err: BaseException) -> str:
    text = " ".join(str(err).split())
    return f"{type(err).__name__}: {text[:160]}"


def causal_lm_types() -> list[str]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return sorted(MODEL_FOR_CAUSAL_LM_MAPPING_NAMES)


def sweep(model_types: list[str], generate: bool = True, progress: bool = True, jobs: int = 1) -> list[Result]:
    """check_family for each model type, each in its own forked process (so a crash, a runaway allocation or a
    hang costs only that type), at most `jobs` at a time, each killed after SLOW seconds."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    pending, running, results = list(model_types), {}, {}
    while pending or running:
        while pending and len(running) < jobs:
            model_type = pending.pop(0)
            receive, send = context.Pipe(duplex=False)
            process = context.Process(target=_child, args=(model_type, generate, send), daemon=True)
            process.start()
            send.close()
            running[model_type] = (process, receive, time.perf_counter())
        for model_type, (process, receive, started) in list(running.items()):
            result = None
            if receive.poll():
                try:
                    result = receive.recv()
                except EOFError:
                    result = Result(model_type, "fails", reason=f"the process died (exit code {process.exitcode})")
            elif not process.is_alive():
                result = Result(model_type, "fails", reason=f"the process died (exit code {process.exitcode})")
            elif time.perf_counter() - started > SLOW:
                process.kill()
                result = Result(model_type, "timeout", reason=f"took over {SLOW} s")
            if result is not None:
                process.join(1)
                del running[model_type]
                results[model_type] = result
                if progress:
                    print(f"{model_type:28s} {result.status:13s} {result.reason}", file=sys.stderr, flush=True)
        time.sleep(0.02)
    return [results[m] for m in model_types]


def _child(model_type: str, generate: bool, send) -> None:
    torch.set_num_threads(1)
    send.send(check_family(model_type, generate))
    send.close()


def markdown(results: list[Result]) -> str:
    """The sweep as a Markdown report: the counts, then one row per model type."""
    import transformers

    built = [r for r in results if r.status not in ("not buildable", "timeout")]
    exact = [r for r in results if r.exact]
    lines = [
        f"transformers {transformers.__version__}: {len(results)} causal-LM model types, {len(built)} build from a "
        f"tiny config, **{len(exact)} exact** (one-hot hybrid = component to {TOLERANCE:g} in float32 at L=1 and "
        "L=2, on a right-padded batch with a mask, with noised weights; cached generation = uncached).",
        "",
        "| model type | result | adapter | L=1 | L=2 | padded | cache | why not |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        cells = [f"{r.diffs[k]:.0e}" if k in r.diffs else "" for k in ("L=1", "L=2", "padded")]
        cache = {True: "same", False: "differs", None: ""}[r.cache]
        reason = "" if r.exact else r.reason.replace("|", "/")
        lines.append(f"| {r.model_type} | {r.status} | {r.adapter} | {' | '.join(cells)} | {cache} | {reason} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model_types", nargs="*", help="model types to check (default: every causal LM)")
    parser.add_argument("--output", help="write the Markdown report here")
    parser.add_argument("--no-generate", action="store_true", help="skip the cached-generation check")
    parser.add_argument("--jobs", type=int, default=2, help="model types checked at once (default 2)")
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore")
    from transformers.utils import logging

    logging.set_verbosity_error()
    torch.set_num_threads(1)
    results = sweep(args.model_types or causal_lm_types(), generate=not args.no_generate, jobs=args.jobs)
    report = markdown(results)
    if args.output:
        with open(args.output, "w") as handle:
            handle.write(report)
    print(report.split("\n")[0])


if __name__ == "__main__":
    main()
