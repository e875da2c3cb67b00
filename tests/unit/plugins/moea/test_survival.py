"""Survivals against pymoo 0.6.2 on the same inputs: NSGA-II, NSGA-III, SMS-EMOA; and their constraint rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st

pymoo = pytest.importorskip("pymoo")
from pymoo.algorithms.moo.nsga3 import ReferenceDirectionSurvival, associate_to_niches  # noqa: E402
from pymoo.algorithms.moo.sms import LeastHypervolumeContributionSurvival  # noqa: E402
from pymoo.core.population import Population  # noqa: E402
from pymoo.core.problem import Problem  # noqa: E402
from pymoo.operators.survival.rank_and_crowding import RankAndCrowding  # noqa: E402

from polyopt.pareto import crowding_distance, non_dominated_sort  # noqa: E402
from polyopt.refdirs import das_dennis  # noqa: E402
from polyopt_plugins.moea.niching import ReferenceDirectionSurvival as OurRefDirSurvival  # noqa: E402
from polyopt_plugins.moea.niching import associate  # noqa: E402
from polyopt_plugins.moea.survival import HVContributionSurvival, RankAndCrowdingSurvival  # noqa: E402


def _problem(m: int, n_constr: int = 0) -> Problem:
    return Problem(n_var=1, n_obj=m, n_ieq_constr=n_constr, xl=0.0, xu=1.0)


def _pymoo_survivors(survival, f: np.ndarray, n: int, seed: int, **kw) -> list[int]:
    pop = Population.new("F", f)
    return sorted(
        survival.do(
            _problem(f.shape[1]),
            pop,
            n_survive=n,
            random_state=np.random.default_rng(seed),
            return_indices=True,
            **kw,
        )
    )


def _ours(survival, f: np.ndarray, n: int, seed: int = 0, violation: torch.Tensor | None = None):
    ft = torch.as_tensor(f)
    v = torch.zeros(f.shape[0], dtype=torch.float64) if violation is None else violation
    return survival(ft, v, n, torch.Generator().manual_seed(seed))


def _check_rank_and_crowding(f: np.ndarray, k: int, seed: int) -> None:
    """Ties in crowding (extremes are inf) are broken at random by both libraries, so the survivors'
    (rank, crowding) multisets must agree, and the sets themselves whenever the cut is tie-free."""
    ours = _ours(RankAndCrowdingSurvival(), f, k, seed)
    pop = Population.new("F", f)
    chosen = RankAndCrowding().do(
        _problem(f.shape[1]), pop, n_survive=k, random_state=np.random.default_rng(seed)
    )
    theirs = sorted(zip(chosen.get("rank").tolist(), np.round(chosen.get("crowding"), 12).tolist()))
    mine = sorted(zip(ours.rank.tolist(), np.round(ours.crowding.numpy(), 12).tolist()))
    assert mine == theirs
    rank = non_dominated_sort(torch.as_tensor(f))
    crowd = crowding_distance(torch.as_tensor(f), rank)
    last = rank.sort().values[k - 1]
    split = crowd[rank == last].sort(descending=True).values
    taken = k - int((rank < last).sum())
    if taken == split.numel() or split[taken - 1] != split[taken]:  # nothing random at the cut
        assert sorted(ours.index.tolist()) == _pymoo_survivors(RankAndCrowding(), f, k, seed)


@given(
    seed=st.integers(0, 2**31 - 1),
    m=st.integers(2, 4),
    n=st.integers(4, 60),
    frac=st.floats(0.1, 0.95),
)
@settings(max_examples=40, deadline=None)
def test_rank_and_crowding_equals_pymoo_on_random_points(
    seed: int, m: int, n: int, frac: float
) -> None:
    _check_rank_and_crowding(
        np.random.default_rng(seed).random((n, m)), max(1, int(frac * n)), seed
    )


def test_rank_and_crowding_equals_pymoo_when_the_cut_is_tie_free() -> None:
    f = np.random.default_rng(0).random((200, 3))
    for k in (42, 99, 156):  # the splitting fronts need all their inf extremes and a tie-free rest
        assert sorted(_ours(RankAndCrowdingSurvival(), f, k).index.tolist()) == _pymoo_survivors(
            RankAndCrowding(), f, k, 0
        )


@given(seed=st.integers(0, 2**31 - 1), n=st.integers(4, 50), frac=st.floats(0.1, 0.95))
@settings(max_examples=40, deadline=None)
def test_rank_and_crowding_matches_pymoo_on_tied_points(seed: int, n: int, frac: float) -> None:
    """Integer grids give duplicate points, equal objective values and equal crowding distances."""
    f = np.random.default_rng(seed).integers(0, 4, (n, 2)).astype(float)
    _check_rank_and_crowding(f, max(1, int(frac * n)), seed)


def test_feasibility_first_fills_with_least_violating() -> None:
    f = np.random.default_rng(0).random((10, 2))
    v = torch.tensor([0, 0, 3.0, 1.0, 0, float("inf"), 2.0, 0.5, 0, 0])
    ours = _ours(RankAndCrowdingSurvival(), f, 8, violation=v)
    assert set(ours.index.tolist()) == {
        0,
        1,
        4,
        8,
        9,
        7,
        3,
        6,
    }  # the 5 feasible, then violations .5, 1, 2
    assert ours.rank[-3:].tolist() == sorted(ours.rank[-3:].tolist())
    assert (
        5 not in _ours(RankAndCrowdingSurvival(), f, 9, violation=v).index.tolist()
    )  # failed row last


def _nsga3_inputs(seed: int, n: int, m: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.random((n, m)) ** 2 + 0.1 * rng.random((n, 1))  # curved fronts with several ranks


@pytest.mark.parametrize("m,h", [(2, 12), (3, 6), (4, 4)])
@pytest.mark.parametrize("seed", range(6))
def test_nsga3_normalization_association_and_niche_counts_equal_pymoo(
    seed: int, m: int, h: int
) -> None:
    dirs = das_dennis(h, m)
    theirs = ReferenceDirectionSurvival(dirs.numpy())
    ours = OurRefDirSurvival(dirs)
    for gen in range(3):  # the normalization carries ideal, worst and extremes across generations
        f = _nsga3_inputs(seed * 10 + gen, 60, m)
        pop = Population.new("F", f)
        kept = theirs.do(_problem(m), pop, n_survive=30, random_state=np.random.default_rng(seed))
        _ours(ours, f, 30, seed)
        norm = ours.norm
        np.testing.assert_allclose(norm.ideal.numpy(), theirs.norm.ideal_point, rtol=1e-12)
        np.testing.assert_allclose(norm.extremes.numpy(), theirs.norm.extreme_points, rtol=1e-12)
        np.testing.assert_allclose(norm.nadir.numpy(), theirs.norm.nadir_point, rtol=1e-10)
        niche, dist = associate(torch.as_tensor(f), dirs, norm.ideal, norm.nadir)
        p_niche, p_dist, _ = associate_to_niches(
            f, dirs.numpy(), theirs.norm.ideal_point, theirs.norm.nadir_point
        )
        assert niche.tolist() == p_niche.tolist()
        np.testing.assert_allclose(dist.numpy(), p_dist, rtol=1e-7, atol=1e-9)
        assert len(kept) == 30


@given(seed=st.integers(0, 2**31 - 1), m=st.integers(2, 4), n=st.integers(6, 60))
@settings(max_examples=30, deadline=None)
def test_nsga3_survivors_equal_pymoo(seed: int, m: int, n: int) -> None:
    """Niching is random among equals. The survivors' niche-count profile is not (each round gives one
    more member to every niche at the minimum count), so it must always equal pymoo's; the survivor set
    must equal pymoo's when 30 pymoo seeds all agree on it.

    Inputs where two objectives share an extreme point are skipped: the hyperplane is singular there, and
    pymoo may accept whatever LAPACK returns for it (it only falls back when numpy raises), while polyopt
    always falls back to the worst point of the first front, as pymoo's own fallback does."""
    f = _nsga3_inputs(seed, n, m)
    dirs = das_dennis({2: 12, 3: 6, 4: 4}[m], m)
    k = n // 2
    ours = OurRefDirSurvival(dirs)
    chosen = _ours(ours, f, k, seed).index
    assume(torch.unique(ours.norm.extremes, dim=0).shape[0] == m)
    niche, _ = associate(torch.as_tensor(f), dirs, ours.norm.ideal, ours.norm.nadir)
    kept = ReferenceDirectionSurvival(dirs.numpy()).do(
        _problem(m), Population.new("F", f), n_survive=k, random_state=np.random.default_rng(seed)
    )
    profile = lambda niches: sorted(np.bincount(niches, minlength=len(dirs)).tolist())  # noqa: E731
    assert profile(niche[chosen].numpy()) == profile(kept.get("niche"))
    sets = {
        tuple(_pymoo_survivors(ReferenceDirectionSurvival(dirs.numpy()), f, k, s))
        for s in range(30)
    }
    if len(sets) == 1:
        assert tuple(sorted(chosen.tolist())) in sets


@given(
    seed=st.integers(0, 2**31 - 1),
    m=st.integers(2, 5),
    n=st.integers(4, 40),
    removed=st.integers(1, 3),
)
@settings(max_examples=40, deadline=None)
def test_sms_emoa_removes_the_same_individuals_as_pymoo(
    seed: int, m: int, n: int, removed: int
) -> None:
    f = np.random.default_rng(seed).random((n, m))
    prev = np.random.default_rng(seed + 1).random(
        (n, m)
    )  # the "previous population" sets the scale
    ideal, nadir = prev.min(axis=0), prev.max(axis=0) + 1e-32
    k = n - removed
    theirs = _pymoo_survivors(
        LeastHypervolumeContributionSurvival(), f, k, seed, ideal=ideal, nadir=nadir
    )
    ours = HVContributionSurvival()
    ours.bounds = (torch.as_tensor(ideal), torch.as_tensor(nadir))
    assert sorted(_ours(ours, f, k).index.tolist()) == theirs


def test_monte_carlo_contributions_approximate_exact_ones() -> None:
    from polyopt.metrics import hv_contributions
    from polyopt_plugins.moea.survival import mc_hv_contributions

    f = torch.as_tensor(np.random.default_rng(0).random((8, 3)))
    f = f / f.norm(dim=1, keepdim=True)  # mutually non-dominated points on a sphere
    ref = torch.full((3,), 1.5, dtype=torch.float64)
    exact = hv_contributions(f, ref)
    approx = mc_hv_contributions(f, ref, 400_000, torch.Generator().manual_seed(0))
    assert torch.allclose(approx, exact, atol=0.01)


@pytest.mark.parametrize("m", [4, 5])
def test_monte_carlo_picks_a_least_contributor_with_many_objectives(m: int) -> None:
    """Sampling in the whole reference box (the estimator before per-point boxes) left 23-31 of these 40
    points without one exclusive sample at 10,000 samples, and its least contributor was a near-random one
    (exact ranks 9-23 of 40 at m = 4): the choice must be among the least quarter."""
    from polyopt.metrics import hv_contributions
    from polyopt_plugins.moea.survival import mc_hv_contributions

    for seed in range(3):
        f = torch.as_tensor(np.random.default_rng(seed).random((40, m)))
        f = f / f.norm(dim=1, keepdim=True)  # mutually non-dominated; thin exclusive regions
        ref = torch.full((m,), 11.0, dtype=torch.float64)  # SMS-EMOA's 1 + eps
        exact = hv_contributions(f, ref)
        approx = mc_hv_contributions(f, ref, 10_000, torch.Generator().manual_seed(seed))
        assert int((exact < exact[approx.argmin()]).sum()) < 10
        assert bool((approx > 0).all())  # no point is left unscored


def test_monte_carlo_gives_dominated_points_and_duplicates_nothing() -> None:
    from polyopt_plugins.moea.survival import mc_hv_contributions

    f = torch.tensor(
        [[0.1, 0.5, 0.5, 0.5], [0.2, 0.6, 0.6, 0.6], [0.5, 0.1, 0.5, 0.5], [0.5, 0.1, 0.5, 0.5]],
        dtype=torch.float64,
    )
    ref = torch.full((4,), 2.0, dtype=torch.float64)
    c = mc_hv_contributions(f, ref, 4_000, torch.Generator().manual_seed(0))
    assert c[0] > 0 and c[1] == 0 and c[2] == 0 and c[3] == 0


def test_exact_objectives_chooses_exact_or_monte_carlo_contributions() -> None:
    from polyopt.metrics import hv_contributions

    f = torch.as_tensor(np.random.default_rng(0).random((12, 4)))
    f = f / f.norm(dim=1, keepdim=True)
    ref = torch.full((4,), 11.0, dtype=torch.float64)
    exact = HVContributionSurvival(exact_objectives=4).contributions(f, torch.Generator())
    assert torch.equal(exact, hv_contributions(f, ref))
    approx = HVContributionSurvival(exact_objectives=3).contributions(
        f, torch.Generator().manual_seed(0)
    )
    assert not torch.equal(approx, exact)
    assert bool((approx > 0).all())
