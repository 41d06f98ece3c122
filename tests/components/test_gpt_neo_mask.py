"""GPT-Neo applies its causal and local windows itself: without padding its blocks get no mask (nothing to add,
and building one every decoding step cost about half a layer), with padding the family's own mask; the hybrid
equals the component either way."""

import torch

import manticore
from manticore.testing import tiny_component


def test_no_padding_no_mask_and_padding_masked_exactly():
    neo = tiny_component("gpt_neo", vocab=32, seed=3)
    hybrid = manticore.ManticoreForCausalLM.from_components([neo], num_blocks=2, embeddings_from=0).eval()
    adapter = hybrid.base_model.components[0]
    hidden, positions = torch.zeros(2, 5, 32), torch.arange(5)[None]
    assert adapter.prepare(hidden, None, positions)["attention_mask"] is None
    assert adapter.prepare(hidden, torch.ones(2, 5, dtype=torch.long), positions)["attention_mask"] is None
    padded = torch.tensor([[0, 0, 1, 1, 1], [1, 1, 1, 1, 1]])
    assert adapter.prepare(hidden, padded, positions)["attention_mask"] is not None
    ids = torch.randint(0, 32, (2, 5))
    with torch.no_grad():
        for mask in (None, padded):
            expected = neo(ids, attention_mask=mask).logits
            got = hybrid(ids, attention_mask=mask).logits
            keep = torch.ones_like(ids, dtype=torch.bool) if mask is None else mask.bool()
            assert torch.allclose(got[keep], expected[keep], atol=1e-5)
        prompt = torch.randint(0, 32, (1, 6))
        assert torch.equal(hybrid.generate(prompt, max_new_tokens=6, do_sample=False),
                           neo.generate(prompt, max_new_tokens=6, do_sample=False))
