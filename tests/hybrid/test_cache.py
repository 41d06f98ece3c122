"""The hybrid cache: each used component's own Hugging Face cache; a forward with it processes only the new
tokens and gives the logits a full forward gives; zero-weight branches hold nothing; misuse fails clearly."""

import pytest
import torch
from transformers import DynamicCache, Qwen2Config

from manticore import ManticoreCache, ManticoreForCausalLM
from conftest import FAMILIES, VOCAB, tiny_config


def hybrid_of(family: str, alphas=((0.6, 0.4), (0.3, 0.7))):
    torch.manual_seed(0)
    partner = "gpt_neo" if family.startswith("mamba") else "mamba"
    hybrid = ManticoreForCausalLM.from_components([tiny_config(family), tiny_config(partner)], num_blocks=2).eval()
    hybrid.set_mixture_weights([list(a) for a in alphas])
    return hybrid


def positions_seen(hybrid):
    """Hooks recording the sequence length every component block is run on."""
    seen = []
    for component in hybrid.model.components:
        for block in component.blocks:
            block.register_forward_pre_hook(lambda module, args: seen.append(args[0].shape[1]))
    return seen


@pytest.mark.parametrize("family", FAMILIES)
def test_a_forward_with_the_cache_runs_only_the_new_tokens_and_matches_a_full_forward(family):
    hybrid = hybrid_of(family)
    ids = torch.randint(0, VOCAB, (2, 11))
    with torch.no_grad():
        full = hybrid(input_ids=ids).logits
        seen = positions_seen(hybrid)
        out = hybrid(input_ids=ids[:, :6], use_cache=True)
        assert set(seen) == {6}
        steps = [out.logits]
        seen.clear()
        for t in range(6, 11):  # one token at a time, then
            out = hybrid(input_ids=ids[:, t:t + 1], past_key_values=out.past_key_values)
            steps.append(out.logits)
        assert set(seen) == {1} and len(seen) == 5 * 4  # 5 steps x (2 components x 2 blocks each)
    assert out.past_key_values.get_seq_length() == 11
    torch.testing.assert_close(torch.cat(steps, dim=1), full, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("family", ["llama", "mamba", "mamba2"])
def test_a_chunk_of_several_new_tokens_continues_a_cache(family):
    """Llama beside Mamba, and Mamba beside GPT-Neo: the Mamba branch continues from its cached SSM state."""
    hybrid = hybrid_of(family)
    ids = torch.randint(0, VOCAB, (1, 12))
    with torch.no_grad():
        full = hybrid(input_ids=ids).logits
        first = hybrid(input_ids=ids[:, :8], use_cache=True)
        second = hybrid(input_ids=ids[:, 8:], past_key_values=first.past_key_values)
    torch.testing.assert_close(second.logits, full[:, 8:], rtol=1e-4, atol=1e-5)


def test_mixed_full_and_sliding_window_layers():
    """Qwen2 with one full-attention and one sliding-window layer (window 3): masks for both kinds of layer come
    from the component's own cache layers."""
    config = Qwen2Config(hidden_size=32, num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         intermediate_size=64, vocab_size=VOCAB, use_sliding_window=True, sliding_window=3,
                         max_window_layers=1, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    torch.manual_seed(0)
    hybrid = ManticoreForCausalLM.from_components([config, tiny_config("mamba")], num_blocks=2).eval()
    hybrid.set_mixture_weights([[0.7, 0.3], [0.5, 0.5]])
    ids = torch.randint(0, VOCAB, (2, 4))
    settings = dict(max_new_tokens=10, do_sample=False, pad_token_id=0, attention_mask=torch.ones_like(ids))
    out = hybrid.generate(ids, return_dict_in_generate=True, **settings)
    assert out.past_key_values.components[0].is_sliding == [False, True]
    assert out.sequences.tolist() == hybrid.generate(ids, use_cache=False, **settings).tolist()


def test_only_branches_with_weight_hold_a_cache():
    ids = torch.randint(0, VOCAB, (2, 7))
    with torch.no_grad():
        one_hot = hybrid_of("gpt_neo", alphas=((1.0, 0.0), (1.0, 0.0)))(input_ids=ids, use_cache=True).past_key_values
        striped = hybrid_of("gpt_neo", alphas=((1.0, 0.0), (0.0, 1.0)))(input_ids=ids, use_cache=True).past_key_values
        mixed = hybrid_of("gpt_neo")(input_ids=ids, use_cache=True).past_key_values
    assert one_hot.active == [True, False] and one_hot.components[1] is None
    # striped: GPT-Neo runs only its first layer (block 0), Mamba only its second (block 1)
    neo, mamba = striped.components
    assert neo.layers[0].get_seq_length() == 7 and not neo.layers[1].is_initialized
    assert mamba.layers[1].has_previous_state[0] and not mamba.layers[0].has_previous_state[0]
    assert 0 < one_hot.memory_bytes() < mixed.memory_bytes()
    assert 0 < striped.memory_bytes() < mixed.memory_bytes()


def test_a_plain_forward_keeps_no_cache():
    hybrid = hybrid_of("gpt_neo")
    assert hybrid(input_ids=torch.randint(0, VOCAB, (1, 5))).past_key_values is None


def test_misuse_says_what_is_wrong():
    hybrid = hybrid_of("gpt_neo", alphas=((1.0, 0.0), (1.0, 0.0)))
    ids = torch.randint(0, VOCAB, (1, 5))
    with pytest.raises(TypeError, match="must be a ManticoreCache"):
        hybrid(input_ids=ids, past_key_values=DynamicCache())
    cache = hybrid(input_ids=ids, use_cache=True).past_key_values
    hybrid.set_mixture_weights([0.5, 0.5])  # the Mamba component now has weight but no state in the cache
    with pytest.raises(ValueError, match=r"Component\(s\) \[1\] have mixture weight now"):
        hybrid(input_ids=ids[:, :1], past_key_values=cache)
    with pytest.raises(ValueError, match="one `active` flag per component"):
        ManticoreCache([tiny_config("gpt_neo")], [True, False])


def test_new_cache_and_reset():
    hybrid = hybrid_of("gpt_neo")
    cache = hybrid.model.new_cache()
    assert isinstance(cache, ManticoreCache) and cache.active == [True, True] and cache.get_seq_length() == 0
    ids = torch.randint(0, VOCAB, (1, 5))
    with torch.no_grad():
        first = hybrid(input_ids=ids, past_key_values=cache).logits
        cache.reset()
        again = hybrid(input_ids=ids, past_key_values=cache).logits
    assert cache.get_seq_length() == 5
    torch.testing.assert_close(again, first)


def test_a_group_given_weight_after_the_cache_was_filled_is_refused():
    """The review's case: block 1's Mamba group had weight, block 0's had none, when the cache was filled."""
    hybrid = hybrid_of("gpt_neo", alphas=((1.0, 0.0), (0.5, 0.5)))
    ids = torch.randint(0, VOCAB, (1, 5))
    cache = hybrid(input_ids=ids, use_cache=True).past_key_values
    hybrid.set_mixture_weights([[0.5, 0.5], [0.5, 0.5]])
    with pytest.raises(ValueError, match=r"group\(s\) \[\(0, 1\)\] have mixture weight now"):
        hybrid(input_ids=ids[:, :1], past_key_values=cache)


def test_projectors_with_hooks_or_adapters_are_not_folded():
    """Folding stands in for a projector only when it is a plain Linear: a forward hook (as adapters and
    offloading use) keeps the projector's own forward, so cached generation still equals uncached."""
    hybrid = hybrid_of("gpt_neo")
    for block in hybrid.model.blocks:
        block.proj_in[0].linear.register_forward_hook(lambda module, args, out: out * 0.5)
    ids = torch.randint(0, VOCAB, (2, 5))
    settings = dict(max_new_tokens=8, do_sample=False, pad_token_id=0, attention_mask=torch.ones_like(ids))
    cached = hybrid.generate(ids, return_dict_in_generate=True, **settings)
    assert not cached.past_key_values.folds or all(key[1] != 0 for key in cached.past_key_values.folds)
    assert cached.sequences.tolist() == hybrid.generate(ids, use_cache=False, **settings).tolist()


def test_training_after_generation_uses_the_live_weights():
    """Folds live in one generation's cache: a training forward afterwards (even after inference_mode) runs
    the projectors themselves, and gradients reach every trainable projector."""
    hybrid = hybrid_of("gpt_neo")
    ids = torch.randint(0, VOCAB, (2, 6))
    with torch.inference_mode():
        hybrid.generate(ids, max_new_tokens=3, do_sample=False, pad_token_id=0)
    for block in hybrid.model.blocks:
        block.proj_in.requires_grad_(False)
    hybrid.train()
    hybrid(input_ids=ids, labels=ids).loss.backward()
    assert all(p.grad is not None for block in hybrid.model.blocks for p in block.proj_out.parameters())


def test_assisted_decoding_equals_greedy():
    """Prompt-lookup decoding crops the cache; attention components crop, a Mamba state can't (named error)."""
    torch.manual_seed(0)
    hybrid = ManticoreForCausalLM.from_components([tiny_config("gpt_neo"), tiny_config("llama")], num_blocks=2).eval()
    hybrid.set_mixture_weights([[0.6, 0.4], [0.3, 0.7]])
    ids = torch.randint(0, 8, (1, 12))  # a small alphabet: the prompt repeats itself, so lookups propose tokens
    settings = dict(max_new_tokens=10, do_sample=False, pad_token_id=0)
    assert hybrid.generate(ids, prompt_lookup_num_tokens=3, **settings).tolist() == \
        hybrid.generate(ids, **settings).tolist()
    with pytest.raises(ValueError, match="can't be cropped"):
        hybrid_of("gpt_neo").generate(ids, prompt_lookup_num_tokens=3, **settings)
