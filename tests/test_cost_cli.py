"""`manticore cost MODEL_DIR`: the printed profile of a tiny saved hybrid against the cost model's own numbers,
measured times with --latency, and a bad path as a one-line error."""

import re

import pytest

from manticore import ManticoreForCausalLM
from manticore.cli import main
from manticore.hybrid.build import load_hybrid
from manticore.hybrid.cost import CostModel
from manticore.testing import tiny_config

UNITS = {"": 1, "k": 1e3, "M": 1e6, "G": 1e9, "B": 1, "KiB": 2**10, "MiB": 2**20, "GiB": 2**30}


def number(cell):
    """'12.6k' -> 12600.0, '8.00 MiB' -> 8388608.0, '0 B' -> 0.0."""
    value, unit = re.fullmatch(r"([\d.]+)\s*([kMG]|B|KiB|MiB|GiB)?", cell).groups()
    return float(value) * UNITS[unit or ""]


def rows_of(out, first_header):
    """The rows (as {header: cell}) of the printed table whose header line starts with `first_header`."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(first_header + "  "))
    header = re.split(r"\s{2,}", lines[start].strip())
    rows = []
    for line in lines[start + 1:]:
        if not line.strip() or not re.match(r"\S", line) or len(re.split(r"\s{2,}", line.strip())) != len(header):
            break
        rows.append(dict(zip(header, re.split(r"\s{2,}", line.strip()))))
    return rows


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    path = tmp_path_factory.mktemp("cost") / "hybrid"
    hybrid = ManticoreForCausalLM.from_components([tiny_config("gpt_neo"), tiny_config("mamba")], num_blocks=2)
    hybrid.save_pretrained(path)
    return path


def test_a_branch_row_is_the_cost_models(saved, capsys):
    assert main(["cost", str(saved)]) == 0
    out = capsys.readouterr().out
    profile = CostModel.of(load_hybrid(saved)).profile([4096, 32768])
    branches = rows_of(out, "block")
    assert [(r["block"], r["component"]) for r in branches] == [("0", "gpt_neo"), ("0", "mamba"), ("1", "gpt_neo"),
                                                               ("1", "mamba")]
    for row, expected in zip(branches, profile["branches"]):
        assert int(row["layers"]) == expected["layers"]
        for column, key in (("params", "params@4096"), ("projector params", "projector_params"),
                            ("FLOPs/token@4K", "flops@4096"), ("FLOPs/token@32K", "flops@32768"),
                            ("KV@4K", "kv_bytes@4096"), ("KV@32K", "kv_bytes@32768"), ("state", "state_bytes@4096")):
            assert number(row[column]) == pytest.approx(expected[key], rel=5e-3, abs=0.5), (row, column)
    assert branches[0]["KV@4K"] == "1.00 MiB" and branches[1]["KV@32K"] == "0 B"  # attention keeps 32K positions


def test_every_layout_and_the_mixture_as_saved(saved, capsys):
    assert main(["cost", str(saved), "--context", "100", "2048"]) == 0
    out = capsys.readouterr().out
    costs = CostModel.of(load_hybrid(saved))
    layouts = rows_of(out, "layout")
    assert [r["layout"] for r in layouts][:4] == ["gpt_neo, gpt_neo", "gpt_neo, mamba", "mamba, gpt_neo",
                                                  "mamba, mamba"]
    assert layouts[4]["layout"] == "α as saved [0.50 0.50] [0.50 0.50]"
    for row, layout in zip(layouts, costs.layouts()):
        assert number(row["params"]) == pytest.approx(costs.cost(layout, "params"), rel=5e-3)
        assert number(row["FLOPs/token@2K"]) == pytest.approx(costs.cost(layout, "flops", 2048), rel=5e-3)
        assert number(row["KV@100"]) == pytest.approx(costs.cost(layout, "kv_bytes", 100), rel=5e-3)


def test_latency_prints_positive_times(saved, capsys):
    assert main(["cost", str(saved), "--latency"]) == 0
    out = capsys.readouterr().out
    measured = rows_of(out[out.index("Measured here"):], "block")
    assert len(measured) == 4 and all(float(r["decode"]) > 0 and float(r["prefill"]) > 0 for r in measured)
    sums = rows_of(out, "layout (the sum of its parts)")
    assert len(sums) == 5 and all(float(r["decode"]) > 0 for r in sums)
    speed = re.search(r"end to end: ([\d.]+) ms per decoded token, ([\d,]+) tokens/s", out)
    assert speed and float(speed.group(1)) > 0 and int(speed.group(2).replace(",", "")) > 0


@pytest.mark.parametrize("path", ["does-not-exist", "config.json", "."])
def test_a_bad_path_is_a_one_line_error(saved, tmp_path, monkeypatch, capsys, path):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "config.json").write_text("{}")
    assert main(["cost", path]) == 2
    err = capsys.readouterr().err
    assert err.startswith("manticore cost: error: ") and len(err.strip().splitlines()) == 1


def test_a_bad_context_is_refused(saved, capsys):
    assert main(["cost", str(saved), "--context", "0"]) == 2
    assert "--context 0 is not valid" in capsys.readouterr().err


def test_decode_times_layouts_end_to_end_against_each_component(saved, capsys):
    assert main(["cost", str(saved), "--decode", "mamba,gpt_neo", "1,0", "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    rows = {line.split()[0]: line.split() for line in out.splitlines()
            if line.startswith(("gpt_neo", "mamba"))}
    assert set(rows) == {"gpt_neo", "mamba", "mamba,gpt_neo"}  # the two spellings are one layout
    ratios = [float(rows[name][-1]) for name in ("gpt_neo", "mamba")]
    assert min(ratios) == 1.0 and float(rows["mamba,gpt_neo"][-1]) > 0
    assert main(["cost", str(saved), "--decode", "mamba"]) == 2
    assert "names 1 block(s); the hybrid has L=2" in capsys.readouterr().err
    assert main(["cost", str(saved), "--decode", "mamba,llama"]) == 2
    assert "'llama' is not a component; accepted: gpt_neo, mamba or 0..1" in capsys.readouterr().err
