"""Streamed corpora (lm/stream): packing, shards per process, exact resume, flat memory."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest
import torch

import manticore
from manticore import tasks
from manticore.tasks.packing import blocks, encode_split
from manticore.tasks.registry import check_settings
from manticore.tasks.streaming import Documents, Source, StreamedText, buffer_shuffled
from manticore.tasks.tokenizers import get_tokenizer
from manticore.train import Engine, TrainConfig
from manticore.train.data import make_stream
from manticore.workflow.run_config import CONFIGS, load_run_config
from conftest import tiny_config

WORDS = "the quick brown fox jumps over a lazy dog while seven wizards quietly hum".split()


def write_corpus(folder, files=4, docs=30, seed=0, suffix=".jsonl"):
    """`files` shards of `docs` documents each; returns every document's text in file order."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    texts = []
    for f in range(files):
        lines = [" ".join(rng.choice(WORDS, size=rng.integers(3, 40))) for _ in range(docs)]
        texts += lines
        path = folder / f"shard-{f:03d}{suffix}"
        if suffix == ".jsonl":
            path.write_text("".join(json.dumps({"text": t, "id": i}) + "\n" for i, t in enumerate(lines)))
        elif suffix == ".txt":
            path.write_text("".join(t + "\n" for t in lines))
        else:
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table({"text": lines}), path, row_group_size=7)
    return texts


def streamed(path, **settings):
    return tasks.get("lm/stream", path=str(path), block_size=16, **settings)


def take(stream, n):
    return [next(stream) for _ in range(n)]


@pytest.mark.parametrize("suffix", [".jsonl", ".parquet", ".txt"])
def test_stream_packs_like_an_in_memory_split(tmp_path, suffix):
    texts = write_corpus(tmp_path / "data", suffix=suffix)
    task = streamed(tmp_path / "data", shuffle=False, eval_documents=5)
    assert isinstance(task.train, StreamedText) and task.kind == "lm" and task.max_length == 16
    tokenizer = get_tokenizer("byte")
    want = blocks(encode_split([[(t, True)] for t in texts[5:]], tokenizer, True, None), 16, True)
    batches = take(make_stream(task.train, 4, task.collate, 0), 10)
    got = [(b["input_ids"][i], b["labels"][i]) for b in batches for i in range(4)]
    for index, (ids, labels) in enumerate(got):
        assert torch.equal(ids, want[index]["input_ids"]) and torch.equal(labels, want[index]["labels"]), index
    test = blocks(encode_split([[(t, True)] for t in texts[:5]], tokenizer, True, None), 16, True)
    assert len(task.test) == len(test) and torch.equal(task.test[0]["input_ids"], test[0]["input_ids"])


def test_resume_continues_exactly_across_epochs(tmp_path):
    write_corpus(tmp_path / "data", files=2, docs=6)
    task = streamed(tmp_path / "data", eval_documents=2, shuffle_buffer=4)
    stream = make_stream(task.train, 4, task.collate, seed=3)
    for cut in range(12):  # positions partway into documents, and across epochs
        state = torch.load(_saved(tmp_path, stream.state_dict()), weights_only=True)
        assert state["positions"].shape == (1, 4)
        later = take(stream, 5)
        resumed = make_stream(task.train, 4, task.collate, seed=3)
        resumed.load_state_dict(state)
        for want, got in zip(later, take(resumed, 5)):
            assert all(torch.equal(want[k], got[k]) for k in want), cut
    assert stream.epoch >= 2  # several epochs of this small corpus


def _saved(tmp_path, state):
    path = tmp_path / "state.pt"
    torch.save(state, path)  # plain tensors: loads with weights_only=True
    return path


def test_max_tokens_ends_each_epoch(tmp_path):
    texts = write_corpus(tmp_path / "data", files=2, docs=10)
    task = streamed(tmp_path / "data", eval_documents=2, shuffle=False, max_tokens=500)
    eos = get_tokenizer("byte").eos_token_id
    epoch, total = [], 0
    for text in texts[2:]:  # the documents up to the one that reaches 500 tokens (each with its eos)
        epoch += list(text.encode()) + [eos]
        total += len(text.encode()) + 1
        if total >= 500:
            break
    want = torch.tensor([eos] + epoch * 4)
    got = torch.cat([b["input_ids"].flatten() for b in take(make_stream(task.train, 4, task.collate, 0), 20)])
    assert torch.equal(got[:len(want)], want[:len(got)])


def test_the_shuffle_buffer_is_a_seeded_permutation():
    items = list(range(1000))
    once = list(buffer_shuffled(items, 50, np.random.default_rng(1)))
    assert sorted(once) == items and once != items
    assert once == list(buffer_shuffled(items, 50, np.random.default_rng(1)))
    assert max(abs(i - out) for out, i in zip(once, items)) > 50  # items travel beyond one buffer


@pytest.mark.parametrize("files", [4, 1])  # by file (files >= processes) and by document (fewer files)
def test_each_process_reads_its_own_disjoint_share(tmp_path, files):
    texts = write_corpus(tmp_path / "data", files=files, docs=24 // files * 2)
    source = Source(str(tmp_path / "data"), hf=False)
    held_out, held = source.head(4)
    world = 3 if files == 1 else 2
    shares = [{r.data["text"] for r in Documents(source, held, True, 8, 0, rank, world).read(epoch=1)}
              for rank in range(world)]
    everything = set().union(*shares)
    assert sum(len(s) for s in shares) == len(everything)  # disjoint
    assert everything == set(texts) - {r.data["text"] for r in held_out}  # all but the held-out test documents
    assert len(everything) == 48 - 4


def test_processes_never_fall_out_of_step(tmp_path):
    write_corpus(tmp_path / "data", files=3, docs=4)  # rank 0 gets 2 files, rank 1 one: unequal shares
    task = streamed(tmp_path / "data", eval_documents=1)
    streams = [make_stream(task.train, 2, task.collate, 0, rank, 2) for rank in range(2)]
    for _ in range(30):
        batches = [next(s) for s in streams]  # the rank with less data starts its next epoch, never stops
        assert batches[0]["input_ids"].shape == batches[1]["input_ids"].shape == (2, 16)
    assert streams[1].epoch > streams[0].epoch


def test_bad_sources_and_settings_are_named(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist. Accepted: a directory of"):
        streamed(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="No shard files"):
        streamed(tmp_path / "empty")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "a.jsonl").write_text('{"text": "fine"}\n{oops\n')
    task = streamed(tmp_path / "bad", eval_documents=1, eval_path=None)
    with pytest.raises(ValueError, match=r"a.jsonl line 2: not a JSON record"):
        take(make_stream(task.train, 1, task.collate, 0), 1)
    for settings, match in [({"pack": False}, r"does not take \{'pack': False\}"),
                            ({"max_examples": 5}, "max_examples"), ({"shuffle_buffer": -1}, "shuffle_buffer"),
                            ({"path": {"train": "a", "test": "b"}}, "not a dict of splits"),
                            ({"hf_eval_split": "test"},
                             "hf_eval_split='test' is not valid in lm/stream; accepted: null unless format='hf'"),
                            ({"max_tokens": 0}, "max_tokens=0 is not valid in lm/stream; accepted: an integer >= 1 or null")]:
        values = {"path": str(tmp_path / "bad"), **settings}
        with pytest.raises(ValueError, match=match):  # at config validation, offline
            check_settings("lm/stream", values)
        with pytest.raises(ValueError, match=match):
            tasks.get("lm/stream", **values)


def hybrid(vocab):
    torch.manual_seed(0)
    return manticore.ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", vocab=vocab), tiny_config("mamba", vocab=vocab)], num_blocks=1)


def test_engine_resume_on_a_stream_equals_the_uninterrupted_run(tmp_path):
    write_corpus(tmp_path / "data", files=2, docs=10)
    task = streamed(tmp_path / "data", eval_documents=3)
    config = TrainConfig(max_steps=6, batch_size=4, lr=1e-3, checkpoint_every=2, schedule="constant")
    full = hybrid(task.vocab_size)
    Engine(full, task, config, tmp_path / "full").train()

    class Crash(Exception):
        pass

    def crash(step, metrics):
        if step == 3:
            raise Crash

    with pytest.raises(Crash):
        Engine(hybrid(task.vocab_size), task, config, tmp_path / "cut", on_step=crash).train()
    resumed = hybrid(task.vocab_size)
    Engine(resumed, task, config, tmp_path / "cut").train(resume=True)
    for (name, a), b in zip(full.state_dict().items(), resumed.state_dict().values()):
        assert torch.equal(a, b), name


MEMORY_PROBE = r"""
import json, sys
from pathlib import Path
from manticore import tasks
from manticore.train.data import make_stream

def rss_mb():  # the peak resident set size so far (VmHWM)
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024

task = tasks.get("lm/stream", path=sys.argv[1], block_size=256, eval_documents=10)
stream = make_stream(task.train, 32, task.collate, 0)
next(stream)
before, tokens = rss_mb(), 0
while stream.epoch < 1:  # one whole pass over the corpus
    tokens += int(next(stream)["attention_mask"].sum())
print(json.dumps({"before": before, "after": rss_mb(), "tokens": tokens}))
"""


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads VmHWM from /proc (Linux)")
def test_memory_stays_flat_while_streaming_a_large_corpus(tmp_path):
    rng = np.random.default_rng(0)
    data = tmp_path / "big"
    data.mkdir()
    text = " ".join(WORDS)
    for f in range(8):  # 8 shards of about 6 MB
        with open(data / f"part-{f}.jsonl", "w") as out:
            for _ in range(7_000):
                out.write(json.dumps({"text": (text + " ") * int(rng.integers(8, 15))}) + "\n")
    size_mb = sum(p.stat().st_size for p in data.iterdir()) / 2**20
    done = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(data)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout.splitlines()[-1])
    grown = result["after"] - result["before"]
    print(f"streamed {result['tokens'] / 1e6:.1f}M tokens ({size_mb:.0f} MB of JSONL): peak RSS "
          f"{result['before']:.0f} -> {result['after']:.0f} MiB")
    assert result["tokens"] > 0.95 * size_mb * 2**20  # the whole corpus went through (a byte is a token)
    assert grown < size_mb / 6  # far less than the corpus (which as int64 tokens would be 8x its size)


def test_the_paper_projector_pretraining_preset_loads():
    config = load_run_config(CONFIGS / "paper-projectors.yaml")  # offline: nothing is downloaded to validate it
    stage = config.stage_settings("pretrain-projectors")
    task = stage.task
    assert [c.path for c in config.components] == ["EleutherAI/pythia-410m", "state-spaces/mamba-370m-hf"]
    assert task["name"] == "lm/stream" and task["format"] == "hf" and task["path"] == "HuggingFaceFW/fineweb"
    assert task["tokenizer"] == "EleutherAI/pythia-410m"  # GPT-NeoX's tokenizer
    tokens = stage.train.max_steps * stage.train.batch_size * stage.train.grad_accum * task["block_size"] * 8
    assert abs(tokens - 1e9) / 1e9 < 0.01  # one billion tokens on 8 processes
    assert (stage.train.lr, stage.train.schedule) == (5e-5, "linear")  # Appendix G.4
    assert stage.train.strategy == "fsdp" and config.num_blocks == 1


def write_hub(folder, files=2, docs=12):
    """A local folder that `datasets.load_dataset` reads as a hub dataset would be (train and test splits)."""
    texts = write_corpus(folder, files=files, docs=docs)
    for f in range(files):
        (folder / f"shard-{f:03d}.jsonl").rename(folder / f"train-{f:03d}.jsonl")
    (folder / "test-000.jsonl").write_text("".join(json.dumps({"text": f"held out {i}"}) + "\n" for i in range(5)))
    return texts


@pytest.mark.parametrize("world", [1, 2, 3])  # 2: a shard each; 3: more processes than shards
def test_a_datasets_stream_is_read_per_process_without_the_test_documents(tmp_path, world):
    """format 'hf': datasets.load_dataset(path, streaming=True); a local folder stands in for a hub dataset."""
    texts = write_hub(tmp_path / "hub")
    task = streamed(tmp_path / "hub", format="hf", eval_documents=4, shuffle=False)
    held_out = set(texts[:4])  # the first documents of the first shard
    assert task.metadata["shards"] == 2 and task.metadata["test_documents"] == 4
    shares = [[r.data["text"] for r in task.train.documents(0, rank, world).read(0)] for rank in range(world)]
    assert sum(len(s) for s in shares) == len(texts) - 4
    assert set().union(*shares) == set(texts) - held_out  # disjoint, complete, and never a test document


def test_a_datasets_stream_resumes_and_takes_its_test_split_from_the_source(tmp_path):
    write_hub(tmp_path / "hub")
    task = streamed(tmp_path / "hub", format="hf", hf_eval_split="test", eval_documents=3)
    assert task.metadata["test_documents"] == 3
    assert get_tokenizer("byte").decode(task.test[0]["input_ids"].tolist()).startswith("held out 0")
    stream = make_stream(task.train, 2, task.collate, 0)
    take(stream, 3)
    state, later = stream.state_dict(), take(stream, 20)
    resumed = make_stream(task.train, 2, task.collate, 0)
    resumed.load_state_dict(state)
    assert all(torch.equal(a["input_ids"], b["input_ids"]) for a, b in zip(later, take(resumed, 20)))


PROCESS = r"""
import json, sys
import torch
import torch.distributed as dist
from manticore import tasks
from manticore.train.data import make_stream

folder, rank, saved = sys.argv[1], int(sys.argv[2]), sys.argv[3]
dist.init_process_group("gloo", init_method=f"file://{folder}/rendezvous", rank=rank, world_size=2)
task = tasks.get("lm/stream", path=f"{folder}/data", block_size=16, eval_documents=2, shuffle_buffer=8)
stream = make_stream(task.train, 2, task.collate, 0, rank, 2)
for _ in range(7):
    next(stream)
if rank == 0:
    torch.save(stream.state_dict(), saved)  # as the engine does: rank 0 writes the checkpoint
later = [next(stream)["input_ids"] for _ in range(25)]
dist.barrier()
resumed = make_stream(task.train, 2, task.collate, 0, rank, 2)
resumed.load_state_dict(torch.load(saved, weights_only=True))
same = all(torch.equal(want, next(resumed)["input_ids"]) for want in later)
print(json.dumps({"same": same, "epoch": stream.epoch, "positions": stream.state_dict()["positions"].tolist()}))
"""


def test_processes_share_their_positions_so_rank_0s_checkpoint_resumes_every_process(tmp_path):
    write_corpus(tmp_path / "data", files=3, docs=6)  # 2 files for rank 0, 1 for rank 1: different positions
    saved = tmp_path / "stream.pt"
    runs = [subprocess.Popen([sys.executable, "-c", PROCESS, str(tmp_path), str(rank), str(saved)],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for rank in range(2)]
    outputs = [run.communicate(timeout=120) for run in runs]
    assert all(run.returncode == 0 for run in runs), [err[-2000:] for _, err in outputs]
    results = [json.loads(out.splitlines()[-1]) for out, _ in outputs]
    assert all(r["same"] for r in results)
    assert results[0]["positions"] == results[1]["positions"]  # every process holds the whole table
    assert results[0]["positions"][0] != results[0]["positions"][1]
    assert results[1]["epoch"] > results[0]["epoch"]  # rank 1 has less data, so it is further on
