"""A stored study as tables: per-run outcomes, convergence curves across seeds, and final-metric statistics with
Wilcoxon rank-sum tests against the best optimizer."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polyopt.study.definition import Study
from polyopt.study.storage import RunRecord, Storage

__all__ = ["RunData", "Row", "ProblemData", "collect", "METRIC_NAMES", "HIGHER_IS_BETTER"]

METRIC_NAMES = {"hv": "hypervolume", "igd": "IGD", "igd-plus": "IGD+", "best": "best value"}
HIGHER_IS_BETTER = {"hv": True, "igd": False, "igd-plus": False}
ALPHA = 0.05


@dataclass
class RunData:
    """One run's outcome."""

    key: str
    optimizer: str
    problem: str
    seed: int
    status: str
    n_evaluations: int
    wall_time: float
    final: dict[str, float]
    front: np.ndarray
    trace: list[dict[str, Any]]
    error: str | None
    config: dict[str, Any] = field(default_factory=dict)


@dataclass
class Row:
    """One optimizer on one problem: final metrics across seeds."""

    optimizer: str
    n_done: int
    n_runs: int
    wall_time: float
    stats: dict[str, dict[str, float | str | None]] = field(default_factory=dict)


@dataclass
class ProblemData:
    """Everything the report shows for one problem."""

    label: str
    n_objectives: int
    curve_metric: str | None
    curves: dict[str, dict[str, np.ndarray]]
    fronts: dict[str, np.ndarray]
    true_front: np.ndarray | None
    rows: list[Row]
    metrics: list[str]


def collect(storage: Storage, name: str) -> tuple[Study, list[RunData], list[ProblemData]]:
    """Read study ``name`` from ``storage`` and compute every table and curve of its report."""
    study = storage.load_study(name)
    runs = [_run_data(storage, r) for r in storage.runs(storage.study_id(name))]
    problems = [
        _problem(study, p.label, [r for r in runs if r.problem == p.label]) for p in study.problems
    ]
    return study, runs, problems


def _run_data(storage: Storage, r: RunRecord) -> RunData:
    res = r.result or {}
    front = np.asarray(res.get("f") or [], dtype=np.float64)
    final = {
        k: (math.nan if v is None else float(v)) for k, v in (res.get("metrics") or {}).items()
    }
    return RunData(
        key=r.key,
        optimizer=r.spec.optimizer_label,
        problem=r.spec.problem_label,
        seed=r.spec.seed,
        status=r.status,
        n_evaluations=r.n_evaluations,
        wall_time=r.wall_time,
        final=final,
        front=front,
        trace=storage.metrics(r.id),
        error=r.error,
        config=res.get("config") or dict(r.spec.config),
    )


def _problem(study: Study, label: str, runs: list[RunData]) -> ProblemData:
    spec = next(p for p in study.problems if p.label == label)
    true_front, m = _true_front(spec)
    metrics = [k for k in ("hv", "igd", "igd-plus", "best") if any(k in r.final for r in runs)]
    curve_metric = next((k for k in ("hv", "best", "igd") if k in metrics), None)
    labels = [o.label for o in study.optimizers]
    done = [r for r in runs if r.status == "done"]
    curves = {}
    if curve_metric is not None:
        for opt in labels:
            c = _curve([r for r in done if r.optimizer == opt], curve_metric)
            if c is not None:
                curves[opt] = c
    fronts = {
        opt: _median_front([r for r in done if r.optimizer == opt], curve_metric) for opt in labels
    }
    rows = _rows(labels, runs, metrics, _best_higher(study, spec))
    return ProblemData(
        label=label,
        n_objectives=m,
        curve_metric=curve_metric,
        curves=curves,
        fronts={k: v for k, v in fronts.items() if v is not None},
        true_front=true_front,
        rows=rows,
        metrics=metrics,
    )


def _true_front(spec: Any) -> tuple[np.ndarray | None, int]:
    from polyopt.study.definition import make_problem

    try:
        problem = make_problem(spec.name, spec.options)
    except Exception:  # the report still works when the problem's plugin is gone
        return None, 0
    m = problem.n_objectives
    front = problem.pareto_front(400) if m > 1 else None
    return (None if front is None else front.detach().cpu().double().numpy()), m


def _best_higher(study: Study, spec: Any) -> bool:
    """Whether a higher "best value" is better (the problem maximizes its single objective)."""
    from polyopt.study.definition import make_problem

    try:
        return tuple(make_problem(spec.name, spec.options).directions) == ("maximize",)
    except Exception:
        return False


def _curve(runs: list[RunData], metric: str, points: int = 120) -> dict[str, np.ndarray] | None:
    """Median and quartiles across runs of ``metric`` on a common evaluation grid (last value carried)."""
    traces = [[(t["n_evaluations"], t["values"].get(metric)) for t in r.trace] for r in runs]
    traces = [[(n, v) for n, v in t if v is not None and math.isfinite(v)] for t in traces]
    traces = [t for t in traces if t]
    if not traces:
        return None
    hi = max(t[-1][0] for t in traces)
    lo = min(t[0][0] for t in traces)
    grid = np.unique(np.linspace(lo, hi, points).round())
    ys = np.full((len(traces), grid.size), np.nan)
    for i, t in enumerate(traces):
        n = np.asarray([p[0] for p in t], dtype=np.float64)
        v = np.asarray([p[1] for p in t], dtype=np.float64)
        idx = np.searchsorted(n, grid, side="right") - 1
        ys[i] = np.where(idx >= 0, v[np.clip(idx, 0, None)], np.nan)
    with np.errstate(all="ignore"):
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)
            q25, med, q75 = np.nanpercentile(ys, [25, 50, 75], axis=0)
    return {"x": grid, "median": med, "q25": q25, "q75": q75}


def _median_front(runs: list[RunData], metric: str | None) -> np.ndarray | None:
    """The front of the run whose final ``metric`` is the median (the typical run, not the luckiest)."""
    runs = [r for r in runs if r.front.size]
    if not runs:
        return None
    if metric is not None:
        runs = sorted(runs, key=lambda r: _nan_last(r.final.get(metric, math.nan)))
        finite = [r for r in runs if math.isfinite(r.final.get(metric, math.nan))]
        runs = finite or runs
    return runs[(len(runs) - 1) // 2].front


def _nan_last(v: float) -> float:
    return v if math.isfinite(v) else math.inf


def _rows(
    labels: list[str], runs: list[RunData], metrics: list[str], best_higher: bool
) -> list[Row]:
    rows = []
    for opt in labels:
        mine = [r for r in runs if r.optimizer == opt]
        done = [r for r in mine if r.status == "done"]
        wall = float(np.median([r.wall_time for r in done])) if done else math.nan
        rows.append(Row(optimizer=opt, n_done=len(done), n_runs=len(mine), wall_time=wall))
    for metric in metrics:
        higher = HIGHER_IS_BETTER.get(metric, best_higher)
        values = {
            opt: np.asarray(
                [
                    r.final.get(metric, math.nan)
                    for r in runs
                    if r.optimizer == opt and r.status == "done"
                ],
                dtype=np.float64,
            )
            for opt in labels
        }
        values = {k: v[np.isfinite(v)] for k, v in values.items()}
        _stats(rows, values, metric, higher)
    return rows


def _stats(rows: list[Row], values: dict[str, np.ndarray], metric: str, higher: bool) -> None:
    """Median, IQR and the rank-sum p-value against the optimizer with the best median."""
    from scipy.stats import ranksums

    medians = {k: float(np.median(v)) for k, v in values.items() if v.size}
    best = (max if higher else min)(medians, key=medians.get) if medians else None
    for row in rows:
        v = values[row.optimizer]
        entry: dict[str, float | str | None] = {
            "median": None,
            "iqr": None,
            "p_value": None,
            "verdict": "n/a",
        }
        if v.size:
            q25, q75 = np.percentile(v, [25, 75])
            entry.update(median=float(np.median(v)), iqr=float(q75 - q25))
            if row.optimizer == best:
                entry["verdict"] = "best"
            elif best is not None and values[best].size:
                p = float(ranksums(v, values[best]).pvalue)
                entry["p_value"] = None if math.isnan(p) else p
                entry["verdict"] = "worse" if p < ALPHA else "tie"
        row.stats[metric] = entry
