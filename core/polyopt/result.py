"""What a run produces, in the user's direction.

Two kinds of run, two result types with a common base:

- :class:`Result` — a search optimizer's best point(s): for one objective the best feasible point, for several
  the non-dominated set ``x, f`` (and ``g``).
- :class:`TrainerResult` — a trainer's policy and the return (reward) vectors it achieves, with the training
  history and its last evaluation metrics.

Both carry the objective values a study scores (``f`` with its ``directions``), the run's counters and wall
time, and ``extras`` for anything else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from polyopt.errors import PolyoptError
from polyopt.objective import signs_of

__all__ = ["Result", "RunResult", "TrainerResult"]


@dataclass(kw_only=True)
class RunResult:
    """What every run reports: counters, wall time, names, and its objective values for scoring.

    Attributes:
        n_evaluations: objective evaluations spent.
        n_steps: optimizer steps taken.
        n_env_steps: environment steps (trainers).
        wall_time: seconds spent in the run, across resumes.
        directions: the direction of each column of ``f``.
        optimizer: the optimizer's registry name (or class name).
        problem: the problem's name.
        extras: anything else.
    """

    n_evaluations: int = 0
    n_steps: int = 0
    n_env_steps: int = 0
    wall_time: float = 0.0
    directions: tuple[str, ...] = ()
    optimizer: str = ""
    problem: str = ""
    extras: dict[str, Any] = field(default_factory=dict)

    @property
    def values(self) -> Tensor:
        """``k x m`` objective values a study scores (user's direction)."""
        raise NotImplementedError

    @property
    def scorable(self) -> bool:
        """Whether :attr:`values` may be scored (there are valid, feasible rows)."""
        return self.values.shape[0] > 0

    @property
    def n_objectives(self) -> int:
        return self.values.shape[-1]

    def minimization_form(self) -> Tensor:
        """``k x m`` values with maximized objectives negated (what metrics expect)."""
        v = self.values
        return v * signs_of(self.directions, v.shape[-1]).to(device=v.device, dtype=v.dtype)

    def hypervolume(self, ref_point: Sequence[float] | Tensor) -> float:
        """Hypervolume of :attr:`values` w.r.t. ``ref_point`` (user's direction); 0 when not scorable."""
        from polyopt.metrics import hypervolume

        if not self.scorable:
            return 0.0
        v = self.values.detach().cpu().to(torch.float64)
        sign = signs_of(self.directions, v.shape[-1])
        ref = torch.as_tensor(ref_point, dtype=torch.float64).cpu()
        return hypervolume(v * sign, ref * sign)

    def _header(self) -> str:
        return (
            f"{self.optimizer} on {self.problem}: {self.n_evaluations} evaluations, "
            f"{self.n_steps} steps, {self.wall_time:.2f} s"
        )


@dataclass
class Result(RunResult):
    """Best point(s) a search optimizer found, with objective values in the objective's own direction.

    For one objective, ``x``/``f`` hold the single best point (``1 x d``/``1 x 1``) and :attr:`x_best`/
    :attr:`f_best` unpack it; for several, ``x``/``f`` are the non-dominated set (``k x d``/``k x m``).
    Feasible points are preferred; while none is known they are the least-violating ones and ``feasible`` is
    False.

    Attributes:
        x: ``k x d`` points.
        f: ``k x m`` objective values (user's direction).
        g: ``k x c`` constraint values or None.
        feasible: whether ``x`` satisfies every constraint.
        infeasible_declared: the optimizer concluded that no feasible point exists (e.g. CONFIG).
    """

    x: Tensor
    f: Tensor
    g: Tensor | None = None
    feasible: bool = True
    infeasible_declared: bool = False

    @property
    def values(self) -> Tensor:
        return self.f

    @property
    def scorable(self) -> bool:
        return self.feasible and self.f.shape[0] > 0

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

    def summary(self) -> str:
        """One line per fact, for the CLI."""
        lines = [self._header()]
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


@dataclass
class TrainerResult(RunResult):
    """What a trainer learned: its policy and the return vectors it achieves (maximized).

    Attributes:
        policy: the trained policy (a ``torch.nn.Module``), or one per row of ``returns`` (a list) when the
            trainer learns several (multi-objective RL).
        returns: ``k x m`` return (reward) vectors, higher is better: the best training step's mean reward
            vector, or the non-dominated ones when the trainer reports a front.
        labels: ``k`` what each row of ``returns`` is: the training step, or the index of its policy.
        reward_names: the name of each of the ``m`` reward components.
        history: ``s x m`` mean reward vector of each training step (or evaluation), oldest first.
        metrics: the last evaluation's metrics (e.g. ``{"accuracy": 0.73}``), empty if none ran.
    """

    policy: Any
    returns: Tensor
    labels: Tensor | None = None
    reward_names: list[str] = field(default_factory=list)
    history: Tensor | None = None
    metrics: dict[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.directions:
            self.directions = ("maximize",) * self.returns.shape[-1]

    @property
    def values(self) -> Tensor:
        return self.returns

    @property
    def f(self) -> Tensor:
        """The returns, as the objective values a study scores (``k x m``, maximized)."""
        return self.returns

    @property
    def feasible(self) -> bool:
        """Trainers have no constraints: always True."""
        return True

    def summary(self) -> str:
        """One line per fact, for the CLI."""
        lines = [self._header() + f", {self.n_env_steps} environment steps"]
        names = self.reward_names or [f"r{j}" for j in range(self.returns.shape[-1])]
        for row in self.returns.tolist()[:10]:
            lines.append(", ".join(f"{n} = {v:.4g}" for n, v in zip(names, row)))
        lines.extend(f"{k}: {v:.4g}" for k, v in self.metrics.items())
        return "\n".join(lines)
