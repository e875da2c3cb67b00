"""Ant colony optimization, fully tensorized: Ant System (Dorigo et al. 1996) and MAX-MIN Ant System
(Stützle & Hoos 2000), with an optional local search of the best ants (2-opt on tours by default).

:class:`AntColony` is the batched core: pheromone trails for ``B`` instances at once (``B x n x n``); all ants
of all instances build their tours in parallel, one city per step for every ant (``B x A`` categorical draws
from ``tau^alpha * eta^beta`` with visited cities masked), and the pheromone update is a scatter-add over
their edges. :func:`solve_tsp` runs it on many TSP instances (the throughput path); :class:`AntSystem` and
:class:`MaxMinAntSystem` run it on one routing objective as polyopt optimizers.

On a CVRP objective the ants build giant tours over the customers (the problem's optimal split cuts them
into routes), guided by the customer-to-customer distances; the default local search is then relocate/swap.

MAX-MIN: only the iteration-best ant deposits (the best-so-far every ``global_best_every`` iterations), trails
stay within ``[tau_min, tau_max]`` (``tau_max = 1 / (rho L_best)``, ``tau_min`` from ``p_best``), start at
``tau_max``, and are reset to it after ``restart_after`` iterations without improvement.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt import Evaluation, ObjectiveOptimizer, Result
from polyopt.errors import ConfigError
from polyopt_envs.co import tour_length
from polyopt_plugins.co._common import make_local_search
from polyopt_plugins.co.local_search import TOUR_KERNELS, routing_structure

__all__ = ["AntColony", "AntSystem", "MaxMinAntSystem", "solve_tsp"]


class AntColony:
    """Pheromone trails and tour construction for ``B`` instances.

    Args:
        dist: ``B x n x n`` distances (the heuristic is ``eta = 1 / dist``).
        variant: ``"as"`` (Ant System) or ``"mmas"`` (MAX-MIN).
        alpha: weight of the trails.
        beta: weight of the heuristic.
        rho: evaporation rate.
        p_best: MAX-MIN's probability of rebuilding the best tour at convergence (sets ``tau_min``).
        restart_after: MAX-MIN resets the trails after this many iterations without improvement.
        global_best_every: MAX-MIN deposits the best-so-far tour instead of the iteration's every k-th time.
    """

    def __init__(
        self,
        dist: Tensor,
        *,
        variant: str = "mmas",
        alpha: float = 1.0,
        beta: float = 3.0,
        rho: float = 0.2,
        p_best: float = 0.05,
        restart_after: int = 50,
        global_best_every: int = 10,
    ) -> None:
        if variant not in ("as", "mmas"):
            raise ConfigError(f"variant={variant!r}; expected 'as' or 'mmas'")
        self.variant, self.alpha, self.beta, self.rho = variant, alpha, beta, rho
        self.p_best, self.restart_after, self.global_best_every = (
            p_best,
            restart_after,
            global_best_every,
        )
        b, n, _ = dist.shape
        self.n = n
        eye = torch.eye(n, dtype=torch.bool, device=dist.device)
        eta = 1.0 / dist.clamp_min(1e-10)
        self.eta_beta = torch.where(eye, 0.0, eta**beta)  # B x n x n
        self.tau = torch.ones_like(dist)
        self.best_tours = torch.zeros(b, n, dtype=torch.long, device=dist.device)
        self.best_lengths = torch.full((b,), math.inf, dtype=dist.dtype, device=dist.device)
        self.stale = torch.zeros(
            b, dtype=torch.long, device=dist.device
        )  # iterations since improving
        self.iteration = 0

    def greedy(self) -> Tensor:
        """``B x n`` nearest-neighbour tours from city 0 (the reference length that scales the trails)."""
        b = self.eta_beta.shape[0]
        visited = torch.zeros(b, self.n, dtype=torch.bool, device=self.tau.device)
        cur = torch.zeros(b, dtype=torch.long, device=self.tau.device)
        tours = [cur]
        visited[:, 0] = True
        rows = torch.arange(b, device=self.tau.device)
        for _ in range(self.n - 1):
            score = torch.where(visited, -1.0, self.eta_beta[rows, cur])
            cur = score.argmax(dim=1)
            visited[rows, cur] = True
            tours.append(cur)
        return torch.stack(tours, dim=1)

    def init_trails(self, reference: Tensor, n_ants: int) -> None:
        """Start the trails from reference tour lengths (``B``): ``tau_max`` (MAX-MIN) or ``A / L`` (AS)."""
        if self.variant == "mmas":
            self.tau = self._tau_max(reference).view(-1, 1, 1).expand_as(self.tau).clone()
        else:
            self.tau = (n_ants / reference).view(-1, 1, 1).expand_as(self.tau).clone()

    def _tau_max(self, length: Tensor) -> Tensor:
        return 1.0 / (self.rho * length)

    def _tau_min(self, tau_max: Tensor) -> Tensor:
        p = self.p_best ** (1.0 / self.n)
        return tau_max * (1.0 - p) / ((self.n / 2.0 - 1.0) * p)

    def construct(self, n_ants: int, generator: torch.Generator) -> Tensor:
        """``B x A x n`` tours: every ant of every instance adds one city a step."""
        b, n, dev = self.tau.shape[0], self.n, self.tau.device
        weight = self.tau**self.alpha * self.eta_beta  # B x n x n
        tiny = torch.finfo(weight.dtype).tiny
        cur = torch.randint(0, n, (b, n_ants), generator=generator, device=dev)
        visited = torch.nn.functional.one_hot(cur, n).bool()  # B x A x n
        tours = [cur]
        for _ in range(n - 1):
            w = weight.gather(
                1, cur.unsqueeze(2).expand(b, n_ants, n)
            )  # B x A x n: rows of the current
            w = torch.where(
                visited, 0.0, w + tiny
            )  # unvisited keep a positive weight (no underflow)
            cur = torch.multinomial(w.view(b * n_ants, n), 1, generator=generator).view(b, n_ants)
            visited.scatter_(2, cur.unsqueeze(2), True)
            tours.append(cur)
        return torch.stack(tours, dim=2)

    def update(self, tours: Tensor, lengths: Tensor) -> None:
        """Evaporate and deposit after one iteration. ``tours``: ``B x A x n``; ``lengths``: ``B x A``
        (``inf`` for failed ants, which deposit nothing)."""
        self.iteration += 1
        it_len, it_arg = lengths.min(dim=1)
        it_tour = tours.gather(1, it_arg.view(-1, 1, 1).expand(-1, 1, self.n)).squeeze(1)
        better = it_len < self.best_lengths
        self.best_lengths = torch.where(better, it_len, self.best_lengths)
        self.best_tours = torch.where(better.unsqueeze(1), it_tour, self.best_tours)
        self.stale = torch.where(better, 0, self.stale + 1)
        self.tau = self.tau * (1.0 - self.rho)
        if self.variant == "as":
            self._deposit(tours, torch.where(torch.isfinite(lengths), 1.0 / lengths, 0.0))
            return
        use_best = self.iteration % self.global_best_every == 0
        tour = self.best_tours if use_best else it_tour
        length = self.best_lengths if use_best else it_len
        self._deposit(
            tour.unsqueeze(1), torch.where(torch.isfinite(length), 1.0 / length, 0.0)[:, None]
        )
        found = torch.isfinite(self.best_lengths)  # bounds exist once an ant has a finite length
        tau_max = torch.where(found, self._tau_max(self.best_lengths), torch.inf).view(-1, 1, 1)
        tau_min = torch.where(found.view(-1, 1, 1), self._tau_min(tau_max), 0.0)
        restart = (self.stale >= self.restart_after) & found
        self.tau = torch.where(restart.view(-1, 1, 1), tau_max, self.tau)
        self.stale = torch.where(restart, 0, self.stale)
        self.tau = torch.minimum(torch.maximum(self.tau, tau_min), tau_max)

    def _deposit(self, tours: Tensor, amount: Tensor) -> None:
        """Add ``amount`` (``B x k``) on both directions of every edge of ``tours`` (``B x k x n``)."""
        b, k, n = tours.shape
        src, dst = tours, tours.roll(-1, dims=2)
        base = (torch.arange(b, device=tours.device) * n * n).view(b, 1, 1)
        add = amount.unsqueeze(2).expand(b, k, n).reshape(-1).to(self.tau.dtype)
        flat = self.tau.view(-1)
        flat.index_add_(0, (base + src * n + dst).reshape(-1), add)
        flat.index_add_(0, (base + dst * n + src).reshape(-1), add)

    def state_dict(self) -> dict[str, Any]:
        """The mutable state (tensors and numbers)."""
        keys = ("tau", "best_tours", "best_lengths", "stale")
        return {**{k: getattr(self, k).clone() for k in keys}, "iteration": self.iteration}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        for key in ("tau", "best_tours", "best_lengths", "stale"):
            setattr(self, key, state[key].to(self.tau.device))
        self.iteration = int(state["iteration"])


def _top_ants(tours: Tensor, lengths: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """The ``k`` shortest ants of each instance: their indices ``B x k`` and tours ``B x k x n``."""
    idx = lengths.topk(k, dim=1, largest=False).indices
    return idx, tours.gather(1, idx.unsqueeze(2).expand(-1, -1, tours.shape[2]))


def solve_tsp(
    dist: Tensor,
    *,
    generator: torch.Generator,
    iterations: int | None = None,
    seconds: float | None = None,
    n_ants: int = 16,
    local_search_ants: int = 2,
    local_search: str = "two-opt-or-opt",
    callback: Any = None,
    **colony: Any,
) -> tuple[Tensor, Tensor]:
    """Solve ``B`` TSP instances at once with a batched ant colony and a local search of each iteration's
    best ants.

    Args:
        dist: ``B x n x n`` symmetric distances.
        generator: the source of every random number.
        iterations: colony iterations (all instances step together).
        seconds: or a wall-clock limit (checked between iterations).
        n_ants: ants per instance and iteration.
        local_search_ants: the best ants of each instance improved every iteration (0: none).
        local_search: the tour kernel: ``"two-opt"``, ``"or-opt"`` or ``"two-opt-or-opt"``.
        callback: ``callback(colony, elapsed_seconds)`` after each iteration (e.g. to record a trace).
        **colony: :class:`AntColony` options (``variant``, ``alpha``, ``beta``, ``rho``, ...).

    Returns:
        ``(tours: B x n, lengths: B)``: the best tour found for each instance.
    """
    if iterations is None and seconds is None:
        raise ConfigError("solve_tsp needs iterations= or seconds=")
    if local_search not in TOUR_KERNELS:
        raise ConfigError(f"local_search={local_search!r}; expected one of {sorted(TOUR_KERNELS)}")
    kernel = TOUR_KERNELS[local_search]
    start = time.perf_counter()
    ants = AntColony(dist, **colony)
    ants.init_trails(tour_length(ants.greedy(), dist), n_ants)
    b, n = dist.shape[0], dist.shape[1]
    k = min(local_search_ants, n_ants)
    instance = torch.arange(b, device=dist.device).repeat_interleave(k)
    while True:
        tours = ants.construct(n_ants, generator)  # B x A x n
        lengths = tour_length(tours.view(-1, n), dist.repeat_interleave(n_ants, 0)).view(b, n_ants)
        if k > 0:
            idx, best = _top_ants(tours, lengths, k)
            improved = kernel(best.reshape(-1, n), dist[instance]).view(b, k, n)
            tours = tours.scatter(1, idx.unsqueeze(2).expand(-1, -1, n), improved)
            new_len = tour_length(improved.view(-1, n), dist[instance]).view(b, k)
            lengths = lengths.scatter(1, idx, new_len)
        ants.update(tours, lengths)
        elapsed = time.perf_counter() - start
        if callback is not None:
            callback(ants, elapsed)
        if (iterations is not None and ants.iteration >= iterations) or (
            seconds is not None and elapsed >= seconds
        ):
            return ants.best_tours, ants.best_lengths


@dataclass
class AntSystemConfig:
    n_ants: int = 16
    """Ants per iteration (tours evaluated per step, plus the improved ones)."""
    alpha: float = 1.0
    """Weight of the pheromone trails (Dorigo's default 1)."""
    beta: float = 3.0
    """Weight of the heuristic ``1 / distance`` (2 to 5 are usual for TSP; 3 reached TSPLIB optima sooner
    than 2 in budgets of seconds, benchmarks/RESULTS.md)."""
    rho: float = 0.5
    """Evaporation rate (Ant System: 0.5)."""
    local_search: str | None = "auto"
    """A registered ``local_search`` applied to the best ants of each iteration; ``"auto"`` picks 2-opt then
    Or-opt on tours, relocate/swap on CVRP giant tours; None for none."""
    local_search_options: dict[str, Any] | None = None
    """Options for the local search's factory (``factory(problem, **options)``)."""
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
        if self.alpha < 0 or self.beta < 0:
            raise ValueError(f"alpha={self.alpha}, beta={self.beta}; expected >= 0")


@dataclass
class MaxMinConfig(AntSystemConfig):
    rho: float = 0.2
    """Evaporation rate. Stützle & Hoos use 0.02 for runs of thousands of iterations; with a local search and
    budgets of seconds 0.1-0.2 converged to TSPLIB optima sooner (benchmarks/RESULTS.md)."""
    p_best: float = 0.05
    """Probability of rebuilding the best tour once converged; sets ``tau_min`` (Stützle & Hoos: 0.05)."""
    restart_after: int = 50
    """Reset the trails to ``tau_max`` after this many iterations without a better tour."""
    global_best_every: int = 10
    """Deposit the best-so-far tour instead of the iteration's best every this many iterations."""


class AntSystem(ObjectiveOptimizer):
    """Ant System on a TSP or CVRP objective (see the module docstring)."""

    Config = AntSystemConfig
    variant = "as"
    space_kinds = frozenset({"permutation"})
    max_objectives = 1
    supports_constraints = False

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super().compatibility(problem)
        if reason is None and routing_structure(problem) not in ("tsp", "cvrp"):
            return "it needs a routing problem exposing distances (tsp, cvrp, ocvrp)"
        return reason

    def setup(self) -> None:
        c = self.config
        dist: Tensor = self.problem.distances  # type: ignore[attr-defined]  # compatibility() checked it
        if routing_structure(self.problem) == "cvrp":
            dist = dist[1:, 1:]  # giant tours over the customers
        options = {"variant": self.variant, "alpha": c.alpha, "beta": c.beta, "rho": c.rho}
        if self.variant == "mmas":
            options.update(
                p_best=c.p_best,
                restart_after=c.restart_after,
                global_best_every=c.global_best_every,
            )
        self.colony = AntColony(dist.to(**self.like).unsqueeze(0), **options)
        self.local_search = make_local_search(
            self.problem, c.local_search, c.local_search_options, f"optimizer {self.name!r}"
        )
        self.best_x = torch.empty(0, self.problem.space.dim, **self.like)
        self.best_ev = Evaluation(f=torch.empty(0, 1, **self.like))

    def _lengths(self, x: Tensor) -> tuple[Tensor, Evaluation]:
        ev = self.evaluate(x)
        length = torch.where(ev.failed_mask, torch.inf, ev.f[:, 0])
        return length, ev

    def iterate(self) -> dict[str, float]:
        c = self.config
        if (
            self.colony.iteration == 0
        ):  # the first step scales the trails by a nearest-neighbour tour
            greedy = self.colony.greedy().to(self.dtype)
            length, ev = self._lengths(greedy)
            self._keep(greedy, ev, length)
            reference = length if bool(torch.isfinite(length).all()) else torch.ones_like(length)
            self.colony.init_trails(reference, c.n_ants)
        tours = self.colony.construct(c.n_ants, self.generator)[0]  # A x n
        x = tours.to(self.dtype)
        length, ev = self._lengths(x)
        self._keep(x, ev, length)
        k = min(c.local_search_ants, c.n_ants)
        if self.local_search is not None and k > 0:
            idx = length.topk(k, largest=False).indices
            improved = self.local_search(x[idx])
            new_len, new_ev = self._lengths(improved)
            self._keep(improved, new_ev, new_len)
            x = x.index_copy(0, idx, improved)
            length = length.index_copy(0, idx, new_len)
        self.colony.update(x.long().unsqueeze(0), length.unsqueeze(0))
        return {
            "n_evaluations": float(self.n_evaluations),
            "step_best": float(length.min()) * float(self.problem.signs[0]),
            "best": float(self.colony.best_lengths[0]) * float(self.problem.signs[0]),
        }

    def _keep(self, x: Tensor, ev: Evaluation, length: Tensor) -> None:
        """Remember the best evaluated point so far (failed rows never)."""
        best = int(length.argmin())
        current = float(self.best_ev.f[0, 0]) if self.best_ev.f.shape[0] else math.inf
        if math.isfinite(float(length[best])) and float(length[best]) < current:
            self.best_x = x[best : best + 1].clone()
            self.best_ev = Evaluation(f=ev.f[best : best + 1].clone())

    def result(self) -> Result:
        return self.make_result(self.best_x, self.best_ev)

    def get_state(self) -> dict[str, Any]:
        return {"colony": self.colony.state_dict(), "best_x": self.best_x, "best_f": self.best_ev.f}

    def set_state(self, state: dict[str, Any]) -> None:
        self.colony.load_state_dict(state["colony"])
        self.best_x = state["best_x"].to(**self.like)
        self.best_ev = Evaluation(f=state["best_f"].to(**self.like))


class MaxMinAntSystem(AntSystem):
    """MAX-MIN Ant System on a TSP or CVRP objective (see the module docstring)."""

    Config = MaxMinConfig
    variant = "mmas"
