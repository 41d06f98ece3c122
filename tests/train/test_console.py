"""What the console shows while a stage of many trainings runs: each progress bar says which one, i of N."""

from manticore.workflow.run_config import CONFIGS, load_run_config
from manticore.workflow.stages import run_stage


def test_baselines_bars_count_their_trainings(tmp_path, capsys):
    cfg = load_run_config(CONFIGS / "c2-striped.yaml", [
        f"out_dir={tmp_path}", "train.max_steps=2", "train.batch_size=4", "task.num_train=16", "task.num_test=8",
        "task.num_validation=8", "stages.search.train.max_steps=2", "stages.baselines.seeds=[0]"])
    run_stage(cfg, "baselines")
    err = capsys.readouterr().err
    for i, name in enumerate(["gpt_neo", "mamba", "attention-then-mamba", "mamba-then-attention", "hybrid"], 1):
        assert f"{name} seed 0 ({i}/5)" in err
