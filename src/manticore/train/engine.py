"""The one training loop that every stage configures.

    engine = Engine(model, task, TrainConfig(...), out_dir, search=SearchConfig(...) or None)
    metrics = engine.train(resume=False)

What trains is what has requires_grad: the stages freeze components, projectors or mixture weights
before they build the engine. Model parameters take AdamW at `lr`; the mixture weights (the hybrid's
`architecture_parameters()`) take `arch_lr`, in the same optimizer without a search, or with one in the
search algorithm's own optimizer, and the algorithm orders the steps and samples α (`search.py`).

Processes: one, or several under torchrun (gloo on CPU, nccl on GPU), sharing the model as
`train.strategy` says: "ddp" (a whole copy each) or "fsdp" (FSDP2 shards, one unit per block); see
`parallel.py`:

    python -m manticore.cli search --config run.yaml
    torchrun --nproc_per_node 2 -m manticore.cli search --config run.yaml

Checkpoints (every `checkpoint_every` steps and at the end) hold the model, both optimizers, the
schedulers, the RNG states and the data position, with the run's training settings and task, written to
a temporary file and renamed; the previous one is kept beside it. They hold tensors and plain data only
and load with `weights_only=True`. `resume=True` means "continue whatever is left": with no checkpoint the
run starts fresh; a finished run is not trained again; a checkpoint whose settings differ from this run's
(another seed, lr, batch size, algorithm...) is refused, naming the fields, unless they are listed in
`TrainConfig.resume_override`; a corrupt latest checkpoint falls back to the previous one with a warning.
Temporary files an interrupted write left behind are removed. Metrics go to `metrics.jsonl` in `out_dir`
(file names: `rundir.py`).

Losses are computed here from the logits with the task's aligned labels (labels[i] is the target of the
prediction at position i; IGNORE_INDEX is unscored), the same way for a hybrid and for a plain
Hugging Face model. Evaluation reports, over the scored targets of a split: loss, accuracy (the fraction
predicted right), macro_accuracy (MAD's metric: the mean per-class recall, `macro_accuracy`) and, for
language modelling, perplexity. Training records carry loss, accuracy and perplexity of the step's batches.

MAD (athms/mad-lab, mad/metrics.py and mad/model/pl_model_wrapper.py) logs torchmetrics'
MulticlassAccuracy(num_classes=vocab, average="macro", ignore_index=-100) through Lightning with
on_epoch=True, so its epoch value is the batch-size-weighted mean of per-batch macro accuracies; ours
pools the per-class tallies over the whole split (and across processes) before averaging, so it is exact.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import random
import tempfile
import warnings
from pathlib import Path
from typing import Any
from collections.abc import Callable

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm.auto import tqdm
from transformers import get_constant_schedule_with_warmup, get_linear_schedule_with_warmup

from ..tasks.base import IGNORE_INDEX, Task
from .config import TrainConfig
from .data import eval_batches, make_stream
from .parallel import Sharded, distributed, full, is_main  # noqa: F401  (is_main: the stages import it from here)
from ..rundir import CHECKPOINT, METRICS, PREVIOUS_CHECKPOINT
from .trackers import Trackers
from ..errors import TrainingDiverged, first_line
from ..hybrid.model import non_finite_parameters
from .search import SearchConfig

Sampler = Callable[[torch.Tensor], torch.Tensor]  # mixture-weight logits (L, K) -> α (L, K)


# -- processes ---------------------------------------------------------------------------------------------
def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def rng_state() -> dict[str, Any]:
    """Python's, numpy's and torch's RNG states as tensors and plain numbers, so a checkpoint loads with
    `torch.load(weights_only=True)` (nothing in it is unpickled into arbitrary objects)."""
    version, words, gauss = random.getstate()
    kind, keys, pos, has_gauss, cached_gaussian = np.random.get_state(legacy=True)
    return {
        "python": {"version": version, "words": torch.tensor(words, dtype=torch.int64), "gauss": gauss},
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached_gaussian": float(cached_gaussian)},
        "torch": torch.get_rng_state(),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    python, numpy = state["python"], state["numpy"]
    random.setstate((python["version"], tuple(int(w) for w in python["words"].tolist()), python["gauss"]))
    np.random.set_state((numpy["kind"], numpy["keys"].numpy().astype(np.uint32), numpy["pos"], numpy["has_gauss"],
                         numpy["cached_gaussian"]))
    torch.set_rng_state(state["torch"])


# -- losses and metrics --------------------------------------------------------------------------------------
CLASS_TALLIES = ("class_correct", "class_count", "class_predicted")  # batch_loss's per-class stats, (C,) each


def batch_loss(model: nn.Module, batch: dict[str, torch.Tensor], kind: str,
               sampler: Sampler | None = None) -> tuple[torch.Tensor, dict[str, Any]]:
    """Mean loss over scored targets, and sums for metrics.

    The stats: loss_sum, correct, count (numbers), and per-class tallies over the scored targets, each a
    (C,) int64 tensor on the logits' device, C = logits.shape[-1] (`class_tallies`).
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
    """MAD's accuracy: torchmetrics' MulticlassAccuracy(average="macro", ignore_index=IGNORE_INDEX), >= 1.0.

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


# -- the engine ----------------------------------------------------------------------------------------------
class Engine:
    """Trains `model` on `task` as configured; see the module docstring."""

    def __init__(self, model: nn.Module, task: Task, config: TrainConfig, out_dir: str | Path,
                 search: SearchConfig | None = None, arch_split: str | None = None,
                 on_step: Callable[[int, dict[str, float]], None] | None = None):
        self.task, self.config, self.search = task, config, search
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
        arch = [p for p in getattr(self.model, "architecture_parameters", lambda: [])() if p.requires_grad]
        arch_ids = {id(p) for p in arch}
        params = [p for p in self.model.parameters() if p.requires_grad and id(p) not in arch_ids]
        if not params and not arch:
            raise ValueError("Nothing to train: every parameter is frozen.")
        self.arch, self.params = arch, params
        self._arch_ids = arch_ids
        self.trackers: Trackers | None = None  # opened by train()
        self.ddp = nn.parallel.DistributedDataParallel(model, find_unused_parameters=True) \
            if self.world > 1 and not self.sharded else self.model
        self.optimizers, self.schedulers = self._optimizers()
        self.stream = make_stream(task.train, config.batch_size, task.collate, config.seed, self.rank, self.world)
        self.arch_stream = self._arch_stream(arch_split)
        self.step = 0
        self.final: dict[str, float] | None = None  # the final test metrics, once the run has finished
        if self.rank == 0 and self.out_dir.is_dir():
            for orphan in self.out_dir.glob("tmp*.tmp"):  # left by a write that was interrupted (we hold the lock)
                orphan.unlink(missing_ok=True)

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
        """Batches for architecture steps: a held-out split when bilevel, else the training stream."""
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
            return self.final  # finished before: nothing left to do
        if not resume or self.step == 0:
            self.start_fresh()
        bar = tqdm(total=cfg.max_steps, initial=self.step, desc=self.out_dir.name or "train",
                   disable=self.rank != 0, dynamic_ncols=True, mininterval=0.5)
        self.trackers = Trackers(cfg.report_to if self.rank == 0 else [], self.out_dir, cfg.to_dict())
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
        record = {"step": self.step, "split": "train", **metrics, **self.learning_rates()}
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

    # -- checkpoints ------------------------------------------------------------------------------------------
    def diverged(self, what: str) -> None:
        """Stop with a named error; nothing of the diverged state is saved (the last checkpoint stays)."""
        kept = self.out_dir / CHECKPOINT
        last = f"the last good checkpoint, {kept}, is kept" if kept.exists() else "no checkpoint was written yet"
        raise TrainingDiverged(f"{self.out_dir}: training diverged at step {self.step}: {what} (lr {self.config.lr}, "
                               f"arch_lr {self.config.arch_lr}); {last}. Lower the learning rates or set clip_grad.")

    def start_fresh(self) -> None:
        self.step = 0
        if self.rank == 0:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            (self.out_dir / METRICS).write_text("")
            for name in (CHECKPOINT, PREVIOUS_CHECKPOINT):
                (self.out_dir / name).unlink(missing_ok=True)

    def run_record(self) -> dict[str, Any]:
        """What identifies this run in its checkpoints: the training settings, the task and the search."""
        return {"config": self.config.to_dict(), "task": self.task.name,
                "search": None if self.search is None else self.search.to_dict()}

    def save_checkpoint(self) -> None:
        """Everything needed to continue exactly; written atomically (temporary file, then rename), keeping the
        previous checkpoint beside the new one."""
        bad = non_finite_parameters(self.model)
        if self.sharded:
            bad = self.sharded.agree(bad)
        if bad:
            self.diverged(f"non-finite weights in {', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''}")
        if self.sharded:
            model_state = self.sharded.model_state()
            optimizer_states = {k: self.sharded.optimizer_state(o) for k, o in self.optimizers.items()}
        else:
            model_state = self.model.state_dict()
            optimizer_states = {k: o.state_dict() for k, o in self.optimizers.items()}
        if self.rank == 0:
            state = {
                "step": self.step,
                "model": model_state,
                "optimizers": optimizer_states,
                "schedulers": {k: s.state_dict() for k, s in self.schedulers.items()},
                "stream": self.stream.state_dict(),
                "arch_stream": self.arch_stream.state_dict() if self.arch_stream else None,
                "rng": rng_state(),
                "final": self.final,
                **self.run_record(),
            }
            with tempfile.NamedTemporaryFile(dir=self.out_dir, suffix=".tmp", delete=False) as tmp:
                torch.save(state, tmp)
            if (self.out_dir / CHECKPOINT).exists():
                os.replace(self.out_dir / CHECKPOINT, self.out_dir / PREVIOUS_CHECKPOINT)
            os.replace(tmp.name, self.out_dir / CHECKPOINT)
        if self.world > 1:
            dist.barrier()

    def read_checkpoint(self) -> tuple[Path, dict[str, Any]] | None:
        """The latest checkpoint that loads (the previous one, with a warning, if the latest is corrupt), or
        None if there is none. Loads tensors and plain data only (weights_only=True)."""
        paths = [self.out_dir / name for name in (CHECKPOINT, PREVIOUS_CHECKPOINT) if (self.out_dir / name).exists()]
        errors = []
        for path in paths:
            try:
                state = torch.load(path, map_location=self.device, weights_only=True)
                if not isinstance(state, dict) or "step" not in state or "model" not in state:
                    raise ValueError("it holds no training state")
            except Exception as err:
                errors.append(f"{path}: {first_line(err)}")
                continue
            if errors:
                warnings.warn(f"{errors[0]}; resuming from the previous checkpoint {path} instead.", stacklevel=3)
            return path, state
        if errors:
            raise ValueError(f"No checkpoint this engine can load in {self.out_dir} ({'; '.join(errors)}). "
                             "Delete them to start the stage afresh.")
        return None

    def check_same_run(self, path: Path, state: dict[str, Any]) -> None:
        """Refuse a checkpoint written by another run: settings, task or search that differ from this run's
        (except the fields listed in resume_override) are named."""
        mine, theirs = self.run_record(), {k: state.get(k) for k in ("config", "task", "search")}
        allowed = set(self.config.resume_override) | {"resume_override", "report_to"}  # report_to: no effect on training
        differ = [f"{field}: checkpoint {theirs['config'].get(field)!r}, this run {value!r}"
                  for field, value in mine["config"].items()
                  if field not in allowed and (theirs["config"] or {}).get(field, value) != value]
        differ += [f"{key}: checkpoint {theirs[key]!r}, this run {mine[key]!r}" for key in ("task", "search")
                   if theirs[key] != mine[key]]
        if differ:
            raise ValueError(
                f"{path} was written by another run ({'; '.join(differ)}). Resume with the settings that wrote it, "
                "delete the checkpoint to start afresh, or list deliberate changes in train.resume_override "
                "(e.g. [max_steps]).")

    def load_checkpoint(self) -> bool:
        """Restore the latest checkpoint of this run; False (and nothing changed) if there is none."""
        found = self.read_checkpoint()
        if found is None:
            if self.rank == 0:
                print(f"No checkpoint in {self.out_dir}: starting fresh.", flush=True)
            return False
        path, state = found
        self.check_same_run(path, state)
        try:
            if self.sharded:
                self.sharded.load(state["model"], self.optimizers, state["optimizers"])
            else:
                self.model.load_state_dict(state["model"])
                for name, optimizer in self.optimizers.items():
                    optimizer.load_state_dict(state["optimizers"][name])
            for name, scheduler in self.schedulers.items():
                scheduler.load_state_dict(state["schedulers"][name])
        except (RuntimeError, KeyError, ValueError) as err:
            raise ValueError(f"{path} does not fit this model ({first_line(err)}). Delete it to start "
                             "the stage afresh.") from None
        self.stream.load_state_dict(state["stream"])
        if self.arch_stream and state["arch_stream"]:
            self.arch_stream.load_state_dict(state["arch_stream"])
        set_rng_state(state["rng"])
        self.step = state["step"]
        self.final = state.get("final") if self.step >= self.config.max_steps else None
        if self.rank == 0:
            truncate_log(self.out_dir / METRICS, self.step, self.config.max_steps if self.final is None else None)
        return True


def truncate_log(path: Path, step: int, max_steps: int | None) -> None:
    """Drop log lines written after the checkpoint at `step`, so a resumed run's log reads as one run.

    The final evaluation (at max_steps) is dropped too, since the resumed run writes it again; max_steps None
    (a finished run, not trained again) keeps it.
    """
    records = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    kept = [r for r in records if r["step"] < step or (r["step"] == step and not (step == max_steps and r["split"] == "test"))]
    path.write_text("".join(json.dumps(r) + "\n" for r in kept))
