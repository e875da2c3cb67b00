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

    @property
    def batch_size(self) -> int:
        return self.config.batch_size

    def ask(self, n: int | None = None) -> Tensor:
        return self.problem.space.sample(
            n or self.batch_size, generator=self.generator, dtype=self.dtype, device=self.device
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
        self._sobol_seed = int(
            torch.randint(0, 2**31 - 1, (), generator=self.generator, device=self.device)
        )
        self._drawn = 0
        self._engine = torch.quasirandom.SobolEngine(
            self.problem.space.encoded_dim, scramble=True, seed=self._sobol_seed
        )

    def ask(self, n: int | None = None) -> Tensor:
        n = n or self.batch_size
        z = self._engine.draw(n, dtype=torch.float64)
        self._drawn += n
        return self.problem.space.decode(z).to(device=self.device, dtype=self.dtype)

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "drawn": self._drawn, "sobol_seed": self._sobol_seed}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self._drawn, self._sobol_seed = int(state["drawn"]), int(state["sobol_seed"])
        self._engine = torch.quasirandom.SobolEngine(
            self.problem.space.encoded_dim, scramble=True, seed=self._sobol_seed
        )
        self._engine.fast_forward(self._drawn)
