"""The hybrid as a Hugging Face model: heads, save/reload, Auto classes, component forms, limits, errors."""

import os

import pytest
import torch
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

import manticore
from manticore.components.base import ComponentAdapter
from conftest import VOCAB, tiny_component, tiny_config


def small_hybrid(cls=manticore.ManticoreForCausalLM, **kwargs):
    torch.manual_seed(0)
    components = [tiny_component("gpt_neo", depth=2, seed=1), tiny_component("mamba", d_model=16, depth=4, seed=2)]
    return cls.from_components(components, num_blocks=2, **kwargs)


# -- heads ---------------------------------------------------------------------------------------------
def test_causal_lm_shapes_and_loss(ids):
    model = small_hybrid()
    model.set_mixture_weights([0.4, 0.6])
    out = model(ids, labels=ids)
    assert out.logits.shape == (2, 12, VOCAB)
    assert out.loss.ndim == 0 and torch.isfinite(out.loss)
    hidden = model(ids, output_hidden_states=True).hidden_states
    assert len(hidden) == 3 and hidden[0].shape == (2, 12, 32)


def test_classification_pools_the_last_non_pad_token():
    model = small_hybrid(manticore.ManticoreForSequenceClassification, num_labels=3).eval()
    ids = torch.randint(1, VOCAB, (2, 7))
    padded = torch.cat([ids, torch.zeros(2, 3, dtype=torch.long)], dim=1)
    mask = torch.cat([torch.ones(2, 7), torch.zeros(2, 3)], dim=1).long()
    with torch.no_grad():
        plain = model(ids).logits
        masked = model(padded, attention_mask=mask).logits
    assert plain.shape == (2, 3)
    assert torch.allclose(plain, masked, atol=1e-5)
    labels = torch.tensor([0, 2])
    assert torch.isfinite(model(ids, labels=labels).loss)


def test_classification_pools_by_pad_token_id():
    model = small_hybrid(manticore.ManticoreForSequenceClassification, num_labels=2, pad_token_id=0).eval()
    ids = torch.tensor([[5, 6, 7, 0, 0], [5, 6, 7, 8, 9]])
    with torch.no_grad():
        pooled = model(ids).logits
        want = model(ids[:1, :3]).logits
    assert torch.allclose(pooled[0], want[0], atol=1e-5)


# -- saving and loading --------------------------------------------------------------------------------
@pytest.mark.parametrize("cls,auto", [(manticore.ManticoreForCausalLM, AutoModelForCausalLM),
                                      (manticore.ManticoreForSequenceClassification, AutoModelForSequenceClassification)])
def test_save_and_reload_identical(tmp_path, ids, cls, auto):
    model = small_hybrid(cls, num_labels=2).eval()
    model.set_mixture_weights([[0.25, 0.75], [1.0, 0.0]])
    model.save_pretrained(tmp_path)
    assert (tmp_path / "model.safetensors").exists()
    assert isinstance(AutoConfig.from_pretrained(tmp_path), manticore.ManticoreConfig)
    for loader in (cls, auto):
        reloaded = loader.from_pretrained(tmp_path).eval()
        assert type(reloaded) is cls
        assert torch.equal(reloaded.mixture_weights(), model.mixture_weights())
        with torch.no_grad():
            assert torch.equal(reloaded(ids).logits, model(ids).logits)


def test_reload_needs_no_component_checkpoints(tmp_path, ids):
    component_dir = tmp_path / "component"
    tiny_component("llama", seed=5).save_pretrained(component_dir)
    model = manticore.ManticoreForCausalLM.from_components([str(component_dir)], num_blocks=2, embeddings_from=0).eval()
    model.save_pretrained(tmp_path / "hybrid")
    for path in component_dir.iterdir():
        path.unlink()
    component_dir.rmdir()
    reloaded = manticore.ManticoreForCausalLM.from_pretrained(tmp_path / "hybrid").eval()
    with torch.no_grad():
        assert torch.equal(reloaded(ids).logits, model(ids).logits)


def test_config_roundtrip():
    config = manticore.ManticoreConfig(components=[tiny_config("gpt2"), tiny_config("mamba2", depth=4)], num_blocks=2)
    again = manticore.ManticoreConfig.from_dict(config.to_dict())
    assert again.adapters == ["gpt2", "mamba2"] and again.depths == [2, 4] and again.hidden_size == 32
    assert again.block_groups(1) == [(0, 2), (2, 4)]


# -- the four forms of a component ---------------------------------------------------------------------
def test_component_forms_instance_directory_and_config(tmp_path, ids):
    neo = tiny_component("gpt_neo", seed=7)
    neo.save_pretrained(tmp_path / "neo")
    from_instance = manticore.ManticoreForCausalLM.from_components([neo], embeddings_from=0).eval()
    from_dir = manticore.ManticoreForCausalLM.from_components([str(tmp_path / "neo")], embeddings_from=0).eval()
    with torch.no_grad():
        assert torch.equal(from_instance(ids).logits, from_dir(ids).logits)
    from_config = manticore.ManticoreForCausalLM.from_components([neo.config])
    assert from_config(ids).logits.shape == (2, 12, VOCAB)


def test_hub_id_goes_through_from_pretrained_and_fails_clearly_offline():
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    with pytest.raises(ValueError, match=r"Component 0: could not load 'EleutherAI/gpt-neo-125m'.*HF_HUB_OFFLINE"):
        manticore.ManticoreForCausalLM.from_components(["EleutherAI/gpt-neo-125m"])


def test_component_of_the_wrong_type():
    with pytest.raises(TypeError, match="Component 1 is a int; accepted: a transformers PreTrainedModel"):
        manticore.ManticoreForCausalLM.from_components([tiny_config("mamba"), 3])
    with pytest.raises(TypeError, match="must be a list"):
        manticore.ManticoreForCausalLM.from_components(tiny_config("mamba"))


# -- zero-weight branches and sequence-length limits ---------------------------------------------------
def test_zero_weight_branch_is_not_computed(ids, monkeypatch):
    model = small_hybrid()
    calls = []
    original = ComponentAdapter.run_blocks

    def counting(self, hidden, start, stop, context, **flags):
        calls.append((self.config.model_type, start))
        return original(self, hidden, start, stop, context, **flags)

    monkeypatch.setattr(ComponentAdapter, "run_blocks", counting)
    model.set_mixture_weights([[0.0, 1.0], [0.5, 0.5]])
    model(ids)
    assert calls == [("mamba", 0), ("gpt_neo", 1), ("mamba", 2)]
    calls.clear()
    model.set_mixture_weights([0.0, 1.0])
    model(ids)
    assert calls == [("mamba", 0), ("mamba", 2)]


def test_too_long_input_names_the_component_and_runs_once_it_is_weighted_out():
    model = small_hybrid()  # GPT-Neo has 64 positions, Mamba has no limit
    long_ids = torch.randint(0, VOCAB, (1, 80))
    with pytest.raises(ValueError, match=r"Input length 80 exceeds component 0 \(gpt_neo.*at most 64 positions"):
        model(long_ids)
    model.set_mixture_weights([0.0, 1.0])
    assert model(long_ids).logits.shape == (1, 80, VOCAB)


# -- bad input -----------------------------------------------------------------------------------------
def test_no_components():
    with pytest.raises(ValueError, match=r"at least one component model \(K >= 1\)"):
        manticore.ManticoreForCausalLM.from_components([])
    with pytest.raises(ValueError, match="K = 0"):
        manticore.ManticoreConfig(components=[])


@pytest.mark.parametrize("num_blocks", [0, -1, 1.5])
def test_bad_num_blocks(num_blocks):
    with pytest.raises(ValueError, match=r"positive integer.*depths \[4, 6\].*\[1, 2\]"):
        manticore.ManticoreForCausalLM.from_components(
            [tiny_config("gpt_neo", depth=4), tiny_config("mamba", depth=6)], num_blocks=num_blocks)


def test_num_blocks_must_divide_every_depth():
    with pytest.raises(ValueError, match=r"num_blocks=4 does not divide.*depths: \[4, 6\].*values that work: \[1, 2\]"):
        manticore.ManticoreForCausalLM.from_components(
            [tiny_config("gpt_neo", depth=4), tiny_config("mamba", depth=6)], num_blocks=4)


def test_token_id_out_of_vocabulary():
    model = small_hybrid()
    with pytest.raises(ValueError, match=rf"Token ids must be in \[0, vocab_size={VOCAB}\); got \[{VOCAB}\]"):
        model(torch.tensor([[1, 2, VOCAB]]))
    with pytest.raises(ValueError, match=r"got \[-1\]"):
        model(torch.tensor([[-1, 2]]))


@pytest.mark.parametrize("k", [2, -1, "0", True])
def test_embeddings_from_out_of_range(k):
    with pytest.raises(ValueError, match=r"embeddings_from must be a component index in \[0, 1\]"):
        manticore.ManticoreForCausalLM.from_components([tiny_config("gpt_neo"), tiny_config("mamba")], embeddings_from=k)


def test_embeddings_from_needs_the_same_vocabulary():
    with pytest.raises(ValueError, match="vocabulary of 61 tokens but the hybrid has vocab_size=100"):
        manticore.ManticoreForCausalLM.from_components([tiny_config("gpt_neo")], vocab_size=100, embeddings_from=0)


def test_bad_projector_init():
    with pytest.raises(ValueError, match="projector_init must be one of"):
        manticore.ManticoreConfig(components=[tiny_config("mamba")], projector_init="zeros")


def test_generate_is_greedy_decoding_without_a_cache(ids):
    model = small_hybrid().eval()
    model.set_mixture_weights([0.5, 0.5])
    out = model.generate(ids[:, :5], max_new_tokens=4, do_sample=False, pad_token_id=0)
    x = ids[:, :5]
    with torch.no_grad():
        for _ in range(4):
            x = torch.cat([x, model(x).logits[:, -1].argmax(-1, keepdim=True)], dim=1)
    assert torch.equal(out, x)
