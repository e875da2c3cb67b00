"""PymooProblem: pymoo's problems as polyopt Objectives, with pymoo's own values."""

from __future__ import annotations

import numpy as np
import pytest
import torch

pytest.importorskip("pymoo")

from pymoo.core.problem import Problem
from pymoo.problems import get_problem

import polyopt
from polyopt.errors import ConfigError, SpaceError, UnknownNameError
from polyopt.spaces import Integer
from polyopt_plugins.adapters.pymoo_problem import EQ_TOLERANCE, PymooProblem


def _points(problem: PymooProblem, n: int = 16, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return problem.space.sample(n, generator=torch.Generator().manual_seed(1), dtype=dtype)


class _Equality(Problem):
    """x0 + x1 = 1 as an equality constraint, x0 <= 0.8 as an inequality; integer-typed when asked."""

    def __init__(self, vtype: type = float) -> None:
        super().__init__(
            n_var=2, n_obj=1, n_ieq_constr=1, n_eq_constr=1, xl=0.0, xu=5.0, vtype=vtype
        )

    def _evaluate(self, x: np.ndarray, out: dict, *args: object, **kwargs: object) -> None:
        out["F"] = (x**2).sum(axis=1)
        out["G"] = x[:, 0] - 0.8
        out["H"] = x[:, 0] + x[:, 1] - 1.0


def test_values_equal_pymoos_own_evaluation() -> None:
    problem = PymooProblem("dtlz2", n_obj=3)
    x = _points(problem)
    ev = polyopt.evaluate(problem, x)
    expected = get_problem("dtlz2", n_obj=3).evaluate(x.numpy())
    assert problem.n_objectives == 3 and problem.space.bounds.shape == (2, 10)
    assert np.array_equal(ev.f.numpy(), expected)


def test_values_follow_the_points_dtype() -> None:
    problem = PymooProblem("zdt1")
    ev = polyopt.evaluate(problem, _points(problem, dtype=torch.float32))
    assert ev.f.dtype == torch.float32 and not bool(ev.failed_mask.any())


def test_inequality_constraints_are_pymoos_g() -> None:
    problem = PymooProblem("bnh")
    x = _points(problem)
    f, g = get_problem("bnh").evaluate(x.numpy(), return_values_of=["F", "G"])
    ev = problem.evaluate(x)
    assert problem.n_constraints == 2
    assert np.array_equal(ev.f.numpy(), f) and np.array_equal(ev.g.numpy(), g)


def test_equality_constraints_become_tolerance_inequalities() -> None:
    problem = PymooProblem(_Equality())
    x = torch.tensor([[0.5, 0.5], [0.5, 0.50005], [1.0, 1.0]], dtype=torch.float64)
    ev = problem.evaluate(x)
    assert problem.n_constraints == 2
    assert torch.allclose(ev.g[:, 1], (x.sum(-1) - 1).abs() - EQ_TOLERANCE)
    assert ev.feasible().tolist() == [
        True,
        True,
        False,
    ]  # within pymoo's tolerance of h = 0 counts as feasible


def test_integer_vtype_gives_an_integer_space() -> None:
    assert isinstance(PymooProblem(_Equality(vtype=int)).space, Integer)
    assert not isinstance(PymooProblem(_Equality()).space, Integer)


def test_pareto_front_is_pymoos() -> None:
    assert np.allclose(
        PymooProblem("zdt1").pareto_front(7).numpy(), get_problem("zdt1").pareto_front(7)
    )
    front = PymooProblem("dtlz2", n_obj=3).pareto_front(60)
    assert front.shape[1] == 3 and 20 <= front.shape[0] <= 60
    assert torch.allclose(
        front.norm(dim=1), torch.ones(front.shape[0], dtype=front.dtype)
    )  # DTLZ2: unit sphere


def test_registered_entry_takes_a_name_and_options() -> None:
    problem = polyopt.make("objective", "pymoo.problem", name="dtlz2", n_obj=3, n_var=7)
    assert isinstance(problem, PymooProblem)
    assert problem.n_objectives == 3 and problem.space.bounds.shape[1] == 7


def test_option_typos_get_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="n_ob.*Did you mean 'n_obj'"):
        polyopt.make("objective", "pymoo.problem", name="dtlz2", n_ob=3)


def test_unknown_problem_names_raise() -> None:
    with pytest.raises(UnknownNameError, match="dtlz99"):
        PymooProblem("dtlz99")


def test_options_with_an_instance_are_refused() -> None:
    with pytest.raises(ConfigError, match="instance"):
        PymooProblem(get_problem("zdt1"), n_var=3)


def test_unbounded_problems_are_refused() -> None:
    with pytest.raises(SpaceError, match="bounds"):
        PymooProblem(Problem(n_var=2, n_obj=1))
