"""TuRBO-1/-m and AEGiS: improvement over the Sobol design; TuRBO-m's regions keep their own designs and
restart alone; AEGiS never re-suggests pending points."""

from __future__ import annotations

import pytest
import torch
from bo_helpers import SMALL, bowl_2d, run_steps

import polyopt
from polyopt_plugins.bo.aegis import AEGiS
from polyopt_plugins.bo.turbo import TuRBO


@pytest.mark.parametrize("acquisition", ["log-ei", "thompson"])  # the default and the paper's
def test_turbo_improves_and_shrinks_its_region_when_stuck(acquisition: str) -> None:
    opt = TuRBO(bowl_2d(), seed=0, n_initial=5, acquisition=acquisition, **SMALL)
    run_steps(opt, 13)
    assert opt.result().f_best < float(opt.f_all[:5].min())
    assert opt.result().f_best < 0.05


def test_turbo_restarts_with_a_fresh_design_when_the_region_collapses() -> None:
    opt = TuRBO(
        bowl_2d(),
        seed=0,
        n_initial=3,
        length_init=0.01,
        length_min=0.005,
        failure_tolerance=1,
        **SMALL,
    )
    run_steps(opt, 6)
    assert opt.restarts >= 1
    assert bool((opt.labels == -1).any())  # the collapsed region's points are retired
    assert bool((opt.labels == 0).any())  # and a fresh design started


def test_turbo_m_gives_each_region_its_design_then_proposes_in_both() -> None:
    opt = TuRBO(bowl_2d(), seed=1, n_initial=3, n_regions=2, **SMALL)
    run_steps(opt, 6)
    assert opt.labels.tolist() == [0, 0, 0, 1, 1, 1]
    run_steps(opt, 14)
    assert opt.result().f_best < float(opt.f_all[:6].min())
    assert opt.result().f_best < 0.05


def test_turbo_m_restarts_one_region_and_keeps_the_other() -> None:
    opt = TuRBO(
        bowl_2d(),
        seed=0,
        n_initial=2,
        n_regions=2,
        length_init=0.01,
        length_min=0.005,
        failure_tolerance=1,
        **SMALL,
    )
    run_steps(opt, 7)
    assert opt.restarts >= 1
    assert bool((opt.labels == -1).any())
    assert len(opt.lengths) == 2
    assert opt.labels.shape[0] == opt.x_all.shape[0]


def test_turbo_m_labels_a_told_batch_by_the_region_that_asked() -> None:
    opt = TuRBO(bowl_2d(), seed=3, n_initial=2, n_regions=2, batch_size=4, **SMALL)
    x = opt.ask()  # two Sobol points per region
    assert opt.pending_labels.tolist() == [0, 0, 1, 1]
    order = torch.tensor([3, 0, 2, 1])
    opt.tell(x[order], opt.problem.evaluate(x[order]))
    assert opt.labels.tolist() == [1, 0, 1, 0]
    assert opt.pending_labels.numel() == 0


def test_aegis_improves_over_its_sobol_design() -> None:
    opt = AEGiS(bowl_2d(), seed=0, n_initial=5, n_candidates=256, **SMALL)
    run_steps(opt, 13)
    assert opt.result().f_best < float(opt.f_all[:5].min())


def test_aegis_asking_while_points_are_pending_never_resuggests_them() -> None:
    problem = bowl_2d()
    opt = AEGiS(
        problem, seed=0, n_initial=4, n_candidates=256, epsilon=0.0, **SMALL
    )  # always exploit
    run_steps(opt, 4)  # the Sobol design: every ask below uses the model
    asked = torch.cat([opt.ask(1) for _ in range(4)])  # four workers busy at once
    distances = torch.cdist(asked, asked) + torch.eye(4, dtype=asked.dtype)
    assert float(distances.min()) > 1e-6
    assert torch.equal(opt.pending, asked)
    known = torch.cdist(problem.space.encode(asked), problem.space.encode(opt.x_all))
    assert float(known.min()) > opt.config.min_distance


def test_aegis_handles_a_mixed_space() -> None:
    space = polyopt.Product({"x": polyopt.Box([-1.0], [1.0]), "k": polyopt.Integer(0, 3)})
    problem = polyopt.FunctionObjective(lambda x: (x[:, 0] - 0.2) ** 2 + (x[:, 1] - 1) ** 2, space)
    opt = AEGiS(problem, seed=0, n_initial=4, n_candidates=128, **SMALL)
    run_steps(opt, 8)
    assert bool(space.contains(opt.x_all).all())
