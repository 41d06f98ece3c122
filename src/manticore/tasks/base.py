"""What every task provides: a `Task` with train/test datasets of 1-D LongTensor examples.

An example is a dict with "input_ids" (t,) and "labels": (t,) next-token targets for `kind == "lm"`
(aligned: labels[i] is the target of the prediction made at position i, IGNORE_INDEX where unscored), or a
scalar class id for `kind == "classification"`.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal
from collections.abc import Sequence

import torch
from torch.utils.data import Dataset

IGNORE_INDEX = -100


class SequenceDataset(Dataset):
    """Examples stored as tensors: input_ids (N, t) or a list of (t_i,), labels (N, t) / (N,) / list."""

    def __init__(self, input_ids: torch.Tensor | Sequence[torch.Tensor], labels: torch.Tensor | Sequence[torch.Tensor],
                 **extra: torch.Tensor):
        """extra: per-example scalar fields, e.g. slice=(N,) for the completions dataset's source model."""
        for name, values in {"labels": labels, **extra}.items():
            if len(values) != len(input_ids):
                raise ValueError(f"input_ids has {len(input_ids)} examples but {name} has {len(values)}.")
        self.input_ids, self.labels, self.extra = input_ids, labels, extra

    def __len__(self) -> int:
        return len(self.input_ids)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        item = {"input_ids": torch.as_tensor(self.input_ids[index], dtype=torch.long),
                "labels": torch.as_tensor(self.labels[index], dtype=torch.long)}
        item.update({name: torch.as_tensor(values[index], dtype=torch.long) for name, values in self.extra.items()})
        return item


@dataclass
class Task:
    """A named task: its data and what a model needs to know to train on it.

    kind: "lm" (per-position targets, IGNORE_INDEX where unscored) or "classification" (one label).
    vocab_size: the number of token ids the inputs use (a model's vocabulary must be at least this).
    max_length: the longest input sequence, used e.g. to program away components that can't take it.
    tokenizer: the text tasks' tokenizer (tokenizers.py); the workflow saves it with the models it trains.
    """

    name: str
    kind: Literal["lm", "classification"]
    vocab_size: int
    train: Dataset
    test: Dataset
    num_labels: int | None = None
    validation: Dataset | None = None
    max_length: int | None = None
    pad_token_id: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)
    tokenizer: Any = field(default=None, repr=False, compare=False)

    def __post_init__(self):
        if self.kind not in ("lm", "classification"):
            raise ValueError(f"Task.kind must be 'lm' or 'classification', got {self.kind!r}.")
        if self.kind == "classification" and not self.num_labels:
            raise ValueError(f"Classification task {self.name!r} needs num_labels.")

    @cached_property
    def chance(self) -> dict[str, float]:
        """The chance level of the test split: what the best constant predictor scores, which knows only the
        label frequencies. accuracy: the most frequent label's share of the scored labels; loss: the entropy
        (nats) of the label distribution; macro_accuracy: 1 / the number of distinct labels.

        A model must clearly beat these before its numbers say anything about the task (the report marks
        models that do not as inconclusive)."""
        counts: Counter = Counter()
        for index in range(len(self.test)):
            labels = torch.as_tensor(self.test[index]["labels"]).flatten()
            counts.update(labels[labels != IGNORE_INDEX].tolist())
        total = sum(counts.values())
        if not total:
            raise ValueError(f"Task {self.name!r}: the test split has no scored labels, so it has no chance level.")
        shares = [c / total for c in counts.values()]
        return {"loss": -sum(p * math.log(p) for p in shares), "accuracy": max(shares),
                "macro_accuracy": 1 / len(counts)}

    def collate(self, examples: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
        """Pad a list of examples on the right: input_ids with pad_token_id, LM labels with IGNORE_INDEX."""
        return collate(examples, self.pad_token_id)


def collate(examples: list[dict[str, torch.Tensor]], pad_token_id: int = 0) -> dict[str, torch.Tensor]:
    """Right-pad to the longest example -> input_ids (b, t), attention_mask (b, t), labels (b, t) or (b,)."""
    length = max(e["input_ids"].shape[0] for e in examples)
    ids = torch.full((len(examples), length), pad_token_id, dtype=torch.long)
    mask = torch.zeros((len(examples), length), dtype=torch.long)
    for i, e in enumerate(examples):
        ids[i, : len(e["input_ids"])] = e["input_ids"]
        mask[i, : len(e["input_ids"])] = 1
    batch = {"input_ids": ids, "attention_mask": mask}
    for key in examples[0] if examples else ():
        if key not in ("input_ids", "labels") and examples[0][key].dim() == 0:
            batch[key] = torch.stack([e[key] for e in examples])  # per-example scalars, e.g. a slice id
    if examples and "labels" in examples[0]:
        if examples[0]["labels"].dim() == 0:
            batch["labels"] = torch.stack([e["labels"] for e in examples])
        else:
            labels = torch.full((len(examples), length), IGNORE_INDEX, dtype=torch.long)
            for i, e in enumerate(examples):
                labels[i, : len(e["labels"])] = e["labels"]
            batch["labels"] = labels
    return batch
