"""BoTorch's private and recent APIs the BO family uses, in one place, each with a version check and a fallback.

polyopt is tested with the BoTorch series in :data:`TESTED` (pyproject's minimum). Four things it uses are not
BoTorch's public, stable API:

- ``botorch.acquisition.analytic._log_ei_helper`` — the numerically careful ``log h(u)`` of LogEI, which the
  closed-form LogEI path (:mod:`.moments`) evaluates; without it that path is off and LogEI runs through
  BoTorch's own class (same values, about twice the time per proposal).
- ``botorch.optim.batched_lbfgs_b`` — BoTorch's batched L-BFGS-B (new in the 0.1x series), which the closed-form
  LogEI path drives; without it acquisitions are optimized with ``optimize_acqf``.
- ``botorch.acquisition.multi_objective.logei._try_load_fused_kernel`` — loads the fused C++ kernel of log
  hypervolume improvement ahead of the timed steps; without it there is nothing to warm up.
- ``optimize_acqf(retry_on_optimization_warning=...)`` — turned off (see :mod:`.acqopt`); older versions
  always retry.

Outside :data:`TESTED` the fast paths are switched off rather than trusted: everything still runs, on BoTorch's
public classes.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from importlib.metadata import version
from typing import Any

__all__ = [
    "TESTED",
    "VERSION",
    "batched_lbfgs_b",
    "log_ei_helper",
    "load_fused_hypervolume_kernel",
    "optimize_acqf_options",
]

#: The BoTorch (major, minor) series CI runs; its private APIs are trusted only there.
TESTED = ((0, 18),)


def _version() -> tuple[int, int]:
    parts = version("botorch").split(".")
    return int(parts[0]), int("".join(ch for ch in parts[1] if ch.isdigit()) or 0)


VERSION = _version()


def _trusted() -> bool:
    return VERSION in TESTED


@functools.cache
def log_ei_helper() -> Callable[[Any], Any] | None:
    """BoTorch's ``_log_ei_helper(u) = log(phi(u) + u Phi(u))``, or None (closed-form LogEI off)."""
    if not _trusted():
        return None
    from botorch.acquisition import analytic

    return getattr(analytic, "_log_ei_helper", None)


@functools.cache
def batched_lbfgs_b() -> tuple[Callable[..., Any], Callable[..., Any]] | None:
    """``(fmin_l_bfgs_b_batched, translate_bounds_for_lbfgsb)``, or None (use ``optimize_acqf``)."""
    if not _trusted():
        return None
    try:
        from botorch.optim.batched_lbfgs_b import fmin_l_bfgs_b_batched, translate_bounds_for_lbfgsb
    except ImportError:
        return None
    return fmin_l_bfgs_b_batched, translate_bounds_for_lbfgsb


def load_fused_hypervolume_kernel() -> bool:
    """Load (compiling once per machine) BoTorch's fused log-HVI kernel; False when this BoTorch has none."""
    from botorch.acquisition.multi_objective import logei

    load = getattr(logei, "_try_load_fused_kernel", None) if _trusted() else None
    if load is None:
        return False
    load()
    return True


@functools.cache
def optimize_acqf_options() -> dict[str, Any]:
    """Extra keyword arguments for ``optimize_acqf``: no restart of every start when one start warns."""
    from botorch.optim import optimize_acqf

    params = inspect.signature(optimize_acqf).parameters
    return (
        {"retry_on_optimization_warning": False}
        if "retry_on_optimization_warning" in params
        else {}
    )
