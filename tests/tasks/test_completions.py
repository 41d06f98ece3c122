"""The synthetic completions dataset: every model completes the same prompts; slices name the writer."""

import pytest
import torch
from transformers import GPTNeoConfig, GPTNeoForCausalLM, MambaConfig, MambaForCausalLM

from manticore import tasks
from manticore.tasks import IGNORE_INDEX
from manticore.tasks.tokenizers import ByteTokenizer

TEXTS = [f"line {i} of the quick brown fox jumping over the lazy dog" for i in range(12)] + ["too short"]


def byte_models():
    vocab = ByteTokenizer().vocab_size
    torch.manual_seed(0)
    neo = GPTNeoForCausalLM(GPTNeoConfig(vocab_size=vocab, hidden_size=32, num_layers=2, num_heads=4,
                                         attention_types=[[["global"], 2]], max_position_embeddings=128,
                                         bos_token_id=None, eos_token_id=None))
    mamba = MambaForCausalLM(MambaConfig(vocab_size=vocab, hidden_size=32, num_hidden_layers=2, state_size=4,
                                         bos_token_id=None, eos_token_id=None, pad_token_id=None))
    return [neo, mamba]


@pytest.fixture(scope="module")
def task():
    return tasks.get("lm/completions", models=byte_models(), source=TEXTS, num_prompts=None, max_new_tokens=8,
                     test_fraction=0.25, seed=0)


def test_every_model_completes_every_prompt(task):
    prompts = task.metadata["prompts"]
    assert len(prompts["test"]) == 3 and len(prompts["train"]) == 9  # "too short" has fewer than 4 words
    assert not set(prompts["test"]) & set(prompts["train"])
    for split, n in (("train", 9), ("test", 3)):
        data = getattr(task, split)
        assert len(data) == 2 * n
        assert sorted(data[i]["slice"].item() for i in range(len(data))) == [0] * n + [1] * n


def test_examples_start_with_the_prompt_and_score_only_the_completion(task):
    tok = ByteTokenizer()
    item = task.train[0]
    prompt = tok.encode(task.metadata["prompts"]["train"][0])
    ids, labels = item["input_ids"], item["labels"]
    assert ids[: len(prompt)].tolist() == prompt
    assert (labels[: len(prompt) - 1] == IGNORE_INDEX).all()
    scored = labels != IGNORE_INDEX
    assert torch.equal(labels[:-1][scored[:-1]], ids[1:][scored[:-1]])  # aligned next-token targets
    assert ids[-1].item() == tok.eos_token_id and len(ids) <= len(prompt) + 8 + 1


def test_seeded_and_batched_like_a_collate(task):
    again = tasks.get("lm/completions", models=byte_models(), source=TEXTS, num_prompts=None, max_new_tokens=8,
                      test_fraction=0.25, seed=0)
    assert all(torch.equal(task.train[i]["input_ids"], again.train[i]["input_ids"]) for i in range(len(task.train)))
    batch = task.collate([task.test[i] for i in range(4)])
    assert batch["slice"].tolist() == [task.test[i]["slice"].item() for i in range(4)]


def test_needs_models():
    with pytest.raises(ValueError, match=r"models=\[\] is not valid in lm/completions; accepted: a non-empty list"):
        tasks.get("lm/completions", source=TEXTS)


def test_completions_are_cached_per_writer_weights(task, monkeypatch):
    import manticore.tasks.completions as completions

    def no_generation(*args, **kwargs):
        raise AssertionError("regenerated although the writers did not change")

    monkeypatch.setattr(completions, "complete", no_generation)
    again = tasks.get("lm/completions", models=byte_models(), source=TEXTS, num_prompts=None, max_new_tokens=8,
                      test_fraction=0.25, seed=0)
    assert len(again.train) == len(task.train)
    changed = byte_models()
    with torch.no_grad():
        changed[0].lm_head.weight.add_(1.0)
    with pytest.raises(AssertionError, match="regenerated"):
        tasks.get("lm/completions", models=changed, source=TEXTS, num_prompts=None, max_new_tokens=8,
                  test_fraction=0.25, seed=0)
