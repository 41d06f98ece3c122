"""Where a model loads from: missing paths, directories without a model and unreachable hub ids are each one
line of our own, before transformers is asked."""

import time

import pytest

from manticore.cli import main
from manticore.components import sources


def test_a_missing_path_says_so(tmp_path, capsys):
    assert main(["build", str(tmp_path / "no" / "such" / "dir"), str(tmp_path / "also-missing"),
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == f"manticore build: error: Component 0: {str(tmp_path / 'no' / 'such' / 'dir')!r}: no such file or directory."


def test_a_directory_without_a_model_lists_the_model_directories_below_it(tmp_path, capsys):
    for stage in ("search", "retrain"):
        (tmp_path / "run" / stage / "model").mkdir(parents=True)
        (tmp_path / "run" / stage / "model" / "config.json").write_text("{}")
    assert main(["inspect", str(tmp_path / "run")]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"manticore inspect: error: Hybrid {str(tmp_path / 'run')!r} holds no model (no config.json); the "
                   f"model directories below it: {tmp_path / 'run' / 'retrain' / 'model'}, "
                   f"{tmp_path / 'run' / 'search' / 'model'}.")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match=r"holds no model \(no config.json\); none of the directories below it"):
        sources.check_source(tmp_path / "empty")


def test_a_hub_id_without_network_fails_at_once_with_the_hint(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", "http://127.0.0.1:9")  # the discard port: nothing listens
    start = time.perf_counter()
    with pytest.raises(ValueError, match=r"'EleutherAI/gpt-neo-125m' is not a local path, and the Hugging Face Hub "
                                         r"can't be reached: pass a local checkpoint directory, or set HF_HUB_OFFLINE=1"):
        sources.check_source("EleutherAI/gpt-neo-125m", "Component 0:")
    assert time.perf_counter() - start < 5
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    sources.check_source("EleutherAI/gpt-neo-125m")  # offline: transformers reads the cache and says what's missing


@pytest.mark.parametrize("source, path", [("gpt2", False), ("EleutherAI/gpt-neo-125m", False), ("./model", True),
                                          ("/abs/model", True), ("runs/demo/retrain/model", True), ("~/m", True)])
def test_paths_and_hub_ids_are_told_apart(source, path):
    assert sources.looks_like_path(source) is path
