"""Random and Sobol search: the baselines every study compares against.

Both sample in batches, keep the non-dominated (or best) points seen in a :class:`ParetoArchive`, and handle
any space and any number of objectives and constraints.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt import AskTellOptimizer, Evaluation, Result
from polyopt.pareto import ParetoArchive
from polyopt.spaces import SobolSampler


@dataclass
class SearchConfig:
    batch_size: int = 16
    """Points asked per step."""
    archive_size: int | None = None
    """Keep at most this many non-dominated points (truncated by crowding); None keeps all."""

    def __post_init__(self) -> None:
        if self.batch_size < 1:
            raise ValueError(f"batch_size={self.batch_size}; expected at least 1")


class RandomSearch(AskTellOptimizer):
    """Uniform random search over the problem's space."""

    Config = SearchConfig

    def setup(self) -> None:
        self.archive = ParetoArchive(self.problem.n_objectives, max_size=self.config.archive_size)

    def ask(self, n: int | None = None) -> Tensor:
        return self.problem.space.sample(
            n or self.batch_size, generator=self.generator, **self.like
        )

    def tell(self, x: Tensor, evaluation: Evaluation) -> None:
        self.archive.update(x, evaluation.f, evaluation.g, evaluation.violation())

    def result(self) -> Result:
        a = self.archive
        ev = Evaluation(f=a.f, g=a.g, failed=torch.isinf(a.violation))
        return self.make_result(a.x, ev)

    def get_state(self) -> dict[str, Any]:
        return {"archive": self.archive.state_dict()}

    def set_state(self, state: dict[str, Any]) -> None:
        self.archive.load_state_dict(state["archive"])


class SobolSearch(RandomSearch):
    """Scrambled Sobol points in the space's continuous encoding, decoded to valid points."""

    def setup(self) -> None:
        super().setup()
        self._sobol = SobolSampler(self.problem.space, self.generator)

    def ask(self, n: int | None = None) -> Tensor:
        return self._sobol.draw(n or self.batch_size, **self.like)

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "sobol": self._sobol.state_dict()}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self._sobol.load_state_dict(state["sobol"])
