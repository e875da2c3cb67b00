"""HypE: the Monte Carlo fitness against exact hypervolume, its survival, and a short run."""

from __future__ import annotations

import math

import pytest
import torch

import polyopt
from polyopt.metrics import hv_contributions, hypervolume
from polyopt_plugins.moea.hype import HypESurvival, hype_alpha, hype_fitness


def _front(n: int, m: int, seed: int) -> torch.Tensor:
    """``n`` mutually non-dominated points on the unit sphere's positive part."""
    g = torch.Generator().manual_seed(seed)
    f = torch.rand(n, m, generator=g, dtype=torch.float64) + 0.05
    return f / f.norm(dim=1, keepdim=True)


def test_alpha_is_the_papers_product() -> None:
    k, n = 3, 7
    w = hype_alpha(k, n, dtype=torch.float64, device=torch.device("cpu"))
    for i in range(n + 1):
        if 1 <= i <= k:
            alpha = math.prod((k - j) / (n - j) for j in range(1, i))
            assert w[i].item() == pytest.approx(alpha / i)
        else:
            assert w[i].item() == 0.0


def test_k_one_is_the_exclusive_contribution() -> None:
    f = _front(8, 3, 0)
    ref = torch.full((3,), 1.2, dtype=torch.float64)
    est = hype_fitness(f, ref, 1, 400_000, torch.Generator().manual_seed(1))
    exact = hv_contributions(f, ref)
    torch.testing.assert_close(est, exact, atol=0.01 * float(exact.max()), rtol=0.05)


def test_k_all_shares_out_the_whole_hypervolume() -> None:
    f = _front(20, 4, 2)
    ref = torch.full((4,), 1.2, dtype=torch.float64)
    est = hype_fitness(f, ref, 20, 200_000, torch.Generator().manual_seed(3))
    assert float(est.sum()) == pytest.approx(hypervolume(f, ref), rel=0.01)
    assert bool((est > 0).all())


def test_points_beyond_the_reference_point_are_worth_nothing() -> None:
    f = torch.tensor([[0.2, 0.9], [0.9, 0.2], [2.0, 0.1]], dtype=torch.float64)
    est = hype_fitness(f, torch.tensor([1.0, 1.0]).double(), 2, 10_000, torch.Generator())
    assert est[2] == 0.0 and bool((est[:2] > 0).all())


def test_survival_keeps_better_fronts_and_drops_a_duplicate_first() -> None:
    front = _front(6, 3, 4)
    f = torch.cat(
        [front, front[:1], front + 0.5]
    )  # a duplicate, then a dominated copy of the front
    v = torch.zeros(f.shape[0], dtype=torch.float64)
    chosen = HypESurvival(n_samples=50_000)(f, v, 6, torch.Generator().manual_seed(5))
    kept = sorted(chosen.index.tolist())
    assert len(kept) == 6 and all(i < 7 for i in kept)
    assert (0 in kept) != (6 in kept)  # one of the two equal points went
    assert bool((chosen.crowding > 0).all())  # survivors carry their fitness for the tournament


def test_survival_refuses_bad_settings() -> None:
    with pytest.raises(ValueError, match="n_samples=0"):
        HypESurvival(n_samples=0)


def test_hype_beats_random_search_on_dtlz2_with_five_objectives() -> None:
    problem = polyopt.make("objective", "dtlz2", n_obj=5, n_var=9)
    ref = torch.full((5,), 1.1, dtype=torch.float64)
    budget = 1_200
    hype = polyopt.optimize("hype", problem, budget=budget, seed=0, pop_size=40, n_samples=4000)
    rand = polyopt.optimize("random-search", problem, budget=budget, seed=0, batch_size=40)
    assert isinstance(hype, polyopt.Result) and isinstance(rand, polyopt.Result)
    assert hypervolume(hype.f, ref) > 1.5 * hypervolume(rand.f, ref)
