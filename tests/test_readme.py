"""The README's Python example runs as written."""

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_example_runs(tmp_path, monkeypatch):
    example = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[0]
    monkeypatch.chdir(tmp_path)
    scope: dict = {}
    exec(compile(example, "README.md", "exec"), scope)
    assert scope["out"].logits.shape == (2, 32, 256)
    assert (tmp_path / "my-hybrid" / "model.safetensors").exists()


def test_readme_inference_example_runs(tmp_path, monkeypatch):
    """The second Python example (generate, pipeline) on a stand-in for the demo's saved hybrid."""
    import sys

    import torch

    sys.path.insert(0, str(Path(__file__).parent))
    from conftest import tiny_config

    from manticore import ManticoreForCausalLM
    from manticore.tasks.tokenizers import ByteTokenizer

    example = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)[1]
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0)
    hybrid = ManticoreForCausalLM.from_components(
        [tiny_config("gpt_neo", vocab=259, max_positions=256), tiny_config("mamba", vocab=259)], num_blocks=2)
    hybrid.save_pretrained("runs/demo/retrain/model")
    ByteTokenizer().hf_tokenizer().save_pretrained("runs/demo/retrain/model")
    scope: dict = {}
    exec(compile(example, "README.md", "exec"), scope)
    assert len(scope["texts"]) == 2 and all(t.startswith(p) for t, p in zip(scope["texts"], scope["prompts"]))
    assert scope["generated"][0]["generated_text"].startswith("To be")
