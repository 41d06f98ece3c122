"""Deprecated: moved to `manticore.workflow.run_config`; this path works for one more release."""

from .._deprecated import alias

alias(__name__, "manticore.workflow.run_config")
