"""The one training loop that every stage configures.

    engine = Engine(model, task, TrainConfig(...), out_dir, search=SearchConfig(...) or None)
    metrics = engine.train(resume=False)

What trains is what has requires_grad: the stages freeze components, projectors or mixture weights
before they build the engine. Model parameters take AdamW at `lr`; the mixture weights (the hybrid's
`architecture_parameters()`) take `arch_lr`, in the same optimizer without a search, or with one in the
search algorithm's own optimizer, and the algorithm orders the steps and samples α (`search/`).

Processes: one, or several under torchrun (gloo on CPU, nccl on GPU), sharing the model as
`train.strategy` says: "ddp" (a whole copy each) or "fsdp" (FSDP2 shards, one unit per block); see
`parallel.py`:

    python -m manticore.cli search --config run.yaml
    torchrun --nproc_per_node 2 -m manticore.cli search --config run.yaml

Checkpoints are saved every `checkpoint_every` steps and at the end (`checkpoints.py`: what they hold, and
which settings must match to resume). `resume=True` means "continue whatever is left": with no checkpoint the
run starts fresh; a finished run is not trained again. Metrics go to `metrics.jsonl` in `out_dir` (file
names: `manticore.rundir`); losses and metrics are computed as `metrics.py` describes.

Shapes: L layers, K components (the hybrid's mixture weights α, (L, K)).
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from tqdm.auto import tqdm
from transformers import get_constant_schedule_with_warmup, get_linear_schedule_with_warmup

from ..errors import TrainingDiverged
from ..hybrid.model import non_finite_parameters
from ..rundir import CHECKPOINT, METRICS
from ..tasks.base import Task
from . import checkpoints
from .config import TrainConfig
from .data import make_stream
from .metrics import Sampler, batch_loss, evaluate_model, summarise
from .parallel import Sharded, distributed, full
from .search import SearchConfig
from .seeding import seed_everything
from .trackers import Trackers


class Engine:
    """Trains `model` on `task` as configured; see the module docstring."""

    def __init__(self, model: nn.Module, task: Task, config: TrainConfig, out_dir: str | Path,
                 search: SearchConfig | None = None, arch_split: str | None = None,
                 on_step: Callable[[int, dict[str, float]], None] | None = None, label: str | None = None):
        self.task, self.config, self.search = task, config, search
        self.label = label  # the progress bar's (default: the run directory's name)
        self.algorithm = search.build() if search is not None else None
        self.out_dir = Path(out_dir)
        self.on_step = on_step
        self.rank, self.world = distributed()
        self.device = torch.device("cuda", self.rank % torch.cuda.device_count()) if torch.cuda.is_available() \
            else torch.device("cpu")
        seed_everything(config.seed)
        self.sharded = Sharded(model, self.device) if config.strategy == "fsdp" and self.world > 1 else None
        # the model that trains: the caller's, or (FSDP) its sharded copy, written back at the end
        self.model = self.sharded.model if self.sharded else model.to(self.device)
        self.arch, self.params = self._trainable()
        self._arch_ids = {id(p) for p in self.arch}
        self.trackers: Trackers | None = None  # opened by train()
        self.ddp = nn.parallel.DistributedDataParallel(model, find_unused_parameters=True) \
            if self.world > 1 and not self.sharded else self.model
        self.optimizers, self.schedulers = self._optimizers()
        self.stream = make_stream(task.train, config.batch_size, task.collate, config.seed, self.rank, self.world)
        self.arch_stream = self._arch_stream(arch_split)
        self.step = 0
        self.final: dict[str, float] | None = None  # the final test metrics, once the run has finished
        self.finished_before = False  # train(resume=True) found the run already finished: nothing was trained
        if self.rank == 0 and self.out_dir.is_dir():
            checkpoints.remove_orphans(self.out_dir)

    def _trainable(self) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
        """What trains: the mixture weights (the hybrid's architecture_parameters) and the other parameters."""
        arch = [p for p in getattr(self.model, "architecture_parameters", lambda: [])() if p.requires_grad]
        arch_ids = {id(p) for p in arch}
        params = [p for p in self.model.parameters() if p.requires_grad and id(p) not in arch_ids]
        if not params and not arch:
            raise ValueError("Nothing to train: every parameter is frozen.")
        return arch, params

    def _optimizers(self):
        cfg = self.config
        groups = [{"params": self.params, "lr": cfg.lr, "weight_decay": cfg.weight_decay}] if self.params else []
        if self.arch and self.algorithm is None:
            groups.append({"params": self.arch, "lr": cfg.arch_lr, "weight_decay": 0.0})
        optimizers = {"model": torch.optim.AdamW(groups)} if groups else {}
        if self.arch and self.algorithm is not None:
            optimizers["arch"] = self.algorithm.optimizer(self.arch, cfg.arch_lr)
        make = get_linear_schedule_with_warmup if cfg.schedule == "linear" else get_constant_schedule_with_warmup
        kwargs = {"num_training_steps": cfg.max_steps} if cfg.schedule == "linear" else {}
        schedulers = {name: make(opt, num_warmup_steps=cfg.warmup_steps, **kwargs) for name, opt in optimizers.items()}
        return optimizers, schedulers

    def _arch_stream(self, split: str | None):
        """Batches for architecture steps from a held-out split when bilevel; None when they take the training
        stream."""
        if not (self.search and self.search.bilevel and self.arch):
            return None
        dataset = getattr(self.task, split or "validation", None)
        if dataset is None:
            raise ValueError(f"Bilevel search needs a held-out split; task {self.task.name!r} has no "
                             f"{split or 'validation'!r} split.")
        return make_stream(dataset, self.config.batch_size, self.task.collate, self.config.seed + 1, self.rank,
                           self.world)

    # -- one step ---------------------------------------------------------------------------------------------
    def _autocast(self):
        if self.config.precision == "bf16":
            return torch.autocast(self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def backward(self, stream, sampler: Sampler | None = None) -> dict[str, float]:
        """grad_accum micro-batches forward and backward; returns their summed stats."""
        total = {"loss_sum": 0.0, "correct": 0, "count": 0}
        for _ in range(self.config.grad_accum):
            batch = {k: v.to(self.device) for k, v in next(stream).items()}
            with self._autocast():
                loss, stats = batch_loss(self.ddp, batch, self.task.kind, sampler)
            (loss / self.config.grad_accum).backward()
            total = {k: total[k] + stats[k] for k in total}
        return total

    def update(self, names: list[str]) -> None:
        """Clip (the model's gradients), step the named optimizers ("model", "arch") and their schedules,
        then zero every gradient."""
        if "model" in names and self.config.clip_grad is not None and self.params:
            torch.nn.utils.clip_grad_norm_(self.params, self.config.clip_grad)
        for name in names:
            if name in self.optimizers:
                self.optimizers[name].step()
                self.schedulers[name].step()
        for optimizer in self.optimizers.values():
            optimizer.zero_grad(set_to_none=True)

    def train_step(self) -> dict[str, float]:
        """One optimizer step; during a search, the algorithm orders the model and architecture steps."""
        self.model.train()
        if self.algorithm is not None:
            stats = self.algorithm.train_step(self)
        else:
            stats = self.backward(self.stream)
            self.update(["model"])
        return summarise(stats, self.task.kind)

    # -- evaluation -------------------------------------------------------------------------------------------
    def evaluate(self, split: str = "test") -> dict[str, float]:
        """loss / accuracy / macro_accuracy (/ perplexity) over a split, summed across processes."""
        with self._autocast():
            return evaluate_model(self.model, self.task, split, self.config.batch_size, self.config.eval_batches)

    # -- the loop ---------------------------------------------------------------------------------------------
    def train(self, resume: bool = False) -> dict[str, float]:
        """Run to max_steps (from the last checkpoint with resume=True); returns the final test metrics."""
        cfg = self.config
        if resume and self.load_checkpoint() and self.final is not None:
            if self.sharded:
                self.sharded.write_back()
            self.finished_before = True
            return self.final  # finished before: nothing left to do
        if not resume or self.step == 0:
            self.start_fresh()
        bar = tqdm(total=cfg.max_steps, initial=self.step, desc=self.label or self.out_dir.name or "train",
                   disable=self.rank != 0, dynamic_ncols=True, mininterval=0.5)
        self.trackers = Trackers(cfg.report_to if self.rank == 0 else [], self.out_dir, cfg.to_dict(),
                                 getattr(getattr(self.model, "config", None), "adapters", None))
        try:
            while self.step < cfg.max_steps:
                metrics = self.train_step()
                self.step += 1
                if not math.isfinite(metrics["loss"]):
                    self.diverged(f"the training loss is {metrics['loss']}")
                self._after_step(metrics, bar)
            final = self.evaluate("test")
            self.log({"step": self.step, "split": "test", **final})
        finally:
            bar.close()
            self.trackers.close()
        self.final = final
        self.save_checkpoint()
        if self.sharded:
            self.sharded.write_back()
        return final

    def _after_step(self, metrics: dict[str, float], bar) -> None:
        cfg = self.config
        record = {"step": self.step, "split": "train", **metrics, **self.learning_rates(),
                  **(self.algorithm.logged if self.algorithm is not None else {})}
        alphas = self.alphas()
        if alphas is not None:
            record["alphas"] = alphas
        if self.step % cfg.log_every == 0 or (self.search and alphas is not None) or self.step == cfg.max_steps:
            self.log(record)
        postfix = {"loss": f"{metrics['loss']:.3f}"}
        if alphas is not None:
            postfix["α"] = " ".join("/".join(f"{a:.2f}" for a in row) for row in alphas)
        bar.set_postfix(postfix, refresh=False)
        bar.update(1)
        if cfg.eval_every and self.step % cfg.eval_every == 0 and self.step < cfg.max_steps:
            self.log({"step": self.step, "split": "test", **self.evaluate("test")})
        if cfg.checkpoint_every and self.step % cfg.checkpoint_every == 0 and self.step < cfg.max_steps:
            self.save_checkpoint()
        if self.on_step is not None:
            self.on_step(self.step, metrics)

    def alphas(self) -> list[list[float]] | None:
        """The hybrid's α (L, K) rounded for the log; None for a model without mixture weights."""
        if not hasattr(self.model, "mixture_weights"):
            return None
        with torch.no_grad():
            return [[round(a, 6) for a in row] for row in full(self.model.mixture_weights()).tolist()]

    def learning_rates(self) -> dict[str, float]:
        """The current learning rates: lr (model parameters; 0.0 when none train) and, when α trains, arch_lr."""
        groups = [g for optimizer in self.optimizers.values() for g in optimizer.param_groups]
        model = [g["lr"] for g in groups if any(id(p) not in self._arch_ids for p in g["params"])]
        arch = [g["lr"] for g in groups if g["params"] and all(id(p) in self._arch_ids for p in g["params"])]
        return {"lr": model[0] if model else 0.0, **({"arch_lr": arch[0]} if arch else {})}

    def log(self, record: dict[str, Any]) -> None:
        """Append a record to metrics.jsonl and send it to the trackers (main process only)."""
        if self.rank == 0:
            with open(self.out_dir / METRICS, "a") as f:
                f.write(json.dumps(record) + "\n")
            if getattr(self, "trackers", None) is not None:
                self.trackers.log(record)

    # -- divergence and checkpoints ---------------------------------------------------------------------------
    def diverged(self, what: str) -> None:
        """Stop with a named error; nothing of the diverged state is saved (the last checkpoint stays)."""
        kept = self.out_dir / CHECKPOINT
        last = f"the last good checkpoint, {kept}, is kept" if kept.exists() else "no checkpoint was written yet"
        raise TrainingDiverged(f"{self.out_dir}: training diverged at step {self.step}: {what} (lr {self.config.lr}, "
                               f"arch_lr {self.config.arch_lr}); {last}. Lower the learning rates or set clip_grad.")

    def start_fresh(self) -> None:
        self.step = 0
        if self.rank == 0:
            checkpoints.clear(self.out_dir)

    def save_checkpoint(self) -> None:
        """Stop if the weights are no longer finite; else save everything needed to continue exactly."""
        bad = non_finite_parameters(self.model)
        if self.sharded:
            bad = self.sharded.agree(bad)
        if bad:
            self.diverged(f"non-finite weights in {', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}")
        checkpoints.save(self)

    def load_checkpoint(self) -> bool:
        """Restore the latest checkpoint of this run; False (and nothing changed) if there is none."""
        return checkpoints.load(self)
