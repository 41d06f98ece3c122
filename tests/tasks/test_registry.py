"""The task registry: every task a TaskSpec with a documented settings dataclass; settings checked offline."""

import dataclasses
import re

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
    with pytest.raises(ValueError, match=r"test_fraction=1.5 is not valid in lm/text; accepted: a number in \[0, 1\)"):
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


# --- refused settings: a harmless value is taken, each refusal gives only its own reason -----------------------------


def test_streaming_false_is_taken_silently_where_it_asks_for_what_the_task_does(tmp_path, recwarn):
    """Old configs spelled out lm/text's old default, `streaming: false`; lm/stream's `streaming: true` likewise."""
    for name in ("lm/text", "lm/ptb", "lm/alpaca", "lm/eli5"):
        spec = TASKS[name]
        assert spec.settings_from({"path": "corpus/", "streaming": False}) == spec.settings_from({"path": "corpus/"})
        for value in (True, "false", 0, None):  # only YAML's false means "not streamed"
            with pytest.raises(TaskSettingError, match=rf"does not take \{{'streaming': {value!r}\}}: .*lm/stream"):
                tasks.check_settings(name, {"path": "corpus/", "streaming": value})
    text = tmp_path / "notes.txt"
    text.write_text("".join(f"line {i} of some text\n" for i in range(40)))
    task = tasks.get("lm/text", path=str(text), block_size=8, streaming=False, use_cache=False)
    plain = tasks.get("lm/text", path=str(text), block_size=8, use_cache=False)
    assert torch.equal(task.train[0]["input_ids"], plain.train[0]["input_ids"])
    stream = TASKS["lm/stream"]
    assert stream.settings_from({"path": "x", "streaming": True}) == stream.settings_from({"path": "x"})
    with pytest.raises(TaskSettingError, match=r"does not take \{'streaming': False\}: lm/stream always streams"):
        tasks.check_settings("lm/stream", {"path": "x", "streaming": False})
    assert not recwarn.list, [str(w.message) for w in recwarn.list]


@pytest.mark.parametrize("setting, reason", [
    ({"pack": False}, "streamed text is always packed into blocks"),
    ({"max_examples": 5}, r"a stream's epoch is capped by max_tokens \(tokens, summed over the processes\), not by "
                          "records"),
    ({"validation_fraction": 0.1}, "a stream has no validation split"),
    ({"test_fraction": 0.1}, "its test split is the first eval_documents documents of eval_path, of hf_eval_split or "
                             "of the source itself"),
    ({"path": {"train": "a", "test": "b"}}, r"path is the training split's shards \(a directory, glob, file or list "
                                            r"of them\), not a dict of splits; give the test split's files as eval_path"),
])
def test_a_refused_setting_is_explained_with_its_own_reason_only(setting, reason):
    given = {"path": "x", **setting}
    with pytest.raises(TaskSettingError) as error:
        tasks.check_settings("lm/stream", given)
    assert re.fullmatch(rf"Task 'lm/stream' does not take {re.escape(repr(setting))}: {reason}\.", str(error.value))


def test_stream_settings_made_in_python_refuse_a_dict_of_splits_too():
    from manticore.tasks.streaming import StreamSettings

    with pytest.raises(ValueError, match=r"path=\{'train': 'a'\} is not valid in lm/stream; accepted: the training "
                                         r"split's shards .*not a dict of splits \(give the test split's files as "
                                         r"eval_path\)"):
        StreamSettings(path={"train": "a"})


def test_several_refused_settings_each_name_their_own_reason():
    with pytest.raises(TaskSettingError) as error:
        tasks.check_settings("lm/stream", {"path": "x", "pack": False, "validation_fraction": 0.1})
    assert str(error.value) == ("Task 'lm/stream' does not take {'pack': False, 'validation_fraction': 0.1}: pack: "
                                "streamed text is always packed into blocks; validation_fraction: a stream has no "
                                "validation split.")


def test_lm_streams_help_shows_the_types_it_takes_in_yaml_words():
    help_text = TASKS["lm/stream"].help()
    assert "  path: (required)   [a string or a list of strings]" in help_text
    assert "(not taken: pack: streamed text is always packed into blocks)" in help_text
    assert "(not taken: path = a dict of splits: path is the training split's shards" in help_text
    assert "(not taken: streaming = false: lm/stream always streams" in help_text
    assert "(not taken: streaming = true: streamed corpora are their own task" in TASKS["lm/text"].help()
    for name in tasks.names():  # a YAML user reads no Python type names
        assert "PathLike" not in TASKS[name].help(), name


def test_a_path_given_from_python_is_taken_as_its_string(tmp_path):
    """The help says "a string"; a pathlib.Path (or a list or dict of them) from Python is that string."""
    settings, _ = TASKS["lm/stream"].settings_from({"path": tmp_path, "eval_path": [tmp_path / "a.jsonl"]})
    assert settings.path == str(tmp_path) and settings.eval_path == [str(tmp_path / "a.jsonl")]
    settings, _ = TASKS["lm/text"].settings_from({"path": {"train": tmp_path / "t.txt"}})
    assert settings.path == {"train": str(tmp_path / "t.txt")}
    assert TASKS["lra/image"].settings_from({"path": tmp_path})[0].path == str(tmp_path)


# --- one wording for every value check -------------------------------------------------------------------------------


@pytest.mark.parametrize("name, settings, message", [
    ("lm/text", {"block_size": 0}, "block_size=0 is not valid in lm/text; accepted: an integer >= 1."),
    ("lm/text", {"max_tokens": 0}, "max_tokens=0 is not valid in lm/text; accepted: an integer >= 1 or null."),
    ("lm/text", {"format": "bogus"}, "format='bogus' is not valid in lm/text; accepted: 'text', 'alpaca', 'eli5' or "
                                     "'hf', or null (told from the data)."),
    ("lm/text", {"validation_fraction": 1.5}, "validation_fraction=1.5 is not valid in lm/text; accepted: a number "
                                              "in [0, 1)."),
    ("lm/ptb", {"seed": -1}, "seed=-1 is not valid in lm/ptb; accepted: an integer >= 0."),
    ("lm/alpaca", {"max_examples": 0}, "max_examples=0 is not valid in lm/alpaca; accepted: an integer >= 1 or null."),
    ("lm/eli5", {"encoding": "klingon"}, "encoding='klingon' is not valid in lm/eli5; accepted: a text encoding "
                                         "Python knows, e.g. utf-8, latin-1, utf-16."),
    ("lm/stream", {"eval_tokens": 0}, "eval_tokens=0 is not valid in lm/stream; accepted: an integer >= 1 or null."),
    ("lm/stream", {"eval_documents": 0}, "eval_documents=0 is not valid in lm/stream; accepted: an integer >= 1."),
    ("lm/stream", {"shuffle_buffer": -1}, "shuffle_buffer=-1 is not valid in lm/stream; accepted: an integer >= 0."),
    ("lm/stream", {"eval_path": "e/", "hf_eval_split": "test", "format": "hf"},
     "hf_eval_split='test' is not valid in lm/stream; accepted: null when eval_path is given ('e/'): the test split "
     "is one or the other, not both."),
    ("lm/shakespeare", {"block_size": 0}, "block_size=0 is not valid in lm/shakespeare; accepted: an integer >= 1."),
    ("mad/in-context-recall", {"num_train": -5}, "num_train=-5 is not valid in mad/in-context-recall; accepted: an "
                                                 "integer >= 1."),
    ("mad/noisy-in-context-recall", {"frac_noise": 2.0}, "frac_noise=2.0 is not valid in mad/noisy-in-context-recall; "
                                                         "accepted: a number in [0, 1)."),
    ("mad/in-context-recall", {"vocab_size": 1}, "vocab_size=1 is not valid in mad/in-context-recall; accepted: an "
                                                 "integer >= 2 (one half for keys and the other for values)."),
    ("mad/memorization", {"seq_len": 31}, "seq_len=31 is not valid in mad/memorization; accepted: an even integer "
                                          ">= 2 (the sequence is key, insert pairs)."),
    ("mad/fuzzy-in-context-recall", {"k_motif_size": 40, "vocab_size": 81, "seq_len": 200},
     "k_motif_size=40 is not valid in mad/fuzzy-in-context-recall; accepted: an integer in [1, 11] at vocab_size=81 "
     "(key motifs are numbered in 62 bits)."),
    ("lm/completions", {"models": []}, "models=[] is not valid in lm/completions; accepted: a non-empty list of the "
                                       "component LMs that write the completions (PreTrainedModels, checkpoint paths "
                                       "or hub ids, or configs), or 'components' in a run config."),
])
def test_every_value_check_is_a_value_error_in_one_wording(name, settings, message):
    """`manticore.checks`' "{field}={value!r} is not valid in {task}; accepted: ...", from __post_init__."""
    given = {"path": "corpus/", **settings} if name.startswith("lm/") and "path" in TASKS[name].accepted() else settings
    with pytest.raises(ValueError) as error:
        tasks.check_settings(name, given)
    assert str(error.value) == message
    assert type(error.value) is ValueError  # not a TypeError, nor a TaskSettingError: the value, not its type


# --- declaring a task: mistakes are named when the spec is made ------------------------------------------------------


def test_a_task_spec_checks_its_parts_when_it_is_made():
    build = lambda settings, use_cache: parity()  # noqa: E731
    with pytest.raises(TypeError, match=r"settings=<class 'dict'> is not valid in TaskSpec 'x/dict'; accepted: a "
                                        "dataclass"):
        TaskSpec("x/dict", dict, build, "doc")
    with pytest.raises(TypeError, match=r"settings=ParitySettings\(seq_len=6\) is not valid .*the class itself"):
        TaskSpec("x/instance", ParitySettings(), build, "doc")
    with pytest.raises(TypeError, match=r"build=None is not valid in TaskSpec 'x/nc'; accepted: a function "
                                        r"build\(settings, use_cache\) -> Task"):
        TaskSpec("x/nc", ParitySettings, None, "doc")
    for name in ("", "  ", None):
        with pytest.raises(ValueError, match=rf"name={name!r} is not valid in a TaskSpec; accepted: a non-empty task "
                                             "name"):
            TaskSpec(name, ParitySettings, build, "doc")
    with pytest.raises(ValueError, match="doc='' is not valid in TaskSpec 'x/doc'; accepted: one line of text"):
        TaskSpec("x/doc", ParitySettings, build, "")
    with pytest.raises(TypeError, match="refused=.* is not valid in TaskSpec 'x/r'; accepted: a mapping"):
        TaskSpec("x/r", ParitySettings, build, "doc", refused={"old": 3})
    spec = TaskSpec("x/ok", ParitySettings, build, "doc", refused={"old": "it went"})
    assert spec.refused["old"] == tasks.Refusal("it went") and spec.refused["old"].refuses(False)


def test_a_builder_that_returns_no_task_is_named():
    tasks.register(TaskSpec("x/none", ParitySettings, lambda settings, use_cache: None, "Returns nothing."))
    try:
        with pytest.raises(TypeError, match=r"Task 'x/none': its builder '<lambda>' returned None, not a tasks.Task"):
            tasks.get("x/none")
    finally:
        TASKS.pop("x/none", None)


def test_registering_a_function_names_what_to_write():
    with pytest.raises(TypeError, match=r"tasks.register takes a TaskSpec, or a task's name: write "
                                        r"@tasks.register\(\"my/task\"\) over parity, not a bare @tasks.register"):
        tasks.register(parity)
    for name in ("", " "):  # was an IndexError
        with pytest.raises(ValueError, match=rf"name={name!r} is not valid in a TaskSpec"):
            tasks.register(name)(lambda n=1: parity())
    assert "" not in TASKS and " " not in TASKS


def test_a_function_without_a_docstring_is_documented_by_its_name():
    def blank(seq_len: int = 6) -> tasks.Task:
        """   """
        return parity(seq_len=seq_len)

    try:
        tasks.register("x/blank")(blank)
        tasks.register("x/bare")(lambda seq_len=6: parity(seq_len=seq_len))
        assert TASKS["x/blank"].doc == "x/blank" and TASKS["x/bare"].doc == "x/bare"
        assert tasks.get("x/blank", seq_len=4).max_length == 4
    finally:
        TASKS.pop("x/blank", None)
        TASKS.pop("x/bare", None)


def test_the_lra_builders_are_named_after_their_modules():
    from manticore.tasks import lra_image, lra_text

    assert TASKS["lra/text"].build is lra_text.lra_text_task
    assert TASKS["lra/image"].build is lra_image.lra_image_task
