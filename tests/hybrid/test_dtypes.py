"""bf16: a hybrid cast with `model.to(torch.bfloat16)` trains and generates for every family, the fast Mamba
scan included, with its loss within bf16 tolerance of fp32."""

import pytest
import torch

from manticore import ManticoreForCausalLM
from manticore.kernels import use_fast_scan
from conftest import FAMILIES, VOCAB, tiny_config


@pytest.mark.parametrize("family", FAMILIES)
def test_bf16_forward_backward_and_generate_match_fp32(family):
    torch.manual_seed(0)
    partner = "gpt_neo" if family.startswith("mamba") else "mamba"  # every family beside a different one
    hybrid = ManticoreForCausalLM.from_components([tiny_config(family), tiny_config(partner)], num_blocks=2)
    use_fast_scan(hybrid)
    ids = torch.randint(0, VOCAB, (2, 12))
    with torch.no_grad():
        fp32 = hybrid(input_ids=ids, labels=ids).loss
    hybrid.to(torch.bfloat16)
    out = hybrid(input_ids=ids, labels=ids)
    assert out.logits.dtype == torch.bfloat16
    assert abs(out.loss.float() - fp32) < 0.05 * fp32  # bf16 keeps ~3 significant digits per op
    out.loss.backward()
    grads = [p.grad for p in hybrid.parameters() if p.requires_grad and p.grad is not None]
    assert grads and all(g.dtype == torch.bfloat16 and torch.isfinite(g).all() for g in grads)
    for use_cache in (True, False):  # the cache holds bf16 keys/values (Mamba's SSM states stay float32)
        generated = hybrid.generate(ids[:, :4], max_new_tokens=3, do_sample=False, use_cache=use_cache)
        assert generated.shape == (2, 7)
