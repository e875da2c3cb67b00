"""pymoo algorithms as polyopt optimizers: same runs as pymoo's own, constraints, failures, pending points."""

from __future__ import annotations

import io
import subprocess
import sys

import numpy as np
import pytest
import torch

pytest.importorskip("pymoo")

from pymoo.algorithms.moo.nsga2 import NSGA2 as PymooNSGA2
from pymoo.optimize import minimize
from pymoo.problems import get_problem

import polyopt
from polyopt.errors import ConfigError, IncompatibleProblemError
from polyopt.objective import Evaluation, Objective
from polyopt.spaces import Box, Integer, Permutation, Product
from polyopt_plugins.adapters.pymoo_optimizer import FAILURE_PENALTY, GA, NSGA2
from polyopt_plugins.adapters.pymoo_problem import PymooProblem


def _pymoo_run(name: str, seed: int, evaluations: int, pop_size: int, **problem_options: object):
    return minimize(
        get_problem(name, **problem_options),
        PymooNSGA2(pop_size=pop_size),
        ("n_eval", evaluations),
        seed=seed,
        verbose=False,
    )


@pytest.mark.parametrize("name", ["zdt1", "bnh"])  # unconstrained and constrained
def test_same_run_as_pymoo_itself_with_the_same_seed(name: str) -> None:
    opt = NSGA2(PymooProblem(name), seed=4, pop_size=20)
    result = polyopt.run(opt, polyopt.Budget(evaluations=300))
    direct = _pymoo_run(name, opt.pymoo_seed, 300, 20)
    assert result.n_evaluations == 300
    assert np.array_equal(opt.algorithm.pop.get("X"), direct.pop.get("X"))
    assert np.array_equal(opt.algorithm.pop.get("F"), direct.pop.get("F"))


def test_nsga2_on_polyopts_zdt1_reaches_pymoos_igd() -> None:
    from polyopt.metrics import igd

    result = polyopt.optimize("pymoo.nsga2", "zdt1", budget=2000, seed=0, pop_size=40)
    problem = PymooProblem("zdt1")
    front = problem.pareto_front(200)
    ours = igd(result.f, front)
    theirs = np.mean(
        [igd(torch.from_numpy(_pymoo_run("zdt1", s, 2000, 40).F), front) for s in (0, 1)]
    )
    assert ours < 0.6  # converging: random search with the same budget scores about 1.9
    assert ours < 1.5 * theirs, (ours, theirs)  # pymoo itself: 0.28-0.39 over seeds


def test_constrained_results_are_feasible() -> None:
    result = polyopt.optimize("pymoo.nsga2", PymooProblem("bnh"), budget=400, seed=1, pop_size=20)
    assert result.feasible and result.g is not None
    assert bool((result.g <= 0).all())


class _HalfFails(Objective):
    """BNH whose rows with x0 > 3 fail (NaN), as a crashing simulator would."""

    def __init__(self) -> None:
        self.base = PymooProblem("bnh")
        self.space, self.n_objectives, self.n_constraints = self.base.space, 2, 2

    def evaluate(self, x: torch.Tensor) -> Evaluation:
        ev = self.base.evaluate(x)
        return Evaluation(f=torch.where(x[:, :1] > 3, torch.nan, ev.f), g=ev.g)


def test_failed_rows_are_penalized_and_infeasible_for_pymoo() -> None:
    opt = NSGA2(_HalfFails(), seed=0, pop_size=20)
    result = polyopt.run(opt, polyopt.Budget(evaluations=200))
    told_f = np.concatenate([f for _, f, _ in opt._done])
    told_g = np.concatenate([g for _, _, g in opt._done])
    failed = told_f[:, 0] == FAILURE_PENALTY
    assert failed.any() and (told_g[failed] == FAILURE_PENALTY).all()
    assert not bool((opt.algorithm.pop.get("F") == FAILURE_PENALTY).any())  # selected away
    assert bool(torch.isfinite(result.f).all()) and bool((result.x[:, 0] <= 3).all())


def test_option_typos_get_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="n_offspring.*Did you mean 'n_offsprings'"):
        polyopt.make("optimizer", "pymoo.nsga2", PymooProblem("zdt1"), options={"n_offspring": 10})


def test_options_polyopt_controls_are_refused() -> None:
    with pytest.raises(ConfigError, match="'seed'.*run seed"):
        NSGA2(PymooProblem("zdt1"), options={"seed": 1})


def test_options_reach_pymoo() -> None:
    opt = NSGA2(PymooProblem("zdt1"), seed=0, pop_size=10, options={"n_offsprings": 4})
    opt.step()
    assert opt.batch_size == 4  # after the initial population, generations of n_offsprings


def test_mixed_and_permutation_spaces_are_refused() -> None:
    for space in (Permutation(4), Product({"a": Box(0.0, 1.0), "b": Permutation(3)})):
        problem = polyopt.objective(space, n_objectives=2)(
            lambda x: torch.stack([x[:, 0], x[:, 1]], -1)
        )
        with pytest.raises(IncompatibleProblemError, match="space"):
            NSGA2(problem, seed=0)


def test_integer_spaces_get_integer_points() -> None:
    problem = polyopt.objective(Integer([-5] * 3, [5] * 3))(lambda x: ((x - 1.3) ** 2).sum(-1))
    result = polyopt.optimize(GA, problem, budget=200, seed=0, pop_size=20)
    assert torch.equal(result.x, result.x.round())
    assert result.x_best.tolist() == [1.0, 1.0, 1.0]


def test_pending_points_within_a_generation_in_any_order() -> None:
    problem = PymooProblem("zdt1")
    opt = NSGA2(problem, seed=0, pop_size=6)
    a = opt.ask(4)
    with pytest.raises(RuntimeError, match=r"ask\(4\) but 2 of the 6 points"):
        opt.ask(4)  # exactly n points or an error: it never crosses into the next generation
    b = opt.ask(2)
    assert a.shape[0] == 4 and b.shape[0] == 2
    with pytest.raises(RuntimeError, match="pending"):
        opt.ask(1)
    opt.tell(b, polyopt.evaluate(problem, b))
    opt.tell(a[2:], polyopt.evaluate(problem, a[2:]))
    with pytest.raises(ValueError, match="not asked"):
        opt.tell(b, polyopt.evaluate(problem, b))  # told already
    opt.tell(a[:2], polyopt.evaluate(problem, a[:2]))
    assert opt.algorithm.is_initialized and opt.algorithm.pop.get("F").shape == (6, 2)


def _roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def test_resume_in_the_middle_of_a_generation_is_exact() -> None:
    problem = PymooProblem("zdt1")

    def run(opt: NSGA2, told_batches: int) -> None:
        for _ in range(told_batches):
            x = opt.ask(3)
            opt.tell(x, polyopt.evaluate(problem, x))

    straight = NSGA2(problem, seed=2, pop_size=6)
    run(straight, 9)
    first = NSGA2(problem, seed=2, pop_size=6)
    run(first, 5)  # two and a half generations
    resumed = NSGA2(problem, seed=77, pop_size=6)
    resumed.load_state_dict(_roundtrip(first.state_dict()))
    run(resumed, 4)
    assert np.array_equal(straight.algorithm.pop.get("X"), resumed.algorithm.pop.get("X"))
    assert torch.equal(straight.result().f, resumed.result().f)


def test_registering_does_not_import_pymoo() -> None:
    code = (
        "import sys; from polyopt.registry import Registry; "
        "from polyopt_plugins.adapters.plugin import polyopt_register; r = Registry(); polyopt_register(r); "
        "assert 'pymoo' not in sys.modules and 'gymnasium' not in sys.modules, 'imported'; "
        "print(len(r.names('optimizer')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "8"
