"""`TrainConfig`: how the engine trains, shared by every stage. Validation names the field that is wrong.

Light on purpose (no torch): stage settings embed it, and the CLI lists them in `--help`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from typing import Any, Literal

from ..checks import check, is_int, is_number

PRECISIONS = ("fp32", "bf16")
SCHEDULES = ("linear", "constant")
STRATEGIES = ("ddp", "fsdp")  # parallel.py's


@dataclass
class TrainConfig:
    """How to train: steps, batches, optimizer, schedule, evaluation, checkpoints."""

    max_steps: int = 200
    """Optimizer steps (of the model parameters) to take."""
    batch_size: int = 16
    """Examples per micro-batch and process."""
    grad_accum: int = 1
    """Micro-batches accumulated into one optimizer step."""
    lr: float = 5e-5
    """Learning rate of the model parameters (paper: 5e-5 for fine-tuning pretrained hybrids)."""
    arch_lr: float = 0.01
    """Learning rate of the mixture weights (paper: 0.005 to 0.01)."""
    weight_decay: float = 0.0
    """AdamW weight decay of the model parameters (never applied to mixture weights)."""
    warmup_steps: int = 0
    """Linear warm-up steps of both schedules."""
    schedule: Literal["linear", "constant"] = "linear"
    """'linear' (decay to 0 at max_steps, as in the paper) or 'constant' after warm-up."""
    clip_grad: float | None = 1.0
    """Max global gradient norm of the model parameters; None to disable."""
    eval_every: int = 0
    """Evaluate on the test split every N steps (0: only at the end)."""
    eval_batches: int | None = None
    """Batches per evaluation (None: the whole split)."""
    log_every: int = 10
    """Write a train-metrics line every N steps (the α trajectory is logged every step during search)."""
    checkpoint_every: int = 0
    """Write a resumable checkpoint every N steps (0: only at the end)."""
    seed: int = 0
    """Seed of initialisation-independent randomness: data order, dropout, Gumbel noise."""
    precision: Literal["fp32", "bf16"] = "fp32"
    """'fp32' or 'bf16' (autocast, where the device supports it)."""
    strategy: Literal["ddp", "fsdp"] = "ddp"
    """How several processes (torchrun) share the model: 'ddp' (each holds all of it) or 'fsdp' (FSDP2: parameters,
    gradients and optimizer states sharded, one unit per block); no effect with one process."""
    report_to: list[str] = field(default_factory=list)
    """Experiment trackers that get the metrics besides metrics.jsonl: 'tensorboard' (event files in the stage's
    tensorboard/ folder), 'wandb' (Weights & Biases); see train/trackers.py."""
    resume_override: list[str] = field(default_factory=list)
    """Fields that may differ from the checkpoint's when resuming (e.g. [max_steps] to extend a run);
    any other difference makes --resume refuse the checkpoint."""

    def __post_init__(self):
        for name in ("max_steps", "batch_size", "grad_accum"):
            value = getattr(self, name)
            check(is_int(value) and value > 0, name, value, "a positive integer")
        for name in ("warmup_steps", "eval_every", "log_every", "checkpoint_every"):
            value = getattr(self, name)
            check(is_int(value) and value >= 0, name, value, "a non-negative integer")
        for name in ("lr", "arch_lr", "weight_decay"):
            value = getattr(self, name)
            check(is_number(value) and value >= 0, name, value, "a finite number >= 0")
        check(is_int(self.seed), "seed", self.seed, "an integer")
        check(self.clip_grad is None or (is_number(self.clip_grad) and self.clip_grad > 0), "clip_grad", self.clip_grad,
              "a finite number > 0 or None")
        check(self.schedule in SCHEDULES, "schedule", self.schedule, " or ".join(SCHEDULES))
        check(self.precision in PRECISIONS, "precision", self.precision, " or ".join(PRECISIONS))
        check(self.strategy in STRATEGIES, "strategy", self.strategy, " or ".join(map(repr, STRATEGIES)))
        check(self.eval_batches is None or (is_int(self.eval_batches) and self.eval_batches > 0), "eval_batches",
              self.eval_batches, "None or a positive integer")
        from .trackers import TRACKERS  # the registry (a light module)

        check(isinstance(self.report_to, (list, tuple)) and all(t in TRACKERS for t in self.report_to), "report_to",
              self.report_to, f"a list of trackers ({', '.join(TRACKERS)})")
        self.report_to = list(self.report_to)
        names = {f.name for f in fields(self)}
        check(isinstance(self.resume_override, (list, tuple)) and all(n in names for n in self.resume_override),
              "resume_override", self.resume_override, f"a list of TrainConfig fields ({', '.join(sorted(names))})")
        self.resume_override = list(self.resume_override)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
