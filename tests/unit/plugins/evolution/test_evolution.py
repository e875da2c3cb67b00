"""The single-objective evolution family: index sampling, selection by tag, convergence at small budgets,
restarts, pending points, bounds, and CMA-ES against pycma at the level of convergence."""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch

import polyopt
from polyopt_envs.basic import Sphere
from polyopt_envs.bo_problems import Rosenbrock
from polyopt_plugins.evolution import de
from polyopt_plugins.evolution.base import best_per_tag
from polyopt_plugins.evolution.cbo import consensus
from polyopt_plugins.evolution.de import distinct_indices


def test_distinct_indices_differ_from_the_target_and_each_other() -> None:
    gen = torch.Generator().manual_seed(0)
    n = 7
    target = torch.arange(n).repeat(200)
    r = distinct_indices(n, 4, target, gen)
    rows = torch.cat([target.unsqueeze(1), r], dim=1)
    assert bool((rows.sort(dim=1).values.diff(dim=1) > 0).all())
    assert int(r.min()) >= 0 and int(r.max()) < n
    # every admissible index is drawn (no value unreachable by the skipping)
    assert set(r[target == 0].flatten().tolist()) == set(range(1, n))


@pytest.mark.parametrize(("n", "k"), [(10, 9), (100, 9), (7, 6)])
def test_distinct_indices_by_counting_are_the_networks_draws(
    n: int, k: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Many indices per row are placed by counting, few by a min/max network: the same indices."""
    exclude = torch.randint(0, n, (400,), generator=torch.Generator().manual_seed(1))
    counted = de._distinct_by_counting(n, k, exclude, torch.Generator().manual_seed(3))
    monkeypatch.setattr(de, "_NETWORK_MAX", k)
    network = de.distinct_index_columns(n, k, exclude, torch.Generator().manual_seed(3))
    assert torch.equal(counted, network)
    rows = torch.cat([exclude.view(1, -1), network]).t().sort(dim=1).values
    assert bool((rows.diff(dim=1) > 0).all())


def test_best_per_tag_picks_each_tags_smallest_value_and_skips_untagged() -> None:
    f = torch.tensor([3.0, 1.0, 2.0, 0.5, -9.0, 4.0])
    tag = torch.tensor([0, 0, 2, 2, -1, 1])
    rows = best_per_tag(f, tag)
    assert rows.tolist() == [1, 5, 3]


def test_consensus_weighs_failed_values_zero_and_tends_to_the_argmin() -> None:
    x = torch.tensor([[0.0], [1.0], [2.0]])
    f = torch.tensor([1.0, 0.0, math.inf])
    assert consensus(x, f, alpha=1e4).item() == pytest.approx(1.0)
    assert 0.0 < consensus(x, f, alpha=0.1).item() < 1.0


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("cma-es", {"pop_size": 20}),
        ("de", {"pop_size": 40}),
        ("jade", {"pop_size": 40}),
        ("pso", {"pop_size": 40}),
        ("pso", {"pop_size": 40, "topology": "ring", "update": "constriction"}),
        ("cbo", {"pop_size": 100}),
    ],
)
def test_reaches_the_sphere_optimum_at_a_small_budget(name: str, config: dict[str, Any]) -> None:
    problem = Sphere(dim=5)
    budget = polyopt.Budget(evaluations=8_000)
    result = polyopt.optimize(name, problem, budget=budget, seed=1, device="cpu", **config)
    assert isinstance(result, polyopt.Result)
    assert result.f_best < 1e-3, (name, config, result.f_best)
    assert bool(problem.space.contains(result.x).all())


def test_cma_es_keeps_every_point_in_a_box_whose_optimum_is_outside() -> None:
    # the unconstrained minimum (1, 1, 1) lies outside [-2, 0.5]^3: the best point is the corner
    box = polyopt.Box(-2.0, 0.5, dim=3)
    problem = polyopt.objective(box)(lambda x: ((x - 1.0) ** 2).sum(-1, keepdim=True))
    opt = polyopt.make("optimizer", "cma-es", problem, seed=0, device="cpu", pop_size=12)
    for _ in range(60):
        x = opt.ask()
        assert bool(problem.space.contains(x).all())
        opt.tell(x, opt.evaluate(x))
    result = opt.result()
    assert result.x.squeeze(0).tolist() == pytest.approx([0.5, 0.5, 0.5], abs=1e-3)


def test_ipop_restarts_double_the_population() -> None:
    problem = Rosenbrock(dim=2)
    opt = polyopt.make(
        "optimizer", "ipop-cma-es", problem, seed=0, device="cpu", pop_size=6, tol_fun=1e-3
    )
    sizes = {int(opt.step()["pop_size"]) for _ in range(400)}
    assert opt.n_restarts >= 2
    assert {6, 12, 24} <= sizes


def test_bipop_uses_both_regimes() -> None:
    problem = Rosenbrock(dim=2)
    opt = polyopt.make(
        "optimizer", "bipop-cma-es", problem, seed=0, device="cpu", pop_size=6, tol_fun=1e-3
    )
    for _ in range(600):
        opt.step()
    assert opt.n_restarts >= 3
    assert opt.evals_small > 0 and opt.evals_large > 0


@pytest.mark.parametrize("name", ["cma-es", "de", "pso", "cbo"])
def test_points_asked_beyond_a_generation_are_told_and_counted(name: str) -> None:
    problem = Sphere(dim=3)
    opt = polyopt.make("optimizer", name, problem, seed=0, device="cpu", pop_size=8)
    for _ in range(3):
        x = opt.ask(20)  # two and a half generations pending
        opt.tell(x, opt.evaluate(x))
    assert opt.n_generations >= 3
    assert opt.result().f_best <= float((x**2).sum(1).min())


def test_cma_es_converges_like_pycma_on_an_ill_conditioned_ellipsoid() -> None:
    """Parity at the level of convergence: evaluations to reach 1e-8 within 1.5x of pycma's, same lambda."""
    cma = pytest.importorskip("cma")
    d, lam = 6, 12
    scale = torch.logspace(0, 3, d, dtype=torch.float64)
    space = polyopt.Box(-5.0, 5.0, dim=d)
    problem = polyopt.objective(space)(lambda x: ((scale * x) ** 2).sum(-1, keepdim=True))
    scale_np = scale.numpy()
    ours = []
    theirs = []
    for seed in range(3):
        opt = polyopt.make("optimizer", "cma-es", problem, seed=seed, device="cpu", pop_size=lam)
        while opt.step()["best"] > 1e-8:
            assert opt.n_evaluations < 100_000
        ours.append(opt.n_evaluations)
        es = cma.CMAEvolutionStrategy(
            [0.0] * d, 3.0, {"popsize": lam, "seed": seed + 1, "verbose": -9, "ftarget": 1e-8}
        )
        while not es.stop():
            xs = es.ask()
            es.tell(xs, [float(((scale_np * x) ** 2).sum()) for x in xs])
        theirs.append(es.countevals)
    assert sorted(ours)[1] <= 1.5 * sorted(theirs)[1], (ours, theirs)


@pytest.mark.parametrize("name", ["cma-es", "de", "jade", "pso", "cbo"])
def test_telling_a_generation_in_parts_gives_the_same_run(name: str) -> None:
    """The ask-all/tell-all fast path and the general path (tags matched by sorting) agree."""
    problem = Sphere(dim=4)
    whole = polyopt.make("optimizer", name, problem, seed=3, device="cpu", pop_size=10)
    parts = polyopt.make("optimizer", name, problem, seed=3, device="cpu", pop_size=10)
    for _ in range(6):
        x = whole.ask()
        whole.tell(x, whole.evaluate(x))
        y = parts.ask()
        assert torch.equal(x, y)
        for chunk in (y[:3].clone(), y[3:].clone()):
            parts.tell(chunk, parts.evaluate(chunk))
    assert whole.n_generations == parts.n_generations == 6
    assert torch.equal(whole.result().x, parts.result().x)


@pytest.mark.parametrize(
    ("name", "config"),
    [
        ("cma-es", {"pop_size": 10}),
        ("de", {"pop_size": 10}),
        ("jade", {"pop_size": 10}),
        ("pso", {"pop_size": 10}),
        ("cbo", {"pop_size": 10}),
        ("metade", {"pop_size": 40, "n_instances": 4, "inner_generations": 3}),
    ],
)
def test_a_run_step_is_ask_then_tell(name: str, config: dict[str, Any]) -> None:
    """A step with nothing pending skips the ask/tell bookkeeping: same draws, points and result."""
    problem = Sphere(dim=4)
    stepped = polyopt.make("optimizer", name, problem, seed=5, device="cpu", **config)
    asked = polyopt.make("optimizer", name, problem, seed=5, device="cpu", **config)
    for _ in range(7):
        metrics = stepped.step()
        x = asked.ask()
        evaluation = asked.evaluate(x)
        asked.tell(x, evaluation)
        assert metrics == asked.step_metrics(x, evaluation)
    assert torch.equal(stepped.result().x, asked.result().x)
    for key, value in stepped.get_state().items():
        other = asked.get_state()[key]
        assert torch.equal(value, other) if isinstance(value, torch.Tensor) else value == other, key


def test_de_bounds_repair_inside_or_clip_onto_the_faces() -> None:
    """F = 2 sends many trial coordinates out of the box: the midpoint repair keeps them strictly inside,
    ``bounds="clip"`` puts exactly those on the faces; everything else is the same trial."""
    problem = polyopt.make("objective", "rastrigin", dim=3)
    trials = {}
    for bounds in ("midpoint", "clip"):
        optimizer = polyopt.make(
            "optimizer", "de", problem, seed=0, device="cpu", pop_size=20, F=2.0, bounds=bounds
        )
        first = optimizer.ask()
        optimizer.tell(first, problem.evaluate(first))
        trials[bounds] = optimizer.ask()
    on_faces = trials["clip"].abs() == 5.12
    assert int((trials["midpoint"].abs() == 5.12).sum()) == 0 < int(on_faces.sum())
    assert bool((trials["midpoint"].abs() < 5.12)[on_faces].all())
    assert torch.equal(trials["midpoint"][~on_faces], trials["clip"][~on_faces])
    with pytest.raises(ValueError, match="bounds='reflect'; expected 'midpoint' or 'clip'"):
        polyopt.make("optimizer", "de", problem, bounds="reflect")
