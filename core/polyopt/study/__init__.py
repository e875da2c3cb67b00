"""Studies: grids of runs (optimizers x problems x seeds) stored in SQLite or PostgreSQL, resumable, reported.

Example:
    >>> from polyopt.study import Study
    >>> study = Study("demo", optimizers=["random-search"], problems=["zdt1"], seeds=2, budget=64)
    >>> len(study.runs())
    2

``Study`` and ``load_study`` are light; storage (SQLAlchemy), executors (Ray) and reports (matplotlib) are
imported on first use.
"""

from __future__ import annotations

from typing import Any

from polyopt.study.definition import (
    MetricsSpec,
    OptimizerSpec,
    ProblemSpec,
    RunSpec,
    Study,
    load_study,
)

__all__ = [
    "Study",
    "OptimizerSpec",
    "ProblemSpec",
    "MetricsSpec",
    "RunSpec",
    "load_study",
    "Storage",
    "Worker",
    "run_study",
    "write_report",
]

_LAZY = {
    "Storage": "polyopt.study.storage",
    "Worker": "polyopt.study.runner",
    "run_study": "polyopt.study.executors",
    "write_report": "polyopt.study.report",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'polyopt.study' has no attribute {name!r}")
