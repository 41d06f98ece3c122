"""Is two-layer attention's plateau on MAD in-context recall a defect of our training path, or budget?

Trains the same GPT-Neo (d 64, 2 layers, 4 heads, global attention) on `mad/in-context-recall` (baseline
preset, seq_len 64) twice, from the same initialisation and with the same batches of 32, lr and gradient
clipping:
  plain    transformers' GPTNeoForCausalLM in a ten-line PyTorch loop (AdamW, constant lr), no Manticore code
  engine   Manticore's `pretrain` stage function (the Engine, AdamW, constant schedule)
and prints test recall accuracy (chance: 1/8 of the value ids, plus what copying the most frequent value of
the context gives) every `--every` steps. Same plateau on both: the path is not the cause. Run it by hand:

    .venv/bin/python -m manticore.tools.recall_plateau --steps 3000
"""

from __future__ import annotations

import argparse
import tempfile

import torch
import torch.nn.functional as F


def config():
    from transformers import GPTNeoConfig

    return GPTNeoConfig(vocab_size=16, hidden_size=64, num_layers=2, num_heads=4, attention_types=[[["global"], 2]],
                        max_position_embeddings=256, bos_token_id=None, eos_token_id=None)


def recall_accuracy(model, test) -> float:
    ids = torch.stack([test[i]["input_ids"] for i in range(len(test))])
    labels = torch.stack([test[i]["labels"] for i in range(len(test))])
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    scored = labels != -100
    return float((logits.argmax(-1) == labels)[scored].float().mean())


def plain(task, steps: int, lr: float, every: int) -> None:
    from transformers import GPTNeoForCausalLM

    torch.manual_seed(0)
    model = GPTNeoForCausalLM(config())
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    generator = torch.Generator().manual_seed(0)
    ids = torch.stack([task.train[i]["input_ids"] for i in range(len(task.train))])
    labels = torch.stack([task.train[i]["labels"] for i in range(len(task.train))])
    for step in range(1, steps + 1):
        batch = torch.randint(0, len(ids), (32,), generator=generator)
        logits = model(input_ids=ids[batch]).logits
        loss = F.cross_entropy(logits.flatten(0, 1), labels[batch].flatten(), ignore_index=-100)
        optimizer.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        if step % every == 0:
            print(f"plain   step {step:5d}  train loss {loss.item():.3f}  test recall accuracy "
                  f"{recall_accuracy(model, task.test):.3f}", flush=True)


def engine(task, steps: int, lr: float, every: int) -> None:
    from manticore.train import TrainConfig
    from manticore.workflow.stages.pretrain import pretrain

    train = TrainConfig(max_steps=steps, batch_size=32, lr=lr, schedule="constant", eval_every=every,
                        log_every=every)
    with tempfile.TemporaryDirectory() as out:
        model, result = pretrain(config(), task, train, out)
    print(f"engine  step {steps:5d}  test recall accuracy {recall_accuracy(model, task.test):.3f} "
          f"(the engine's own: {result['test']['accuracy']:.3f})", flush=True)


def main() -> None:
    from manticore import tasks

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--every", type=int, default=500)
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    task = tasks.get("mad/in-context-recall", preset="baseline", seq_len=64, num_test=512)
    print(f"chance: {task.chance}")
    plain(task, args.steps, args.lr, args.every)
    engine(task, args.steps, args.lr, args.every)


if __name__ == "__main__":
    main()
