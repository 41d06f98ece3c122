"""Loading a saved hybrid is strict (issue 11, point 5): a truncated or zeroed weights file, NaN weights, a deleted
tensor, an invalid config.json and a config whose components were swapped are named errors; strict=False opts in."""

import json

import pytest
import torch
from safetensors.torch import load_file, save_file

from manticore import ManticoreForCausalLM
from manticore.hybrid.build import load_hybrid
from conftest import tiny_config


@pytest.fixture
def saved(tmp_path):
    torch.manual_seed(0)
    hybrid = ManticoreForCausalLM.from_components([tiny_config("gpt_neo"), tiny_config("mamba")], num_blocks=2)
    hybrid.set_mixture_weights([[1.0, 0.0], [0.5, 0.5]])  # an exact zero: -inf logits load fine
    hybrid.save_pretrained(tmp_path)
    return tmp_path


def rewrite(folder, change):
    path = folder / "model.safetensors"
    tensors = load_file(path)
    change(tensors)
    save_file(tensors, path, metadata={"format": "pt"})


def test_a_good_checkpoint_loads(saved):
    assert load_hybrid(saved).mixture_weights()[0].tolist() == [1.0, 0.0]


@pytest.mark.parametrize("damage", ["truncated", "zeroed"])
def test_a_damaged_weights_file_is_named(saved, damage):
    path = saved / "model.safetensors"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if damage == "truncated" else b"\0" * 100)
    with pytest.raises(ValueError, match=f"{saved}: a weights file is corrupt"):
        load_hybrid(saved)


def test_nan_weights_are_named_unless_opted_in(saved):
    rewrite(saved, lambda t: t.__setitem__("model.blocks.0.proj_in.0.linear.bias",
                                           torch.full_like(t["model.blocks.0.proj_in.0.linear.bias"], float("nan"))))
    with pytest.raises(ValueError, match=r"non-finite weights in model.blocks.0.proj_in.0.linear.bias"):
        ManticoreForCausalLM.from_pretrained(saved)
    assert ManticoreForCausalLM.from_pretrained(saved, strict=False) is not None


def test_a_missing_tensor_is_named(saved):
    rewrite(saved, lambda t: t.pop("lm_head.weight"))
    with pytest.raises(ValueError, match=r"don't match the hybrid .*\(1 missing: lm_head.weight\)"):
        load_hybrid(saved)


def test_swapped_components_in_the_config_are_named(saved):
    config = json.loads((saved / "config.json").read_text())
    config["components"], config["adapters"] = config["components"][::-1], config["adapters"][::-1]
    (saved / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"don't match the hybrid its config.json describes \(\d+ missing: "):
        load_hybrid(saved)


def test_an_invalid_config_is_named(saved):
    (saved / "config.json").write_text("{not json")
    with pytest.raises(OSError, match="config.json' is not a valid JSON file"):
        load_hybrid(saved)
