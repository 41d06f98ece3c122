"""Reliability probes: bad input, corrupt files, payloads, concurrent and interrupted runs, each
classified as a named error (one of the project's errors, naming what was wrong), a traceback (any other
exception), silent (accepted when it should have been refused) or data lost (a resumed run that differs from an
uninterrupted one). Not a test; run it by hand (about a minute):

    .venv/bin/python -m manticore.tools.probes

Prints a table: probe, cases tried, named error, traceback, silent, data lost.
"""

from __future__ import annotations

import json
import os
import pickle
import sys
import tempfile
import warnings
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ["MANTICORE_CACHE"] = tempfile.mkdtemp(prefix="probe-cache-")  # read when a task is built, not at import

import manticore  # noqa: E402
from manticore import rundir, tasks  # noqa: E402
from manticore.errors import ManticoreError  # noqa: E402
from manticore.hybrid.build import load_hybrid  # noqa: E402
from manticore.testing import VOCAB, tiny_component, tiny_config  # noqa: E402
from manticore.train import Engine, TrainConfig  # noqa: E402
from manticore.workflow.run_config import CONFIGS, load_run_config  # noqa: E402

NAMED = (ValueError, TypeError, FileNotFoundError, OSError, ManticoreError)  # TypeError: a wrong-type argument, named
RESULTS: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))


def probe(category: str, action, expect_error: bool = True, marker: Path | None = None) -> None:
    """Run `action`; count the outcome under `category`."""
    RESULTS[category]["cases"] += 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            action()
    except NAMED:
        RESULTS[category]["named" if expect_error else "traceback"] += 1
    except Exception as err:  # noqa: BLE001 - classifying is the point
        RESULTS[category]["traceback"] += 1
        print(f"  traceback in {category}: {type(err).__name__}: {str(err)[:200]}")

    else:
        RESULTS[category]["ok" if not expect_error else "silent"] += 1
        if expect_error:
            print(f"  silent in {category}: {getattr(action, 'label', '')}")
    if marker is not None and marker.exists():
        RESULTS[category]["payload ran"] += 1


class Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def small_task():
    return tasks.get("mad/in-context-recall", num_train=32, num_test=16, seq_len=16, vocab_size=16, seed=0)


def small_model(task, seed=0):
    torch.manual_seed(seed)
    return manticore.ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", vocab=task.vocab_size), tiny_config("mamba", vocab=task.vocab_size)], num_blocks=2)


def payloads(root: Path) -> None:
    task = small_task()
    for i, where in enumerate(["checkpoint", "cifar", "cache", "component"]):
        marker = root / f"payload-{i}"
        folder = root / f"payload-{where}"
        if where == "checkpoint":
            Engine(small_model(task), task, TrainConfig(max_steps=1, batch_size=8), folder).train()
            state = torch.load(folder / rundir.CHECKPOINT, weights_only=True)
            state["rng"]["x"] = Payload(marker)
            torch.save(state, folder / rundir.CHECKPOINT)
            (folder / rundir.PREVIOUS_CHECKPOINT).unlink(missing_ok=True)
            action = lambda f=folder: Engine(small_model(task), task, TrainConfig(max_steps=1, batch_size=8),  # noqa: E731
                                             f).train(resume=True)
        elif where == "cifar":
            folder.mkdir()
            (folder / "data_batch_1").write_bytes(pickle.dumps({b"data": Payload(marker), b"labels": [0]}))
            action = lambda f=folder: tasks.get("lra/image", path=str(f), use_cache=False)  # noqa: E731
        elif where == "cache":
            os.environ["MANTICORE_CACHE"] = str(folder)
            tasks.get("mad/in-context-recall", num_train=8, num_test=8, seq_len=16, vocab_size=16, seed=1)
            [entry] = list(folder.rglob("*.pt"))
            torch.save({"train": Payload(marker)}, entry)
            action = lambda: tasks.get("mad/in-context-recall", num_train=8, num_test=8, seq_len=16, vocab_size=16,  # noqa: E731
                                       seed=1)
            probe("payloads", action, expect_error=False, marker=marker)  # rebuilt with a warning
            continue
        else:
            tiny_component("gpt_neo").save_pretrained(folder)
            (folder / "model.safetensors").unlink()
            torch.save({"x": Payload(marker)}, folder / "pytorch_model.bin")
            action = lambda f=folder: manticore.ManticoreForCausalLM.from_components([str(f)], num_blocks=1)  # noqa: E731
        probe("payloads", action, marker=marker)


def corrupt_files(root: Path) -> None:
    task = small_task()
    config = TrainConfig(max_steps=4, batch_size=8, checkpoint_every=2)
    for damage in ["truncate-10", "truncate-half", "zero", "garble", "empty", "text", "both"]:
        folder = root / f"ckpt-{damage}"
        Engine(small_model(task), task, config, folder).train()
        path = folder / rundir.CHECKPOINT
        data = path.read_bytes()
        new = {"truncate-10": data[:10], "truncate-half": data[: len(data) // 2], "zero": b"\0" * len(data),
               "garble": bytes(b ^ 0x5A for b in data[:4096]) + data[4096:], "empty": b"", "text": b"hello",
               "both": b""}[damage]
        path.write_bytes(new)
        if damage == "both":
            (folder / rundir.PREVIOUS_CHECKPOINT).write_bytes(b"\0" * 64)
        # with a good previous checkpoint the run continues (a warning); with none loadable, a named error
        probe("corrupt checkpoints", lambda f=folder: Engine(small_model(task), task, config, f).train(resume=True),
              expect_error=damage == "both")
    folder = root / "ckpt-arch"
    Engine(small_model(task), task, config, folder).train()
    other = manticore.ManticoreForCausalLM.from_components([tiny_config("llama", vocab=16)], num_blocks=1)
    probe("corrupt checkpoints", lambda: Engine(other, task, config, folder).train(resume=True))
    torch.manual_seed(0)
    hybrid = manticore.ManticoreForCausalLM.from_components([tiny_config("gpt_neo"), tiny_config("mamba")], num_blocks=2)

    def saved(name):
        folder = root / f"model-{name}"
        hybrid.save_pretrained(folder)
        return folder

    def rewrite(folder, change):
        tensors = load_file(folder / "model.safetensors")
        change(tensors)
        save_file(tensors, folder / "model.safetensors", metadata={"format": "pt"})

    cases = {
        "truncated": lambda f: (f / "model.safetensors").write_bytes((f / "model.safetensors").read_bytes()[:500]),
        "zeroed": lambda f: (f / "model.safetensors").write_bytes(b"\0" * 200),
        "nan": lambda f: rewrite(f, lambda t: t.__setitem__("lm_head.weight", t["lm_head.weight"] * float("nan"))),
        "deleted": lambda f: rewrite(f, lambda t: t.pop("lm_head.weight")),
        "extra": lambda f: rewrite(f, lambda t: t.__setitem__("stray.weight", torch.zeros(2))),
        "config-json": lambda f: (f / "config.json").write_text("{not json"),
        "config-swapped": lambda f: (f / "config.json").write_text(json.dumps({
            **(c := json.loads((f / "config.json").read_text())), "components": c["components"][::-1],
            "adapters": c["adapters"][::-1]})),
        "config-empty": lambda f: (f / "config.json").write_text(""),
        "missing-weights": lambda f: (f / "model.safetensors").unlink(),
    }
    for name, damage in cases.items():
        folder = saved(name)
        damage(folder)
        probe("corrupt model files", lambda f=folder: load_hybrid(f))


def bad_configs(root: Path) -> None:
    overrides = [
        "train.max_steps=true", "train.max_steps=0", "train.max_steps=-3", "train.max_steps=1.5", "train.lr=.inf",
        "train.lr=-1", "train.lr=abc", "train.arch_lr=.nan", "train.batch_size=0", "train.clip_grad=abc",
        "train.clip_grad=0", "train.eval_batches=abc", "train.eval_batches=0", "train.schedule=cosine",
        "train.precision=fp8", "train.resume_override=[nope]", "seed=1.5", "seed=true", "num_blocks=3",
        "num_blocks=0", "num_blocks=true", "search.algorithm=nope", "search.updates=sometimes",
        "search.bilevel=maybe", "search.hyperparameters={nope: 1}", "task={name: no/such/task}",
        "task.seq_len=-5", "run=[nope]", "stages.nope={}", "stages.sweep.grid_step=abc",
        "stages.program.method=guess", "stages.baselines.seeds=[a]", "components=[]",
        "components=[{name: x, config: {model_type: gpt_neo, hidden_size: big}}]",
        "components=[{name: x, config: {model_type: no_family}}]", "components=[{name: x, config: {model_type: []}}]",
        "components=[{name: x}]", f"out_dir={root / 'a-file'}", f"out_dir={root / 'a-file' / 'under'}",
        "embeddings_from=7", "nope=1",
    ]
    (root / "a-file").write_text("x")
    for override in overrides:
        action = lambda o=override: load_run_config(CONFIGS / "quickstart.yaml", [o])  # noqa: E731
        action.label = override
        probe("bad configs", action)
    duplicate = root / "dup.yaml"
    duplicate.write_text((CONFIGS / "quickstart.yaml").read_text() + "\nseed: 4\n")
    probe("bad configs", lambda: load_run_config(duplicate))
    probe("bad configs", lambda: load_run_config(root / "no-such.yaml"))


def bad_data(root: Path) -> None:
    def file(name, data: bytes):
        path = root / "data" / name
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(data)
        return str(path)

    cases = [
        ("lm/text", file("latin.txt", "caf\xe9\n".encode("latin-1")), {}),
        ("lm/text", file("utf16.txt", "hello\n".encode("utf-16")), {}),
        ("lm/text", file("binary.txt", bytes(range(256))), {}),
        ("lm/text", file("empty.txt", b""), {}),
        ("lm/text", str(root / "data" / "missing.txt"), {}),
        ("lm/text", file("latin2.txt", "caf\xe9\n".encode("latin-1")), {"encoding": "klingon"}),
        ("lra/text", file("bad.jsonl", b'{"text": "a", "label": 0}\n{broken\n'), {}),
        ("lra/text", file("list.jsonl", b'{"text": "a", "label": 0}\n{"text": "b", "label": [1]}\n'), {}),
        ("lra/text", file("half.csv", b"text,label\na,0\nb,0.5\n"), {}),
        ("lra/text", file("mixed.csv", b"text,label\na,0\nb,pos\n"), {}),
        ("lra/text", file("quote.csv", b'text,label\na,"0\nb,1\n'), {}),
        ("lra/text", file("nolabel.csv", b"text\na\n"), {}),
        ("lra/text", file("latin.csv", "text,label\ncaf\xe9,0\n".encode("latin-1")), {}),
        ("lra/text", file("nul.jsonl", b'{"text": "a\x00", "label": 0}\n'), {}),
        ("lra/text", file("wide.csv", b"text,label\na,0,extra\n"), {}),
        ("lra/text", file("notjson.json", b"[1, 2, 3]"), {}),
    ]
    empty = root / "data" / "empty.npz"
    np.savez(empty, x_train=np.zeros((0, 4, 4), np.uint8), y_train=np.zeros(0, np.int64))
    floats = root / "data" / "floats.npz"
    np.savez(floats, x_train=np.zeros((2, 4, 4), np.uint8), y_train=np.array([0.5, 1.0]))
    sizes = root / "data" / "sizes.npz"
    np.savez(sizes, x_train=np.zeros((2, 4, 4), np.uint8), y_train=np.array([0, 1]),
             x_test=np.zeros((2, 5, 5), np.uint8), y_test=np.array([0, 1]))
    pixels = root / "data" / "pixels.npz"
    np.savez(pixels, x_train=np.full((2, 4, 4), 300), y_train=np.array([0, 1]))
    cases += [("lra/image", str(p), {}) for p in (empty, floats, sizes, pixels)]
    for name, path, extra in cases:
        probe("bad data files", lambda n=name, p=path, e=extra: tasks.get(n, path=p, use_cache=False, **e))


def bad_api(root: Path) -> None:
    torch.manual_seed(0)
    hybrid = manticore.ManticoreForCausalLM.from_components([tiny_config("gpt_neo"), tiny_config("mamba")], num_blocks=2)
    ids = torch.randint(0, VOCAB, (2, 6))
    nan_logits = torch.tensor([[float("nan"), 0.0], [0.0, 0.0]])
    cases = [
        lambda: hybrid(input_ids=ids + VOCAB),
        lambda: hybrid(input_ids=ids, labels=ids + VOCAB),
        lambda: hybrid(input_ids=torch.zeros(2, 0, dtype=torch.long)),
        lambda: hybrid(input_ids=ids[0]),
        lambda: hybrid(input_ids=ids, attention_mask=torch.ones(2, 5)),
        lambda: hybrid(inputs_embeds=torch.zeros(2, 3, 7)),
        lambda: hybrid(),
        lambda: hybrid.set_mixture_weights([0.7, 0.7]),
        lambda: hybrid.set_mixture_weights([[1.0, 0.0]] * 5),
        lambda: hybrid.set_mixture_weights([-1.0, 2.0]),
        lambda: hybrid.set_mixture_weights("a"),
        lambda: manticore.ManticoreForCausalLM.from_components([tiny_config("gpt_neo")], num_blocks=3),
        lambda: manticore.ManticoreForCausalLM.from_components([], num_blocks=1),
        lambda: manticore.ManticoreForCausalLM.from_components([tiny_config("gpt_neo")], num_blocks=1, projector_bais=1),
        lambda: manticore.ManticoreForSequenceClassification.from_components([tiny_config("gpt_neo")], num_blocks=1,
                                                                            num_labels=0),
        lambda: manticore.ManticoreForCausalLM.from_components([42], num_blocks=1),
        lambda: hybrid(input_ids=ids, past_key_values=object(), use_cache=True),
    ]
    for case in cases:
        probe("bad API input", case)

    def nan_mixture():
        with torch.no_grad():
            hybrid.model.mixture.logits.copy_(nan_logits)
        hybrid(input_ids=ids)

    probe("bad API input", nan_mixture)


def concurrency_and_resume(root: Path) -> None:
    import subprocess

    holder = subprocess.Popen([sys.executable, "-c", "import sys, time\nfrom manticore import rundir\n"
                               "with rundir.exclusive(sys.argv[1]):\n    print('held', flush=True)\n    time.sleep(60)",
                               str(root / "busy")], stdout=subprocess.PIPE, text=True)
    holder.stdout.readline()
    for _ in range(3):
        probe("concurrent runs", lambda: rundir.exclusive(root / "busy").__enter__())
    holder.kill()
    holder.wait()
    probe("concurrent runs", lambda: rundir.exclusive(root / "busy").__enter__(), expect_error=False)

    task = small_task()
    config = TrainConfig(max_steps=8, batch_size=8, checkpoint_every=2, log_every=1)
    full = Engine(small_model(task), task, config, root / "full")
    full.train()
    reference = ((root / "full" / rundir.METRICS).read_text(), full.model.state_dict())

    class Kill(Exception):
        pass

    for crash_at in (1, 2, 3, 5, 7, 8):
        folder = root / f"kill-{crash_at}"

        def kill(step, metrics, at=crash_at):
            if step == at:
                raise Kill

        RESULTS["kill and resume"]["cases"] += 1
        try:
            Engine(small_model(task), task, config, folder, on_step=kill).train()
        except Kill:
            pass
        resumed = Engine(small_model(task), task, config, folder)  # the stage rebuilds the same model
        try:
            resumed.train(resume=True)
        except Exception as err:  # noqa: BLE001
            RESULTS["kill and resume"]["traceback"] += 1
            print(f"  traceback in kill and resume: {err}")
            continue
        same = (folder / rundir.METRICS).read_text() == reference[0] and all(
            torch.equal(a, b) for a, b in zip(resumed.model.state_dict().values(), reference[1].values()))
        RESULTS["kill and resume"]["ok" if same else "data lost"] += 1
    other = TrainConfig(max_steps=8, batch_size=8, checkpoint_every=2, log_every=1, seed=1, lr=1e-3)
    probe("kill and resume", lambda: Engine(small_model(task), task, other, root / "kill-3").train(resume=True))


def main() -> None:
    import argparse

    argparse.ArgumentParser(prog="python -m manticore.tools.probes", description=__doc__,
                            formatter_class=argparse.RawDescriptionHelpFormatter).parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        for section in (payloads, corrupt_files, bad_configs, bad_data, bad_api, concurrency_and_resume):
            section(root)
    print("\n| probe | cases | named error | traceback | silent | data lost | payload ran |\n|---|---|---|---|---|---|---|")
    for category, counts in RESULTS.items():
        print(f"| {category} | {counts['cases']} | {counts['named']} | {counts['traceback']} | {counts['silent']} | "
              f"{counts['data lost']} | {counts['payload ran']} |")
    print("\n(the rest of each row's cases succeeded as they should: a payload-free cache rebuilt, a run resumed "
          "from the previous checkpoint, a lock taken after its holder died, a resumed run equal to an uninterrupted one)")


if __name__ == "__main__":
    main()
