"""Deprecated: moved to `manticore.tools.families`; this path works for one more release."""

from .._deprecated import alias

alias(__name__, "manticore.tools.families", old="manticore.components.sweep")
