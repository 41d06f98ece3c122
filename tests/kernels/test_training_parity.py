"""No regression in training: a tiny Mamba trained 50 steps with the fast scan follows the reference's loss
curve (same seed, same data) to within float32 rounding."""

import torch
from transformers import MambaConfig, MambaForCausalLM

from manticore.kernels import use_fast_scan


def loss_curve(fast: bool, steps: int = 50) -> list[float]:
    torch.manual_seed(0)
    model = MambaForCausalLM(MambaConfig(vocab_size=32, hidden_size=32, num_hidden_layers=2, state_size=8,
                                         bos_token_id=None, eos_token_id=None, pad_token_id=None))
    if fast:
        use_fast_scan(model.backbone)
    optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3)
    data = torch.Generator().manual_seed(1)
    curve = []
    for _ in range(steps):
        # a learnable sequence: repeated random motifs
        motif = torch.randint(0, 32, (8, 6), generator=data)
        ids = motif.repeat(1, 6)
        loss = model(input_ids=ids, labels=ids, use_cache=False).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        curve.append(loss.item())
    return curve


def test_fast_scan_trains_like_the_reference():
    fast, reference = loss_curve(fast=True), loss_curve(fast=False)
    assert reference[-1] < reference[0] - 0.3  # it learned something
    assert max(abs(a - b) for a, b in zip(fast, reference)) < 1e-3, (fast[-5:], reference[-5:])
