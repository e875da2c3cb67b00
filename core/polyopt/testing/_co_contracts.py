"""The conformance class of the co family's ``local_search`` kind."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch
from torch import Tensor

import polyopt
from polyopt.errors import ConfigError
from polyopt.objective import Objective

__all__ = ["LocalSearchContract"]


def _problems() -> dict[str, list[Objective]]:
    """Small problems of each structure (see ``polyopt.components.STRUCTURES``)."""
    from polyopt_envs.co import CVRP, TSP, Knapsack, MOKnapsack, OpenCVRP

    return {
        "tsp": [TSP(n=8, seed=0)],
        "cvrp": [CVRP(n=8, seed=0), OpenCVRP(n=8, seed=1)],
        "knapsack": [Knapsack(n=10, seed=0), MOKnapsack(n=8, seed=0)],
    }


def _no_worse(before: polyopt.Evaluation, after: polyopt.Evaluation) -> Tensor:
    """Rows of ``after`` no worse than ``before`` (minimization form): less violation, or as little and every
    objective no higher."""
    vb, va = before.violation(), after.violation()
    tol = 1e-9 * (1.0 + before.f.abs())
    return (va < vb) | ((va <= vb) & (after.f <= before.f + tol).all(dim=1))


class LocalSearchContract:
    """Subclass with ``local_search = "name"`` (or the factory) and optionally ``options``.

    Checks that it builds for the problems of its ``structures`` and refuses others, returns valid points of
    the same shape, dtype and device, never makes a point worse, improves some random points, and is
    deterministic and independent of the batch.
    """

    local_search: Any
    options: ClassVar[dict[str, Any]] = {}
    n: int = 6

    def factory(self) -> Any:
        target = self.local_search
        return polyopt.registry().get("local_search", target) if isinstance(target, str) else target

    def built(self) -> list[tuple[Objective, Any]]:
        factory = self.factory()
        problems = _problems()
        return [(p, factory(p, **self.options)) for s in factory.structures for p in problems[s]]

    def sample(self, problem: Objective, dtype: torch.dtype = torch.float64) -> Tensor:
        return problem.space.sample(self.n, generator=torch.Generator().manual_seed(1), dtype=dtype)

    def test_refuses_a_problem_without_its_structure(self) -> None:
        from polyopt_envs.basic import Sphere

        with pytest.raises(ConfigError):
            self.factory()(Sphere(dim=3), **self.options)

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_returns_valid_points_no_worse_than_given(self, dtype: torch.dtype) -> None:
        for problem, search in self.built():
            x = self.sample(problem, dtype)
            y = search(x)
            assert y.shape == x.shape and y.dtype == dtype and y.device == x.device
            assert bool(problem.space.contains(y.to(torch.float64)).all()), "left the space"
            before = polyopt.evaluate(problem, x.to(torch.float64))
            after = polyopt.evaluate(problem, y.to(torch.float64))
            worse = ~_no_worse(before, after)
            assert not bool(worse.any()), f"made rows {worse.nonzero().flatten().tolist()} worse"

    def test_improves_random_points(self) -> None:
        for problem, search in self.built():
            x = self.sample(problem)
            before, after = polyopt.evaluate(problem, x), polyopt.evaluate(problem, search(x))
            less = (after.violation() < before.violation()) | (after.f < before.f - 1e-9).any(dim=1)
            assert bool(less.any()), f"improved none of {self.n} random points of {problem!r}"

    def test_deterministic_and_batch_independent(self) -> None:
        for problem, search in self.built():
            x = self.sample(problem)
            batched = search(x)
            assert torch.equal(batched, search(x))
            rows = torch.cat([search(x[i : i + 1]) for i in range(self.n)])
            assert torch.equal(batched, rows)
