"""What a run records: its evaluations (captured by an optimizer listener) and its metrics over time.

Evaluations are buffered as tensors on the optimizer's device and moved to the host once per checkpoint, so
recording adds no per-step host synchronization beyond the metrics themselves.
"""

from __future__ import annotations

import json
import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from polyopt.objective import Evaluation, signs_of
from polyopt.optimizer import Optimizer
from polyopt.result import RunResult
from polyopt.study.definition import MetricsSpec, RunSpec
from polyopt.study.names import BEST, canonical_metric, metric_input, n_objectives
from polyopt.study.storage import EvaluationBatch

__all__ = ["Recorder", "MetricComputer", "result_to_json"]


class MetricComputer:
    """Computes the study's metrics of a :class:`Result`, in minimization form: any registered metric (its
    second parameter says what it needs: ``ref_point`` the reference point, ``front`` the problem's Pareto
    front, ``weights`` nothing required), "hv" for hypervolume, and "best" (one objective, user's direction).

    A metric the problem cannot give is left out (no reference point, no known front; "best" with several
    objectives, set indicators with one); validation has already refused a missing reference point.
    """

    def __init__(self, problem: Any, spec: RunSpec, metrics: MetricsSpec) -> None:
        from polyopt.plugins import registry

        m = n_objectives(problem)
        self.single = m == 1
        ref = spec.ref_point if spec.ref_point is not None else _cached(problem, spec, "ref_point")
        # user's direction here; turned into minimization form with the result's directions
        self.ref = None if ref is None or m == 1 else torch.as_tensor(ref, dtype=torch.float64)
        #: study metric name -> (function, what it needs besides f)
        self.metrics: dict[str, tuple[Any, str | None]] = {}
        for name in metrics.record:
            if name == BEST:
                if self.single:
                    self.metrics[name] = (None, BEST)
                continue
            fn = registry().get("metric", canonical_metric(name))
            needs = metric_input(fn)
            if self.single or (needs == "ref_point" and self.ref is None):
                continue
            self.metrics[name] = (fn, needs)
        self.front = None
        if any(needs == "front" for _, needs in self.metrics.values()):
            self.front = _cached(problem, spec, "pareto_front", metrics.front_points)
        self.metrics = {
            k: v for k, v in self.metrics.items() if v[1] != "front" or self.front is not None
        }
        self.names = list(self.metrics)

    def __call__(self, result: RunResult) -> dict[str, float]:
        """Metric name -> value (NaN where undefined: no feasible point yet; hypervolume is then 0)."""
        ok = result.scorable
        values = result.values.detach().to(device="cpu", dtype=torch.float64)
        signs = signs_of(result.directions, values.shape[-1])
        f = values * signs
        out: dict[str, float] = {}
        for name, (fn, needs) in self.metrics.items():
            if needs == BEST:
                out[name] = float(values[0, 0]) if ok else math.nan
            elif not ok:
                out[name] = 0.0 if canonical_metric(name) == "hypervolume" else math.nan
            elif needs == "ref_point":
                assert self.ref is not None
                out[name] = float(fn(f, self.ref * signs))
            elif needs == "front":
                assert self.front is not None
                out[name] = float(fn(f, self.front * signs))
            else:
                out[name] = float(fn(f))
        return out


#: A problem's reference point and Pareto front, once per process and problem: a worker records many runs of
#: each problem, and a numerical front costs (TNK's: 0.5 s of CPU, and its ref_point computes it again).
_KNOWN: dict[tuple[str, str, str], Any] = {}


def _cached(problem: Any, spec: RunSpec, what: str, n: int = 0) -> Any:
    """``problem.ref_point``, or ``problem.pareto_front(n)`` as float64 on the CPU (None if unknown)."""
    options = json.dumps(spec.problem_options, sort_keys=True, default=str)
    key = (spec.problem, options, f"{what}:{n}")
    if key not in _KNOWN:
        if what == "ref_point":
            _KNOWN[key] = getattr(problem, "ref_point", None)
        else:
            front = getattr(problem, "pareto_front", lambda _n: None)(n)
            _KNOWN[key] = None if front is None else front.detach().to(torch.float64).cpu()
    return _KNOWN[key]


class Recorder:
    """Captures a run's evaluations (as an optimizer listener) and metrics, and hands them out per checkpoint.

    Args:
        opt: the optimizer (possibly restored from a checkpoint).
        spec: the run.
        metrics: what to record and how often.
    """

    def __init__(self, opt: Optimizer, spec: RunSpec, metrics: MetricsSpec) -> None:
        self.opt = opt
        self.every = metrics.every
        self.every_evaluations = metrics.every_evaluations
        self.compute = MetricComputer(opt.problem, spec, metrics)
        self.first_index = opt.n_evaluations  # index of the first buffered evaluation
        self._rows: list[tuple[Tensor, Evaluation, float]] = []
        self._metrics: list[dict[str, Any]] = []
        self._last_recorded_step = -1
        self._prev_evaluations = opt.n_evaluations
        self._last_values: dict[str, float] = {}

    def on_evaluate(self, x: Tensor, evaluation: Evaluation) -> None:
        """Optimizer listener: keep ``x`` (``n x d``) and its evaluation (minimization form)."""
        ev = Evaluation(
            f=evaluation.f.detach().clone(),
            g=None if evaluation.g is None else evaluation.g.detach().clone(),
            failed=evaluation.failed_mask.detach().clone(),
        )
        self._rows.append((x.detach().clone(), ev, self.opt.elapsed))

    def after_step(self, *, force: bool = False) -> None:
        """Record the metrics if this step is due (every ``metrics.every`` steps, or ``force``)."""
        step = self.opt.n_steps
        due = force or self._due()
        self._prev_evaluations = self.opt.n_evaluations
        if step == self._last_recorded_step or not due:
            return
        values = self.compute(self.opt.result())
        self._metrics.append(
            {
                "step": step,
                "n_evaluations": self.opt.n_evaluations,
                "elapsed": self.opt.elapsed,
                "values": values,
            }
        )
        self._last_recorded_step = step
        self._last_values = values

    def _due(self) -> bool:
        if self.every_evaluations is None:
            return self.opt.n_steps % self.every == 0
        # a multiple of every_evaluations was crossed by this step's evaluations
        return (
            self.opt.n_evaluations // self.every_evaluations
            > self._prev_evaluations // self.every_evaluations
        )

    @property
    def last_values(self) -> dict[str, float]:
        """The most recently recorded metrics."""
        return self._last_values

    def drain(self) -> tuple[EvaluationBatch | None, list[dict[str, Any]]]:
        """Return and forget the evaluations and metrics buffered since the last call (one host copy)."""
        batch = None
        if self._rows:
            xs, evs, times = zip(*self._rows)
            ev = Evaluation.cat(list(evs))
            counts = [x.shape[0] for x in xs]
            batch = EvaluationBatch(
                first_index=self.first_index,
                x=_np(torch.cat(xs)),
                f=_np(ev.f),
                g=None if ev.g is None else _np(ev.g),
                failed=ev.failed_mask.cpu().numpy(),
                elapsed=np.repeat(np.asarray(times, dtype=np.float64), counts),
            )
            self.first_index += batch.x.shape[0]
        metrics, self._rows, self._metrics = self._metrics, [], []
        return batch, metrics


def result_to_json(result: RunResult, metrics: dict[str, float]) -> dict[str, Any]:
    """The final result as JSON-able data (``f`` in the user's direction: a trainer's returns)."""
    x = getattr(
        result, "x", None
    )  # a search result's points; a trainer's result has policies instead
    g = getattr(result, "g", None)
    return {
        "x": None if x is None else _np(x).tolist(),
        "f": _np(result.values).tolist(),
        "g": None if g is None else _np(g).tolist(),
        "feasible": bool(getattr(result, "feasible", True)),
        "directions": list(result.directions),
        "n_evaluations": result.n_evaluations,
        "n_steps": result.n_steps,
        "wall_time": result.wall_time,
        "metrics": {
            k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in metrics.items()
        },
    }


def _np(t: Tensor) -> np.ndarray:
    return t.detach().to(device="cpu", dtype=torch.float64).numpy()
