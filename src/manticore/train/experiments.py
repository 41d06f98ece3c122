"""Deprecated: moved to `manticore.workflow.experiments`; this path works for one more release."""

from .._deprecated import alias

alias(__name__, "manticore.workflow.experiments")
