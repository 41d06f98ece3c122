"""The task registry: every task a TaskSpec with a documented settings dataclass; settings checked offline."""

import dataclasses

import pytest
import torch

from manticore import tasks
from manticore.cli import main
from manticore.settings import field_docs
from manticore.tasks import TASKS, TaskSettingError, TaskSpec


@pytest.mark.parametrize("name", tasks.names())
def test_every_task_documents_every_setting(name):
    spec = TASKS[name]
    assert isinstance(spec, TaskSpec) and spec.name == name and spec.doc
    fields = [f.name for f in dataclasses.fields(spec.settings) if f.init]
    assert set(fields) <= set(field_docs(spec.settings)), "a setting without a docstring below it"
    help_text = spec.help()
    assert all(f"  {field}:" in help_text for field in fields)
    assert ("use_cache" in help_text) == spec.cached


def test_lm_text_refuses_streaming_and_points_to_lm_stream():
    for name in ("lm/text", "lm/ptb"):
        with pytest.raises(ValueError, match=r"does not take \{'streaming': True\}: .*lm/stream"):
            tasks.check_settings(name, {"path": "corpus/", "streaming": True})
    with pytest.raises(ValueError, match=r"got unknown setting\(s\) \['use_cache'\]"):
        tasks.check_settings("lm/stream", {"path": "corpus/", "use_cache": False})  # a stream caches nothing


@pytest.mark.parametrize("settings, match", [
    ({"path": "a.txt", "block_size": "8"}, r"block_size='8' is not valid in lm/text; accepted: an integer\."),
    ({"path": "a.txt", "blocksize": 8}, r"unknown setting\(s\) \['blocksize'\]; accepted: path, tokenizer"),
    ({"path": "a.txt", "use_cache": "no"}, r"use_cache='no' is not valid in lm/text; accepted: true or false"),
    ({}, r"needs the setting\(s\) \['path'\]"),
])
def test_a_setting_of_the_wrong_name_or_type_is_a_type_error_and_a_value_error(settings, match):
    with pytest.raises(TaskSettingError, match=match) as error:
        tasks.check_settings("lm/text", settings)
    assert isinstance(error.value, TypeError) and isinstance(error.value, ValueError)


def test_values_are_checked_by_the_settings_class_without_reading_data():
    with pytest.raises(ValueError, match=r"test_fraction=1.5 is not valid; accepted: a number in \[0, 1\)"):
        tasks.check_settings("lm/text", {"path": "missing/", "test_fraction": 1.5})
    tasks.check_settings("lm/text", {"path": "missing/"})  # no file is opened
    with pytest.raises(ValueError, match="Unknown task 'lm/txt'; accepted: .*lm/text"):
        tasks.check_settings("lm/txt", {})


def parity(num_train: int = 8, num_test: int = 4, seq_len: int = 6, seed: int = 0) -> tasks.Task:
    """Is the number of ones in a bit string odd?"""
    generator = torch.Generator().manual_seed(seed)

    def split(n):
        bits = torch.randint(0, 2, (n, seq_len), generator=generator)
        return tasks.SequenceDataset(bits, bits.sum(-1) % 2)

    return tasks.Task(name="my/parity", kind="classification", vocab_size=2, num_labels=2,
                      train=split(num_train), test=split(num_test), max_length=seq_len)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ParitySettings:
    seq_len: int = 6
    """Bits per string."""


def test_a_task_of_ones_own_registers_as_a_spec_or_as_a_function():
    try:
        tasks.register(TaskSpec("my/spec", ParitySettings, lambda s, use_cache: parity(seq_len=s.seq_len),
                                "Parity, from a spec."))
        assert tasks.get("my/spec", seq_len=5).max_length == 5
        assert tasks.register("my/parity")(parity) is parity
        task = tasks.get("my/parity", seq_len=7)
        assert task.max_length == 7 and len(task.train) == 8 and TASKS["my/parity"].doc.startswith("Is the number")
        with pytest.raises(TaskSettingError, match=r"seq_len=7.5 is not valid in my/parity; accepted: an integer"):
            tasks.get("my/parity", seq_len=7.5)
        with pytest.raises(TaskSettingError, match=r"unknown setting\(s\) \['use_cache'\]"):
            tasks.get("my/parity", use_cache=False)  # it takes no use_cache, so it caches nothing
        with pytest.raises(TypeError, match="a TaskSpec"):
            tasks.register(parity)
    finally:
        TASKS.pop("my/spec", None)
        TASKS.pop("my/parity", None)


def test_manticore_tasks_lists_the_tasks_and_a_tasks_settings(capsys):
    assert main(["tasks"]) == 0
    listing = capsys.readouterr().out
    assert all(name in listing for name in tasks.names()) and "lm/stream " in listing
    assert main(["tasks", "lm/stream"]) == 0
    described = capsys.readouterr().out
    assert "shuffle_buffer: 1000   [an integer]" in described and "Documents in the shuffle buffer" in described
    assert "not taken: pack" in described
    assert main(["tasks", "lm/streem"]) == 2
    assert "Unknown task 'lm/streem'" in capsys.readouterr().err
