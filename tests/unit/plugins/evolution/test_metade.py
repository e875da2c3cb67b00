"""MetaDE: strategy decoding, the three crossovers, outer selection and restarts, exact resume across an
outer generation, and progress on a small sphere."""

from __future__ import annotations

import io

import pytest
import torch

import polyopt
from polyopt_envs.basic import Sphere
from polyopt_plugins.evolution.metade import MetaDE, decode


def make(seed: int = 0, **config: object) -> MetaDE:
    base: dict[str, object] = {"pop_size": 40, "n_instances": 4, "inner_generations": 3}
    opt = polyopt.make(
        "optimizer", "metade", Sphere(dim=4), seed=seed, device="cpu", **{**base, **config}
    )
    assert isinstance(opt, MetaDE)
    return opt


def test_decode_floors_the_discrete_genes_and_keeps_them_in_range() -> None:
    genes = torch.tensor(
        [[0.25, 0.75, 0.0, 3.99, 1.0, 2.5], [1.0, 0.0, 4.0, 1.2, 5.0, 3.0]], dtype=torch.float64
    )
    s = decode(genes)
    assert s["F"].tolist() == [0.25, 1.0] and s["CR"].tolist() == [0.75, 0.0]
    assert s["bl"].tolist() == [0, 3] and s["br"].tolist() == [3, 1]
    assert s["dn"].tolist() == [1, 4] and s["cs"].tolist() == [2, 2]


@pytest.mark.parametrize("cr", [0.0, 0.5, 1.0])
def test_each_instance_crosses_over_by_its_own_strategy(cr: float) -> None:
    opt = make()
    k, n, d = 4, 10, 4
    genes = torch.tensor([[0.5, cr, 0.0, 0.0, 1.0, cs] for cs in (0.0, 1.0, 2.0, 0.0)])
    out = opt._crossover(
        torch.zeros(k, n, d, dtype=torch.float64),
        torch.ones(k, n, d, dtype=torch.float64),
        decode(genes.double()),
    )
    taken = out[:2] == 1.0
    # binomial and exponential take at least one mutant coordinate; CR = 1 takes all, CR = 0 exactly one
    counts = taken.sum(dim=2)
    assert bool((counts >= 1).all())
    if cr == 1.0:
        assert bool((counts == d).all())
    if cr == 0.0:
        assert bool((counts == 1).all())
    # exponential takes one cyclic run of coordinates
    runs = [row.tolist() for row in taken[1]]
    for row in runs:
        starts = sum(1 for j in range(d) if row[j] and not row[j - 1])
        assert starts == 1 or all(row), row
    # arithmetic: x + CR (v - x) everywhere
    assert torch.allclose(out[2], torch.full((n, d), cr, dtype=torch.float64))


def test_outer_generation_keeps_the_better_strategies_and_restarts_the_runs() -> None:
    opt = make()
    for _ in range(3):
        opt.step()
    assert opt.outer_generations == 1 and opt.inner_x is None and opt.outer_x is not None
    first = opt.outer_f.clone()
    assert bool(torch.isfinite(first).all())
    for _ in range(6):
        opt.step()
    assert opt.outer_generations == 3
    assert bool((opt.outer_f <= first).all())  # one-to-one selection never loses a strategy's value
    assert float(opt.outer_f.min()) >= float(opt.best_f[0])
    strategy = opt.result().extras["strategy"]
    assert (
        strategy["crossover"] in ("bin", "exp", "arith")
        and 1 <= strategy["difference_vectors"] <= 4
    )
    lower, upper = opt.gene_lower, opt.gene_upper
    assert bool(((opt.strategies >= lower) & (opt.strategies <= upper)).all())


def test_resumes_exactly_across_an_outer_generation() -> None:
    straight = make(seed=3)
    for _ in range(2):
        straight.step()
    buf = io.BytesIO()
    torch.save(straight.state_dict(), buf)
    for _ in range(5):  # through the outer step at generation 3 and into the next runs
        straight.step()
    buf.seek(0)
    resumed = make(seed=99)
    resumed.load_state_dict(torch.load(buf, weights_only=True))
    for _ in range(5):
        resumed.step()
    assert torch.equal(straight.best_x, resumed.best_x)
    assert straight.outer_x is not None and resumed.outer_x is not None
    assert torch.equal(straight.outer_x, resumed.outer_x)
    assert resumed.inner_x is not None and straight.inner_x is not None
    assert torch.equal(straight.inner_x, resumed.inner_x)


def test_improves_on_its_first_sample_of_a_sphere() -> None:
    problem = Sphere(dim=5)
    result = polyopt.optimize(
        "metade",
        problem,
        budget=8_000,
        seed=1,
        device="cpu",
        pop_size=80,
        n_instances=4,
        inner_generations=25,
    )
    assert isinstance(result, polyopt.Result)
    assert result.f_best < 0.05, result.f_best  # seeds 0-5 gave 5e-7 .. 6e-3
    assert bool(problem.space.contains(result.x).all())


def test_rejects_populations_that_do_not_split_into_instances() -> None:
    with pytest.raises(polyopt.ConfigError, match="multiple of n_instances"):
        make(pop_size=45)
    with pytest.raises(polyopt.ConfigError, match="members per instance"):
        make(pop_size=20)
