"""Recorded metrics respect the objective's directions and the problem's front."""

from __future__ import annotations

import math

import pytest
import torch

import polyopt
from polyopt import Result
from polyopt.study import MetricsSpec, Study
from polyopt.study.recorder import MetricComputer


def _spec(ref: list[float] | None = None):
    return Study(
        "m",
        optimizers=["random-search"],
        problems=[{"name": "zdt1", "ref_point": ref}],
        seeds=1,
        budget=8,
    ).runs()[0]


def test_hypervolume_of_a_maximized_objective_uses_the_users_direction() -> None:
    problem = polyopt.make_problem("zdt1", n_var=3)
    compute = MetricComputer(problem, _spec(ref=[0.0, 0.0]), MetricsSpec(record=["hv"]))
    result = Result(
        x=torch.zeros(1, 3),
        f=torch.tensor([[2.0, 3.0]], dtype=torch.float64),
        directions=("maximize", "maximize"),
    )
    assert compute(result)["hv"] == pytest.approx(6.0)


def test_igd_is_zero_on_the_true_front_and_undefined_without_a_feasible_point() -> None:
    problem = polyopt.make_problem("zdt1", n_var=3)
    compute = MetricComputer(problem, _spec(), MetricsSpec(record=["hv", "igd"], front_points=50))
    front = problem.pareto_front(50)
    values = compute(Result(x=torch.zeros(50, 3), f=front, directions=("minimize", "minimize")))
    assert values["igd"] == pytest.approx(0.0, abs=1e-8)
    assert values["hv"] == pytest.approx(
        0.1 + 2 / 3 + 0.11, abs=0.02
    )  # the analytic ZDT1 value, 50 points
    infeasible = compute(Result(x=torch.zeros(1, 3), f=front[:1], feasible=False))
    assert infeasible["hv"] == 0.0 and math.isnan(infeasible["igd"])


def test_every_registered_metric_is_recorded_on_a_multi_objective_result() -> None:
    from polyopt.plugins import registry

    names = registry().names("metric")
    problem = polyopt.make_problem("zdt1", n_var=3)
    compute = MetricComputer(problem, _spec(), MetricsSpec(record=[*names, "best"]))
    result = polyopt.optimize("random-search", problem, budget=64, seed=0)
    values = compute(result)
    assert sorted(values) == sorted(names)  # "best" is for one objective: left out here
    assert all(math.isfinite(v) for v in values.values())
    assert values["cardinality"] == result.f.shape[0]
    assert values["hypervolume"] == pytest.approx(result.hypervolume([1.1, 1.1]))


def test_best_is_recorded_for_one_objective_and_set_metrics_are_left_out() -> None:
    problem = polyopt.make_problem("sphere", dim=2)
    spec = Study(
        "s", optimizers=["random-search"], problems=[{"name": "sphere"}], seeds=1, budget=8
    ).runs()[0]
    compute = MetricComputer(problem, spec, MetricsSpec(record=["best", "hv", "spacing"]))
    result = polyopt.optimize("random-search", problem, budget=16, seed=0)
    assert compute(result) == {"best": result.f_best}
