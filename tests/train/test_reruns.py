"""Running a stage again into its directory: without --resume it says what it replaces; with --resume a
finished stage says so and writes nothing."""

from manticore.workflow.run_config import CONFIGS, load_run_config
from manticore.workflow.stages import run_stage

TINY = ["train.max_steps=2", "train.batch_size=4", "task.num_train=16", "task.num_test=8", "task.num_validation=8",
        "stages.search.train.max_steps=2"]


def test_a_rerun_says_what_it_replaces_and_resume_keeps_a_finished_stage(tmp_path, capsys):
    cfg = load_run_config(CONFIGS / "c2-striped.yaml", [f"out_dir={tmp_path}", *TINY])
    first = run_stage(cfg, "search")
    assert "replacing" not in capsys.readouterr().out  # nothing there before
    model = tmp_path / "search" / "model" / "model.safetensors"
    stamp = model.stat().st_mtime_ns

    again = run_stage(cfg, "search")
    assert f"search: replacing a finished result in {tmp_path / 'search'} (--resume would keep it)" in capsys.readouterr().out
    assert again["test"] == first["test"]  # the same settings and seed: the same run
    stamp = model.stat().st_mtime_ns

    kept = run_stage(cfg, "search", resume=True)
    out = capsys.readouterr().out
    assert f"search: a finished result is in {tmp_path / 'search'}; --resume keeps what finished" in out
    assert kept == again and model.stat().st_mtime_ns == stamp  # nothing rewritten


def test_prune_deletes_finished_checkpoints_and_resume_keeps_the_pruned_stage(tmp_path, capsys):
    from manticore import rundir
    from manticore.cli import main

    cfg = load_run_config(CONFIGS / "c2-striped.yaml", [f"out_dir={tmp_path}", *TINY])
    first = run_stage(cfg, "search")
    unfinished = tmp_path / "retrain" / "half"
    unfinished.mkdir(parents=True)
    (unfinished / rundir.CHECKPOINT).write_bytes(b"x" * 10)  # no result.json beside it: it can still resume
    checkpoints = [p for p in (tmp_path / "search").rglob("checkpoint*.pt")]
    assert checkpoints
    capsys.readouterr()
    assert main(["prune", str(tmp_path), "--dry-run"]) == 0
    assert "would remove" in capsys.readouterr().out and all(p.exists() for p in checkpoints)
    assert main(["prune", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert f"removed {len(checkpoints)} checkpoint(s)" in out and "of finished runs in search;" in out
    assert "Kept the checkpoints of unfinished runs (they can resume): retrain/half." in out
    assert not any(p.exists() for p in checkpoints) and (unfinished / rundir.CHECKPOINT).exists()
    assert (tmp_path / "search" / "model" / "model.safetensors").exists()
    assert rundir.read_json(tmp_path / "search" / rundir.PRUNED)["files"] == len(checkpoints)
    kept = run_stage(cfg, "search", resume=True)
    assert "search: finished, and its checkpoints were pruned" in capsys.readouterr().out
    assert kept["test"] == first["test"] and not any(p.exists() for p in checkpoints)  # nothing trained again

    run_stage(cfg, "search")  # trained again, afresh: no longer pruned
    assert not (tmp_path / "search" / rundir.PRUNED).exists() and (tmp_path / "search" / rundir.CHECKPOINT).exists()
