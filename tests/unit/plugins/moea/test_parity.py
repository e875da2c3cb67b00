"""Convergence parity with pymoo 0.6.2 at small budgets, over three seeds.

Tolerance (documented in the family's report): polyopt's mean IGD over seeds 0-2 is at most 1.25 times
pymoo's mean IGD plus 0.005, with the same problem, population, operators' defaults and evaluations. The
observed ratios are about 1.0-1.1; the slack covers seed-to-seed spread with only three seeds.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

import polyopt
from polyopt.metrics import igd

pytest.importorskip("pymoo")

SEEDS = (0, 1, 2)
RATIO, SLACK = 1.25, 0.005


def _pymoo_igd(
    algorithm, problem_name: str, kwargs: dict, evals: int, front: np.ndarray, seed: int
) -> float:
    from pymoo.indicators.igd import IGD
    from pymoo.optimize import minimize
    from pymoo.problems import get_problem

    res = minimize(get_problem(problem_name, **kwargs), algorithm, ("n_eval", evals), seed=seed)
    return float(IGD(front)(res.F))


def _ours_igd(name: str, problem, evals: int, front: torch.Tensor, seed: int, **config) -> float:
    result = polyopt.optimize(name, problem, budget=evals, seed=seed, **config)
    return igd(result.f, front)


def test_nsga2_on_zdt1_matches_pymoo() -> None:
    from pymoo.algorithms.moo.nsga2 import NSGA2

    problem = polyopt.make("objective", "zdt1")
    front = problem.pareto_front(1000)
    ours = [_ours_igd("nsga2", problem, 3000, front, s, pop_size=40) for s in SEEDS]
    theirs = [_pymoo_igd(NSGA2(pop_size=40), "zdt1", {}, 3000, front.numpy(), s) for s in SEEDS]
    assert np.mean(ours) <= RATIO * np.mean(theirs) + SLACK, (ours, theirs)


@pytest.mark.parametrize("algorithm", ["nsga2", "nsga3"])
def test_on_three_objective_dtlz2_matches_pymoo(algorithm: str) -> None:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.moo.nsga3 import NSGA3
    from pymoo.util.ref_dirs import get_reference_directions

    problem = polyopt.make("objective", "dtlz2", n_obj=3)
    front = problem.pareto_front(2000)
    evals = 91 * 25
    if algorithm == "nsga3":
        make = lambda: NSGA3(get_reference_directions("das-dennis", 3, n_partitions=12))  # noqa: E731
        config: dict = {}
    else:
        make = lambda: NSGA2(pop_size=92)  # noqa: E731
        config = {"pop_size": 92}
    ours = [_ours_igd(algorithm, problem, evals, front, s, **config) for s in SEEDS]
    theirs = [_pymoo_igd(make(), "dtlz2", {"n_obj": 3}, evals, front.numpy(), s) for s in SEEDS]
    assert np.mean(ours) <= RATIO * np.mean(theirs) + SLACK, (ours, theirs)


def test_nsga2_on_c2_dtlz2_matches_pymoo() -> None:
    """Constrained parity: feasibility-first domination on disconnected feasible caps. Both libraries
    sometimes miss a cap (IGD about 0.2 instead of 0.08), so this compares medians over five seeds."""
    from pymoo.algorithms.moo.nsga2 import NSGA2

    cdtlz = pytest.importorskip("polyopt_envs.cdtlz")
    problem = cdtlz.C2DTLZ2(n_obj=3)
    front = problem.pareto_front(2000)
    seeds = range(5)
    ours = [_ours_igd("nsga2", problem, 92 * 25, front, s, pop_size=92) for s in seeds]
    theirs = [
        _pymoo_igd(NSGA2(pop_size=92), "c2dtlz2", {"n_obj": 3}, 92 * 25, front.numpy(), s)
        for s in seeds
    ]
    assert np.median(ours) <= RATIO * np.median(theirs) + SLACK, (ours, theirs)
