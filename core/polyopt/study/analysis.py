"""A stored study as tables: per-run outcomes, convergence curves across seeds, and final-metric statistics.

Statistics that do not mislead: optimizers are compared only with optimizers that had the same budget (one
table per budget), against the best median of their table, with the two-sided Mann-Whitney U (Wilcoxon
rank-sum) test, exact for small samples (so 3 runs against 3 can never reach p < 0.05: the smallest possible p
is 0.1), and each set metric says whether it was measured on the optimizer's population or on its archive of
every evaluation.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass, field
from itertools import combinations
from typing import Any

import numpy as np

from polyopt.study.definition import Study
from polyopt.study.names import BEST, canonical_metric, n_objectives
from polyopt.study.storage import RunRecord, Storage

__all__ = [
    "ALPHA",
    "Group",
    "ProblemData",
    "Row",
    "RunData",
    "budget_words",
    "collect",
    "higher_is_better",
    "metric_title",
    "min_p_value",
    "rank_test",
]

ALPHA = 0.05
_TITLES = {
    "hypervolume": "hypervolume",
    "igd": "IGD",
    "igd-plus": "IGD+",
    "gd": "GD",
    "gd-plus": "GD+",
    "spacing": "spacing",
    "sparsity": "sparsity",
    "cardinality": "cardinality",
    "expected-utility": "expected utility",
    BEST: "best value",
}
#: Whether a higher value is better, for the builtin metrics (a plugin's metric may say so with a
#: ``higher_is_better`` attribute on its function; without one its table shows no verdict).
_HIGHER = {
    "hypervolume": True,
    "igd": False,
    "igd-plus": False,
    "gd": False,
    "gd-plus": False,
    "spacing": False,
    "sparsity": False,
    "cardinality": True,
    "expected-utility": True,
}
#: Curves show the first of these that a problem recorded (else its first metric).
_CURVE_ORDER = ("hypervolume", BEST, "igd-plus", "igd")
#: Exact p-values enumerate every split of the two samples up to this many (5 + 5 seeds: 252).
_EXACT_SPLITS = 50_000
#: What a front source means, as the report says it.
SOURCES = {
    "archive": "archive: the non-dominated points of every evaluation",
    "population": "population: the optimizer's final set, not every non-dominated point it evaluated",
}


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
    budget: dict[str, Any] = field(default_factory=dict)
    #: "archive", "population", or None (one objective, no feasible point, or nothing stored)
    front_source: str | None = None


@dataclass
class Row:
    """One optimizer on one problem: final metrics across seeds."""

    optimizer: str
    n_done: int
    n_runs: int
    wall_time: float
    budget: str = ""
    front_source: str | None = None
    stats: dict[str, dict[str, float | str | None]] = field(default_factory=dict)


@dataclass
class Group:
    """Optimizers that ran under one budget on a problem: compared with each other only."""

    budget: str
    rows: list[Row]
    #: the smallest p-value the test can give these sample sizes (None with fewer than two optimizers)
    min_p: float | None = None


@dataclass
class ProblemData:
    """Everything the report shows for one problem."""

    label: str
    n_objectives: int
    curve_metric: str | None
    curves: dict[str, dict[str, np.ndarray]]
    fronts: dict[str, np.ndarray]
    true_front: np.ndarray | None
    groups: list[Group]
    metrics: list[str]
    #: ``m`` hypervolume reference point in the user's direction, or None
    ref_point: np.ndarray | None = None
    directions: tuple[str, ...] = ()

    @property
    def rows(self) -> list[Row]:
        """Every optimizer's row, table after table."""
        return [row for group in self.groups for row in group.rows]


def metric_title(name: str) -> str:
    """How the report names a metric (``"hv"`` -> ``"hypervolume"``, ``"igd-plus"`` -> ``"IGD+"``)."""
    return _TITLES.get(canonical_metric(name), name)


def higher_is_better(name: str, best_higher: bool = False) -> bool | None:
    """Whether a higher value of metric ``name`` is better (None if its plugin does not say)."""
    if name == BEST:
        return best_higher
    canonical = canonical_metric(name)
    if canonical in _HIGHER:
        return _HIGHER[canonical]
    try:
        from polyopt.plugins import registry

        flag = getattr(registry().get("metric", canonical), "higher_is_better", None)
    except Exception:  # the plugin is gone: the report still shows the values
        return None
    return None if flag is None else bool(flag)


def budget_words(budget: dict[str, Any]) -> str:
    """``{"evaluations": 5000}`` -> ``"5,000 evaluations"``."""
    return ", ".join(f"{v:,} {k}" if isinstance(v, int) else f"{v} {k}" for k, v in budget.items())


def rank_test(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sided Mann-Whitney U (Wilcoxon rank-sum) p-value of samples ``a`` and ``b`` (NaN if one is empty).

    Exact while the pooled sample splits at most 50,000 ways into groups of these sizes: twice the smaller
    tail of the rank sum's distribution over every split (ties get mid-ranks; as SciPy's exact permutation
    method), so small samples get only the p-values they can support (3 against 3: never below 0.1). Beyond,
    the normal approximation with tie correction.
    """
    from scipy.stats import mannwhitneyu, rankdata

    if a.size == 0 or b.size == 0:
        return math.nan
    pooled = np.concatenate([a, b])
    if math.comb(pooled.size, a.size) > _EXACT_SPLITS:
        return float(mannwhitneyu(a, b, alternative="two-sided", method="asymptotic").pvalue)
    ranks = rankdata(pooled)
    observed = float(ranks[: a.size].sum())
    sums = np.fromiter(
        (ranks[list(split)].sum() for split in combinations(range(pooled.size), a.size)),
        dtype=np.float64,
    )
    upper = float((sums >= observed - 1e-9).mean())
    lower = float((sums <= observed + 1e-9).mean())
    return min(1.0, 2.0 * min(upper, lower))


def min_p_value(n_a: int, n_b: int) -> float:
    """The smallest two-sided p-value :func:`rank_test` can give samples of these sizes (3 and 3: 0.1)."""
    return min(1.0, 2.0 / math.comb(n_a + n_b, n_a))


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
    data = RunData(
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
        budget=dict(r.spec.budget),
    )
    if r.status == "done" and res.get("feasible") and front.ndim == 2 and front.shape[1] > 1:
        data.front_source = _front_source(storage, r.id, front, res.get("directions") or ())
    return data


def _front_source(storage: Storage, run_id: int, front: np.ndarray, directions: Any) -> str | None:
    """ "archive" if the run's final front is the non-dominated set of every feasible evaluation it stored,
    else "population" (the optimizer returned only part of what it found, e.g. its last population)."""
    import torch

    from polyopt.pareto import pareto_filter

    batch = storage.evaluations(run_id)
    if batch is None:
        return None
    ok = ~batch.failed
    if batch.g is not None:
        ok &= (batch.g <= 0).all(axis=1)
    if not ok.any():
        return None
    archive = pareto_filter(torch.as_tensor(batch.f[ok]))[0].numpy()
    signs = np.array([-1.0 if d == "maximize" else 1.0 for d in directions] or [1.0])
    returned = np.unique(front * signs, axis=0)
    archive = np.unique(archive, axis=0)
    same = archive.shape == returned.shape and np.allclose(archive, returned, rtol=1e-12)
    return "archive" if same else "population"


def _problem(study: Study, label: str, runs: list[RunData]) -> ProblemData:
    spec = next(p for p in study.problems if p.label == label)
    problem = _make(spec)
    true_front, m = _true_front(problem)
    recorded = [*study.metrics.record, *sorted({k for r in runs for k in r.final})]
    metrics = [k for k in dict.fromkeys(recorded) if any(k in r.final for r in runs)]
    curve_metric = next(
        (k for c in _CURVE_ORDER for k in metrics if canonical_metric(k) == c),
        metrics[0] if metrics else None,
    )
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
    directions = tuple(getattr(problem, "directions", ()) or ())
    ref = spec.ref_point if spec.ref_point is not None else getattr(problem, "ref_point", None)
    best_higher = directions == ("maximize",)
    return ProblemData(
        label=label,
        n_objectives=m,
        curve_metric=curve_metric,
        curves=curves,
        fronts={k: v for k, v in fronts.items() if v is not None},
        true_front=true_front,
        groups=_groups(labels, runs, metrics, best_higher),
        metrics=metrics,
        ref_point=None if ref is None or m < 2 else np.asarray(ref, dtype=np.float64),
        directions=directions,
    )


def _make(spec: Any) -> Any:
    from polyopt.study.definition import make_problem

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return make_problem(spec.name, spec.options)
    except Exception:  # the report still works when the problem's plugin is gone
        return None


def _true_front(problem: Any) -> tuple[np.ndarray | None, int]:
    if problem is None:
        return None, 0
    m = n_objectives(problem)
    pareto_front = getattr(problem, "pareto_front", None)
    front = pareto_front(400) if m > 1 and pareto_front is not None else None
    return (None if front is None else front.detach().cpu().double().numpy()), m


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
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter(
            "ignore", RuntimeWarning
        )  # all-NaN columns before a run's first record
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


def _groups(
    labels: list[str], runs: list[RunData], metrics: list[str], best_higher: bool
) -> list[Group]:
    """One group per budget (in the study's optimizer order), each with its rows and statistics."""
    by_budget: dict[str, list[str]] = {}
    budgets: dict[str, str] = {}
    for opt in labels:
        mine = [r for r in runs if r.optimizer == opt]
        key = json.dumps(mine[0].budget if mine else {}, sort_keys=True)
        by_budget.setdefault(key, []).append(opt)
        budgets[key] = budget_words(mine[0].budget) if mine else ""
    return [
        _group(budgets[key], opts, runs, metrics, best_higher) for key, opts in by_budget.items()
    ]


def _group(
    budget: str, labels: list[str], runs: list[RunData], metrics: list[str], best_higher: bool
) -> Group:
    rows = []
    for opt in labels:
        mine = [r for r in runs if r.optimizer == opt]
        done = [r for r in mine if r.status == "done"]
        wall = float(np.median([r.wall_time for r in done])) if done else math.nan
        # one run's population may happen to hold every non-dominated point: any run that does not
        # tells that the optimizer returns its population
        sources = {r.front_source for r in done} - {None}
        source = "population" if "population" in sources else ("archive" if sources else None)
        rows.append(
            Row(
                optimizer=opt,
                n_done=len(done),
                n_runs=len(mine),
                wall_time=wall,
                budget=budget,
                front_source=source,
            )
        )
    for metric in metrics:
        values = {
            row.optimizer: np.asarray(
                [
                    r.final.get(metric, math.nan)
                    for r in runs
                    if r.optimizer == row.optimizer and r.status == "done"
                ],
                dtype=np.float64,
            )
            for row in rows
        }
        values = {k: v[np.isfinite(v)] for k, v in values.items()}
        _stats(rows, values, metric, higher_is_better(metric, best_higher))
    sizes = [row.n_done for row in rows if row.n_done]
    min_p = None
    if len(sizes) > 1:
        min_p = min(min_p_value(a, b) for i, a in enumerate(sizes) for b in sizes[i + 1 :])
    return Group(budget=budget, rows=rows, min_p=min_p)


def _stats(
    rows: list[Row], values: dict[str, np.ndarray], metric: str, higher: bool | None
) -> None:
    """Median, IQR and the rank-test p-value against the optimizer with the best median (no verdict for a
    metric whose better direction is unknown)."""
    medians = {k: float(np.median(v)) for k, v in values.items() if v.size}
    best = None
    if medians and higher is not None and len(rows) > 1:
        best = (max if higher else min)(medians, key=lambda k: medians[k])
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
                p = rank_test(v, values[best])
                entry["p_value"] = None if math.isnan(p) else p
                entry["verdict"] = "worse" if p < ALPHA else "n.s."
        row.stats[metric] = entry
