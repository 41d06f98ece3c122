"""Put the fast selective scan into transformers' Mamba (v1) mixers, per instance.

`use_fast_scan(model)` turns every `MambaMixer` in `model` into a `FastScanMambaMixer`: the same module
(same parameters, state-dict keys and `isinstance(mixer, MambaMixer)`), whose full-sequence forward calls
`manticore.kernels.selective_scan.selective_scan` instead of transformers' per-timestep PyTorch loop, and
whose generation step (one new token with a cache) updates the conv and SSM states with a few elementwise
ops instead of transformers' reference path (a conv1d call per token). Prefill with a cache runs the fast
scan and stores its final state. Other mixers (Mamba2's, attention) are left alone, and transformers' classes
are not modified.

Shapes: b = batch, l = sequence length, d_model = the block width, d = the mixer's intermediate size
(expand * d_model), n = state size, r = the time-step rank.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers.integrations.accelerate import force_accelerate_hooks
from transformers.models.mamba import modeling_mamba
from transformers.models.mamba.modeling_mamba import MambaMixer, apply_mask_to_padding_states

from .selective_scan import _mamba_ssm_scan, selective_scan
from .selective_scan_cpu import load_numba_kernels

__all__ = ["FastScanMambaMixer", "use_fast_scan"]


class FastScanMambaMixer(MambaMixer):
    """transformers' `MambaMixer` with the fast selective scan and a fast generation step.

    Only ever made from an existing `MambaMixer` by `use_fast_scan` (its class is swapped, nothing is copied).
    Falls back to transformers' own forward for packed sequences, for a cache that records past states
    (speculative decoding), and on CUDA with mamba_ssm installed (transformers then uses mamba_ssm's fused
    kernels itself). On CUDA without mamba_ssm the scan is the chunked PyTorch one (`selective_scan` dispatches),
    not transformers' per-timestep loop. A cache continued with several tokens at once runs them one step at a time, from the
    cached state.
    """

    def forward(self, hidden_states, cache_params=None, attention_mask=None, **kwargs):
        """hidden_states: (b, l, d_model); attention_mask: (b, l) with 1 for tokens, 0 for padding, or None;
        cache_params: a transformers `Cache` whose layer `layer_idx` holds this mixer's conv and SSM states."""
        packed = kwargs.get("cu_seqlens") is not None or kwargs.get("seq_idx") is not None
        if packed or (hidden_states.is_cuda and _mamba_ssm_scan is not None):
            return super().forward(hidden_states, cache_params=cache_params, attention_mask=attention_mask, **kwargs)
        if cache_params is None:
            return self._fast_forward(hidden_states, attention_mask)
        if cache_params.is_recording_past(self.layer_idx):
            return super().forward(hidden_states, cache_params=cache_params, attention_mask=attention_mask, **kwargs)
        started = cache_params.get_conv_state(self.layer_idx) is not None
        if not started:
            return self._fast_forward(hidden_states, attention_mask, cache_params)
        # Continuing a cache: one step per new token (transformers' own path would restart the SSM state from
        # zero for a chunk of several tokens)
        steps = [self._step(hidden_states[:, i:i + 1], cache_params,
                            None if attention_mask is None else attention_mask[:, i:i + 1])
                 for i in range(hidden_states.shape[1])]
        return steps[0] if len(steps) == 1 else torch.cat(steps, dim=1)

    @force_accelerate_hooks(["conv1d", "dt_proj"])  # as transformers' forward: their weights are used directly
    def _fast_forward(self, hidden_states: torch.Tensor, attention_mask: torch.Tensor | None, cache=None) -> torch.Tensor:
        """The whole sequence at once; with a cache (prefill), also stores the conv input's last kernel-size
        positions and the scan's final state."""
        dtype = hidden_states.dtype
        hidden_states = apply_mask_to_padding_states(hidden_states, attention_mask)
        x, gate = self.in_proj(hidden_states).transpose(1, 2).chunk(2, dim=1)  # (b, d, l) each
        if cache is not None:
            cache.update_conv_state(x, self.layer_idx, conv_kernel_size=self.conv_kernel_size)

        # The scan runs time-major: (b, l, d) tensors passed transposed reach it without a copy.
        x = self._causal_conv(x).transpose(1, 2).contiguous()  # (b, l, d)
        x = apply_mask_to_padding_states(x, attention_mask)
        time_step, B, C = torch.split(
            self.x_proj(x), [self.time_step_rank, self.ssm_state_size, self.ssm_state_size], dim=-1
        )  # (b, l, r), (b, l, n), (b, l, n)
        time_step = F.linear(time_step, self.dt_proj.weight)  # (b, l, d); the bias is added in the scan
        A = -torch.exp(self.A_log.float())  # (d, n)
        y = selective_scan(
            x.transpose(1, 2),
            time_step.transpose(1, 2),
            A,
            B.transpose(1, 2),
            C.transpose(1, 2),
            D=self.D.float(),
            z=gate,
            delta_bias=self.dt_proj.bias.float() if self.dt_proj.bias is not None else None,
            delta_softplus=True,
            return_last_state=cache is not None,
        )  # (b, d, l)
        if cache is not None:
            y, state = y
            cache.update_recurrent_state(state, self.layer_idx)  # kept in float32
        return self.out_proj(y.transpose(1, 2).to(dtype))  # (b, l, d_model)

    @force_accelerate_hooks(["conv1d", "dt_proj"])
    def _step(self, hidden_states: torch.Tensor, cache, attention_mask: torch.Tensor | None) -> torch.Tensor:
        """One new position per row, from the cached states, which are updated in place: (b, 1, d_model) ->
        (b, 1, d_model). The same recurrence as the scan (see selective_scan), in float32."""
        dtype = hidden_states.dtype
        hidden_states = apply_mask_to_padding_states(hidden_states, attention_mask)
        x, gate = self.in_proj(hidden_states[:, 0]).chunk(2, dim=-1)  # (b, d) each
        window = cache.update_conv_state(x[..., None], self.layer_idx)  # (b, d, kernel + 1): the states, then x
        weight = self.conv1d.weight[:, 0]  # (d, kernel)
        x = (window[..., -weight.shape[-1]:].to(weight.dtype) * weight).sum(-1)
        if self.conv1d.bias is not None:
            x = x + self.conv1d.bias
        x = self.act(x).to(dtype)  # (b, d)
        if attention_mask is not None:
            x = x * attention_mask[:, -1:].to(dtype)
        time_step, B, C = torch.split(
            self.x_proj(x), [self.time_step_rank, self.ssm_state_size, self.ssm_state_size], dim=-1
        )  # (b, r), (b, n), (b, n)
        dt = F.linear(time_step, self.dt_proj.weight).float()  # (b, d); the bias is added in float32, as the scan does
        if self.dt_proj.bias is not None:
            dt = dt + self.dt_proj.bias.float()
        dt = F.softplus(dt)[..., None]  # (b, d, 1)
        state = cache.get_recurrent_state(self.layer_idx)  # (b, d, n)
        A = -torch.exp(self.A_log.float())  # (d, n)
        x32 = x.float()
        new_state = torch.exp(dt * A) * state.float() + (dt * x32[..., None]) * B.float()[:, None, :]
        state.copy_(new_state)
        y = (new_state @ C.float()[..., None])[..., 0] + self.D.float() * x32  # (b, d)
        y = y * F.silu(gate.float())
        return self.out_proj(y.to(dtype))[:, None]  # (b, 1, d_model)

    def _causal_conv(self, x: torch.Tensor) -> torch.Tensor:
        """Depthwise causal conv1d then the activation, as transformers' `causal_conv1d_fn`: (b, d, l) -> (b, d, l)."""
        if x.is_cuda:  # transformers' wrapper, which uses the causal-conv1d package when installed
            return modeling_mamba.causal_conv1d_fn(
                x, self.conv1d.weight.squeeze(1), self.conv1d.bias, activation=self.activation
            )
        weight = self.conv1d.weight  # (d, 1, k)
        out = F.conv1d(x.to(weight.dtype), weight, self.conv1d.bias, padding=weight.shape[-1] - 1, groups=x.shape[1])
        return self.act(out[..., : x.shape[-1]]).to(x.dtype)


def use_fast_scan(model: nn.Module) -> int:
    """Make every transformers `MambaMixer` in `model` use the fast selective scan; returns how many changed.

    Changes the class of those mixer instances only (to `FastScanMambaMixer`); idempotent. Modules of any other
    type, including Mamba2's mixers, are untouched. When it changes any, it also imports the scan's numba
    kernels, so that the import happens while the model is being set up rather than in its first forward.
    """
    changed = 0
    for module in model.modules():
        if type(module) is MambaMixer:
            module.__class__ = FastScanMambaMixer
            changed += 1
    if changed:
        load_numba_kernels()
    return changed
