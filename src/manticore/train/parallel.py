"""Processes, and how the trained model is spread over them: one process, DDP, or FSDP (PyTorch's FSDP2).

    torchrun --nproc_per_node 8 -m manticore.cli search --config run.yaml          # one machine
    torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 --rdzv_backend c10d \\
        --rdzv_endpoint HOST:29500 -m manticore.cli search --config run.yaml       # each of two machines

`train.strategy` picks how several processes share the model:

- "ddp": every process holds the whole model; gradients are averaged (`DistributedDataParallel`, with
  `find_unused_parameters` since zero-weight branches and frozen parts take no gradient).
- "fsdp": `torch.distributed.fsdp.fully_shard` (FSDP2) shards the parameters, gradients and optimizer states
  across the processes, one unit per block: each component's decoder layers and each Manticore block (its
  projectors) are their own unit (the classes named in the `_no_split_modules` of the model and of every
  Hugging Face model inside it), and the rest (embeddings, mixture weights, heads) is the root unit. A unit's
  parameters are gathered just before its forward and freed after, so a process holds one block at a time in
  full. Branches skipped for a zero mixture weight are skipped on every process alike (α is the same
  everywhere), so their units are never gathered.

Under FSDP the engine trains a sharded copy of the caller's model, whose own parameters are emptied meanwhile,
and writes the trained weights back into the caller's model at the end (`Sharded.write_back`), one tensor at a
time, so stages save and report it as they do with DDP (a run that fails leaves the caller's model empty).

Checkpoints are gathered: full tensors, written by rank 0 into the same file as with DDP. Their optimizer states
are keyed by parameter name (`torch.distributed.checkpoint.state_dict`), so a checkpoint written with one
strategy resumes with the same one (`strategy` is checked like every training setting). With one process both
strategies train the model as it is.
"""

from __future__ import annotations

import copy
import os
from typing import Any

import torch
import torch.distributed as dist
from torch import nn


def distributed() -> tuple[int, int]:
    """(rank, world size); initialises torch.distributed when launched by torchrun with WORLD_SIZE > 1."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world > 1 and not dist.is_initialized():
        dist.init_process_group("nccl" if torch.cuda.is_available() else "gloo")
    return (dist.get_rank(), dist.get_world_size()) if dist.is_initialized() else (0, 1)


def is_main() -> bool:
    """Whether this is the process that writes files (rank 0, or the only one)."""
    return (dist.get_rank() if dist.is_initialized() else int(os.environ.get("RANK", "0"))) == 0


def full(tensor: torch.Tensor) -> torch.Tensor:
    """A sharded tensor (DTensor) gathered whole on every process (a collective); any other tensor as it is."""
    return tensor.full_tensor() if hasattr(tensor, "full_tensor") else tensor


def local(tensor: torch.Tensor) -> torch.Tensor:
    """This process's shard of a sharded tensor; any other tensor as it is."""
    return tensor.to_local() if hasattr(tensor, "to_local") else tensor


def shard_units(model: nn.Module) -> list[nn.Module]:
    """The modules FSDP shards as units: the outermost instances of the classes that the `_no_split_modules` of
    `model` and of every Hugging Face model inside it name (decoder layers, Manticore blocks), in module order."""
    names = set()
    for module in model.modules():
        names.update(getattr(module, "_no_split_modules", None) or ())
    units: list[nn.Module] = []

    def visit(module: nn.Module) -> None:
        for child in module.children():
            if type(child).__name__ in names:
                units.append(child)
            else:
                visit(child)

    visit(model)
    return units


class Sharded:
    """A model sharded with FSDP2 for training, beside the caller's unsharded model.

    `model`: the sharded copy, whose parameters are DTensors (each process holds a shard) on the training device;
    `source`: the caller's model, whose parameters are emptied while the copy trains (so each process holds only
    its shards) and filled with the trained weights by `write_back()`, on the device they were on.
    """

    def __init__(self, source: nn.Module, device: torch.device):
        from torch.distributed.fsdp import fully_shard

        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        self.source = source
        # the copy's parameters start on the meta device (no memory); only the shards are ever allocated
        meta = {id(p): nn.Parameter(torch.empty_like(p, device="meta"), requires_grad=p.requires_grad)
                for p in source.parameters()}
        model = copy.deepcopy(source, meta)
        units = shard_units(model)
        self.units = [type(unit).__name__ for unit in units]  # the classes sharded as units, one per instance
        for unit in units:
            fully_shard(unit)
        fully_shard(model)
        model.to_empty(device=device)
        set_model_state_dict(model, source.state_dict(), options=StateDictOptions(full_state_dict=True))
        with torch.no_grad():
            for name, buffer in source.named_buffers():  # non-persistent ones too (e.g. rotary tables)
                model.get_buffer(name).copy_(buffer)
        self.model = model
        for param in source.parameters():  # the caller's copy holds nothing until write_back
            param.data = torch.empty(0, dtype=param.dtype, device=param.device)

    def model_state(self) -> dict[str, torch.Tensor]:
        """The full state dict on rank 0 (CPU tensors) and an empty one elsewhere; a collective."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(self.model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))

    def optimizer_state(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        """The optimizer's full state, keyed by parameter name, on rank 0 (empty elsewhere); a collective."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        return get_optimizer_state_dict(self.model, optimizer,
                                        options=StateDictOptions(full_state_dict=True, cpu_offload=True))

    def load(self, model_state: dict[str, torch.Tensor], optimizers: dict[str, torch.optim.Optimizer],
             optimizer_states: dict[str, dict[str, Any]]) -> None:
        """Load full states (every process read the checkpoint) into the shards."""
        from torch.distributed.checkpoint.state_dict import (StateDictOptions, set_model_state_dict,
                                                             set_optimizer_state_dict)

        set_model_state_dict(self.model, model_state, options=StateDictOptions(full_state_dict=True))
        # strict=False: a parameter that never had a gradient (a branch skipped for a zero weight) has no state
        options = StateDictOptions(full_state_dict=True, strict=False)
        for name, optimizer in optimizers.items():
            set_optimizer_state_dict(self.model, optimizer, optimizer_states[name], options=options)

    @torch.no_grad()
    def write_back(self) -> None:
        """Put the trained weights into the caller's model on every process, one gathered tensor at a time."""
        params, buffers = dict(self.source.named_parameters()), self.source.state_dict()
        for name, value in self.model.state_dict().items():
            value = full(value)
            if name in params:
                params[name].data = value.to(params[name].device, copy=True)
            else:
                buffers[name].copy_(value)

    @staticmethod
    def agree(names: list[str]) -> list[str]:
        """This process's non-finite parameter names, or a stand-in if only another process found some: every
        process then stops alike (a collective)."""
        flag = torch.tensor([float(bool(names))], device="cuda" if dist.get_backend() == "nccl" else "cpu")
        dist.all_reduce(flag, op=dist.ReduceOp.MAX)
        return names or (["parameters on another process"] if flag.item() else [])
