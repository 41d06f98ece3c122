"""Reports of training runs: `write_report(run_dir)` -> run_dir/report.md with loss, α and sweep plots
and the comparison of the hybrid against its components (`manticore report RUN_DIR`)."""

from .report import write_report

__all__ = ["write_report"]
