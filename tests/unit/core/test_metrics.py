"""Tests for polyopt.metrics: parity with pymoo/moocore indicators and properties of the estimators."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from polyopt import metrics
from polyopt.metrics import (
    METRICS,
    cardinality,
    expected_utility,
    gd,
    gd_plus,
    hv_contributions,
    hypervolume,
    hypervolume_mc,
    igd,
    igd_plus,
    spacing,
    sparsity,
)

moocore = pytest.importorskip("moocore")

FAST = settings(max_examples=30, deadline=None)


@st.composite
def point_sets(draw: st.DrawFn, m: int | None = None, max_n: int = 25) -> np.ndarray:
    n = draw(st.integers(1, max_n))
    m = draw(st.integers(2, 4)) if m is None else m
    tied = draw(st.booleans())
    elements = st.integers(0, 4).map(lambda v: v / 4) if tied else st.floats(0, 1, allow_nan=False)
    return draw(arrays(np.float64, (n, m), elements=elements))


@FAST
@given(point_sets())
def test_hypervolume_matches_pymoo_and_moocore(points: np.ndarray) -> None:
    from pymoo.indicators.hv import HV

    ref = np.full(points.shape[1], 1.1)
    expected = HV(ref_point=ref)(points)
    assert hypervolume(torch.from_numpy(points), ref) == pytest.approx(
        expected, rel=1e-12, abs=1e-15
    )
    assert hypervolume(torch.from_numpy(points), ref) == pytest.approx(
        moocore.hypervolume(points, ref=ref)
    )


@FAST
@given(point_sets(m=2))
def test_2d_sweep_matches_moocore(points: np.ndarray) -> None:
    ref = torch.tensor([1.0, 1.0], dtype=torch.float64)
    pts = metrics._inside(torch.from_numpy(points), ref)
    got = float(metrics._hv_2d(pts, ref)) if len(pts) else 0.0
    assert got == pytest.approx(moocore.hypervolume(points, ref=[1.0, 1.0]), abs=1e-12)


def test_hypervolume_ignores_points_outside_ref_and_empty_is_zero() -> None:
    f = torch.tensor([[0.5, 0.5], [2.0, 0.0], [1.0, 0.2]])
    assert hypervolume(f, [1.0, 1.0]) == pytest.approx(0.25)
    assert hypervolume(torch.zeros(0, 2), [1.0, 1.0]) == 0.0
    assert hypervolume_mc(torch.tensor([[2.0, 2.0]]), [1.0, 1.0]) == (0.0, 0.0)


@settings(max_examples=10, deadline=None)
@given(point_sets(m=3, max_n=15), st.integers(0, 2**31 - 1))
def test_mc_hypervolume_within_four_standard_errors(points: np.ndarray, seed: int) -> None:
    f, ref = torch.from_numpy(points), [1.1, 1.1, 1.1]
    exact = hypervolume(f, ref, method="exact")
    est, se = hypervolume_mc(
        f, ref, n_samples=20_000, generator=torch.Generator().manual_seed(seed)
    )
    # the sampled box is [ideal, ref]; slivers thinner than float resolution can make se 0 with a tiny bias
    assert abs(est - exact) <= 4 * se + 1e-6 * max(exact, 1.0)
    assert (
        hypervolume(f, ref, method="mc", n_samples=20_000)
        == hypervolume_mc(f, ref, n_samples=20_000)[0]
    )


def test_auto_uses_mc_beyond_six_objectives() -> None:
    f = torch.rand(20, 7, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ref = [1.0] * 7
    assert hypervolume(f, ref) == hypervolume_mc(f, ref)[0]


@FAST
@given(point_sets(max_n=10))
def test_hv_contributions_match_brute_force(points: np.ndarray) -> None:
    # moocore treats coordinates closer than about 1.2e-7 as equal (a contribution 1.3e-8 wide came back 0)
    gaps = np.abs(points[:, None, :] - points[None, :, :])
    assume(not ((gaps > 0) & (gaps < 1e-6)).any())
    f, ref = torch.from_numpy(points), [1.1] * points.shape[1]
    total = hypervolume(f, ref)
    contrib = hv_contributions(f, ref)
    for i in range(len(points)):
        rest = torch.cat([f[:i], f[i + 1 :]])
        assert contrib[i].item() == pytest.approx(total - hypervolume(rest, ref), abs=1e-12)


@FAST
@given(point_sets(), point_sets())
def test_distance_indicators_match_pymoo(a: np.ndarray, b: np.ndarray) -> None:
    from pymoo.indicators.gd import GD
    from pymoo.indicators.gd_plus import GDPlus
    from pymoo.indicators.igd import IGD
    from pymoo.indicators.igd_plus import IGDPlus

    m = min(a.shape[1], b.shape[1])
    a, b = a[:, :m], b[:, :m]
    fa, fb = torch.from_numpy(a), torch.from_numpy(b)
    for ours, theirs in ((igd, IGD), (igd_plus, IGDPlus), (gd, GD), (gd_plus, GDPlus)):
        assert ours(fa, fb) == pytest.approx(theirs(b)(a), rel=1e-10, abs=1e-12), ours.__name__


def test_distance_indicators_chunk(monkeypatch: pytest.MonkeyPatch) -> None:
    gen = torch.Generator().manual_seed(0)
    f, front = torch.rand(300, 3, generator=gen), torch.rand(200, 3, generator=gen)
    expected = [fn(f, front) for fn in (igd, igd_plus, gd, gd_plus)] + [spacing(f)]
    monkeypatch.setattr(metrics, "_CHUNK_ELEMENTS", 1000)
    got = [fn(f, front) for fn in (igd, igd_plus, gd, gd_plus)] + [spacing(f)]
    assert got == pytest.approx(expected, rel=1e-12)


@FAST
@given(point_sets(max_n=20))
def test_spacing_matches_pymoo(points: np.ndarray) -> None:
    from pymoo.indicators.spacing import SpacingIndicator

    if len(points) < 2:
        assert spacing(torch.from_numpy(points)) == 0.0
        return
    expected = SpacingIndicator(pf=points)(points)
    assert spacing(torch.from_numpy(points)) == pytest.approx(expected, rel=1e-10, abs=1e-12)


def morl_baselines_sparsity(front: np.ndarray) -> float:
    """Reference implementation transcribed from MORL-Baselines' performance_indicators.sparsity."""
    if len(front) < 2:
        return 0.0
    value = 0.0
    for dim in range(front.shape[1]):
        objs = np.sort(front.T[dim])
        for i in range(1, len(objs)):
            value += np.square(objs[i] - objs[i - 1])
    return value / (len(front) - 1)


@FAST
@given(point_sets())
def test_sparsity_matches_morl_baselines(points: np.ndarray) -> None:
    assert sparsity(torch.from_numpy(points)) == pytest.approx(
        morl_baselines_sparsity(points), abs=1e-12
    )


def test_cardinality_counts_unique_non_dominated() -> None:
    f = torch.tensor([[0.0, 1.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    assert cardinality(f) == 2
    assert cardinality(torch.zeros(0, 2)) == 0


def test_expected_utility_is_mean_of_best_linear_utility() -> None:
    f = torch.tensor([[0.0, 1.0], [1.0, 0.0]])
    w = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    assert expected_utility(f, w) == pytest.approx((0.0 - 0.5 + 0.0) / 3)
    # default: 100 Das-Dennis weights for two objectives, mean of max(-w.f)
    t = torch.linspace(0, 1, 100, dtype=torch.float64)
    w_default = torch.stack([t, 1 - t], dim=1)
    expected = (-(w_default @ f.double().T)).max(dim=1).values.mean().item()
    assert expected_utility(f) == pytest.approx(expected)
    with pytest.raises(ValueError):
        expected_utility(f, utility="chebyshev")


def test_metrics_mapping() -> None:
    assert set(METRICS) == {
        "hypervolume",
        "igd",
        "igd-plus",
        "gd",
        "gd-plus",
        "spacing",
        "sparsity",
        "cardinality",
        "expected-utility",
        "r2",
    }
    assert METRICS["igd-plus"] is igd_plus and all(callable(fn) for fn in METRICS.values())


def test_float32_input_gives_float_results() -> None:
    f = torch.rand(10, 2, generator=torch.Generator().manual_seed(1))
    assert isinstance(hypervolume(f, [1.0, 1.0]), float) and not math.isnan(igd(f, f))
