"""examples/desirability_study.py's objective is the Derringer-Suich desirability it describes (the example
itself runs in test_examples.py): checked by hand at a few recipes, and its study definition validates."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import torch

import polyopt

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch) -> Iterator[ModuleType]:
    monkeypatch.syspath_prepend(str(EXAMPLES))
    yield importlib.import_module("desirability_study")
    sys.modules.pop("desirability_study", None)


def _by_hand(yield_: float, cost: float, impurity: float) -> float:
    d_yield = min(max((yield_ - 75.0) / (95.0 - 75.0), 0.0), 1.0)
    d_cost = min(max((25.0 - cost) / (25.0 - 8.0), 0.0), 1.0) ** 2.0
    d_impurity = min(max((3.0 - impurity) / (3.0 - 0.6), 0.0), 1.0)
    if min(d_yield, d_cost, d_impurity) == 0:
        return 0.0
    return float((d_yield**2 * d_cost * d_impurity) ** (1 / 4))


def test_desirability_is_the_weighted_geometric_mean_of_the_three(example: ModuleType) -> None:
    x = torch.tensor(
        [[79.0, 28.5, 1.3], [88.0, 42.0, 2.2], [60.0, 10.0, 0.5], [100.0, 60.0, 3.0]],
        dtype=torch.float64,
    )
    raw = example.reaction(x).f
    got = polyopt.evaluate(example.DESIRABILITY, x).f[:, 0]
    expected = torch.tensor([_by_hand(*row) for row in raw.tolist()], dtype=torch.float64)
    torch.testing.assert_close(-got, expected)  # maximized: stored negated
    assert expected[0] > 0.5 and expected[3] == 0.0  # the hottest, longest recipe fails the cost


def test_the_example_study_validates(example: ModuleType, tmp_path: Path) -> None:
    from polyopt.study import Study

    study = Study(
        "check",
        optimizers=["random-search"],
        problems=["desirability_study:DESIRABILITY"],
        seeds=1,
        budget=8,
        metrics=["best"],
        base_dir=tmp_path,
    )
    study.validate()
    assert [r.key for r in study.runs()] == ["random-search/desirability_study:DESIRABILITY/0"]
