"""Losses and evaluation metrics, computed from a model's logits the same way for a hybrid and for a plain
Hugging Face model.

    loss, stats = batch_loss(model, batch, task.kind)       # one batch: mean loss, and sums for metrics
    metrics = summarise(stats, task.kind)                   # summed stats -> loss, accuracy, ...
    metrics = evaluate_model(model, task, "test")           # a whole split, summed across processes

Labels are aligned with the logits: labels[i] is the target of the prediction at position i; IGNORE_INDEX is
unscored. Evaluation reports, over the scored targets of a split: loss, accuracy (the fraction predicted right),
macro_accuracy (MAD's metric: the mean per-class recall, `macro_accuracy`) and, for language modelling,
perplexity. Training records carry loss, accuracy and perplexity of the step's batches.

MAD (athms/mad-lab, mad/metrics.py and mad/model/pl_model_wrapper.py) logs torchmetrics'
MulticlassAccuracy(num_classes=vocab, average="macro", ignore_index=-100) through Lightning with
on_epoch=True, so its epoch value is the batch-size-weighted mean of per-batch macro accuracies; ours
pools the per-class tallies over the whole split (and across processes) before averaging, so it is exact.

Shapes: B batch, T positions, C classes (the logits' last dimension: the vocabulary for language modelling),
S scored targets of a batch, L layers and K components of a hybrid's mixture weights.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from ..tasks.base import IGNORE_INDEX, Task
from .data import eval_batches
from .parallel import distributed

Sampler = Callable[[torch.Tensor], torch.Tensor]  # mixture-weight logits (L, K) -> α (L, K)
CLASS_TALLIES = ("class_correct", "class_count", "class_predicted")  # batch_loss's per-class stats, (C,) each


def batch_loss(model: nn.Module, batch: dict[str, torch.Tensor], kind: str,
               sampler: Sampler | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
    """Mean loss over scored targets, and sums for metrics.

    batch: input_ids, attention_mask (B, T) and labels, (B, T) for language modelling (kind "lm": logits
    (B, T, C)) or (B,) for classification (logits (B, C)). The stats: loss_sum, correct, count (numbers),
    and per-class tallies over the scored targets, each a (C,) int64 tensor on the logits' device
    (`class_tallies`).
    sampler: how a hybrid draws α in this forward (a search algorithm's `sample`); None for α itself.
    """
    extra = {} if sampler is None else {"mixture_sampler": sampler}
    logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], **extra).logits
    labels = batch["labels"]
    if kind == "lm":
        logits, labels = logits.flatten(0, 1), labels.flatten()
    loss_sum = F.cross_entropy(logits.float(), labels, ignore_index=IGNORE_INDEX, reduction="sum")
    scored = labels != IGNORE_INDEX
    predictions, targets = logits.argmax(-1)[scored], labels[scored]
    count = int(targets.numel())
    correct = int((predictions == targets).sum())
    stats = {"loss_sum": loss_sum.item(), "correct": correct, "count": count,
             **class_tallies(predictions, targets, logits.shape[-1])}
    return loss_sum / max(count, 1), stats


def class_tallies(predictions: torch.Tensor, targets: torch.Tensor, num_classes: int) -> dict[str, torch.Tensor]:
    """Per-class counts of scored positions: predictions, targets (S,) class ids -> three (C,) int64 tensors.

    class_correct[c]: targets of class c predicted right (true positives); class_count[c]: targets of class
    c (tp + fn); class_predicted[c]: predictions of class c (tp + fp). Summed over batches and processes,
    they give `macro_accuracy` exactly over a split.
    """
    def tally(ids: torch.Tensor) -> torch.Tensor:
        return torch.bincount(ids, minlength=num_classes).long()

    return {"class_correct": tally(targets[predictions == targets]), "class_count": tally(targets),
            "class_predicted": tally(predictions)}


def macro_accuracy(class_correct: torch.Tensor, class_count: torch.Tensor, class_predicted: torch.Tensor) -> float:
    """MAD's accuracy: torchmetrics' MulticlassAccuracy(average="macro", ignore_index=IGNORE_INDEX), in [0, 1].

    The mean over classes of recall, class_correct / class_count, taken over the classes that occur among the
    scored targets or predictions: a class only ever predicted counts with recall 0, and a class in neither
    is left out (torchmetrics before 1.0 averaged over all C classes). 0.0 when nothing is scored.
    """
    present = (class_count > 0) | (class_predicted > 0)
    if not present.any():
        return 0.0
    recall = class_correct.double() / class_count.clamp(min=1).double()
    return float(recall[present].mean())


def summarise(stats: dict[str, Any], kind: str) -> dict[str, float]:
    """loss, accuracy, macro_accuracy (when stats has the per-class tallies) and perplexity (language
    modelling) from summed stats."""
    count = max(stats["count"], 1)
    out = {"loss": stats["loss_sum"] / count, "accuracy": stats["correct"] / count}
    if all(name in stats for name in CLASS_TALLIES):
        out["macro_accuracy"] = macro_accuracy(*(stats[name] for name in CLASS_TALLIES))
    if kind == "lm":
        out["perplexity"] = math.exp(min(out["loss"], 50.0))
    return out


@torch.no_grad()
def evaluate_model(model: nn.Module, task: Task, split: str = "test", batch_size: int = 16,
                   max_batches: int | None = None) -> dict[str, float]:
    """loss / accuracy / macro_accuracy (/ perplexity) of `model` over a task split, summed across processes.

    Every statistic is a sum over the split's scored targets (the per-class tallies too), so each metric is
    exact over the split, not a mean of per-batch values.
    """
    dataset = getattr(task, split, None)
    if dataset is None:
        raise ValueError(f"Task {task.name!r} has no {split!r} split.")
    rank, world = distributed()
    device = next(model.parameters()).device
    model.eval()
    total = torch.zeros(3, dtype=torch.float64, device=device)  # loss_sum, correct, count
    tallies = torch.zeros(len(CLASS_TALLIES), 0, dtype=torch.long, device=device)  # (3, C), C from the logits
    for batch in eval_batches(dataset, batch_size, task.collate, rank, world, max_batches):
        _, stats = batch_loss(model, {k: v.to(device) for k, v in batch.items()}, task.kind)
        total += torch.tensor([stats["loss_sum"], stats["correct"], stats["count"]], dtype=torch.float64,
                              device=device)
        tallies = _add_tallies(tallies, torch.stack([stats[name] for name in CLASS_TALLIES]))
    if world > 1:
        dist.all_reduce(total)
        tallies = _all_reduce_tallies(tallies)
    sums = dict(zip(("loss_sum", "correct", "count"), total.tolist()))
    return summarise({**sums, **dict(zip(CLASS_TALLIES, tallies))}, task.kind)


def _add_tallies(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The sum of two (3, C) tallies, the narrower one padded with zeros (a rank may have seen no batch)."""
    width = max(a.shape[1], b.shape[1])
    return F.pad(a, (0, width - a.shape[1])) + F.pad(b, (0, width - b.shape[1]))


def _all_reduce_tallies(tallies: torch.Tensor) -> torch.Tensor:
    """(3, C) tallies summed across processes; C is agreed first, since a rank with no batch has C = 0."""
    width = torch.tensor([tallies.shape[1]], device=tallies.device)
    dist.all_reduce(width, op=dist.ReduceOp.MAX)
    tallies = _add_tallies(tallies, tallies.new_zeros(len(CLASS_TALLIES), int(width)))
    dist.all_reduce(tallies)
    return tallies
