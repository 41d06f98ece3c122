"""Deprecated: moved to `manticore.rundir`; this path works for one more release."""

from .._deprecated import alias

alias(__name__, "manticore.rundir")
