"""lm-evaluation-harness on saved models: local task YAMLs over local JSON data (no hub), loglikelihood
(multiple choice) and generate_until; a one-hot hybrid scores exactly what its component scores."""

import json

import pytest
import torch

from manticore import ManticoreForCausalLM
from manticore.cli import main
from manticore.harness import evaluate_harness
from manticore.tasks.tokenizers import ByteTokenizer
from conftest import tiny_component

pytest.importorskip("lm_eval")

DOCS = [
    {"question": "2 + 2 =", "choices": [" 4", " 5", " 22"], "answer": 0},
    {"question": "The sky is", "choices": [" blue", " green"], "answer": 0},
    {"question": "Cats say", "choices": [" woof", " meow"], "answer": 1},
    {"question": "One, two,", "choices": [" three", " seven", " ten"], "answer": 0},
]


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A GPT-Neo component (byte vocabulary) and the one-hot hybrid built from it, each saved with the byte-level
    tokenizer; a directory of two local tasks."""
    root = tmp_path_factory.mktemp("harness")
    tokenizer = ByteTokenizer().hf_tokenizer()
    component = tiny_component("gpt_neo", vocab=259, max_positions=128, seed=1)
    partner = tiny_component("mamba", vocab=259, seed=2)
    hybrid = ManticoreForCausalLM.from_components([component, partner], num_blocks=2, embeddings_from=0)
    hybrid.set_mixture_weights([1.0, 0.0])
    for name, model in (("component", component), ("hybrid", hybrid)):
        model.save_pretrained(root / name)
        tokenizer.save_pretrained(root / name)
    tasks = root / "tasks"
    tasks.mkdir()
    data = tasks / "qa.jsonl"
    data.write_text("".join(json.dumps(d) + "\n" for d in DOCS))
    common = f"dataset_path: json\ndataset_kwargs:\n  data_files:\n    test: {data}\ntest_split: test\n"
    (tasks / "tiny_choice.yaml").write_text(
        "task: tiny_choice\n" + common + "output_type: multiple_choice\ndoc_to_text: '{{question}}'\n"
        "doc_to_choice: '{{choices}}'\ndoc_to_target: answer\nmetric_list:\n  - metric: acc\n"
        "    aggregation: mean\n    higher_is_better: true\n")
    (tasks / "tiny_generate.yaml").write_text(
        "task: tiny_generate\n" + common + "output_type: generate_until\ndoc_to_text: '{{question}}'\n"
        "doc_to_target: '{{choices[answer]}}'\ngeneration_kwargs:\n  until: ['\\n']\n  max_gen_toks: 6\n"
        "  do_sample: false\nmetric_list:\n  - metric: exact_match\n    aggregation: mean\n    higher_is_better: true\n")
    return root


def run(saved, name, **kwargs):
    return evaluate_harness(saved / name, ["tiny_choice", "tiny_generate"], include_path=saved / "tasks",
                            batch_size=3, device="cpu", log_samples=True, **kwargs)


def test_a_one_hot_hybrid_scores_what_its_component_scores(saved):
    got, want = run(saved, "hybrid"), run(saved, "component")
    assert got["results"]["tiny_choice"]["acc,none"] == want["results"]["tiny_choice"]["acc,none"]
    assert got["results"]["tiny_generate"]["exact_match,none"] == want["results"]["tiny_generate"]["exact_match,none"]
    # the per-choice loglikelihoods themselves, and the generated text, not only the aggregates
    loglik = [[float(r[0][0]) for r in s["resps"]] for s in got["samples"]["tiny_choice"]]
    want_loglik = [[float(r[0][0]) for r in s["resps"]] for s in want["samples"]["tiny_choice"]]
    assert len(loglik) == len(DOCS) and all(len(row) == len(d["choices"]) for row, d in zip(loglik, DOCS))
    torch.testing.assert_close(torch.tensor(sum(loglik, [])), torch.tensor(sum(want_loglik, [])), rtol=1e-5, atol=1e-4)
    texts = [s["resps"][0][0] for s in got["samples"]["tiny_generate"]]
    assert texts == [s["resps"][0][0] for s in want["samples"]["tiny_generate"]]
    assert all(isinstance(t, str) for t in texts)


def test_the_cli_prints_the_table_and_writes_json(saved, tmp_path, capsys):
    out = tmp_path / "results.json"
    code = main(["eval-harness", str(saved / "hybrid"), "--tasks", "tiny_choice,tiny_generate", "--include-path",
                 str(saved / "tasks"), "--device", "cpu", "--batch-size", "2", "--limit", "2", "--output", str(out)])
    assert code == 0
    captured = capsys.readouterr()
    printed = captured.out
    assert "tiny_choice" in printed and "tiny_generate" in printed and "acc" in printed
    assert "model kwarg is not of type" not in captured.err + printed  # lm-eval's expected notes stay quiet
    written = json.loads(out.read_text())
    assert set(written["results"]) == {"tiny_choice", "tiny_generate"} and "samples" not in written


def test_errors_say_what_is_wrong(saved, tmp_path, capsys):
    assert main(["eval-harness", str(saved / "hybrid"), "--tasks", "no_such_task", "--include-path",
                 str(saved / "tasks")]) == 2
    assert "Unknown lm-eval task(s) ['no_such_task']" in capsys.readouterr().err
    bare = tmp_path / "no-tokenizer"
    tiny_component("gpt_neo", vocab=259).save_pretrained(bare)
    assert main(["eval-harness", str(bare), "--tasks", "tiny_choice", "--include-path", str(saved / "tasks")]) == 2
    assert "has no tokenizer" in capsys.readouterr().err
    assert main(["eval-harness", str(tmp_path), "--tasks", "tiny_choice", "--include-path", str(saved / "tasks")]) == 2
    assert "is not a saved model" in capsys.readouterr().err


def test_a_hub_task_offline_points_to_local_task_yamls(saved, monkeypatch, capsys):
    import lm_eval

    def offline(**kwargs):  # what `datasets` raises for a hub task's data under HF_HUB_OFFLINE=1
        raise ConnectionError("Couldn't reach 'EleutherAI/lambada_openai' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(lm_eval, "simple_evaluate", offline)
    assert main(["eval-harness", str(saved / "hybrid"), "--tasks", "tiny_choice", "--include-path",
                 str(saved / "tasks")]) == 2
    assert capsys.readouterr().err.strip() == (
        "manticore eval-harness: error: Couldn't reach 'EleutherAI/lambada_openai' on the Hub (OfflineModeIsEnabled): "
        "lm-eval task(s) tiny_choice download their datasets from the Hugging Face Hub. Without it, evaluate local "
        "task YAMLs with their data on disk (--include-path DIR).")


def test_lm_evals_own_cli_loads_a_saved_hybrid_by_path(saved, tmp_path):
    """`lm_eval --model hf` in a fresh process (transformers' remote-code loading: trust_remote_code=True),
    scoring what evaluate_harness scores."""
    import os
    import subprocess
    import sys

    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    command = [sys.executable, "-m", "lm_eval", "--model", "hf", "--model_args",
               f"pretrained={saved / 'hybrid'},trust_remote_code=True", "--device", "cpu", "--tasks", "tiny_choice",
               "--include_path", str(saved / "tasks"), "--batch_size", "2", "--output_path", str(tmp_path)]
    done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    [written] = list(tmp_path.rglob("results_*.json"))
    got = json.loads(written.read_text())["results"]["tiny_choice"]["acc,none"]
    assert got == run(saved, "hybrid")["results"]["tiny_choice"]["acc,none"]
