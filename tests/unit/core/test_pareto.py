"""Tests for polyopt.pareto: sorting parity with moocore/pymoo, constrained domination, crowding, archive."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from polyopt import pareto
from polyopt.pareto import (
    ParetoArchive,
    crowding_distance,
    dominates,
    non_dominated_mask,
    non_dominated_sort,
    pareto_filter,
)

moocore = pytest.importorskip("moocore")

FAST = settings(max_examples=40, deadline=None)


@st.composite
def point_sets(draw: st.DrawFn, max_n: int = 40, tied: bool | None = None) -> np.ndarray:
    """n x m float arrays; with ``tied`` small integer coordinates so ties and duplicates are common."""
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(1, 4))
    tied = draw(st.booleans()) if tied is None else tied
    elements = (
        st.integers(0, 3).map(float) if tied else st.floats(-10, 10, allow_nan=False, width=32)
    )
    return draw(arrays(np.float64, (n, m), elements=elements))


def brute_force_ranks(f: np.ndarray, v: np.ndarray | None = None) -> np.ndarray:
    """Front peeling with pymoo's constrained domination (Dominator.get_relation), O(n^3)."""
    n = len(f)
    v = np.zeros(n) if v is None else v

    def dom(i: int, j: int) -> bool:
        if v[i] != v[j]:
            return bool(v[i] < v[j])
        return bool(np.all(f[i] <= f[j]) and np.any(f[i] < f[j]))

    ranks, remaining, r = np.full(n, -1), set(range(n)), 0
    while remaining:
        front = [j for j in remaining if not any(dom(i, j) for i in remaining)]
        ranks[front] = r
        remaining -= set(front)
        r += 1
    return ranks


@FAST
@given(point_sets())
def test_ranks_match_moocore_and_pymoo(points: np.ndarray) -> None:
    from pymoo.util.nds.fast_non_dominated_sort import fast_non_dominated_sort
    from pymoo.util.nds.non_dominated_sorting import rank_from_fronts

    f = torch.from_numpy(points)
    expected = moocore.pareto_rank(points)
    pymoo_ranks = rank_from_fronts(fast_non_dominated_sort(points), len(points))
    np.testing.assert_array_equal(expected, pymoo_ranks)
    for backend in ("torch", "moocore", "auto"):
        np.testing.assert_array_equal(non_dominated_sort(f, backend=backend).numpy(), expected)


@FAST
@given(point_sets(max_n=60, tied=True))
def test_tiled_torch_path_with_tiny_blocks_matches_moocore(points: np.ndarray) -> None:
    with pytest.MonkeyPatch.context() as mp:  # force the blocked (non-dense) path with tiny blocks
        mp.setattr(pareto, "_DENSE_MAX_POINTS", 0)
        mp.setattr(pareto, "_BLOCK_ELEMENTS", 7)
        ranks = non_dominated_sort(torch.from_numpy(points), backend="torch")
    np.testing.assert_array_equal(ranks.numpy(), moocore.pareto_rank(points))


@FAST
@given(point_sets(), st.data())
def test_constrained_ranks_match_brute_force(points: np.ndarray, data: st.DataObject) -> None:
    n = len(points)
    levels = st.sampled_from([0.0, 0.0, 0.5, 1.0, 2.0, math.inf])
    v = np.array(data.draw(st.lists(levels, min_size=n, max_size=n)))
    expected = brute_force_ranks(points, v)
    for backend in ("torch", "auto"):
        got = non_dominated_sort(torch.from_numpy(points), torch.from_numpy(v), backend=backend)
        np.testing.assert_array_equal(got.numpy(), expected)
    first = non_dominated_sort(torch.from_numpy(points), torch.from_numpy(v), first_front_only=True)
    np.testing.assert_array_equal(first.numpy(), (expected > 0).astype(np.int64))


@FAST
@given(point_sets())
def test_first_front_only_agrees_with_rank_zero(points: np.ndarray) -> None:
    f = torch.from_numpy(points)
    ranks = non_dominated_sort(f)
    for backend in ("torch", "auto"):
        first = non_dominated_sort(f, first_front_only=True, backend=backend)
        assert torch.equal(first, (ranks > 0).long())
    assert torch.equal(non_dominated_mask(f), ranks == 0)


def test_feasible_beats_infeasible_and_lower_violation_wins() -> None:
    f = torch.tensor([[0.0, 0.0], [5.0, 5.0], [6.0, 6.0], [1.0, 9.0], [9.0, 1.0]])
    v = torch.tensor([1.0, 0.0, 0.0, 2.0, 2.0])
    assert non_dominated_sort(f, v).tolist() == [2, 0, 1, 3, 3]


def test_nan_objectives_count_as_worst() -> None:
    f = torch.tensor([[1.0, math.nan], [1.0, 2.0], [math.nan, math.nan]])
    for backend in ("torch", "auto"):
        assert non_dominated_sort(f, backend=backend).tolist() == [1, 0, 2]


def test_duplicates_share_a_front() -> None:
    f = torch.tensor([[1.0, 1.0], [1.0, 1.0], [2.0, 2.0], [2.0, 2.0]])
    assert non_dominated_sort(f, backend="torch").tolist() == [0, 0, 1, 1]


def test_dominates_broadcasts() -> None:
    a = torch.tensor([[0.0, 0.0], [1.0, 1.0]])
    b = torch.tensor([1.0, 1.0])
    assert dominates(a, b).tolist() == [True, False]
    assert dominates(a[:, None], a[None]).tolist() == [[False, True], [False, False]]


def test_empty_input() -> None:
    assert non_dominated_sort(torch.zeros(0, 3)).shape == (0,)
    assert crowding_distance(torch.zeros(0, 2)).shape == (0,)


def test_large_set_ranks_without_dense_tensor() -> None:
    f = torch.rand(50_000, 3, generator=torch.Generator().manual_seed(0))
    ranks = non_dominated_sort(f)
    np.testing.assert_array_equal(ranks.numpy(), moocore.pareto_rank(f.double().numpy()))


def test_tiled_torch_path_matches_moocore(monkeypatch: pytest.MonkeyPatch) -> None:
    # Force the path large sets take (no dense n x n relation, row blocks) on a set small enough for CPU tests;
    # 50,000 points through it are measured in benchmarks/sorting_vs_moocore.py.
    import polyopt.pareto as pareto

    monkeypatch.setattr(pareto, "_DENSE_MAX_POINTS", 0)
    monkeypatch.setattr(pareto, "_BLOCK_ELEMENTS", 1 << 16)
    f = torch.rand(3_000, 3, generator=torch.Generator().manual_seed(1))
    ranks = non_dominated_sort(f, backend="torch")
    np.testing.assert_array_equal(ranks.numpy(), moocore.pareto_rank(f.double().numpy()))


@FAST
@given(point_sets(max_n=50, tied=False), st.booleans())
def test_crowding_matches_pymoo(points: np.ndarray, per_front: bool) -> None:
    from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance

    f = torch.from_numpy(points)
    ranks = non_dominated_sort(f) if per_front else torch.zeros(len(points), dtype=torch.int64)
    cd = crowding_distance(f, ranks if per_front else None).numpy()
    for r in np.unique(ranks.numpy()):
        idx = np.flatnonzero(ranks.numpy() == r)
        expected = (
            np.full(len(idx), np.inf) if len(idx) <= 2 else calc_crowding_distance(points[idx])
        )
        np.testing.assert_allclose(cd[idx], expected, rtol=1e-10)


def test_crowding_with_duplicates_matches_pymoo_cd() -> None:
    from pymoo.operators.survival.rank_and_crowding.metrics import calc_crowding_distance

    points = np.array([[0.0, 3.0], [1.0, 2.0], [1.0, 2.0], [2.0, 1.0], [3.0, 0.0], [1.0, 2.0]])
    np.testing.assert_allclose(
        crowding_distance(torch.from_numpy(points)).numpy(), calc_crowding_distance(points)
    )


@FAST
@given(point_sets(max_n=30, tied=True))
def test_pareto_filter_is_unique_non_dominated(points: np.ndarray) -> None:
    f = torch.from_numpy(points)
    x = torch.arange(len(points)).unsqueeze(1)
    f_nd, x_nd = pareto_filter(f, x=x)
    assert x_nd is not None and torch.equal(f[x_nd.squeeze(1)], f_nd)
    assert torch.unique(f_nd, dim=0).shape[0] == f_nd.shape[0]
    assert not dominates(f[:, None], f_nd[None]).any()  # nothing in f dominates the kept points
    expected = {tuple(row) for row in points[moocore.pareto_rank(points) == 0]}
    assert {tuple(row) for row in f_nd.numpy()} == expected


def test_pareto_filter_prefers_feasible() -> None:
    f = torch.tensor([[0.0, 0.0], [1.0, 1.0], [2.0, 0.5]])
    f_nd, _ = pareto_filter(f, torch.tensor([1.0, 0.0, 0.0]))
    assert f_nd.tolist() == [[1.0, 1.0], [2.0, 0.5]]


def test_archive_is_feasibility_first() -> None:
    arch = ParetoArchive(2)
    arch.update(
        torch.tensor([[0.0], [1.0]]),
        torch.tensor([[0.0, 0.0], [5.0, 5.0]]),
        violation=torch.tensor([2.0, 1.0]),
    )
    assert arch.f.tolist() == [[5.0, 5.0]]  # least violating while nothing is feasible
    arch.update(
        torch.tensor([[2.0], [3.0]]),
        torch.tensor([[9.0, 9.0], [1.0, 1.0]]),
        violation=torch.tensor([0.0, 0.5]),
    )
    assert arch.f.tolist() == [[9.0, 9.0]] and arch.x.tolist() == [[2.0]]
    arch.update(torch.tensor([[4.0], [5.0]]), torch.tensor([[8.0, 10.0], [9.0, 9.0]]))
    assert arch.f.tolist() == [
        [9.0, 9.0],
        [8.0, 10.0],
    ]  # duplicate of an archived point not re-added
    assert len(arch) == 2


def test_archive_drops_failed_rows_and_keeps_nothing_if_all_failed() -> None:
    arch = ParetoArchive(2)
    arch.update(torch.zeros(2, 1), torch.zeros(2, 2), violation=torch.tensor([math.inf, math.inf]))
    assert len(arch) == 0 and arch.f.shape == (0, 2)
    arch.update(
        torch.zeros(2, 1),
        torch.tensor([[1.0, 1.0], [0.0, 0.0]]),
        violation=torch.tensor([0.0, math.inf]),
    )
    assert arch.f.tolist() == [[1.0, 1.0]]


def test_archive_with_constraints_derives_violation() -> None:
    arch = ParetoArchive(1)
    g = torch.tensor([[0.5, -1.0], [-1.0, -2.0]])
    arch.update(torch.zeros(2, 3), torch.tensor([[0.0], [1.0]]), g=g)
    assert arch.f.tolist() == [[1.0]] and arch.g is not None and arch.g.tolist() == [[-1.0, -2.0]]
    with pytest.raises(ValueError):
        arch.update(torch.zeros(1, 3), torch.tensor([[0.0]]))


def test_archive_max_size_drops_most_crowded_and_keeps_extremes() -> None:
    t = torch.linspace(0, 1, 21)
    f = torch.stack([t, 1 - t], dim=1)
    f = torch.cat([f, torch.tensor([[0.501, 0.499]])])  # a crowded extra point
    arch = ParetoArchive(2, max_size=10)
    arch.update(torch.arange(len(f)).unsqueeze(1).float(), f)
    assert len(arch) == 10
    kept = {tuple(round(v, 3) for v in row) for row in arch.f.tolist()}
    assert (0.0, 1.0) in kept and (1.0, 0.0) in kept
    assert not ((0.5, 0.5) in kept and (0.501, 0.499) in kept)


def test_archive_state_roundtrip() -> None:
    arch = ParetoArchive(2, max_size=5)
    gen = torch.Generator().manual_seed(0)
    arch.update(torch.rand(30, 4, generator=gen), torch.rand(30, 2, generator=gen))
    state = arch.state_dict()
    assert all(isinstance(v, (torch.Tensor, int)) or v is None for v in state.values())
    other = ParetoArchive(2)
    other.load_state_dict(state)
    assert torch.equal(other.f, arch.f) and torch.equal(other.x, arch.x) and other.max_size == 5
    x_new, f_new = torch.rand(10, 4, generator=gen), torch.rand(10, 2, generator=gen)
    arch.update(x_new, f_new)
    other.update(x_new, f_new)
    assert torch.equal(other.f, arch.f)
