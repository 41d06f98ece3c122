"""Deprecated: moved to `manticore.tasks.lra_image`; this path works for one more release."""

from .._deprecated import alias

alias(__name__, "manticore.tasks.lra_image")
