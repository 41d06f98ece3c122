"""Deprecated: moved to `manticore.workflow.stages`; this path works for one more release."""

from .._deprecated import alias

alias(__name__, "manticore.workflow.stages")
