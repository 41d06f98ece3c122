"""Discovered families (components/decoder.py): the families docs/components.md names are exact one-hot hybrids, and
the hybrid's head reproduces theirs. The whole sweep over transformers' causal LMs is `make families`."""

import pytest
import torch
from transformers import AutoModelForCausalLM

import manticore
from manticore.components import adapter_class
from manticore.components.decoder import DecoderAdapter
from manticore.tools.families import check_family, noise, tiny_config

from conftest import tiny_config as core_config

# the families the issue names (falcon_mamba, mamba and the other registered ones are in the core tests too)
NAMED = ["gemma", "gemma2", "gemma3_text", "phi", "phi3", "olmo2", "smollm3", "starcoder2", "mixtral", "falcon",
         "falcon_mamba", "bloom", "opt", "gpt_bigcode", "rwkv", "recurrent_gemma", "jamba", "bamba", "granite",
         "cohere"]


@pytest.mark.parametrize("model_type", NAMED)
def test_named_family_is_exact(model_type):
    """One-hot hybrid = component to 1e-4 at L=1 and L=2, on a right-padded batch, with noised weights; the
    hybrid's cached greedy generation equals its uncached one."""
    result = check_family(model_type)
    assert result.exact, f"{model_type}: {result.status} ({result.reason}; {result.diffs})"
    assert set(result.diffs) == {"L=1", "L=2", "padded"}
    assert max(result.diffs.values()) <= 1e-4


def test_discovered_layout_is_reported():
    config = tiny_config("opt")
    adapter = adapter_class(config)(config)
    assert isinstance(adapter, DecoderAdapter)
    assert adapter.layout.embedding == "decoder.embed_tokens"
    assert adapter.layout.layers == "decoder.layers"
    assert adapter.layout.norm == "decoder.final_layer_norm"


def model_of(model_type, seed=0):
    config = tiny_config(model_type)
    config.use_cache = False
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(config).eval()
    noise(model, seed)
    return model


@pytest.mark.parametrize("model_type, setting, value", [
    ("gemma2", "final_logit_softcapping", 30.0), ("gemma", "embedding_multiplier", 32 ** 0.5),
    ("cohere", "logit_multiplier", 0.0625), ("granite", "logit_multiplier", 1 / 1.5),
    ("phi", "lm_head_bias", True),
])
def test_head_settings_come_from_the_component_and_survive_save_and_load(model_type, setting, value, tmp_path):
    model = model_of(model_type)
    hybrid = manticore.ManticoreForCausalLM.from_components([model], num_blocks=1, embeddings_from=0).eval()
    assert getattr(hybrid.config, setting) == pytest.approx(value)
    hybrid.save_pretrained(tmp_path)
    loaded = manticore.ManticoreForCausalLM.from_pretrained(tmp_path).eval()
    assert getattr(loaded.config, setting) == pytest.approx(value)
    ids = torch.randint(0, 97, (2, 6))
    with torch.no_grad():
        assert torch.equal(loaded(ids).logits, hybrid(ids).logits)
        assert (loaded(ids).logits - model(ids).logits).abs().max() <= 1e-4


def test_falcon_h1_embedding_multiplier_goes_to_the_hybrid_embedding():
    """Falcon-H1 scales embeddings only when it looks them up itself (components/falcon_h1.py). Its saved hybrids
    don't reload yet: from_pretrained leaves its non-persistent mup_vector buffers uninitialised (docs/components.md)."""
    model = model_of("falcon_h1")
    hybrid = manticore.ManticoreForCausalLM.from_components([model], num_blocks=1, embeddings_from=0).eval()
    assert hybrid.config.embedding_multiplier == 1.5
    ids = torch.randint(0, 97, (2, 6))
    with torch.no_grad():
        assert (hybrid(ids).logits - model(ids).logits).abs().max() <= 1e-4


def test_head_settings_can_be_overridden():
    model = model_of("gemma2")
    hybrid = manticore.ManticoreForCausalLM.from_components([model], num_blocks=1, embeddings_from=0,
                                                            final_logit_softcapping=None)
    assert hybrid.config.final_logit_softcapping is None


@pytest.mark.parametrize("value", [0, -1.0, float("nan"), "2"])
def test_bad_head_settings_are_refused(value):
    with pytest.raises(ValueError, match="logit_multiplier must be a finite number > 0"):
        manticore.ManticoreConfig(components=[core_config("llama")], logit_multiplier=value)


@pytest.mark.parametrize("model_type", ["phi3", "bamba"])
def test_discovered_family_with_mamba_trains(model_type):
    """A K=2 hybrid of a discovered family and Mamba: forward and backward reach every trainable part."""
    torch.manual_seed(0)
    other = tiny_config(model_type)
    mamba = core_config("mamba", vocab=97)
    hybrid = manticore.ManticoreForCausalLM.from_components([other, mamba], num_blocks=2).train()
    ids = torch.randint(0, 97, (2, 10))
    mask = torch.ones_like(ids)
    mask[1, 7:] = 0
    loss = hybrid(ids, attention_mask=mask, labels=ids).loss
    loss.backward()
    assert torch.isfinite(loss)
    assert hybrid.architecture_parameters()[0].grad.abs().sum() > 0
    for k in range(2):
        grads = [p.grad for p in hybrid.model.components[k].parameters() if p.requires_grad]
        assert any(g is not None and g.abs().sum() > 0 for g in grads), f"component {k} got no gradient"
    optimizer = torch.optim.AdamW(hybrid.parameters(), lr=1e-2)
    losses = []
    for _ in range(8):
        optimizer.zero_grad()
        loss = hybrid(ids, attention_mask=mask, labels=ids).loss
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]


def test_discovered_family_generates_with_the_cache_mixed_with_mamba():
    torch.manual_seed(0)
    hybrid = manticore.ManticoreForCausalLM.from_components(
        [tiny_config("olmo2"), core_config("mamba", vocab=97)], num_blocks=2).eval()
    prompt = torch.randint(0, 97, (2, 5))
    cached = hybrid.generate(prompt, max_new_tokens=8, do_sample=False, pad_token_id=0)
    plain = hybrid.generate(prompt, max_new_tokens=8, do_sample=False, pad_token_id=0, use_cache=False)
    assert torch.equal(cached, plain)


def test_undiscoverable_family_says_what_is_missing():
    from transformers import AutoConfig

    config = AutoConfig.for_model("got_ocr2")
    with pytest.raises(ValueError, match=r"Component 0: .*'got_ocr2'.*discovery found token embedding "
                                         r"'language_model.embed_tokens'; missing: a list of num_hidden_layers"):
        manticore.ManticoreForCausalLM.from_components([config], num_blocks=1)


def test_discovered_family_discretizes_to_a_pruned_hybrid_with_the_same_logits(tmp_path):
    torch.manual_seed(0)
    hybrid = manticore.ManticoreForCausalLM.from_components(
        [tiny_config("bart"), core_config("mamba", vocab=97, depth=2)], num_blocks=2).eval()
    hybrid.set_mixture_weights([[1.0, 0.0], [0.0, 1.0]])
    pruned = hybrid.discretize(prune=True).eval()
    assert pruned.model.components[0].num_blocks == hybrid.model.components[0].num_blocks // 2
    ids = torch.randint(0, 97, (2, 7))
    with torch.no_grad():
        assert (pruned(ids).logits - hybrid(ids).logits).abs().max() <= 1e-5
    pruned.save_pretrained(tmp_path)
    reloaded = manticore.ManticoreForCausalLM.from_pretrained(tmp_path).eval()
    with torch.no_grad():
        assert torch.equal(reloaded(ids).logits, pruned(ids).logits)
