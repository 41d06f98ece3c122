"""The report's cost-quality section on synthetic run directories: the table read back by its headers, the figure,
the sentence on points about as fast as the cheapest component, and pareto.json missing or malformed."""

import json

import numpy as np
import pytest

from manticore.report import write_report
from manticore.report.sections.pareto import pareto_optimal

from test_report import check_png, write_results, write_stage

MIB = 1 << 20


def point(kind, name, seconds, kv4k, kv32k, params, loss, std, layout=None, alphas=None, budget=None, n=3):
    return {"kind": kind, "name": name, "budget": budget, "layout": layout, "alphas": alphas,
            "cost": {"decode_s_per_token": seconds, "decode_tokens_per_s": 1 / seconds, "kv_bytes@4096": kv4k,
                     "kv_bytes@32768": kv32k, "params": params, "flops@4096": 1e6, "relative": seconds / 0.001},
            "test": None if loss is None else {"loss": {"mean": loss, "std": std, "n": n, "values": [loss] * n}}}


def points(budget_loss=2.51, budget_seconds=0.00105):
    """GPT-Neo, Mamba (the faster, 1 ms/token), the full mixture and two budget points; budget 1.5 has the best
    loss of all but decodes at 1.4x Mamba's time, so only budget 1.1 can qualify (when its loss beats Mamba's)."""
    return [
        point("component", "gpt_neo", 0.002, 2 * MIB, 16 * MIB, 265_474, 2.60, 0.01, layout=[0, 0]),
        point("component", "mamba", 0.001, 0, 0, 168_386, 2.54, 0.02, layout=[1, 1]),
        point("mixture", "hybrid", 0.003, MIB, 8 * MIB, 400_708, 2.50, 0.01, alphas=[[0.2, 0.8], [0.3, 0.7]]),
        point("budget", "budget 1.1", budget_seconds, MIB, 8 * MIB, 225_092, budget_loss, 0.005, layout=[0, 1],
              budget=1.1),
        point("budget", "budget 1.5", 0.0014, MIB, 8 * MIB, 208_772, 2.49, 0.01, layout=[1, 0], budget=1.5),
    ]


def write_run(run, front=None, text=None):
    """A run directory the report accepts (one stage), with pareto/pareto.json as `front` (or raw `text`)."""
    write_stage(run / "search", steps=4)
    if front is not None or text is not None:
        (run / "pareto").mkdir(parents=True)
        (run / "pareto" / "pareto.json").write_text(text if text is not None else json.dumps(front))
    return write_report(run).read_text()


def pareto_json(pts):
    return {"kind": "pareto", "task": "lm/completions", "metric": "loss", "measure": "decode_latency",
            "context": 4096, "unit": 0.001, "components": ["gpt_neo", "mamba"], "points": pts}


def table_rows(text, first_header):
    """The rows of the Markdown table whose header starts with `first_header`, as {header: cell}."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("|") and cells[0] == first_header:
            rows = []
            for row in lines[i + 2:]:
                if not row.startswith("|"):
                    break
                rows.append(dict(zip(cells, (c.strip() for c in row.strip().strip("|").split("|")))))
            return rows
    raise AssertionError(f"no table with a header starting {first_header!r}")


def pareto_section(text):
    start = text.index("## Cost against quality")
    end = text.find("\n## ", start + 1)
    return text[start:end if end > 0 else None]


def test_the_table_reads_back_by_its_headers(tmp_path):
    text = write_run(tmp_path / "run", pareto_json(points()))
    rows = {row["name"]: row for row in table_rows(pareto_section(text), "name")}
    assert list(rows) == ["gpt_neo", "mamba", "hybrid", "budget 1.1", "budget 1.5"]
    assert rows["gpt_neo"] == {"name": "gpt_neo", "layout / α": "gpt_neo, gpt_neo", "decode tokens/s": "500",
                               "KV @ 4K": "2.00 MiB", "KV @ 32K": "16.0 MiB", "params": "265k",
                               "test loss mean ± std (n)": "2.6000 ± 0.0100 (3)"}
    assert rows["mamba"]["KV @ 4K"] == "0 B" and rows["mamba"]["decode tokens/s"] == "1,000"
    assert rows["hybrid"]["layout / α"] == "[0.20 0.80] [0.30 0.70]"
    assert rows["budget 1.1"]["layout / α"] == "gpt_neo, mamba" and rows["budget 1.1"]["decode tokens/s"] == "952"
    assert rows["budget 1.1"]["params"] == "225k" and rows["budget 1.1"]["KV @ 32K"] == "8.00 MiB"
    assert rows["budget 1.5"]["test loss mean ± std (n)"] == "2.4900 ± 0.0100 (3)"


def test_the_figure_is_written_after_the_comparison(tmp_path):
    (tmp_path / "run").mkdir()
    write_results(tmp_path / "run")
    text = write_run(tmp_path / "run", pareto_json(points()))
    assert text.index("## Components against the hybrid") < text.index("## Cost against quality") \
        < text.index("## Architecture-loss landscape")
    assert "![test metric against decode speed and KV-cache bytes](pareto-pareto.png)" in text
    check_png(tmp_path / "run" / "pareto-pareto.png")


def test_a_point_as_fast_as_the_cheaper_component_that_beats_both(tmp_path):
    section = pareto_section(write_run(tmp_path / "run", pareto_json(points())))
    assert ("Yes: **budget 1.1** decodes in 1.050 ms/token, 1.05× the cheaper component's time (mamba: 1.000 "
            "ms/token; the limit is 1.1×), and its mean test loss, 2.5100 ± 0.0050 (n = 3), beats every component's: "
            "it is 0.0300 (1.2%) better than the best component's (mamba: 2.5400 ± 0.0200 (n = 3)).") in section
    assert "no significance test" in section and "budget 1.5**" not in section  # 1.4x Mamba's time: not a candidate


def test_no_such_point_when_the_fast_ones_are_worse(tmp_path):
    section = pareto_section(write_run(tmp_path / "run", pareto_json(points(budget_loss=2.56))))
    assert "Yes:" not in section
    assert ("No such point: of the points within 1.1× the cheaper component's measured decode time (mamba: 1.000 "
            "ms/token), the best, **budget 1.1** (1.050 ms/token), has mean test loss 2.5600 ± 0.0050 (n = 3), not "
            "better than the best component's (mamba: 2.5400 ± 0.0200 (n = 3))") in section


def test_no_such_point_when_none_is_fast_enough(tmp_path):
    section = pareto_section(write_run(tmp_path / "run", pareto_json(points(budget_seconds=0.0012))))
    assert "No such point: none besides the components decodes within 1.1× the cheaper component's" in section


def test_a_point_without_test_metrics_is_tabulated_not_drawn(tmp_path):
    pts = points()
    pts[0]["test"] = None
    text = write_run(tmp_path / "run", pareto_json(pts))
    row = next(r for r in table_rows(pareto_section(text), "name") if r["name"] == "gpt_neo")
    assert row["test loss mean ± std (n)"] == "—" and row["params"] == "265k"
    assert "`gpt_neo` has no test loss: in the table, not drawn" in text
    assert "(gpt_neo has no test loss and is not compared.)" in text
    check_png(tmp_path / "run" / "pareto-pareto.png")


def test_one_seed_has_no_spread(tmp_path):
    """pareto.json writes std 0 for a single seed: the report shows the mean alone, as the comparison does."""
    pts = points()
    pts[1]["test"]["loss"].update(std=0.0, n=1, values=[2.54])
    section = pareto_section(write_run(tmp_path / "run", pareto_json(pts)))
    row = next(r for r in table_rows(section, "name") if r["name"] == "mamba")
    assert row["test loss mean ± std (n)"] == "2.5400 (1)"
    assert "the best component's (mamba: 2.5400 (n = 1))" in section


def test_pareto_optimal_points():
    speed = np.array([500, 1000, 333, 952, 714.0])  # tokens/s: higher is better
    loss = np.array([2.60, 2.54, 2.50, 2.51, 2.49])
    assert pareto_optimal(speed, loss, x_higher_better=True, y_lower_better=True) == [4, 3, 1]
    kv = np.array([2.0, 0.0, 1.0, 1.0, np.nan])  # bytes: lower is better; a point without the cost is left out
    assert pareto_optimal(kv, loss, x_higher_better=False, y_lower_better=True) == [1, 2]  # 2 beats 3 at equal cost
    accuracy = 5 - loss  # higher is better: the same front
    assert pareto_optimal(speed, accuracy, x_higher_better=True, y_lower_better=False) == [4, 3, 1]


@pytest.mark.parametrize("text, said", [
    ("{not json", "`pareto/pareto.json` could not be read"),
    (json.dumps({"kind": "pareto", "points": "none"}), "`pareto/pareto.json` has no list of `points`"),
    (json.dumps(pareto_json([{"kind": "galaxy"}, 3])), "`pareto/pareto.json` has no usable point"),
])
def test_malformed_pareto_json_is_a_note_not_a_crash(tmp_path, text, said):
    report = write_run(tmp_path / "run", text=text)
    notes = report[report.index("## Not in this report"):report.index("## Cost against quality")]
    assert said in notes
    assert "| name |" not in report  # no table from a file it could not use


def test_a_bad_point_among_good_ones_is_left_out_with_a_note(tmp_path):
    text = write_run(tmp_path / "run", pareto_json([*points(), {"kind": "budget", "cost": "cheap"}]))
    assert len(table_rows(pareto_section(text), "name")) == 5
    assert "point 5 of `pareto.json` is not a point" in text


def test_odd_values_are_dashes_not_a_crash(tmp_path):
    pts = points()
    pts[3]["cost"].update(decode_s_per_token="fast", decode_tokens_per_s=None, params=float("nan"))
    pts[3]["test"]["loss"].update(mean=float("inf"), n=float("nan"))
    pts[4]["layout"], pts[4]["test"] = [7, "x"], {"loss": "good"}
    text = write_run(tmp_path / "run", pareto_json(pts))
    rows = {r["name"]: r for r in table_rows(pareto_section(text), "name")}
    assert rows["budget 1.1"]["decode tokens/s"] == "—" and rows["budget 1.1"]["test loss mean ± std (n)"] == "—"
    assert rows["budget 1.5"]["layout / α"] == "7, x" and rows["budget 1.5"]["test loss mean ± std (n)"] == "—"
    assert "No such point: none besides the components decodes within" in text


def test_a_run_without_pareto_json_says_so(tmp_path):
    text = write_run(tmp_path / "run")
    assert "no `pareto/pareto.json` (the `pareto` stage), so no cost-quality front" in text
    assert "## Cost against quality" not in text
