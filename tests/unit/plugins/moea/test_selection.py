"""Tournaments decide as pymoo's do; MOEA/D's mating picks distinct parents."""

from __future__ import annotations

import torch

from polyopt_plugins.moea.selection import binary_tournament, distinct_indices, random_permutations


def _contest(
    f: list[list[float]],
    v: list[float],
    compare: str = "dominance",
    crowding=None,
    rank=None,
    trials: int = 400,
) -> torch.Tensor:
    """Winners of many tournaments between two individuals (indices 0 and 1)."""
    ft, vt = torch.tensor(f, dtype=torch.float64), torch.tensor(v, dtype=torch.float64)
    cd = None if crowding is None else torch.tensor(crowding, dtype=torch.float64)
    rk = None if rank is None else torch.tensor(rank)
    return binary_tournament(
        ft, vt, trials, 1, torch.Generator().manual_seed(0), crowding=cd, rank=rk, compare=compare
    ).flatten()


def test_smaller_violation_always_wins() -> None:
    assert bool((_contest([[0.0, 0.0], [5.0, 5.0]], [2.0, 1.0]) == 1).all())
    assert bool((_contest([[0.0, 0.0], [5.0, 5.0]], [float("inf"), 3.0]) == 1).all())


def test_equal_violations_are_a_coin_flip() -> None:
    wins = _contest([[0.0, 0.0], [5.0, 5.0]], [1.0, 1.0]).float().mean()
    assert 0.4 < float(wins) < 0.6


def test_dominance_then_crowding_then_coin() -> None:
    assert bool((_contest([[1.0, 1.0], [0.0, 0.0]], [0, 0]) == 1).all())
    assert bool((_contest([[0.0, 1.0], [1.0, 0.0]], [0, 0], crowding=[0.5, 2.0]) == 1).all())
    coin = _contest([[0.0, 1.0], [1.0, 0.0]], [0, 0], crowding=[1.0, 1.0]).float().mean()
    assert 0.4 < float(coin) < 0.6


def test_rank_comparison_and_random_comparison() -> None:
    # rank decides even between mutually non-dominated points
    assert bool(
        (
            _contest([[0.0, 1.0], [1.0, 0.0]], [0, 0], "rank", rank=[1, 0], crowding=[9.0, 0.0])
            == 1
        ).all()
    )
    share = _contest([[1.0, 1.0], [0.0, 0.0]], [0, 0], "random").float().mean()
    assert 0.4 < float(share) < 0.6  # NSGA-III: feasible contests are random


def test_contestants_come_from_concatenated_permutations() -> None:
    idx = random_permutations(10, 40, torch.Generator().manual_seed(1), torch.device("cpu"))
    assert torch.equal(torch.bincount(idx, minlength=10), torch.full((10,), 4))


def test_distinct_indices_are_distinct_and_uniform() -> None:
    d = distinct_indices(30_000, 6, 3, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert bool(
        (d[:, 0] != d[:, 1]).all() & (d[:, 0] != d[:, 2]).all() & (d[:, 1] != d[:, 2]).all()
    )
    counts = torch.bincount(d.flatten(), minlength=6).double()
    assert float(counts.std() / counts.mean()) < 0.03
