"""The workflow: the application built on the training library (`manticore.train`) and the report
(`manticore.report`), the one layer that imports both.

    stages/         one module per stage (settings dataclass, function over models, runner), and their registry
    run_config.py   a run's YAML config, validated into typed settings
    experiments.py  the paper's experiments (configs/experiments.yaml) run and tabled into EXPERIMENTS.md

    from manticore.workflow.run_config import load_run_config
    from manticore.workflow.stages import run_workflow
    run_workflow(load_run_config("src/manticore/configs/demo.yaml"))
"""
