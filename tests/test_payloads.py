"""Nothing executes from a file: a pickle payload planted in each format the framework reads is refused with a
named error before it runs (issue 11, point 1)."""

import pickle

import pytest
import torch

import manticore
from manticore import tasks
from manticore.train import Engine, TrainConfig
from manticore.rundir import CHECKPOINT
from conftest import tiny_component, tiny_config


class Payload:
    """Unpickling this creates `marker` (the payload's side effect): it opens the file for writing."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.fixture
def marker(tmp_path):
    return tmp_path / "PAYLOAD-RAN"


def test_a_checkpoint_payload_never_runs(tmp_path, marker):
    task = tasks.get("mad/in-context-recall", num_train=32, num_test=16, seq_len=16, vocab_size=16, seed=0)
    model = manticore.ManticoreForCausalLM.from_components([tiny_config("gpt_neo", vocab=16)], num_blocks=1)
    config = TrainConfig(max_steps=2, batch_size=8, log_every=100)
    Engine(model, task, config, tmp_path / "run").train()
    state = torch.load(tmp_path / "run" / CHECKPOINT, weights_only=True)  # a real checkpoint loads so
    state["rng"]["extra"] = Payload(marker)
    torch.save(state, tmp_path / "run" / CHECKPOINT)
    (tmp_path / "run" / "checkpoint-previous.pt").unlink(missing_ok=True)
    with pytest.raises(ValueError, match=f"No checkpoint this engine can load .*{CHECKPOINT}: Weights only load failed"):
        Engine(model, task, config, tmp_path / "run").train(resume=True)
    assert not marker.exists()


def test_a_cifar_batch_payload_never_runs(tmp_path, marker):
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": Payload(marker), b"labels": [0]}))
    with pytest.raises(ValueError, match=r"data_batch_1: not a CIFAR-10 python batch \(refused to load io.open"):
        tasks.get("lra/image", path=str(folder), use_cache=False)
    assert not marker.exists()


def test_a_dataset_cache_payload_never_runs_and_is_rebuilt(tmp_path, marker, monkeypatch):
    monkeypatch.setenv("MANTICORE_CACHE", str(tmp_path / "cache"))
    settings = dict(num_train=16, num_test=8, seq_len=16, vocab_size=16, seed=0)
    first = tasks.get("mad/in-context-recall", **settings)
    [entry] = list((tmp_path / "cache").rglob("*.pt"))
    torch.save({"train": Payload(marker)}, entry)
    with pytest.warns(UserWarning, match="unreadable dataset cache entry"):
        again = tasks.get("mad/in-context-recall", **settings)
    assert not marker.exists()
    assert torch.equal(again.train[0]["input_ids"], first.train[0]["input_ids"])


def test_a_component_weights_payload_never_runs(tmp_path, marker):
    folder = tmp_path / "component"
    tiny_component("gpt_neo").save_pretrained(folder)
    (folder / "model.safetensors").unlink()
    torch.save({"transformer.h.0.ln_1.weight": Payload(marker)}, folder / "pytorch_model.bin")
    with pytest.raises(ValueError, match="Component 0: .* could not be loaded: Weights only load failed"):
        manticore.ManticoreForCausalLM.from_components([str(folder)], num_blocks=1)
    assert not marker.exists()
