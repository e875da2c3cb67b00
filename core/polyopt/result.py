"""The outcome of an optimization run, in the user's direction."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from polyopt.errors import PolyoptError

__all__ = ["Result"]


@dataclass
class Result:
    """Best point(s) found, with objective values in the direction the objective declared.

    For one objective, ``x``/``f`` hold the single best point (``1 x d``/``1 x 1``) and :attr:`x_best`/
    :attr:`f_best` unpack it; for several, ``x``/``f`` are the non-dominated set (``k x d``/``k x m``). Feasible
    points are preferred; while none is known they are the least-violating ones and ``feasible`` is False.

    Attributes:
        x: ``k x d`` points.
        f: ``k x m`` objective values (user's direction).
        g: ``k x c`` constraint values or None.
        n_evaluations: objective evaluations spent.
        n_steps: optimizer steps taken.
        wall_time: seconds spent in the run.
        feasible: whether ``x`` satisfies every constraint.
        infeasible_declared: the optimizer concluded that no feasible point exists (e.g. CONFIG).
        directions: the objective's directions.
        optimizer: the optimizer's registry name (or class name).
        problem: the problem's name.
        extras: anything else (RL policies and their returns, a model, ...).
    """

    x: Tensor
    f: Tensor
    g: Tensor | None = None
    n_evaluations: int = 0
    n_steps: int = 0
    n_env_steps: int = 0
    wall_time: float = 0.0
    feasible: bool = True
    infeasible_declared: bool = False
    directions: tuple[str, ...] = ()
    optimizer: str = ""
    problem: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def n_objectives(self) -> int:
        return self.f.shape[-1]

    @property
    def x_best(self) -> Tensor:
        """``d``: the best point (single-objective results only)."""
        self._single("x_best")
        return self.x[0]

    @property
    def f_best(self) -> float:
        """The best objective value (single-objective results only)."""
        self._single("f_best")
        return float(self.f[0, 0])

    def _single(self, what: str) -> None:
        if self.n_objectives != 1:
            raise PolyoptError(
                f"{what} is defined for one objective; this result has {self.n_objectives}: "
                "use result.x and result.f (the non-dominated set)"
            )
        if self.x.shape[0] == 0:
            raise PolyoptError(f"{what}: no valid point was found (every evaluation failed)")

    def minimization_form(self) -> Tensor:
        """``k x m`` objective values with maximized objectives negated (what metrics expect)."""
        return self.f * self._signs().to(self.f.device)

    def _signs(self) -> Tensor:
        dirs = self.directions or ("minimize",) * self.n_objectives
        return torch.tensor([-1.0 if d == "maximize" else 1.0 for d in dirs], dtype=self.f.dtype)

    def hypervolume(self, ref_point: Sequence[float] | Tensor) -> float:
        """Hypervolume of ``f`` w.r.t. ``ref_point`` (user's direction), counting feasible points only."""
        from polyopt.metrics import hypervolume

        if not self.feasible or self.f.shape[0] == 0:
            return 0.0
        sign = self._signs()
        ref = torch.as_tensor(ref_point, dtype=self.f.dtype).cpu()
        return hypervolume(self.f.cpu() * sign, ref * sign)

    def summary(self) -> str:
        """One line per fact, for the CLI."""
        lines = [
            f"{self.optimizer} on {self.problem}: {self.n_evaluations} evaluations, {self.n_steps} steps, "
            f"{self.wall_time:.2f} s"
        ]
        if self.infeasible_declared:
            lines.append("the optimizer declared the problem infeasible")
        elif not self.feasible:
            lines.append("no feasible point found; showing the least-violating point(s)")
        if self.x.shape[0] == 0:
            lines.append("no valid point (every evaluation failed)")
        elif self.n_objectives == 1:
            lines.append(
                f"best f = {self.f_best:.6g} at x = {[round(v, 6) for v in self.x_best.tolist()]}"
            )
        else:
            lines.append(
                f"{self.x.shape[0]} non-dominated points in {self.n_objectives} objectives"
            )
        return "\n".join(lines)
