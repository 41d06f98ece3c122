"""Deprecated: moved to `manticore.tools.bench`; this path works for one more release."""

from ._deprecated import alias

alias(__name__, "manticore.tools.bench", old="manticore.bench")
