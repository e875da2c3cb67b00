"""Exceptions raised by polyopt. Every message names the offending value and what was expected."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = [
    "PolyoptError",
    "ConfigError",
    "UnknownNameError",
    "SpaceError",
    "EvaluationError",
    "IncompatibleProblemError",
    "PluginError",
    "PluginCollisionError",
    "did_you_mean",
]


class PolyoptError(Exception):
    """Base class of every error polyopt raises on purpose."""


class ConfigError(PolyoptError, ValueError):
    """A configuration key or value is invalid."""


class UnknownNameError(ConfigError, KeyError):
    """A registry name (optimizer, objective, ...) is not registered."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class SpaceError(PolyoptError, ValueError):
    """A search space is ill-defined, or a point lies outside it."""


class EvaluationError(PolyoptError, ValueError):
    """An objective returned values of the wrong shape, dtype or device."""


class IncompatibleProblemError(PolyoptError, TypeError):
    """An optimizer cannot handle the given problem (space kind, objectives, constraints)."""


class PluginError(PolyoptError, RuntimeError):
    """A plugin could not be loaded or registered."""


class PluginCollisionError(PluginError):
    """Two plugins claim the same name."""


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """Return ``" Did you mean 'x'?"`` for the closest candidate, or ``""`` if none is close.

    Args:
        name: the misspelt name.
        candidates: the valid names.
    """
    close = difflib.get_close_matches(name, list(candidates), n=3, cutoff=0.6)
    if not close:
        return ""
    return " Did you mean " + " or ".join(repr(c) for c in close) + "?"
