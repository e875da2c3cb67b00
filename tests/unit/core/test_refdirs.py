"""Tests for polyopt.refdirs: Das–Dennis parity with pymoo, Riesz-energy quality close to pymoo's."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from polyopt.refdirs import (
    das_dennis,
    n_das_dennis,
    project_to_simplex,
    riesz_energy,
    riesz_energy_directions,
)

pytest.importorskip("pymoo")


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 12), st.integers(1, 5))
def test_das_dennis_matches_pymoo(n_partitions: int, n_obj: int) -> None:
    from pymoo.util.ref_dirs import get_reference_directions

    expected = get_reference_directions("das-dennis", n_obj, n_partitions=n_partitions)
    got = das_dennis(n_partitions, n_obj)
    assert got.shape[0] == n_das_dennis(n_partitions, n_obj)
    np.testing.assert_array_equal(got.numpy(), expected)


@settings(max_examples=30, deadline=None)
@given(st.integers(1, 6), st.integers(1, 5), st.integers(0, 1000))
def test_simplex_projection(n: int, m: int, seed: int) -> None:
    v = torch.randn(n, m, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * 3
    p = project_to_simplex(v)
    assert (p >= 0).all() and torch.allclose(p.sum(dim=1), torch.ones(n, dtype=torch.float64))
    assert torch.allclose(project_to_simplex(p), p)  # points on the simplex stay put


def _min_spacing(x: torch.Tensor) -> float:
    d = torch.cdist(x, x)
    d.fill_diagonal_(float("inf"))
    return float(d.min())


@pytest.mark.parametrize(("n_points", "n_obj"), [(100, 2), (91, 3), (30, 5)])
def test_riesz_energy_quality_close_to_pymoo(n_points: int, n_obj: int) -> None:
    from pymoo.util.ref_dirs import get_reference_directions

    ours = riesz_energy_directions(n_points, n_obj, seed=0)
    theirs = torch.as_tensor(get_reference_directions("energy", n_obj, n_points, seed=1))
    assert ours.shape == (n_points, n_obj)
    assert (ours >= 0).all() and torch.allclose(
        ours.sum(dim=1), torch.ones(n_points, dtype=torch.float64)
    )
    # log mean energy within 1 % of pymoo's and minimum spacing within 15 %
    assert float(riesz_energy(ours)) <= 1.01 * float(riesz_energy(theirs))
    assert _min_spacing(ours) >= 0.85 * _min_spacing(theirs)


def test_riesz_energy_directions_are_deterministic_per_seed() -> None:
    a = riesz_energy_directions(20, 3, seed=3)
    assert torch.equal(a, riesz_energy_directions(20, 3, seed=3))
    assert not torch.equal(a, riesz_energy_directions(20, 3, seed=4))
