"""A single-objective genetic algorithm for permutation and binary spaces, tensorized, with a memetic step.

Each generation: binary tournaments pick parents, a crossover and a mutation from the MOEA family's operators
make children (through the registry, ``factory(space, **options)``: ``ox``/``pmx`` and ``swap-mutation``/
``inversion-mutation`` for permutations, ``uniform-crossover`` and ``bit-flip`` for bits, or any plugin's),
a registered ``local_search`` improves a share of them (2-opt on tours, relocate/swap on CVRP giant tours, a
greedy repair on knapsacks), and the best ``pop_size`` of parents and children survive ((mu + lambda), exact
duplicates removed). Constraints rank feasibility first: a smaller total violation wins, then the objective.

Ask/tell: ``ask(n)`` returns ``n`` children of the current population (random points, improved by the local
search, until the first ``pop_size`` points are told); a generation is complete when ``n_offsprings`` children
have been told.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

import polyopt
from polyopt import AskTellOptimizer, Evaluation, Result
from polyopt.errors import ConfigError
from polyopt_plugins.co._common import make_local_search

__all__ = ["GAConfig", "GeneticAlgorithm"]

_AUTO = {
    "permutation": {"crossover": "ox", "mutation": "inversion-mutation"},
    "binary": {"crossover": "uniform-crossover", "mutation": "bit-flip"},
}


@dataclass
class GAConfig:
    pop_size: int = 100
    """Survivors per generation."""
    n_offsprings: int | None = None
    """Children per generation (the default ``ask`` size); None means ``pop_size``."""
    crossover: str = "auto"
    """A registered crossover; ``"auto"``: ``ox`` for permutations, ``uniform-crossover`` for bits."""
    crossover_options: dict[str, Any] | None = None
    """Options for the crossover's factory (``factory(space, **options)``)."""
    mutation: str = "auto"
    """A registered mutation; ``"auto"``: ``inversion-mutation`` for permutations, ``bit-flip`` for bits."""
    mutation_options: dict[str, Any] | None = None
    """Options for the mutation's factory."""
    tournament_size: int = 2
    """Contestants per parent selection (2: binary tournaments, the usual pressure)."""
    local_search: str | None = "auto"
    """A registered ``local_search`` (the memetic step); ``"auto"`` picks the problem's (2-opt + Or-opt on tours,
    relocate/swap on CVRP, greedy repair on knapsacks; none for other problems); None for none."""
    local_search_options: dict[str, Any] | None = None
    """Options for the local search's factory."""
    local_search_fraction: float = 0.25
    """Share of each ask's points the local search improves (the rest keep the variation's diversity)."""

    def __post_init__(self) -> None:
        if self.pop_size < 2:
            raise ValueError(f"pop_size={self.pop_size}; expected at least 2")
        if self.n_offsprings is not None and self.n_offsprings < 1:
            raise ValueError(f"n_offsprings={self.n_offsprings}; expected at least 1 or None")
        if self.tournament_size < 1:
            raise ValueError(f"tournament_size={self.tournament_size}; expected at least 1")
        if not 0.0 <= self.local_search_fraction <= 1.0:
            raise ValueError(
                f"local_search_fraction={self.local_search_fraction}; expected a share in [0, 1]"
            )

    @property
    def batch_size(self) -> int:
        """Points ``ask()`` returns by default: a generation's children."""
        return self.n_offsprings or self.pop_size


def _lex_order(violation: Tensor, f: Tensor) -> Tensor:
    """Indices sorting by violation, then objective (both ascending; stable)."""
    order = f.argsort(stable=True)
    return order[violation[order].argsort(stable=True)]


class GeneticAlgorithm(AskTellOptimizer):
    """A tensorized (mu + lambda) GA for one objective over permutations or bits (see the module docstring)."""

    Config = GAConfig
    space_kinds = frozenset({"permutation", "binary"})
    max_objectives = 1

    config: GAConfig

    def setup(self) -> None:
        c = self.config
        space = self.problem.space
        self.crossover = self._operator("crossover", c.crossover, c.crossover_options)
        self.mutation = self._operator("mutation", c.mutation, c.mutation_options)
        self.local_search = make_local_search(
            self.problem, c.local_search, c.local_search_options, f"optimizer {self.name!r}"
        )
        self.pop_x = torch.empty(0, space.dim, **self.like)
        self.pop_ev = self._empty()
        self.buffer_x = torch.empty(0, space.dim, **self.like)
        self.buffer_ev = self._empty()
        self.started = False  # True once the first pop_size points have been told
        self.n_generations = 0

    def _empty(self) -> Evaluation:
        m, c = self.problem.n_objectives, self.problem.n_constraints
        g = torch.empty(0, c, **self.like) if c else None
        failed = torch.empty(0, dtype=torch.bool, device=self.device)
        return Evaluation(f=torch.empty(0, m, **self.like), g=g, failed=failed)

    def _operator(self, role: str, name: str, options: dict[str, Any] | None) -> Any:
        kind = self.problem.space.kind
        if name == "auto":
            name = _AUTO[kind][role]
        factory = polyopt.registry().get("operator", name)
        if getattr(factory, "role", None) != role:
            raise ConfigError(
                f"optimizer {self.name!r}: {role}={name!r} is a {getattr(factory, 'role', '?')}, "
                f"not a {role}"
            )
        return factory(self.problem.space, **(options or {}))

    # ---- selection values -------------------------------------------------------------------------------
    @staticmethod
    def _values(ev: Evaluation) -> tuple[Tensor, Tensor]:
        """``(violation: n, f: n)`` compared by selection; failed rows are ``inf`` in both."""
        violation = ev.violation()
        f = torch.where(
            ev.failed_mask.to(ev.f.device) | torch.isnan(ev.f[:, 0]), math.inf, ev.f[:, 0]
        )
        return violation, f

    # ---- ask / tell ---------------------------------------------------------------------------------------
    def ask(self, n: int | None = None) -> Tensor:
        n = self.batch_size if n is None else n
        if not self.started:
            x = self.problem.space.sample(n, generator=self.generator, **self.like)
        else:
            x = self._children(n)
        share = math.ceil(self.config.local_search_fraction * n)
        if self.local_search is not None and share > 0:
            x = torch.cat([self.local_search(x[:share]), x[share:]])
        return x

    def _children(self, n: int) -> Tensor:
        violation, f = self._values(self.pop_ev)
        rank = torch.empty_like(violation, dtype=torch.long)
        rank[_lex_order(violation, f)] = torch.arange(violation.shape[0], device=violation.device)
        n_pairs = math.ceil(n / 2)
        size = self.pop_x.shape[0]
        picks = torch.randint(
            0,
            size,
            (2 * n_pairs, self.config.tournament_size),
            generator=self.generator,
            device=self.device,
        )
        winners = picks.gather(1, rank[picks].argmin(dim=1, keepdim=True)).squeeze(1)
        parents = self.pop_x[winners].view(2, n_pairs, -1)  # P x matings x d
        children = self.crossover(parents, self.generator)  # O x matings x d
        children = children.reshape(-1, self.pop_x.shape[1])[:n]
        return self.problem.space.repair(self.mutation(children, self.generator))

    def tell(self, x: Tensor, evaluation: Evaluation) -> None:
        ev = Evaluation(f=evaluation.f, g=evaluation.g, failed=evaluation.failed_mask)
        self.buffer_x = torch.cat([self.buffer_x, x.to(**self.like)])
        self.buffer_ev = Evaluation.cat([self.buffer_ev, ev])
        need = self.config.pop_size if not self.started else self.config.batch_size
        if self.buffer_x.shape[0] >= need:
            self._survive()

    def _survive(self) -> None:
        x = torch.cat([self.pop_x, self.buffer_x])
        ev = Evaluation.cat([self.pop_ev, self.buffer_ev])
        # drop exact duplicates, keeping the first copy (parents come first)
        _, inverse = torch.unique(x, dim=0, return_inverse=True)
        first = torch.full((x.shape[0],), x.shape[0], dtype=torch.long, device=x.device)
        first = first.scatter_reduce(0, inverse, torch.arange(x.shape[0], device=x.device), "amin")
        keep = first[inverse] == torch.arange(x.shape[0], device=x.device)
        x, ev = x[keep], ev[keep]
        violation, f = self._values(ev)
        chosen = _lex_order(violation, f)[: self.config.pop_size]
        self.pop_x, self.pop_ev = x[chosen], ev[chosen]
        self.buffer_x = self.buffer_x[:0]
        self.buffer_ev = self._empty()
        self.started = True
        self.n_generations += 1

    def step_metrics(self, x: Tensor, evaluation: Evaluation) -> dict[str, float]:
        metrics = super().step_metrics(x, evaluation)
        metrics["n_generations"] = float(self.n_generations)
        return metrics

    def result(self) -> Result:
        x = torch.cat([self.pop_x, self.buffer_x])
        return self.make_result(x, Evaluation.cat([self.pop_ev, self.buffer_ev]))

    def get_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {"started": self.started, "n_generations": self.n_generations}
        for prefix, x, ev in (
            ("pop", self.pop_x, self.pop_ev),
            ("buffer", self.buffer_x, self.buffer_ev),
        ):
            state[f"{prefix}_x"] = x
            state[f"{prefix}_f"] = ev.f
            state[f"{prefix}_g"] = ev.g
            state[f"{prefix}_failed"] = ev.failed_mask
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        self.started = bool(state["started"])
        self.n_generations = int(state["n_generations"])
        for prefix in ("pop", "buffer"):
            g = state[f"{prefix}_g"]
            ev = Evaluation(
                f=state[f"{prefix}_f"].to(**self.like),
                g=None if g is None else g.to(**self.like),
                failed=state[f"{prefix}_failed"].to(self.device),
            )
            setattr(self, f"{prefix}_x", state[f"{prefix}_x"].to(**self.like))
            setattr(self, f"{prefix}_ev", ev)
