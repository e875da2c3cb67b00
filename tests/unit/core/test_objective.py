from __future__ import annotations

import pytest
import torch

import polyopt
from polyopt import Box, Evaluation, EvaluationError, Objective


def bowl(n_obj: int = 1, **kw) -> polyopt.FunctionObjective:
    @polyopt.objective(bounds=([-1.0] * 2, [1.0] * 2), n_objectives=n_obj, **kw)
    def f(x):
        return torch.stack([(x**2).sum(-1) + i for i in range(n_obj)], dim=-1)

    return f


def test_decorator_makes_a_batched_objective() -> None:
    obj = bowl()
    ev = obj(torch.zeros(3, 2, dtype=torch.float64))
    assert ev.f.shape == (3, 1) and obj.name == "f"


def test_evaluate_converts_maximized_objectives_to_minimization() -> None:
    obj = bowl(2, directions=["minimize", "maximize"])
    ev = polyopt.evaluate(obj, torch.ones(1, 2, dtype=torch.float64))
    assert ev.f.tolist() == [[2.0, -3.0]]


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_non_finite_values_mark_the_row_failed_and_keep_it(bad: float) -> None:
    @polyopt.objective(bounds=([0.0], [1.0]))
    def flaky(x):
        f = x[:, 0].clone()
        f[1] = bad
        return f

    ev = polyopt.evaluate(flaky, torch.rand(3, 1, dtype=torch.float64))
    assert ev.failed.tolist() == [False, True, False]
    assert ev.f[1, 0].item() != ev.f[1, 0].item() or abs(ev.f[1, 0].item()) == float(
        "inf"
    )  # raw value kept
    assert ev.violation()[1] == float("inf") and ev.feasible().tolist() == [True, False, True]


def test_nan_constraints_mark_the_row_failed() -> None:
    obj = polyopt.FunctionObjective(
        lambda x: (x[:, 0], torch.stack([x[:, 0] * float("nan")], -1)),
        Box([0.0], [1.0]),
        n_constraints=1,
    )
    assert polyopt.evaluate(obj, torch.ones(2, 1, dtype=torch.float64)).failed.all()


@pytest.mark.parametrize(
    ("fn", "message"),
    [
        (lambda x: torch.zeros(x.shape[0], 3, dtype=x.dtype), r"shape \(4, 3\); expected \(4, 1\)"),
        (
            lambda x: torch.zeros(x.shape[0] + 1, dtype=x.dtype),
            r"shape \(5, 1\); expected \(4, 1\)",
        ),
        (
            lambda x: Evaluation(f=torch.zeros(x.shape[0], 1, dtype=torch.long)),
            "dtype torch.int64; expected a floating",
        ),
        (
            lambda x: torch.zeros(x.shape[0], dtype=torch.long),
            None,
        ),  # plain functions' ints are converted
        (lambda x: [0.0] * x.shape[0], None),  # and so are lists
    ],
)
def test_wrong_shapes_and_dtypes_raise_clearly(fn, message) -> None:
    obj = polyopt.FunctionObjective(fn, Box([0.0], [1.0]), name="broken")
    x = torch.rand(4, 1, dtype=torch.float64)
    if message is None:
        assert polyopt.evaluate(obj, x).f.shape == (4, 1)
        return
    with pytest.raises(EvaluationError, match=message):
        polyopt.evaluate(obj, x)


def test_values_on_another_device_raise() -> None:
    class Elsewhere(Objective):
        space = Box([0.0], [1.0])

        def evaluate(self, x):
            return Evaluation(f=torch.zeros(x.shape[0], 1, device="meta"))

    with pytest.raises(EvaluationError, match="on meta for points on cpu"):
        polyopt.evaluate(Elsewhere(), torch.rand(2, 1))


def test_undeclared_constraints_raise() -> None:
    obj = polyopt.FunctionObjective(lambda x: (x[:, 0], x), Box([0.0], [1.0]))
    with pytest.raises(EvaluationError, match="declares n_constraints=0"):
        polyopt.evaluate(obj, torch.rand(2, 1))


def test_wrong_direction_names_raise() -> None:
    with pytest.raises(EvaluationError, match="'maximise'"):
        bowl(1, directions="maximise")


def test_failure_and_cat_and_indexing() -> None:
    ev = Evaluation.cat(
        [Evaluation(f=torch.ones(2, 2)), Evaluation.failure(1, 2, dtype=torch.float32)]
    )
    assert ev.failed_mask.tolist() == [False, False, True]
    assert ev[2].failed_mask.tolist() == [True] and len(ev[0:2]) == 2
