"""A saved hybrid loads by path through transformers' custom-code mechanism in a process that never imported
manticore: its config.json has an `auto_map`, and it carries modeling_manticore.py, which takes the classes from
the installed package. Without trust_remote_code, transformers refuses and says why."""

import os
import subprocess
import sys
import textwrap

import torch

from manticore import ManticoreForCausalLM
from manticore.tasks.tokenizers import ByteTokenizer
from conftest import tiny_config

FRESH_PROCESS = textwrap.dedent("""
    import sys
    import torch
    from transformers import AutoModelForCausalLM, pipeline

    path = sys.argv[1]
    try:
        AutoModelForCausalLM.from_pretrained(path)
        print("loaded without trust_remote_code")
    except ValueError as err:
        print("refused:", "trust_remote_code=True" in str(err))
    assert "manticore" not in sys.modules
    model = AutoModelForCausalLM.from_pretrained(path, trust_remote_code=True)
    ids = torch.load(path + "/ids.pt")
    with torch.no_grad():
        torch.save(model(input_ids=ids).logits, path + "/logits-fresh.pt")
    torch.save(model.state_dict(), path + "/state-fresh.pt")
    generator = pipeline("text-generation", model=path, trust_remote_code=True, device="cpu")
    text = generator("abc", max_new_tokens=3, do_sample=False)[0]["generated_text"]
    print("class:", type(model).__name__, "pipeline:", text.startswith("abc"))
""")


def test_a_saved_hybrid_loads_by_path_in_a_fresh_process(tmp_path):
    torch.manual_seed(0)
    configs = [tiny_config("gpt_neo", vocab=259), tiny_config("mamba", vocab=259)]
    hybrid = ManticoreForCausalLM.from_components(configs, num_blocks=2).eval()
    hybrid.set_mixture_weights([[0.3, 0.7], [0.8, 0.2]])
    hybrid.save_pretrained(tmp_path)
    ByteTokenizer().hf_tokenizer().save_pretrained(tmp_path)
    ids = torch.randint(0, 256, (2, 9))
    torch.save(ids, tmp_path / "ids.pt")
    (tmp_path / "fresh.py").write_text(FRESH_PROCESS)
    env = {**os.environ, "HF_MODULES_CACHE": str(tmp_path / "hf_modules"), "HF_HUB_OFFLINE": "1"}
    run = subprocess.run([sys.executable, str(tmp_path / "fresh.py"), str(tmp_path)], capture_output=True,
                         text=True, env=env, stdin=subprocess.DEVNULL, cwd=tmp_path, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert "refused: True" in run.stdout
    assert "class: ManticoreForCausalLM pipeline: True" in run.stdout
    loaded = torch.load(tmp_path / "state-fresh.pt")
    assert loaded.keys() == hybrid.state_dict().keys()
    assert all(torch.equal(loaded[k], v) for k, v in hybrid.state_dict().items())  # the same weights, exactly
    with torch.no_grad():
        expected = hybrid(input_ids=ids).logits
    # the same function: another process may split the CPU work differently, so allow float32 rounding
    torch.testing.assert_close(torch.load(tmp_path / "logits-fresh.pt"), expected, rtol=1e-6, atol=1e-6)
