"""Quality indicators (kind ``metric``, owned by core)."""

from __future__ import annotations

import inspect
from typing import Any, Protocol, runtime_checkable

from torch import Tensor

__all__ = ["METRIC_INPUTS", "Metric", "metric_input"]

#: What a metric's second argument may be, by its parameter name.
METRIC_INPUTS = ("ref_point", "front", "weights")


@runtime_checkable
class Metric(Protocol):
    """``metric(f: n x m, [reference]) -> float`` on minimization-form objective values.

    The name of the optional second parameter says what the metric needs (see :func:`metric_input`):
    ``ref_point`` (``m``, e.g. hypervolume), ``front`` (``k x m`` points of the true Pareto front, e.g. IGD),
    ``weights`` (``w x m`` preference weights, optional, e.g. expected utility), or nothing (e.g. spacing).
    """

    def __call__(self, f: Tensor, /, *args: Any, **kwargs: Any) -> float: ...


def metric_input(metric: Any) -> str | None:
    """What ``metric`` needs besides ``f``: ``"ref_point"``, ``"front"``, ``"weights"`` or None."""
    try:
        params = list(inspect.signature(metric).parameters.values())
    except (TypeError, ValueError):  # a builtin without a signature takes f alone
        return None
    second = params[1].name if len(params) > 1 else None
    return second if second in METRIC_INPUTS else None


def check_metric(target: Any) -> str | None:
    """The ``metric`` kind's registry check."""
    if not callable(target):
        return f"expected a callable metric(f, ...), got {target!r}"
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return None
    if not params:
        return "expected metric(f, ...) to take the objective values first"
    second = params[1] if len(params) > 1 else None
    if (
        second is not None
        and second.kind in (second.POSITIONAL_ONLY, second.POSITIONAL_OR_KEYWORD)
        and second.default is second.empty
        and second.name not in METRIC_INPUTS
    ):
        return (
            f"its second parameter {second.name!r} is required but not one of {METRIC_INPUTS}, so "
            "polyopt cannot tell what to pass"
        )
    return None
