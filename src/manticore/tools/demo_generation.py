"""Generation speed on the demo's saved models: the retrained hybrid and its two pretrained components.

    .venv/bin/python -m manticore.tools.demo_generation runs/demo        # after `make demo`

Greedy `generate` of --new-tokens tokens after a Shakespeare prompt, at batch 1 and 8, with each model's
cache (the hybrid's ManticoreCache), the median of --reps timed runs after a short warm-up; then the hybrid
without its cache, and a sample of its text. Loads everything by path, as a user would.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

PROMPT = "ROMEO:\nBut soft, what light through yonder window"


def tokens_per_second(model, tokenizer, batch: int, new: int, reps: int, use_cache: bool = True) -> float:
    ids = tokenizer([PROMPT] * batch, return_tensors="pt")
    settings = dict(max_new_tokens=new, min_new_tokens=new, do_sample=False, pad_token_id=tokenizer.pad_token_id,
                    use_cache=use_cache)
    model.generate(**ids, **{**settings, "max_new_tokens": 4, "min_new_tokens": 4})
    times = []
    for _ in range(reps):
        start = time.perf_counter()
        model.generate(**ids, **settings)
        times.append(time.perf_counter() - start)
    return batch * new / statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", help="the demo's run directory (runs/demo)")
    parser.add_argument("--new-tokens", type=int, default=200)
    parser.add_argument("--reps", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    paths = {"hybrid": f"{args.run}/retrain/model", "gpt_neo": f"{args.run}/pretrain/gpt_neo/model",
             "mamba": f"{args.run}/pretrain/mamba/model"}
    tokenizer = AutoTokenizer.from_pretrained(paths["hybrid"], trust_remote_code=True)
    models = {name: AutoModelForCausalLM.from_pretrained(path, trust_remote_code=True).eval()
              for name, path in paths.items()}
    alphas = [[round(a, 2) for a in row] for row in models["hybrid"].mixture_weights().tolist()]
    print(f"hybrid α per block (GPT-Neo, Mamba): {alphas}; {args.new_tokens} new tokens, greedy")
    for batch in (1, 8):
        for name, model in models.items():
            rate = tokens_per_second(model, tokenizer, batch, args.new_tokens, args.reps)
            print(f"batch {batch}  {name:<8} {rate:8,.0f} tokens/s (cached)")
    rate = tokens_per_second(models["hybrid"], tokenizer, 1, args.new_tokens, 1, use_cache=False)
    print(f"batch 1  hybrid   {rate:8,.0f} tokens/s without the cache")
    ids = tokenizer([PROMPT], return_tensors="pt")
    out = models["hybrid"].generate(**ids, max_new_tokens=120, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    print(repr(tokenizer.decode(out[0], skip_special_tokens=True)))


if __name__ == "__main__":
    main()
