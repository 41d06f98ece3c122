"""Deprecated: moved to `manticore.tasks.seeded_rng`; this path works for one more release."""

from .._deprecated import alias

alias(__name__, "manticore.tasks.seeded_rng")
