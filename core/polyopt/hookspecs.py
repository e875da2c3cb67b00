"""Hook specifications: every extension point a plugin can implement, each prefixed ``polyopt_``.

A plugin module (an entry point in the ``polyopt`` group) defines functions with these names, decorated with
``polyopt.hookimpl``. Only ``polyopt_register`` is required to add things; the others observe runs (for loggers
and trackers) and must not change them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from polyopt.optimizer import Optimizer
    from polyopt.registry import Registry
    from polyopt.result import RunResult

hookspec = pluggy.HookspecMarker("polyopt")
hookimpl = pluggy.HookimplMarker("polyopt")

__all__ = ["hookspec", "hookimpl"]


@hookspec(historic=True)
def polyopt_register(registry: Registry) -> None:
    """Add names to the registry: ``registry.add(kind, name, "module:attr", summary=...)``.

    Use lazy ``"module:attr"`` targets so that registering imports nothing heavy. Third-party names carry the
    plugin's prefix (``"acme.hill-climb"``).

    Args:
        registry: the process-wide registry.
    """


@hookspec
def polyopt_run_started(optimizer: Optimizer, problem: Any, budget: Any) -> None:
    """Called once before the first step of a run.

    Args:
        optimizer: the optimizer, already constructed.
        problem: the Objective or Environment.
        budget: the run's :class:`polyopt.Budget`.
    """


@hookspec
def polyopt_step_finished(optimizer: Optimizer, step: int, metrics: dict[str, float]) -> None:
    """Called after every step with that step's metrics.

    Args:
        optimizer: the optimizer.
        step: the step's number, from 1.
        metrics: what ``optimizer.step()`` returned.
    """


@hookspec
def polyopt_run_finished(optimizer: Optimizer, result: RunResult) -> None:
    """Called once after the last step.

    Args:
        optimizer: the optimizer.
        result: the run's result.
    """
