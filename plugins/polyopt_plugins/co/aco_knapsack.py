"""MAX-MIN ant colony for the 0/1 knapsack, tensorized over ants (and instances in :class:`KnapsackColony`).

Pheromone sits on items (``B x n``). An ant packs one item a step, drawn with probability proportional to
``tau^alpha * eta^beta`` among the unpacked items that still fit (``eta``: value per unit of weight), until
nothing fits, so every packing is feasible. MAX-MIN update: every trail evaporates, the iteration's best ant
(the best-so-far every ``global_best_every`` iterations) deposits 1 on its items, and trails stay within
``[tau_max / (2n), tau_max]`` with ``tau_max = 1 / rho`` (the equilibrium of a unit deposit), starting at
``tau_max`` and reset after ``restart_after`` iterations without improvement. The default local search
(``greedy-repair``) fills the best ants' packings with the best-ratio items that still fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt import Evaluation, ObjectiveOptimizer, Result
from polyopt_plugins.co._common import make_local_search
from polyopt_plugins.co.local_search import routing_structure

__all__ = ["KnapsackAntColony", "KnapsackColony", "KnapsackColonyConfig"]


class KnapsackColony:
    """Item trails and packing construction for ``B`` knapsack instances.

    Args:
        weights: ``B x n`` weights.
        ratio: ``B x n`` heuristic desirability (value per unit of weight).
        capacity: ``B`` capacities.
        alpha, beta, rho, restart_after, global_best_every: as :class:`KnapsackColonyConfig`.
    """

    def __init__(
        self,
        weights: Tensor,
        ratio: Tensor,
        capacity: Tensor,
        *,
        alpha: float = 1.0,
        beta: float = 2.0,
        rho: float = 0.1,
        restart_after: int = 50,
        global_best_every: int = 10,
    ) -> None:
        self.weights, self.capacity = weights, capacity
        self.alpha, self.rho = alpha, rho
        self.restart_after, self.global_best_every = restart_after, global_best_every
        self.eta_beta = ratio.clamp_min(1e-12) ** beta
        b, n = weights.shape
        self.tau_max = 1.0 / rho
        self.tau_min = self.tau_max / (2 * n)
        self.tau = torch.full_like(weights, self.tau_max)
        self.best = torch.zeros(b, n, dtype=torch.bool, device=weights.device)
        self.best_value = torch.full((b,), -math.inf, dtype=weights.dtype, device=weights.device)
        self.stale = torch.zeros(b, dtype=torch.long, device=weights.device)
        self.iteration = 0

    def construct(self, n_ants: int, generator: torch.Generator) -> Tensor:
        """``B x A x n`` bool packings, each feasible and maximal (no unpacked item fits)."""
        b, n = self.weights.shape
        w = self.weights.unsqueeze(1)  # B x 1 x n
        desire = (self.tau**self.alpha * self.eta_beta).unsqueeze(1).expand(b, n_ants, n)
        packed = torch.zeros(b, n_ants, n, dtype=torch.bool, device=w.device)
        load = torch.zeros(b, n_ants, 1, dtype=w.dtype, device=w.device)
        tiny = torch.finfo(desire.dtype).tiny
        for _ in range(n):
            fits = ~packed & (w <= self.capacity.view(b, 1, 1) - load)
            active = fits.any(dim=2)  # B x A: ants that can still pack something
            if not bool(active.any()):
                break
            weight = torch.where(fits, desire + tiny, 0.0)
            weight = torch.where(active.unsqueeze(2), weight, 1.0)  # finished ants draw a dummy
            item = torch.multinomial(weight.view(b * n_ants, n), 1, generator=generator).view(
                b, n_ants
            )
            take = torch.nn.functional.one_hot(item, n).bool() & active.unsqueeze(2)
            packed |= take
            load = load + (take * w).sum(dim=2, keepdim=True)
        return packed

    def update(self, packings: Tensor, values: Tensor) -> None:
        """MAX-MIN update after one iteration (``packings``: ``B x A x n``; ``values``: ``B x A``, higher is
        better, ``-inf`` for failed ants)."""
        self.iteration += 1
        it_value, it_arg = values.max(dim=1)
        n = packings.shape[2]
        it_best = packings.gather(1, it_arg.view(-1, 1, 1).expand(-1, 1, n)).squeeze(1)
        better = it_value > self.best_value
        self.best_value = torch.where(better, it_value, self.best_value)
        self.best = torch.where(better.unsqueeze(1), it_best, self.best)
        self.stale = torch.where(better, 0, self.stale + 1)
        use_best = self.iteration % self.global_best_every == 0
        deposit = (self.best if use_best else it_best).to(self.tau.dtype)
        found = torch.isfinite(self.best_value).unsqueeze(1)
        self.tau = self.tau * (1.0 - self.rho) + torch.where(found, deposit, 0.0)
        restart = (self.stale >= self.restart_after).unsqueeze(1)
        self.tau = torch.where(restart, self.tau_max, self.tau).clamp(self.tau_min, self.tau_max)
        self.stale = torch.where(restart.squeeze(1), 0, self.stale)

    def state_dict(self) -> dict[str, Any]:
        """The mutable state."""
        keys = ("tau", "best", "best_value", "stale")
        return {**{k: getattr(self, k).clone() for k in keys}, "iteration": self.iteration}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        for key in ("tau", "best", "best_value", "stale"):
            setattr(self, key, state[key].to(self.tau.device))
        self.iteration = int(state["iteration"])


@dataclass
class KnapsackColonyConfig:
    n_ants: int = 16
    """Ants per iteration."""
    alpha: float = 1.0
    """Weight of the item trails."""
    beta: float = 2.0
    """Weight of the value-per-weight heuristic."""
    rho: float = 0.1
    """Evaporation rate."""
    restart_after: int = 50
    """Reset the trails after this many iterations without a better packing."""
    global_best_every: int = 10
    """Deposit the best-so-far packing instead of the iteration's best every this many iterations."""
    local_search: str | None = "auto"
    """A registered ``local_search`` for the best ants (``"auto"``: ``greedy-repair``); None for none."""
    local_search_options: dict[str, Any] | None = None
    """Options for the local search's factory."""
    local_search_ants: int = 2
    """How many of each iteration's best ants the local search improves."""

    def __post_init__(self) -> None:
        if self.n_ants < 1 or self.local_search_ants < 0:
            raise ValueError(
                f"n_ants={self.n_ants}, local_search_ants={self.local_search_ants}; expected n_ants >= 1 "
                "and local_search_ants >= 0"
            )
        if not 0.0 < self.rho < 1.0:
            raise ValueError(f"rho={self.rho}; expected an evaporation rate in (0, 1)")


class KnapsackAntColony(ObjectiveOptimizer):
    """MAX-MIN ant colony on a single-value knapsack objective (see the module docstring)."""

    Config = KnapsackColonyConfig
    space_kinds = frozenset({"binary"})
    max_objectives = 1

    config: KnapsackColonyConfig

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super().compatibility(problem)
        if reason is None and routing_structure(problem) != "knapsack":
            return "it needs a knapsack problem exposing weights, values and capacity"
        return reason

    def setup(self) -> None:
        c = self.config
        p: Any = self.problem
        weights = p.weights.to(**self.like).unsqueeze(0)
        ratio = p.values.to(**self.like).sum(dim=0, keepdim=True) / weights.clamp_min(1e-12)
        capacity = torch.tensor([float(p.capacity)], **self.like)
        self.colony = KnapsackColony(
            weights,
            ratio,
            capacity,
            alpha=c.alpha,
            beta=c.beta,
            rho=c.rho,
            restart_after=c.restart_after,
            global_best_every=c.global_best_every,
        )
        self.local_search = make_local_search(
            self.problem, c.local_search, c.local_search_options, f"optimizer {self.name!r}"
        )
        self.best_x = torch.empty(0, self.problem.space.dim, **self.like)
        self.best_ev = Evaluation(
            f=torch.empty(0, 1, **self.like), g=torch.empty(0, 1, **self.like)
        )

    def _values(self, x: Tensor) -> tuple[Tensor, Evaluation]:
        ev = self.evaluate(x)
        value = torch.where(ev.feasible(), -ev.f[:, 0], -math.inf)  # higher is better
        self._keep(x, ev, value)
        return value, ev

    def _keep(self, x: Tensor, ev: Evaluation, value: Tensor) -> None:
        best = int(value.argmax())
        current = -float(self.best_ev.f[0, 0]) if self.best_ev.f.shape[0] else -math.inf
        if math.isfinite(float(value[best])) and float(value[best]) > current:
            self.best_x = x[best : best + 1].clone()
            g = ev.g[best : best + 1].clone() if ev.g is not None else None
            self.best_ev = Evaluation(f=ev.f[best : best + 1].clone(), g=g)

    def iterate(self) -> dict[str, float]:
        c = self.config
        x = self.colony.construct(c.n_ants, self.generator)[0].to(self.dtype)  # A x n
        value, _ = self._values(x)
        k = min(c.local_search_ants, c.n_ants)
        if self.local_search is not None and k > 0:
            idx = value.topk(k).indices
            improved = self.local_search(x[idx])
            new_value, _ = self._values(improved)
            x = x.index_copy(0, idx, improved)
            value = value.index_copy(0, idx, new_value)
        self.colony.update(x.bool().unsqueeze(0), value.unsqueeze(0))
        sign = float(self.problem.signs[0])
        return {
            "n_evaluations": float(self.n_evaluations),
            "step_best": -float(value.max()) * sign,
            "best": -float(self.colony.best_value[0]) * sign,
        }

    def result(self) -> Result:
        return self.make_result(self.best_x, self.best_ev)

    def get_state(self) -> dict[str, Any]:
        return {
            "colony": self.colony.state_dict(),
            "best_x": self.best_x,
            "best_f": self.best_ev.f,
            "best_g": self.best_ev.g,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.colony.load_state_dict(state["colony"])
        self.best_x = state["best_x"].to(**self.like)
        g = state["best_g"]
        self.best_ev = Evaluation(
            f=state["best_f"].to(**self.like), g=None if g is None else g.to(**self.like)
        )
