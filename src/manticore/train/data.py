"""Deterministic, resumable batches: the data position is part of a checkpoint (streamed corpora bring their
own stream with the same interface: tasks/streaming.py).

Epoch e visits the dataset in the order of a permutation seeded by (seed, e). Under torch.distributed,
each global batch of `batch_size * world` examples is split between the ranks, so every rank sees
different examples and all ranks take the same number of steps.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import torch
from torch.utils.data import Dataset


class BatchStream:
    """An endless iterator of collated training batches with a `state_dict` (epoch, position)."""

    def __init__(self, dataset: Dataset, batch_size: int, collate: Callable, seed: int, rank: int = 0,
                 world: int = 1):
        self.dataset, self.batch_size, self.collate = dataset, batch_size, collate
        self.seed, self.rank, self.world = seed, rank, world
        self.global_batch = batch_size * world
        if len(dataset) < self.global_batch:
            raise ValueError(
                f"The training split has {len(dataset)} examples, fewer than one global batch "
                f"(batch_size={batch_size} x {world} process(es)); lower batch_size."
            )
        self.epoch, self.position = 0, 0
        self._order = self._permutation()

    def _permutation(self) -> torch.Tensor:
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(len(self.dataset), generator=generator)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        return self

    def __next__(self) -> dict[str, torch.Tensor]:
        if self.position + self.global_batch > len(self.dataset):  # drop the incomplete last batch
            self.epoch, self.position = self.epoch + 1, 0
            self._order = self._permutation()
        start = self.position + self.rank * self.batch_size
        indices = self._order[start:start + self.batch_size].tolist()
        self.position += self.global_batch
        return self.collate([self.dataset[i] for i in indices])

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position = state["epoch"], state["position"]
        self._order = self._permutation()


def make_stream(dataset, batch_size: int, collate: Callable, seed: int, rank: int = 0, world: int = 1):
    """The training batches of `dataset` for this process: the dataset's own stream if it has one (a streamed
    corpus, tasks/streaming.py), else a `BatchStream` over a map-style dataset. Both are endless and have
    `state_dict` / `load_state_dict`, which checkpoints keep (rank 0's is saved: a streamed corpus's holds
    every process's position, shared after each batch, so every process must take the same number of batches)."""
    if hasattr(dataset, "batch_stream"):
        return dataset.batch_stream(batch_size, collate, seed, rank, world)
    return BatchStream(dataset, batch_size, collate, seed, rank, world)


def eval_batches(dataset: Dataset, batch_size: int, collate: Callable, rank: int = 0, world: int = 1,
                 max_batches: int | None = None) -> Iterator[dict[str, torch.Tensor]]:
    """The split in order, in batches, this rank's share (batch i goes to rank i % world)."""
    count = 0
    for index, start in enumerate(range(0, len(dataset), batch_size)):
        if max_batches is not None and count >= max_batches * world:
            return
        count += 1
        if index % world == rank:
            yield collate([dataset[i] for i in range(start, min(start + batch_size, len(dataset)))])
