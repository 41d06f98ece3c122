"""Language data: PTB-style text, Alpaca, ELI5 and HF datasets, packing alignment and response-only loss."""

import json
import os

import pytest
import torch

from manticore import tasks
from manticore.tasks import IGNORE_INDEX
from manticore.tasks.lm import ALPACA_PROMPT
from manticore.tasks.tokenizers import ByteTokenizer
from conftest import save_word_tokenizer

BYTES = ByteTokenizer()
EOS = BYTES.eos_token_id
PTB = {
    "train": [" the cat sat on the mat ", " a dog ran <unk> far away", " n years ago the market fell"],
    "valid": [" the valid line one", " and valid line two"],
    "test": [" test sentence here"],
}
ALPACA = [
    {"instruction": "Add the numbers.", "input": "2 and 3", "output": "5"},
    {"instruction": "Say hi.", "input": "", "output": "Hi there!"},
    {"instruction": "Name a color.", "output": "Blue"},
]


def write_ptb(folder):
    folder.mkdir()
    for split, lines in PTB.items():
        (folder / f"ptb.{split}.txt").write_text("\n".join(lines) + "\n")
    return folder


def stream_of(dataset):
    """Rebuild the token stream from consecutive packed blocks: inputs of all blocks + the last target."""
    blocks = [dataset[i] for i in range(len(dataset))]
    return torch.cat([b["input_ids"] for b in blocks] + [blocks[-1]["labels"][-1:]]).tolist()


def expected_stream(lines):
    out = [EOS]
    for line in lines:
        out += BYTES.encode(line.strip()) + [EOS]
    return out


def documents(ids):
    """Token ids -> the texts between eos tokens (empty pieces dropped)."""
    text = bytes(10 if int(t) == EOS else int(t) for t in ids).decode()  # no newlines inside the fixtures' lines
    return [piece for piece in text.split("\n") if piece]


def assert_aligned(dataset):
    for i in range(len(dataset)):
        x, y = dataset[i]["input_ids"], dataset[i]["labels"]
        scored = y[:-1] != IGNORE_INDEX
        assert torch.equal(y[:-1][scored], x[1:][scored])


def test_ptb_folder_packs_lines_joined_by_eos(tmp_path):
    task = tasks.get("lm/ptb", path=str(write_ptb(tmp_path / "ptb")), block_size=16, use_cache=False)
    assert (task.kind, task.vocab_size, task.pad_token_id, task.max_length) == ("lm", 259, 256, 16)
    assert stream_of(task.train) == expected_stream(PTB["train"])
    assert stream_of(task.validation) == expected_stream(PTB["valid"])
    assert stream_of(task.test) == expected_stream(PTB["test"])
    for i in range(len(task.train) - 1):  # within a block and across block boundaries
        x, y = task.train[i]["input_ids"], task.train[i]["labels"]
        assert len(x) == 16 and torch.equal(y[:-1], x[1:]) and y[-1] == task.train[i + 1]["input_ids"][0]
    batch = task.collate([task.train[0], task.train[len(task.train) - 1]])
    assert batch["input_ids"].shape == batch["labels"].shape == (2, 16)


def test_single_text_file_is_carved_by_line_with_a_seed(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(f"line number {i}" for i in range(40)))
    settings = dict(path=str(path), block_size=32, validation_fraction=0.1, test_fraction=0.1, use_cache=False)
    task = tasks.get("lm/text", **settings)
    assert task.metadata["format"] == "text" and task.metadata["carved_splits"] == ["test", "validation"]
    lines = {s: documents(stream_of(getattr(task, s))) for s in ("train", "validation", "test")}
    assert {s: len(v) for s, v in lines.items()} == {"train": 32, "validation": 4, "test": 4}
    assert sorted(sum(lines.values(), [])) == sorted(f"line number {i}" for i in range(40))  # disjoint, complete
    again = tasks.get("lm/text", **settings)
    assert stream_of(again.test) == stream_of(task.test)
    assert stream_of(tasks.get("lm/text", **{**settings, "seed": 1}).test) != stream_of(task.test)


def test_alpaca_templates_and_response_only_loss(tmp_path):
    path = tmp_path / "alpaca_data.json"
    path.write_text(json.dumps(ALPACA))
    task = tasks.get("lm/text", path=str(path), response_only_loss=True, pack=False, block_size=512,
                     test_fraction=0.34, validation_fraction=0.0, use_cache=False)
    assert task.metadata["format"] == "alpaca" and task.validation is None
    examples = [task.train[i] for i in range(len(task.train))] + [task.test[0]]
    assert len(examples) == 3
    by_output = {}
    for ex in examples:
        x, y = ex["input_ids"], ex["labels"]
        scored = (y != IGNORE_INDEX).nonzero().flatten()
        first = int(scored[0])
        assert (y[:first] == IGNORE_INDEX).all()  # the prompt's targets are ignored
        assert (y[first:] != IGNORE_INDEX).all()  # the response's (and its eos) are scored
        response = BYTES.decode(y[first:-1])
        assert y[-1] == EOS
        prompt = BYTES.decode(x[1:first + 1])  # x[0] is the leading eos; position first predicts the response
        by_output[response] = prompt
    assert by_output["5"] == ALPACA_PROMPT["input"].format(instruction="Add the numbers.", input="2 and 3")
    assert by_output["Hi there!"] == ALPACA_PROMPT["no_input"].format(instruction="Say hi.")
    assert by_output["Blue"].endswith("### Instruction:\nName a color.\n\n### Response:")


def test_unpacked_examples_without_a_scored_token_are_dropped_with_a_warning(tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps(ALPACA * 2))
    prompt = len(ALPACA_PROMPT["input"].format(instruction="Add the numbers.", input="2 and 3"))
    with pytest.warns(UserWarning, match="2 train example"):
        task = tasks.get("lm/alpaca", path=str(path), response_only_loss=True, pack=False, block_size=prompt,
                         test_fraction=0.01, validation_fraction=0.0, use_cache=False, seed=1)
    assert all(len(task.train[i]["input_ids"]) <= prompt for i in range(len(task.train)))


def test_packed_response_only_loss_scores_exactly_the_responses(tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text(json.dumps(ALPACA * 4))
    task = tasks.get("lm/alpaca", path=str(path), response_only_loss=True, block_size=24, use_cache=False,
                     test_fraction=0.25, validation_fraction=0.0)
    assert task.name == "lm/alpaca"
    assert_aligned(task.train)
    scored = [int(t) for i in range(len(task.train)) for t in task.train[i]["labels"] if t != IGNORE_INDEX]
    outputs = [r["output"] for r in ALPACA * 4]
    assert scored[-1] == EOS and all(doc in outputs for doc in documents(scored))  # only responses and their eos
    assert scored.count(EOS) == len(documents(scored)) == 9  # the 9 training records' responses, none lost
    full = tasks.get("lm/alpaca", path=str(path), block_size=24, use_cache=False, test_fraction=0.25,
                     validation_fraction=0.0)
    assert all((full.train[i]["labels"] != IGNORE_INDEX).all() for i in range(len(full.train)))


def test_eli5_jsonl_one_example_per_answer(tmp_path):
    path = tmp_path / "eli5.jsonl"
    rows = [{"title": "Why is the sky blue?", "answers": {"text": ["Rayleigh scattering.", "Light scatters."]}},
            {"question": "Why do cats purr?", "answers": ["Contentment."]},
            {"title": "What is rain?", "answers": [{"text": "Water falling."}]},
            {"question": "Is water wet?", "answer": "Yes."}]
    path.write_text("\n".join(json.dumps(r) for r in rows))
    task = tasks.get("lm/text", path=str(path), block_size=1024, pack=False, use_cache=False,
                     test_fraction=0.25, validation_fraction=0.0, seed=3)
    assert task.metadata["format"] == "eli5"
    by_split = {name: [BYTES.decode(ds[i]["input_ids"][1:]) for i in range(len(ds))]
                for name, ds in (("train", task.train), ("test", task.test))}
    assert sorted(by_split["train"] + by_split["test"]) == sorted([
        "Question: Why is the sky blue?\nAnswer: Rayleigh scattering.",
        "Question: Why is the sky blue?\nAnswer: Light scatters.",
        "Question: Why do cats purr?\nAnswer: Contentment.",
        "Question: What is rain?\nAnswer: Water falling.",
        "Question: Is water wet?\nAnswer: Yes."])
    sky = [name for name, texts in by_split.items() for t in texts if "sky" in t]
    assert len(sky) == 2 and sky[0] == sky[1]  # a question's answers stay together: the split is by record
    short = tasks.get("lm/eli5", path=str(path), block_size=10, pack=False, use_cache=False, test_fraction=0.25)
    assert all(len(short.train[i]["input_ids"]) == 10 for i in range(len(short.train)))  # unpacked: truncated
    assert short.train[0]["input_ids"][0] == EOS and BYTES.decode(short.train[0]["input_ids"]) == "Question:"


def test_malformed_files_name_the_file_and_line_or_record(tmp_path):
    bad_line = tmp_path / "x.jsonl"
    bad_line.write_text('{"title": "q", "answers": ["a"]}\n{"title": "q2", "answers": ["b"]}\n{"title": \n')
    with pytest.raises(ValueError, match=r"x\.jsonl line 3: invalid JSON"):
        tasks.get("lm/eli5", path=str(bad_line), use_cache=False)
    records = [dict(r) for r in ALPACA * 2]
    del records[5]["output"]
    bad_record = tmp_path / "a.json"
    bad_record.write_text(json.dumps(records))
    with pytest.raises(ValueError, match=r"a\.json record 5: missing 'output'.*instruction"):
        tasks.get("lm/alpaca", path=str(bad_record), use_cache=False)
    bad_answers = tmp_path / "e.jsonl"
    bad_answers.write_text('{"title": "q", "answers": {"text": "not a list"}}\n')
    with pytest.raises(ValueError, match=r"e\.jsonl line 1: cannot read 'answers'"):
        tasks.get("lm/eli5", path=str(bad_answers), use_cache=False)


def test_unknown_format_and_missing_path_say_what_is_accepted(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("hello\nworld\nagain\n")
    with pytest.raises(ValueError, match="format='markdown' is not valid in lm/text; accepted: 'text', 'alpaca', "
                                         "'eli5' or 'hf', or null"):
        tasks.get("lm/text", path=str(path), format="markdown")
    with pytest.raises(FileNotFoundError, match="missing.txt does not exist.*ptb.train.txt"):
        tasks.get("lm/text", path=str(tmp_path / "missing.txt"))
    odd = tmp_path / "data.md"
    odd.write_text("# hi\n")
    with pytest.raises(ValueError, match=r"data\.md: cannot tell the format"):
        tasks.get("lm/text", path=str(odd), use_cache=False)
    weird = tmp_path / "w.jsonl"
    weird.write_text('{"body": "x"}\n')
    with pytest.raises(ValueError, match=r"w\.jsonl line 1: cannot tell the format.*text_field"):
        tasks.get("lm/text", path=str(weird), use_cache=False)


def test_caps_and_cache_follow_the_file(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("\n".join(f"sentence {i} of the corpus" for i in range(50)))
    capped = tasks.get("lm/text", path=str(path), block_size=8, max_tokens=40, max_examples=20)
    assert sum(len(capped.train[i]["input_ids"]) for i in range(len(capped.train))) == 40
    assert capped.metadata["tokens"]["train"] == 40
    first = tasks.get("lm/text", path=str(path), block_size=8)
    assert stream_of(tasks.get("lm/text", path=str(path), block_size=8).train) == stream_of(first.train)  # cache hit
    path.write_text("\n".join(f"another {i} line entirely" for i in range(50)))
    os.utime(path, ns=(0, 10**18))
    assert stream_of(tasks.get("lm/text", path=str(path), block_size=8).train) != stream_of(first.train)



def test_hf_tokenizer_packs_with_its_eos(tmp_path):
    folder = save_word_tokenizer(tmp_path / "tok", PTB["train"])
    task = tasks.get("lm/ptb", path=str(write_ptb(tmp_path / "ptb")), tokenizer=str(folder), block_size=4,
                     use_cache=False)
    words = {w for line in PTB["train"] for w in line.split()} - {"<unk>"} | {"unk", "<", ">"}
    assert task.vocab_size == len(words) + 3 and task.pad_token_id == 0
    stream = stream_of(task.train)
    assert stream[0] == 2 and stream.count(2) == len(PTB["train"]) + 1  # eos starts and ends each line
    assert_aligned(task.train)


def test_shakespeare_task_uses_the_corpus_splits():
    task = tasks.get("lm/shakespeare", block_size=64, max_tokens=2048)
    assert len(task.train) == 32 and task.metadata["tokens"] == {"train": 2048, "validation": 2048, "test": 2048}
    works = task.metadata["works"]
    assert not set(works["train"]) & set(works["test"]) and "romeo_and_juliet" in works["test"]
    assert_aligned(task.train)
    assert BYTES.decode(task.train[0]["input_ids"][1:]).startswith("ALL'S WELL THAT ENDS WELL")


def test_hf_dataset_on_disk(tmp_path):
    datasets = pytest.importorskip("datasets")
    splits = {"train": ["first document", "second one"], "validation": ["held out"], "test": ["final words"]}
    dataset = datasets.DatasetDict({s: datasets.Dataset.from_dict({"body": t}) for s, t in splits.items()})
    dataset.save_to_disk(tmp_path / "ds")
    task = tasks.get("lm/text", path=str(tmp_path / "ds"), format="hf", text_field="body", block_size=8,
                     use_cache=False)
    assert stream_of(task.train) == expected_stream(splits["train"])
    assert stream_of(task.validation) == expected_stream(splits["validation"])
    datasets.Dataset.from_dict({"instruction": ["Say hi."] * 4, "output": ["Hi"] * 4}).save_to_disk(tmp_path / "one")
    task = tasks.get("lm/text", path=str(tmp_path / "one"), block_size=256, use_cache=False, validation_fraction=0.0,
                     test_fraction=0.25)
    assert task.metadata["format"] == "alpaca" and len(task.test) == 1
