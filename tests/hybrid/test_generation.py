"""Generation with the hybrid cache: cached equals uncached, a one-hot hybrid equals its component's own
`generate`, and a left-padded batch equals each prompt alone, for every family; greedy, sampling and beam search."""

import pytest
import torch

from manticore import ManticoreForCausalLM
from manticore.hybrid import ManticoreCache
from conftest import FAMILIES, VOCAB, tiny_component, tiny_config

PAD = VOCAB - 1
ALPHAS = {"one-hot": [[1.0, 0.0]] * 2, "mixed": [[0.6, 0.4], [0.3, 0.7]], "striped": [[1.0, 0.0], [0.0, 1.0]]}


def partner_of(family: str) -> str:
    return "gpt_neo" if family.startswith("mamba") else "mamba"


def hybrid_of(family: str, seed: int = 3):
    component = tiny_component(family, depth=2, seed=seed)
    partner = tiny_component(partner_of(family), depth=2, seed=seed + 1)
    return component, ManticoreForCausalLM.from_components([component, partner], num_blocks=2, embeddings_from=0).eval()


def prompts(batch=2, length=5, seed=5):
    return torch.randint(0, VOCAB - 1, (batch, length), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("family", FAMILIES)
def test_cached_greedy_generation_equals_uncached(family):
    """20 new tokens: past GPT-Neo's local window and Mistral's sliding window (4 in the tiny configs)."""
    _, hybrid = hybrid_of(family)
    ids = prompts()
    settings = dict(max_new_tokens=20, do_sample=False, pad_token_id=PAD, attention_mask=torch.ones_like(ids))
    for name, alphas in ALPHAS.items():
        hybrid.set_mixture_weights(alphas)
        uncached = hybrid.generate(ids, use_cache=False, **settings)
        cached = hybrid.generate(ids, **settings)  # use_cache=True is the default
        assert cached.tolist() == uncached.tolist(), name


@pytest.mark.parametrize("family", FAMILIES)
def test_a_one_hot_hybrid_generates_what_its_component_generates(family):
    """Greedy, 12 new tokens: the hybrid (one-hot at component 0, its embeddings), with and without its cache,
    against the component's own `generate` (with its own cache)."""
    component, hybrid = hybrid_of(family)
    hybrid.set_mixture_weights([[1.0, 0.0]] * 2)
    ids = prompts()
    settings = dict(max_new_tokens=12, do_sample=False, pad_token_id=PAD, attention_mask=torch.ones_like(ids))
    want = component.generate(ids, **settings).tolist()
    assert hybrid.generate(ids, **settings).tolist() == want
    assert hybrid.generate(ids, use_cache=False, **settings).tolist() == want


@pytest.mark.parametrize("use_cache", [True, False])
@pytest.mark.parametrize("alphas", ["one-hot", "mixed"])
@pytest.mark.parametrize("partner", ["mamba", "gpt2", "mistral"])
def test_left_padded_batch_generates_what_each_prompt_generates_alone(alphas, partner, use_cache):
    torch.manual_seed(0)
    hybrid = ManticoreForCausalLM.from_components([tiny_config("gpt_neo"), tiny_config(partner)], num_blocks=2,
                                                  embeddings_from=0).eval()
    hybrid.set_mixture_weights(ALPHAS[alphas])
    rows = [torch.randint(0, VOCAB - 1, (n,)) for n in (3, 7, 5)]
    width = max(len(p) for p in rows)
    ids = torch.stack([torch.cat([torch.full((width - len(p),), PAD), p]) for p in rows])
    mask = torch.stack([torch.cat([torch.zeros(width - len(p)), torch.ones(len(p))]) for p in rows]).long()
    settings = dict(max_new_tokens=8, do_sample=False, pad_token_id=PAD, use_cache=use_cache)
    batched = hybrid.generate(ids, attention_mask=mask, **settings)
    for row, prompt in enumerate(rows):
        alone = hybrid.generate(prompt[None], **settings)
        assert batched[row, width:].tolist() == alone[0, len(prompt):].tolist()
        # and the logits of the first new token agree, not only the argmax
        padded = hybrid(input_ids=ids[row:row + 1], attention_mask=mask[row:row + 1],
                        position_ids=(mask[row:row + 1].cumsum(-1) - 1).clamp(min=0)).logits[0, -1]
        torch.testing.assert_close(padded, hybrid(input_ids=prompt[None]).logits[0, -1], rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", ["gpt_neo", "mistral", "mamba2"])
def test_beam_search_and_sampling_with_the_cache_equal_without(family):
    """Beam search reorders the cache (every component's, through `Cache.reorder_cache`); sampling with the
    same seed draws the same tokens."""
    _, hybrid = hybrid_of(family)
    hybrid.set_mixture_weights(ALPHAS["mixed"])
    ids = prompts()
    settings = dict(max_new_tokens=10, pad_token_id=PAD, attention_mask=torch.ones_like(ids))
    beams = dict(num_beams=3, num_return_sequences=2, do_sample=False)
    assert hybrid.generate(ids, **beams, **settings).tolist() == \
        hybrid.generate(ids, use_cache=False, **beams, **settings).tolist()
    sampled = []
    for use_cache in (True, False):
        torch.manual_seed(11)
        sampled.append(hybrid.generate(ids, do_sample=True, top_k=20, use_cache=use_cache, **settings).tolist())
    assert sampled[0] == sampled[1]


def test_generate_keeps_a_manticore_cache_by_default():
    _, hybrid = hybrid_of("gpt_neo")
    hybrid.set_mixture_weights([[1.0, 0.0], [1.0, 0.0]])  # the Mamba partner has no weight anywhere
    ids = prompts()
    out = hybrid.generate(ids, max_new_tokens=4, do_sample=False, pad_token_id=PAD, return_dict_in_generate=True)
    cache = out.past_key_values
    assert isinstance(cache, ManticoreCache)
    assert cache.get_seq_length() == ids.shape[1] + 4 - 1  # the last token is sampled, not yet run
    assert cache.active == [True, False]  # only components with weight hold a cache
