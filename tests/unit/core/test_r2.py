"""The R2 indicator: the formula by hand, weak Pareto compliance, its ideal point and weights."""

from __future__ import annotations

import pytest
import torch

from polyopt.metrics import r2


def test_r2_by_hand() -> None:
    f = torch.tensor([[0.2, 0.8], [0.6, 0.3]], dtype=torch.float64)
    w = torch.tensor([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]], dtype=torch.float64)
    # per weight, the best point's max_j w_j |f_j|: (1,0) -> 0.2; (.5,.5) -> min(.4, .3) = .3; (0,1) -> .3
    assert r2(f, w) == pytest.approx((0.2 + 0.3 + 0.3) / 3)
    shifted = r2(f, w, ideal=torch.tensor([0.2, 0.3], dtype=torch.float64))
    assert shifted == pytest.approx((0.0 + 0.2 + 0.0) / 3)  # gaps (0, .5) and (.4, 0)


def test_adding_a_point_never_raises_r2_and_a_dominating_set_is_no_worse() -> None:
    g = torch.Generator().manual_seed(0)
    for _ in range(20):
        f = torch.rand(8, 4, generator=g, dtype=torch.float64)
        extra = torch.rand(1, 4, generator=g, dtype=torch.float64)
        assert r2(torch.cat([f, extra])) <= r2(f) + 1e-12
        assert r2(f * 0.9) <= r2(f) + 1e-12  # every point moved closer to the ideal


def test_default_weights_cover_the_simplex_and_empty_sets_are_refused() -> None:
    f = torch.tensor([[0.5, 0.5, 0.5]], dtype=torch.float64)
    assert r2(f) == pytest.approx(0.5 * r2(f * 0 + 1.0))
    with pytest.raises(ValueError, match="at least one point"):
        r2(torch.zeros(0, 3, dtype=torch.float64))
