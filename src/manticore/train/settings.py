"""Deprecated: moved to `manticore.settings`; this path works for one more release."""

from .._deprecated import alias

alias(__name__, "manticore.settings")
