"""`python -m manticore.tools.bench` (or `make bench`): what a hybrid costs against its parts, through our model.

Every figure is a median over timed repetitions after warm-up, in one process, with the models timed in
turn so drift hits all alike. Models: GPT-Neo and Mamba causal LMs (Hugging Face's, with manticore's fast
Mamba scan), and hybrids of the two (L=2): one-hot at either, or mixed α.

Training: a step is forward, backward and an AdamW update on random tokens. Training memory is
counted exactly: parameters, gradients and every tensor autograd saves for backward.

    (a) Mamba step <= 1.5 x GPT-Neo step (one-hot hybrids, same d_model, depth, batch, T=256)
    (b) Mamba time per token grows <= 1.3 x from T=256 to T=4096; T=16384 runs in bounded memory
    (c) K=2 hybrid (GPT-Neo + Mamba, L=2, mixed α) <= 1.15 x (GPT-Neo + Mamba, each alone)
    (d) one-hot hybrid <= 1.10 x the component alone (its Hugging Face model)
    (e) hybrid peak memory <= 1.2 x the sum of its components'

Inference: greedy decoding with each model's own cache (the hybrid's `ManticoreCache`), batch 1,
after a prompt; a decode step is one forward of one token. GPT-Neo + Mamba are timed one token each in turn,
the cost of running both models for a token.

    (f) mixed hybrid decode time per token <= 1.15 x (GPT-Neo's + Mamba's, with their caches)
    (g) one-hot hybrid decode time per token <= 1.10 x its component's
    (h) Mamba (one-hot hybrid) time per token flat from 256 to 4096 new tokens (<= 1.10 x)
    (i) prefill of the mixed hybrid <= 1.15 x (GPT-Neo's + Mamba's prefill, with their caches)

Cost profile (`--only cost` runs just this, about 25 s): the demo's hybrid (configs/demo.yaml's GPT-Neo and Mamba,
d_model 64, 4 layers each, L=2) with random weights, each of its 4 layouts and the uniform mixture: parameters,
FLOPs per token at 4K, KV-cache bytes at 4K and 32K, state bytes (counted, `manticore.hybrid.cost.CostModel`),
the cost model's decode-latency estimate (its branches timed inside the hybrid) and the measured decode time
of the layout cut from the hybrid (`discretize(choice=layout)`; the mixture: the hybrid itself), end to end.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import torch
from transformers import AutoModelForCausalLM, GPTNeoConfig, MambaConfig

from ..hybrid.cost import Decoder
from ..hybrid.model import ManticoreForCausalLM
from ..kernels import use_fast_scan


def component_configs(d_model: int, depth: int, vocab: int, max_len: int):
    neo = GPTNeoConfig(vocab_size=vocab, hidden_size=d_model, num_layers=depth, num_heads=max(1, d_model // 32),
                       attention_types=[[["global", "local"], depth // 2]], max_position_embeddings=max_len,
                       window_size=256, bos_token_id=None, eos_token_id=None)
    mamba = MambaConfig(vocab_size=vocab, hidden_size=d_model, num_hidden_layers=depth, state_size=16,
                        bos_token_id=None, eos_token_id=None, pad_token_id=None)
    return {"gpt_neo": neo, "mamba": mamba}


def build(case: str, args) -> torch.nn.Module:
    """'gpt_neo' / 'mamba' (HF models alone), 'hybrid-gpt_neo' / 'hybrid-mamba' (one-hot), 'hybrid-mixed'."""
    torch.manual_seed(0)
    configs = component_configs(args.d_model, args.depth, args.vocab, max(args.long_len, 256))
    if case in configs:
        model = AutoModelForCausalLM.from_config(configs[case])
        use_fast_scan(getattr(model, "backbone", model))  # the same kernel our Mamba components use
        return model
    model = ManticoreForCausalLM.from_components(list(configs.values()), num_blocks=2)
    if case == "hybrid-gpt_neo":
        model.set_mixture_weights([1.0, 0.0])
    elif case == "hybrid-mamba":
        model.set_mixture_weights([0.0, 1.0])
    else:
        model.set_mixture_weights([[0.6, 0.4], [0.3, 0.7]])
    return model


def step_time(model, batch: int, length: int, vocab: int, warmup: int, steps: int) -> float:
    """Median seconds per forward + backward + AdamW step."""
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
    ids = torch.randint(0, vocab, (batch, length))
    times = []
    for i in range(warmup + steps):
        start = time.perf_counter()
        logits = model(input_ids=ids).logits
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten())
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if i >= warmup:
            times.append(time.perf_counter() - start)
    return statistics.median(times)


def training_memory_mib(model, batch: int, length: int, vocab: int) -> float:
    """Parameters + gradients + everything autograd saves for backward in one step, in MiB.

    This is what a forward + backward must hold at its peak (optimizer state aside); counted exactly, by
    storage, with saved-tensor hooks, so it doesn't depend on the allocator or on other processes.
    """
    storages: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    ids = torch.randint(0, vocab, (batch, length))
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        logits = model(input_ids=ids).logits
        loss = torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten())
    loss.backward()
    weights = sum(2 * p.numel() * p.element_size() for p in model.parameters() if p.requires_grad)
    model.zero_grad(set_to_none=True)
    return (weights + sum(storages.values())) / 2**20


def interleaved_step_times(models: dict, batch: int, length: int, vocab: int, warmup: int, steps: int) -> dict:
    """Median seconds per step of each model, timing the models in turn so drift hits all alike."""
    ids = torch.randint(0, vocab, (batch, length))
    optimizers = {name: torch.optim.AdamW(m.parameters(), lr=1e-4) for name, m in models.items()}
    times: dict[str, list[float]] = {name: [] for name in models}
    for i in range(warmup + steps):
        for name, model in models.items():
            start = time.perf_counter()
            logits = model(input_ids=ids).logits
            torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten()).backward()
            optimizers[name].step()
            optimizers[name].zero_grad(set_to_none=True)
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def decode_times(groups: dict[str, list], prompt: torch.Tensor, rounds: int, tokens: int) -> dict[str, float]:
    """Median seconds per decoded token of each group of models (a group decodes one token with each of its
    models in turn), over `rounds` rounds of `tokens` tokens, the groups taking turns round by round."""
    decoders = {name: [Decoder(m, prompt) for m in models] for name, models in groups.items()}
    times: dict[str, list[float]] = {name: [] for name in groups}
    for r in range(rounds + 1):  # round 0 warms up
        for name, group in decoders.items():
            start = time.perf_counter()
            for _ in range(tokens):
                for decoder in group:
                    decoder.step()
            if r:
                times[name].append((time.perf_counter() - start) / tokens)
    return {name: statistics.median(t) for name, t in times.items()}


def flat_decode(model, prompt: torch.Tensor, new_tokens: int, window: int) -> tuple[float, float]:
    """Median seconds per token over the first and the last `window` of `new_tokens` decoded tokens."""
    decoder, times = Decoder(model, prompt), []
    for _ in range(new_tokens):
        start = time.perf_counter()
        decoder.step()
        times.append(time.perf_counter() - start)
    return statistics.median(times[:window]), statistics.median(times[-window:])


@torch.no_grad()
def prefill_times(groups: dict[str, list], prompt: torch.Tensor, warmup: int, steps: int) -> dict[str, float]:
    """Median seconds to prefill `prompt` into a fresh cache, for each group (its models in turn)."""
    times: dict[str, list[float]] = {name: [] for name in groups}
    for i in range(warmup + steps):
        for name, models in groups.items():
            start = time.perf_counter()
            for model in models:
                model(input_ids=prompt, use_cache=True, logits_to_keep=1)
            if i >= warmup:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


@torch.no_grad()
def generate_rate(model, prompt: torch.Tensor, new_tokens: int) -> float:
    """Tokens per second of `model.generate` (greedy, its cache, exactly `new_tokens` new tokens)."""
    settings = dict(max_new_tokens=new_tokens, min_new_tokens=new_tokens, do_sample=False, pad_token_id=0)
    model.generate(prompt, **{**settings, "max_new_tokens": 8, "min_new_tokens": 8})  # warm-up
    start = time.perf_counter()
    model.generate(prompt, **settings)
    return new_tokens * prompt.shape[0] / (time.perf_counter() - start)


def run_inference(args, models: dict) -> dict:
    for model in models.values():
        model.eval()
    prompt = torch.randint(0, args.vocab, (1, args.prompt_len), generator=torch.Generator().manual_seed(0))
    parts = {"gpt_neo+mamba": [models["gpt_neo"], models["mamba"]]}
    singles = {case: [models[case]] for case in ("gpt_neo", "mamba", "hybrid-gpt_neo", "hybrid-mamba", "hybrid-mixed")}
    decode = decode_times({**parts, **singles}, prompt, args.decode_rounds, args.decode_tokens)
    first, last = flat_decode(models["hybrid-mamba"], prompt, args.long_decode, args.decode_window)
    long_prompt = torch.randint(0, args.vocab, (1, args.prefill_len), generator=torch.Generator().manual_seed(1))
    prefill = prefill_times({**parts, **singles}, long_prompt, args.warmup, args.steps)
    rates = {case: generate_rate(models[case], prompt, args.decode_rounds * args.decode_tokens) for case in singles}
    rows = [
        ("(f) mixed hybrid decode / (GPT-Neo + Mamba) decode", decode["hybrid-mixed"] / decode["gpt_neo+mamba"], 1.15),
        ("(g) one-hot hybrid decode / GPT-Neo decode", decode["hybrid-gpt_neo"] / decode["gpt_neo"], 1.10),
        ("(g) one-hot hybrid decode / Mamba decode", decode["hybrid-mamba"] / decode["mamba"], 1.10),
        (f"(h) Mamba time/token, tokens {args.long_decode - args.decode_window}-{args.long_decode} / "
         f"0-{args.decode_window}", last / first, 1.10),
        ("(i) mixed hybrid prefill / (GPT-Neo + Mamba) prefill", prefill["hybrid-mixed"] / prefill["gpt_neo+mamba"], 1.15),
    ]
    return {"decode_s_per_token": decode, "flat": [first, last], "prefill_s": prefill, "generate_tokens_per_s": rates,
            "rows": rows}


def run_cost(args) -> dict:
    """The cost table of the demo's hybrid: counted costs, the cost model's decode estimate and the measured decode
    seconds per token of each layout and of the uniform mixture."""
    from ..hybrid.cost import CostModel, decode_times
    from ..workflow.run_config import shipped_config

    torch.set_num_threads(args.threads)
    demo = shipped_config("demo")
    torch.manual_seed(0)
    hybrid = ManticoreForCausalLM.from_components([c.build_config() for c in demo.components],
                                                  num_blocks=demo.num_blocks).eval()
    costs = CostModel.of(hybrid)
    (L, K), names = costs.shape, [c.name for c in demo.components]
    costs.profile_latency(hybrid, prefill_length=args.prompt_len)
    uniform = [[1.0 / K] * K for _ in range(L)]
    hybrid.set_mixture_weights(uniform)
    cases = [(", ".join(names[k] for k in layout), layout, hybrid.discretize(choice=layout))
             for layout in costs.layouts()] + [("uniform mixture", uniform, hybrid)]
    rows = []
    measured_all = decode_times({name: model for name, _, model in cases}, prompt_length=args.prompt_len,
                                tokens=args.decode_tokens)  # the models take turns, round by round
    for name, mixture, _ in cases:
        estimate, measured = costs.cost(mixture, "decode_latency"), measured_all[name]
        rows.append({"name": name, "layout": mixture if name != "uniform mixture" else None,
                     "params": costs.cost(mixture, "params"), "flops@4096": costs.cost(mixture, "flops", 4096),
                     "kv_bytes@4096": costs.cost(mixture, "kv_bytes", 4096),
                     "kv_bytes@32768": costs.cost(mixture, "kv_bytes", 32768),
                     "state_bytes": costs.cost(mixture, "state_bytes"), "decode_s_estimate": estimate,
                     "decode_s_measured": measured, "ratio": estimate / measured})
    return {"components": names, "num_blocks": L, "rows": rows, "machine": costs.latency.machine}


def run(args) -> dict:
    torch.set_num_threads(args.threads)
    cases = ("gpt_neo", "mamba", "hybrid-gpt_neo", "hybrid-mamba", "hybrid-mixed")
    models = {case: build(case, args) for case in cases}
    if args.only == "inference":
        return {"inference": run_inference(args, models), "rows": []}
    t = interleaved_step_times(models, args.batch, args.seq_len, args.vocab, args.warmup, args.steps)
    for case in cases:
        print(f"  {case:<16} {t[case]:.3f} s/step", flush=True)
    tokens = args.batch * args.seq_len
    long_batch = max(1, tokens // args.long_len)
    t_long = step_time(models["hybrid-mamba"], long_batch, args.long_len, args.vocab, 1, max(3, args.steps // 2))
    per_token_ratio = (t_long / (long_batch * args.long_len)) / (t["hybrid-mamba"] / tokens)
    memory = {case: training_memory_mib(models[case], args.batch, args.seq_len, args.vocab)
              for case in ("gpt_neo", "mamba", "hybrid-mixed")}
    path_x = {n: training_memory_mib(models["hybrid-mamba"], 1, n, args.vocab) for n in (args.long_len, args.path_x_len)}
    rows = [
        ("(a) Mamba / GPT-Neo step (one-hot hybrids)", t["hybrid-mamba"] / t["hybrid-gpt_neo"], 1.5),
        (f"(b) Mamba time/token T={args.long_len} / T={args.seq_len}", per_token_ratio, 1.3),
        ("(c) mixed K=2 hybrid / (GPT-Neo + Mamba alone)", t["hybrid-mixed"] / (t["gpt_neo"] + t["mamba"]), 1.15),
        ("(d) one-hot hybrid / component alone: GPT-Neo", t["hybrid-gpt_neo"] / t["gpt_neo"], 1.10),
        ("(d) one-hot hybrid / component alone: Mamba", t["hybrid-mamba"] / t["mamba"], 1.10),
        ("(e) hybrid training memory / sum of components'", memory["hybrid-mixed"] / (memory["gpt_neo"] + memory["mamba"]), 1.2),
    ]
    result = {"times": t, "t_long": t_long, "memory_mib": memory, "path_x_mib": path_x, "rows": rows}
    if args.only != "training":
        result["inference"] = run_inference(args, models)
    return result


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m manticore.tools.bench", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--d-model", type=int, default=128)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--long-len", type=int, default=4096)
    parser.add_argument("--path-x-len", type=int, default=16384)
    parser.add_argument("--vocab", type=int, default=512)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--steps", type=int, default=7)
    parser.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--only", choices=("training", "inference", "cost"), default=None,
                        help="run one part: the training or inference half of the table, or the cost profile")
    parser.add_argument("--prompt-len", type=int, default=64, help="decoding starts after a prompt this long")
    parser.add_argument("--decode-rounds", type=int, default=8)
    parser.add_argument("--decode-tokens", type=int, default=32, help="tokens per decode round")
    parser.add_argument("--long-decode", type=int, default=4096, help="new tokens for the flatness figure (h)")
    parser.add_argument("--decode-window", type=int, default=256)
    parser.add_argument("--prefill-len", type=int, default=1024)
    parser.add_argument("--json", default=None, help="also write the figures to this file")
    args = parser.parse_args(argv)
    print(f"Manticore benchmark: {os.cpu_count()} CPU cores, {args.threads} threads, torch {torch.__version__}, "
          f"d_model {args.d_model}, depth {args.depth}, batch {args.batch}, T={args.seq_len}, vocab {args.vocab}")
    result = run(args) if args.only != "cost" else {"rows": []}
    if args.only in (None, "cost"):
        result["cost"] = run_cost(args)
    rows = result["rows"] + result.get("inference", {}).get("rows", [])
    if rows:
        print(f"\n{'figure':<58} {'ratio':>7} {'target':>7}  met")
    for name, ratio, target in rows:
        print(f"{name:<58} {ratio:>7.3f} {'<= ' + str(target):>7}  {'yes' if ratio <= target else 'NO'}")
    if "times" in result:
        print_training(args, result)
    if "inference" in result:
        print_inference(args, result["inference"])
    if "cost" in result:
        print_cost(args, result["cost"])
    if args.json:
        with open(args.json, "w") as f:
            json.dump(result, f, indent=2)
    return 0


def print_training(args, result: dict) -> None:
    t = result["times"]
    print(f"\nseconds per step: GPT-Neo {t['gpt_neo']:.3f}, Mamba {t['mamba']:.3f}, one-hot hybrids "
          f"{t['hybrid-gpt_neo']:.3f} / {t['hybrid-mamba']:.3f}, mixed hybrid {t['hybrid-mixed']:.3f}; "
          f"Mamba at T={args.long_len}: {result['t_long']:.3f}")
    tokens = args.batch * args.seq_len
    print(f"tokens/s: GPT-Neo {tokens / t['gpt_neo']:,.0f}, Mamba {tokens / t['mamba']:,.0f}")
    m, px = result["memory_mib"], result["path_x_mib"]
    print(f"training memory (MiB: parameters + gradients + saved activations): GPT-Neo {m['gpt_neo']:.0f}, "
          f"Mamba {m['mamba']:.0f}, mixed hybrid {m['hybrid-mixed']:.0f}; Mamba hybrid, batch 1: "
          f"T={args.long_len} {px[args.long_len]:.0f}, T={args.path_x_len} (Path-X) {px[args.path_x_len]:.0f} (linear in T)")


def print_inference(args, result: dict) -> None:
    decode, prefill, rates = result["decode_s_per_token"], result["prefill_s"], result["generate_tokens_per_s"]
    new = args.decode_rounds * args.decode_tokens
    print(f"\ninference, batch 1, prompt {args.prompt_len} (prefill: {args.prefill_len} tokens):")
    print(f"{'model':<22} {'decode ms/token':>15} {'decode tokens/s':>15} {'prefill ms':>11} "
          f"{'generate tokens/s':>18}")
    for name in decode:
        rate = f"{rates[name]:,.0f}" if name in rates else "-"
        print(f"{name:<22} {decode[name] * 1e3:>15.3f} {1 / decode[name]:>15,.0f} {prefill[name] * 1e3:>11.1f} {rate:>18}")
    first, last = result["flat"]
    print(f"Mamba one-hot hybrid ms/token: {first * 1e3:.3f} over new tokens 0-{args.decode_window}, "
          f"{last * 1e3:.3f} over {args.long_decode - args.decode_window}-{args.long_decode}; "
          f"generate tokens/s over {new} new tokens (greedy, includes generate's own per-step work)")
    separately = decode["hybrid-mixed"] / (decode["gpt_neo"] + decode["mamba"])
    print(f"mixed hybrid decode / (GPT-Neo alone + Mamba alone, each timed on its own): {separately:.3f} "
          "(running the two models for each token costs more than the sum of their separate loops)")


def print_cost(args, result: dict) -> None:
    from ..report.markdown import human_bytes, human_count

    print(f"\ncost profile of the demo's hybrid ({' + '.join(result['components'])}, L={result['num_blocks']}, "
          f"random weights), batch 1; decode ms/token after a {args.prompt_len}-token prompt: the cost model's "
          "estimate (the sum of its branches, timed inside the hybrid) and measured end to end (each layout cut "
          "from the hybrid)")
    print(f"{'layout':<18} {'params':>7} {'FLOPs/token@4K':>14} {'KV@4K':>9} {'KV@32K':>9} {'state':>9} "
          f"{'estimate':>9} {'measured':>9} {'est./meas.':>10}")
    for row in result["rows"]:
        print(f"{row['name']:<18} {human_count(row['params']):>7} {human_count(row['flops@4096']):>14} "
              f"{human_bytes(row['kv_bytes@4096']):>9} {human_bytes(row['kv_bytes@32768']):>9} "
              f"{human_bytes(row['state_bytes']):>9} {row['decode_s_estimate'] * 1e3:>9.3f} "
              f"{row['decode_s_measured'] * 1e3:>9.3f} {row['ratio']:>10.2f}")


if __name__ == "__main__":
    raise SystemExit(main())
