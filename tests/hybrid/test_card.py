"""The model card a saved hybrid carries: README.md in the Hub's format, read back section by section."""

import yaml

import manticore
from manticore.hybrid.card import CARD

from conftest import tiny_component, tiny_config


def sections(text):
    """The card's YAML metadata and {heading: lines} of its Markdown."""
    _, front, body = text.split("---\n", 2)
    found, name = {}, None
    for line in body.splitlines():
        if line.startswith("## "):
            name = line[3:]
            found[name] = []
        elif name is not None:
            found[name].append(line)
    return yaml.safe_load(front), found


def rows(lines):
    table = [line for line in lines if line.startswith("|")]
    header = [c.strip() for c in table[0].strip("|").split("|")]
    return [dict(zip(header, [c.strip() for c in row.strip("|").split("|")])) for row in table[2:]]


def test_a_saved_hybrid_has_a_model_card(tmp_path):
    source = tmp_path / "neo"
    tiny_component("gpt_neo", vocab=32).save_pretrained(source)
    hybrid = manticore.ManticoreForCausalLM.from_components(
        [str(source), tiny_config("mamba", vocab=32)], num_blocks=2)
    hybrid.set_mixture_weights([[1.0, 0.0], [0.25, 0.75]])
    hybrid.save_pretrained(tmp_path / "hybrid")
    meta, body = sections((tmp_path / "hybrid" / CARD).read_text())
    assert meta["library_name"] == "transformers" and meta["pipeline_tag"] == "text-generation"
    assert {"manticore", "hybrid", "gpt_neo", "mamba"} <= set(meta["tags"])
    assert "base_model" not in meta  # a local path is not a hub id
    components = rows(body["Components"])
    assert [(c["family"], c["source"], c["layers"]) for c in components] == [
        ("gpt_neo", f"`{source}`", "2"), ("mamba", "a config (trained from scratch)", "2")]
    alphas = rows(body["Mixture weights α"])
    assert alphas == [{"block": "0", "gpt_neo": "1.0000", "mamba": "0.0000"},
                      {"block": "1", "gpt_neo": "0.2500", "mamba": "0.7500"}]
    cost = {r["measure"]: r["value"] for r in rows(body["Cost"])}
    assert int(cost["parameters"].replace(",", "")) > 0 and "KV-cache bytes" in cost
    assert "trust_remote_code=True" in "\n".join(body["How to load"])


def test_a_stage_writes_what_trained_the_hybrid_into_its_card(tmp_path):
    from manticore.workflow.run_config import CONFIGS, load_run_config
    from manticore.workflow.stages import run_stage

    cfg = load_run_config(CONFIGS / "c2-striped.yaml", [
        f"out_dir={tmp_path}", "train.max_steps=2", "train.batch_size=4", "task.num_train=16", "task.num_test=8",
        "task.num_validation=8", "stages.search.train.max_steps=2"])
    result = run_stage(cfg, "search")
    _, body = sections((tmp_path / "search" / "model" / CARD).read_text())
    (trained,) = rows(body["Training"])
    assert trained["stage"] == "`search`" and trained["task"] == "mad/in-context-recall"
    assert trained["test loss"] == f"{result['test']['loss']:.4f}"
    assert trained["test accuracy"] == f"{result['test']['accuracy']:.4f}"


def test_push_to_hub_uploads_exactly_what_save_pretrained_writes(tmp_path, monkeypatch):
    from transformers import AutoTokenizer
    from transformers.utils import hub

    uploaded = {}

    class Repo:
        repo_id = "someone/tiny-hybrid"

    class FakeApi:  # the Hub, offline: what would be committed
        def create_repo(self, repo_id, **kwargs):
            return Repo()

        def create_commit(self, repo_id, operations, **kwargs):
            uploaded.update({op.path_in_repo: op.path_or_fileobj for op in operations})
            return "commit"

    monkeypatch.setattr(hub, "hf_api", lambda: FakeApi())
    manticore.testing.save_word_tokenizer(tmp_path / "tok", ["a", "b", "c"])
    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "tok")
    hybrid = manticore.ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", vocab=32), tiny_config("mamba", vocab=32)], num_blocks=2)
    hybrid.save_pretrained(tmp_path / "saved")
    tokenizer.save_pretrained(tmp_path / "saved")
    hybrid.push_to_hub("tiny-hybrid", tokenizer=tokenizer, tags=["demo"])
    assert set(uploaded) == {p.name for p in (tmp_path / "saved").iterdir()}
    assert {"README.md", "modeling_manticore.py", "config.json", "model.safetensors", "tokenizer.json"} <= set(uploaded)
