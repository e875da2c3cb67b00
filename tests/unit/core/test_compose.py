from __future__ import annotations

import pytest
import torch

import polyopt
from polyopt import Box, ConfigError, SpaceError
from polyopt.compose import constrain, desirability, noisy, scalarize, stack


def two() -> polyopt.FunctionObjective:
    return polyopt.FunctionObjective(
        lambda x: torch.stack([x[:, 0], 1 - x[:, 0]], -1),
        Box([0.0], [1.0]),
        n_objectives=2,
        name="two",
    )


X = torch.tensor([[0.25], [0.5]], dtype=torch.float64)


def test_scalarize_methods_match_their_formulas() -> None:
    w = [0.3, 0.7]
    lin = polyopt.evaluate(scalarize(two(), w, "linear"), X).f[:, 0]
    assert torch.allclose(lin, torch.tensor([0.3 * 0.25 + 0.7 * 0.75, 0.5], dtype=torch.float64))
    cheb = polyopt.evaluate(scalarize(two(), w, "chebyshev"), X).f[:, 0]
    assert torch.allclose(cheb, torch.tensor([0.7 * 0.75, 0.35], dtype=torch.float64))
    pbi = polyopt.evaluate(scalarize(two(), [1.0, 1.0], "pbi", theta=5.0), X).f[:, 0]
    # f=(0.5, 0.5) lies on the direction: d1 = |f| = sqrt(0.5), d2 = 0
    assert pbi[1].item() == pytest.approx(0.5**0.5)


def test_scalarize_negates_maximized_objectives_first() -> None:
    obj = polyopt.FunctionObjective(
        lambda x: torch.stack([x[:, 0], x[:, 0]], -1),
        Box([0.0], [1.0]),
        n_objectives=2,
        directions=["minimize", "maximize"],
    )
    assert polyopt.evaluate(scalarize(obj, [1.0, 1.0], "linear"), X).f.abs().max() == 0


@pytest.mark.parametrize(
    ("w", "msg"),
    [
        ([1.0], "has 1 values; expected 2"),
        ([-1.0, 1.0], "non-negative"),
        ([0.0, 0.0], "not all zero"),
    ],
)
def test_bad_weights_raise(w, msg) -> None:
    with pytest.raises(ConfigError, match=msg):
        scalarize(two(), w)


def test_stack_and_constrain() -> None:
    one = polyopt.FunctionObjective(lambda x: x[:, 0] ** 2, Box([0.0], [1.0]))
    both = constrain(stack(two(), one), lambda x: x[:, 0] - 0.3)
    ev = polyopt.evaluate(both, X)
    assert ev.f.shape == (2, 3) and ev.feasible().tolist() == [True, False]
    with pytest.raises(SpaceError, match="expected the same space"):
        stack(two(), polyopt.FunctionObjective(lambda x: x[:, 0], Box([0.0], [2.0])))


def test_noisy_is_reproducible_and_has_the_requested_spread() -> None:
    obj = polyopt.FunctionObjective(
        lambda x: torch.zeros(x.shape[0], dtype=x.dtype), Box([0.0], [1.0])
    )
    x = torch.zeros(4000, 1, dtype=torch.float64)
    a, b = noisy(obj, 0.5, seed=1).evaluate(x).f, noisy(obj, 0.5, seed=1).evaluate(x).f
    assert torch.equal(a, b) and a.std().item() == pytest.approx(0.5, rel=0.05)


def test_desirability_is_one_at_best_zero_at_worst() -> None:
    d = desirability(two(), best=[0.0, 0.0], worst=[1.0, 1.0])
    ev = d.evaluate(torch.tensor([[0.5], [0.0]], dtype=torch.float64))
    assert ev.f[:, 0].tolist() == pytest.approx([0.5, 0.0])
    assert d.directions == ("maximize",)
