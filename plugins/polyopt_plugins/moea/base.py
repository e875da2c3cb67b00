"""The population machinery every evolutionary algorithm here shares, as an ask/tell optimizer.

Life of a generation: ``ask`` hands out points from a queue, refilled with the initial sample while there is
no population, then with offspring (selection -> crossover -> mutation -> repair -> duplicate elimination);
``tell`` collects evaluations, and once a generation's worth has arrived (``pop_size`` for the initial one,
``n_offsprings`` afterwards) the algorithm's :meth:`EvolutionaryOptimizer.advance` makes the next population.
Several asks before a tell are fine: offspring keep coming from the current population.

Constraints: ``constraint_handling="feasibility"`` ranks by constrained domination (a smaller total violation
wins; Pareto domination among equal violations) through the survivals' feasibility-first split;
``"penalty"`` adds ``penalty_weight * violation`` to every objective and treats all rows as feasible. Either
way a failed row has infinite violation and objectives ``+inf``: it loses every comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt import AskTellOptimizer, Evaluation, Result
from polyopt.components import Survivors
from polyopt.errors import ConfigError

from .duplicates import is_new
from .selection import binary_tournament
from .variation import Variation, default_variation

__all__ = ["EAConfig", "EvolutionaryOptimizer", "selection_values"]

_MAX_DUPLICATE_ROUNDS = 10


@dataclass
class EAConfig:
    pop_size: int = 100
    """Population size (survivors per generation)."""
    n_offsprings: int | None = None
    """Offspring per generation; None means ``pop_size``."""
    crossover: str = "auto"
    """Registered crossover name, or ``"auto"`` for the space's default (SBX for continuous columns)."""
    mutation: str = "auto"
    """Registered mutation name, or ``"auto"`` (polynomial mutation for continuous columns)."""
    crossover_prob: float = 0.9
    """Probability that a mating recombines (pymoo's SBX default 0.9)."""
    crossover_eta: float = 15.0
    """SBX distribution index (pymoo's NSGA-II default 15)."""
    mutation_eta: float = 20.0
    """Polynomial mutation distribution index."""
    mutation_prob_var: float | None = None
    """Per-variable mutation probability; None means ``min(0.5, 1 / n_var)``."""
    eliminate_duplicates: bool = True
    """Drop offspring equal to a population member or to another offspring (hashing, no N x N matrix)."""
    constraint_handling: str = "feasibility"
    """``"feasibility"`` (constrained domination, feasible first) or ``"penalty"``."""
    penalty_weight: float = 1e3
    """Weight of the total violation added to each objective when ``constraint_handling="penalty"``."""
    track_hypervolume: bool = True
    """Report the population's hypervolume in step metrics when the problem has a ref point (up to three
    objectives)."""

    def __post_init__(self) -> None:
        if self.pop_size is not None and self.pop_size < 2:
            raise ValueError(f"pop_size={self.pop_size}; expected at least 2")
        if self.n_offsprings is not None and self.n_offsprings < 1:
            raise ValueError(f"n_offsprings={self.n_offsprings}; expected at least 1 or None")
        if self.constraint_handling not in ("feasibility", "penalty"):
            raise ValueError(
                f"constraint_handling={self.constraint_handling!r}; "
                "expected 'feasibility' or 'penalty'"
            )
        if not 0.0 <= self.crossover_prob <= 1.0:
            raise ValueError(
                f"crossover_prob={self.crossover_prob}; expected a probability in [0, 1]"
            )
        if self.mutation_prob_var is not None and not 0.0 <= self.mutation_prob_var <= 1.0:
            raise ValueError(
                f"mutation_prob_var={self.mutation_prob_var}; expected a probability in [0, 1]"
            )
        if self.crossover_eta <= 0 or self.mutation_eta <= 0:
            raise ValueError(
                f"crossover_eta={self.crossover_eta}, mutation_eta={self.mutation_eta}; "
                "expected > 0"
            )
        if self.penalty_weight < 0:
            raise ValueError(f"penalty_weight={self.penalty_weight}; expected >= 0")


def selection_values(
    f: Tensor, g: Tensor | None, failed: Tensor, constraint_handling: str, penalty_weight: float
) -> tuple[Tensor, Tensor]:
    """Objectives and violations that selection compares (minimization form).

    Args:
        f: ``n x m`` objectives.
        g: ``n x c`` constraints or None.
        failed: ``n`` bool failed rows.
        constraint_handling: ``"feasibility"`` or ``"penalty"``.
        penalty_weight: weight of the violation in penalty mode.

    Returns:
        ``(f_sel: n x m, v_sel: n)``: failed rows get ``+inf`` in both.
    """
    v = Evaluation(f=f, g=g, failed=failed).violation()
    bad = failed.unsqueeze(1) | torch.isnan(f)
    f = torch.where(bad, torch.full_like(f, math.inf), f)
    if constraint_handling == "penalty":
        f = f + penalty_weight * torch.where(torch.isfinite(v), v, torch.zeros_like(v)).unsqueeze(1)
        v = torch.where(failed, v, torch.zeros_like(v))
    return f, v


class EvolutionaryOptimizer(AskTellOptimizer):
    """Base of the population-based algorithms: queueing asks, collecting tells, state, result.

    Subclasses implement :meth:`make_survival` and may override :meth:`select_parents`,
    :meth:`target_pop_size`, :meth:`n_offsprings_now`, :meth:`advance` and :meth:`extra_state`.
    """

    Config = EAConfig
    min_objectives = 2

    # ---- hooks -------------------------------------------------------------------------------------------
    def make_survival(self) -> Any:
        """The survival object (see :mod:`.survival`)."""
        raise NotImplementedError

    def make_variation(self) -> Variation:
        """Crossover and mutation for the problem's space, from the config."""
        c = self.config
        return default_variation(
            self.problem.space,
            crossover=c.crossover,
            mutation=c.mutation,
            crossover_options={"prob": c.crossover_prob, "eta": c.crossover_eta},
            mutation_options={"eta": c.mutation_eta, "prob_var": c.mutation_prob_var},
        )

    def target_pop_size(self) -> int:
        """Survivors wanted now (constant except for dNSGA-II)."""
        return self.config.pop_size

    def n_offsprings_now(self) -> int:
        """Offspring per generation now."""
        return self.config.n_offsprings or self.target_pop_size()

    def select_parents(self, n_matings: int, n_parents: int) -> Tensor:
        """``n_matings x n_parents`` parent indices by pymoo NSGA-II's tournament (violation, dominance,
        crowding)."""
        return binary_tournament(
            self.pop_fsel,
            self.pop_v,
            n_matings,
            n_parents,
            self.generator,
            crowding=self.pop_crowding,
            compare="dominance",
        )

    def survive(self, f: Tensor, v: Tensor, n_survive: int) -> Survivors:
        """Run the survival on merged selection values ``f`` (``N x m``) and ``v`` (``N``)."""
        return self.survival(f, v, n_survive, self.generator)

    def extra_state(self) -> dict[str, Any]:
        """Algorithm-specific state (tensors, numbers, containers)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`extra_state`."""

    # ---- setup and ask/tell ----------------------------------------------------------------------------
    def setup(self) -> None:
        if self.problem.space.dim < 1:
            raise ConfigError("the problem's space has no columns")
        self.variation = self.make_variation()
        self.survival = self.make_survival()
        d, m = self.problem.space.dim, self.problem.n_objectives
        c = self.problem.n_constraints
        empty = torch.zeros(0, d, dtype=self.dtype, device=self.device)
        self.pop_x: Tensor | None = None
        self.pop_f, self.pop_g, self.pop_failed = None, None, None
        self.pop_rank: Tensor | None = None
        self.pop_crowding: Tensor | None = None
        self.pop_fsel, self.pop_v = None, None
        self._queue, self._queue_tag = empty, torch.zeros(0, dtype=torch.int64, device=self.device)
        self._pending_tag = self._queue_tag.clone()
        self._told_x = empty.clone()
        self._told_f = torch.zeros(0, m, dtype=self.dtype, device=self.device)
        self._told_g = torch.zeros(0, c, dtype=self.dtype, device=self.device) if c else None
        self._told_failed = torch.zeros(0, dtype=torch.bool, device=self.device)
        self._told_tag = self._queue_tag.clone()
        self.n_generations = 0
        self._advanced = False
        #: points this generation waits for, fixed at its first ask (dNSGA-II's size may change meanwhile)
        self._need: int | None = None

    @property
    def batch_size(self) -> int:
        return self.target_pop_size() if self.pop_x is None else self.n_offsprings_now()

    def ask(self, n: int | None = None) -> Tensor:
        n = self.batch_size if n is None else n
        if n < 1:
            raise ValueError(f"ask(n={n}); expected n >= 1")
        if self._need is None:
            self._need = self.batch_size
        while self._queue.shape[0] < n:
            x, tag = self._fresh(n - self._queue.shape[0])
            self._queue, self._queue_tag = (
                torch.cat([self._queue, x]),
                torch.cat([self._queue_tag, tag]),
            )
        out, self._queue = self._queue[:n], self._queue[n:]
        self._pending_tag = torch.cat([self._pending_tag, self._queue_tag[:n]])
        self._queue_tag = self._queue_tag[n:]
        return out

    def _fresh(self, missing: int) -> tuple[Tensor, Tensor]:
        """New candidates (initial sample or offspring) with their tags, duplicates removed when asked.

        An empty queue gets a whole generation; a queue short of ``missing`` points after duplicate
        elimination is topped up with just that many (as pymoo's mating loop). When variation keeps
        producing only known points, uniform samples are tried next (the space may be nearly exhausted);
        duplicates are accepted only when those fail too, rather than stalling.
        """
        n = None if self._queue.shape[0] == 0 else missing
        for attempt in range(2 * _MAX_DUPLICATE_ROUNDS):
            if attempt < _MAX_DUPLICATE_ROUNDS:
                x, tag = self.initial_points(n) if self.pop_x is None else self.offspring(n)
            else:
                x, _ = self.initial_points(n)
                tag = (
                    torch.full((x.shape[0],), -1, device=self.device)
                    if self.pop_x is not None
                    else _
                )
            if not self.config.eliminate_duplicates:
                return x, tag
            parts = [self._queue, self._told_x] + ([] if self.pop_x is None else [self.pop_x])
            keep = is_new(x, torch.cat(parts))
            if bool(keep.any()):
                return x[keep], tag[keep]
        return x, tag

    def initial_points(self, n: int | None = None) -> tuple[Tensor, Tensor]:
        """The initial sample: ``n`` (default ``pop_size``) uniform points, tagged by position."""
        n = self.target_pop_size() if n is None else n
        x = self.problem.space.sample(
            n, generator=self.generator, dtype=self.dtype, device=self.device
        )
        return x, torch.arange(n, device=self.device)

    def offspring(self, n: int | None = None) -> tuple[Tensor, Tensor]:
        """``n`` offspring (default: a generation's) from the current population (tags -1)."""
        n = self.n_offsprings_now() if n is None else n
        v = self.variation
        idx = self.select_parents(v.n_matings(n), v.n_parents)  # matings x parents
        children = v(self.pop_x[idx].transpose(0, 1), self.generator)[:n]
        return self.problem.space.repair(children), torch.full(
            (children.shape[0],), -1, device=self.device
        )

    def tell(self, x: Tensor, evaluation: Evaluation) -> None:
        k = x.shape[0]
        tag, self._pending_tag = self._pending_tag[:k], self._pending_tag[k:]
        if tag.shape[0] < k:  # points the optimizer did not ask for: untagged
            tag = torch.cat([tag, torch.full((k - tag.shape[0],), -1, device=self.device)])
        ev = evaluation
        self._told_x = torch.cat([self._told_x, x.to(self._told_x)])
        self._told_f = torch.cat([self._told_f, ev.f.to(self._told_f)])
        if self._told_g is not None:
            self._told_g = torch.cat([self._told_g, ev.g.to(self._told_g)])
        self._told_failed = torch.cat([self._told_failed, ev.failed_mask.to(self.device)])
        self._told_tag = torch.cat([self._told_tag, tag])
        need = self.batch_size if self._need is None else self._need
        if self._told_x.shape[0] >= need:
            self._need = None
            told = (self._told_x, self._told_f, self._told_g, self._told_failed, self._told_tag)
            self._told_x, self._told_f = self._told_x[:0], self._told_f[:0]
            self._told_g = None if self._told_g is None else self._told_g[:0]
            self._told_failed, self._told_tag = self._told_failed[:0], self._told_tag[:0]
            # unasked candidates were bred from the old population: drop them, as pymoo drops surplus children
            self._queue, self._queue_tag = self._queue[:0], self._queue_tag[:0]
            self.advance(*told)
            self.n_generations += 1
            self._advanced = True

    # ---- generations ----------------------------------------------------------------------------------
    def advance(self, x: Tensor, f: Tensor, g: Tensor | None, failed: Tensor, tag: Tensor) -> None:
        """Merge a generation's evaluated points into the population by survival.

        Args:
            x: ``k x d`` points; f: ``k x m``; g: ``k x c`` or None; failed: ``k`` bool; tag: ``k`` int64.
        """
        if self.pop_x is not None:
            x, f = torch.cat([self.pop_x, x]), torch.cat([self.pop_f, f])
            g = None if g is None else torch.cat([self.pop_g, g])
            failed = torch.cat([self.pop_failed, failed])
        fsel, v = self.selection_values(f, g, failed)
        chosen = self.survive(fsel, v, self.target_pop_size())
        self.set_population(x, f, g, failed, chosen)

    def selection_values(
        self, f: Tensor, g: Tensor | None, failed: Tensor
    ) -> tuple[Tensor, Tensor]:
        """See :func:`selection_values`."""
        return selection_values(
            f, g, failed, self.config.constraint_handling, self.config.penalty_weight
        )

    def set_population(
        self, x: Tensor, f: Tensor, g: Tensor | None, failed: Tensor, chosen: Survivors
    ) -> None:
        """Keep the rows ``chosen.index`` of the merged population as the new population."""
        i = chosen.index
        self.pop_x, self.pop_f, self.pop_failed = x[i], f[i], failed[i]
        self.pop_g = None if g is None else g[i]
        self.pop_rank, self.pop_crowding = chosen.rank, chosen.crowding
        self.pop_fsel, self.pop_v = self.selection_values(self.pop_f, self.pop_g, self.pop_failed)

    # ---- results, metrics, state ------------------------------------------------------------------------
    def _all_points(self) -> tuple[Tensor, Evaluation]:
        xs, fs, gs, fails = [self._told_x], [self._told_f], [self._told_g], [self._told_failed]
        if self.pop_x is not None:
            xs, fs = [self.pop_x, *xs], [self.pop_f, *fs]
            gs, fails = [self.pop_g, *gs], [self.pop_failed, *fails]
        g = None if self._told_g is None else torch.cat(gs)
        return torch.cat(xs), Evaluation(f=torch.cat(fs), g=g, failed=torch.cat(fails))

    def result(self) -> Result:
        """The non-dominated feasible points of the population (and of points told since the last
        generation), in the user's direction."""
        x, ev = self._all_points()
        return self.make_result(x, ev, extras={"n_generations": self.n_generations})

    def step_metrics(self, x: Tensor, evaluation: Evaluation) -> dict[str, float]:
        metrics = super().step_metrics(x, evaluation)
        metrics["n_generations"] = float(self.n_generations)
        if self.pop_x is not None:
            metrics["pop_size"] = float(self.pop_x.shape[0])
        ref = getattr(self.problem, "ref_point", None)
        if (
            self._advanced
            and self.config.track_hypervolume
            and ref is not None
            and self.pop_x is not None
            and self.problem.n_objectives <= 3
        ):
            from polyopt.metrics import hypervolume

            ok = Evaluation(
                f=self.pop_f, g=self.pop_g, failed=self.pop_failed
            ).feasible()  # truly feasible
            ref_min = torch.as_tensor(ref, dtype=torch.float64) * self.problem.signs
            metrics["hypervolume"] = hypervolume(self.pop_f[ok], ref_min) if bool(ok.any()) else 0.0
        self._advanced = False
        return metrics

    def get_state(self) -> dict[str, Any]:
        pop = None
        if self.pop_x is not None:
            pop = {
                "x": self.pop_x,
                "f": self.pop_f,
                "g": self.pop_g,
                "failed": self.pop_failed,
                "rank": self.pop_rank,
                "crowding": self.pop_crowding,
            }
        told = {
            "x": self._told_x,
            "f": self._told_f,
            "g": self._told_g,
            "failed": self._told_failed,
            "tag": self._told_tag,
        }
        return {
            "pop": pop,
            "queue": self._queue,
            "queue_tag": self._queue_tag,
            "pending_tag": self._pending_tag,
            "told": told,
            "n_generations": self.n_generations,
            "need": self._need,
            "survival": self.survival.state_dict(),
            "extra": self.extra_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        dev = self.device
        pop = state["pop"]
        if pop is None:
            self.pop_x = None
        else:
            self.pop_x, self.pop_f = pop["x"].to(dev), pop["f"].to(dev)
            self.pop_failed = pop["failed"].to(dev)
            self.pop_g = None if pop["g"] is None else pop["g"].to(dev)
            self.pop_rank, self.pop_crowding = pop["rank"].to(dev), pop["crowding"].to(dev)
            self.pop_fsel, self.pop_v = self.selection_values(
                self.pop_f, self.pop_g, self.pop_failed
            )
        self._queue, self._queue_tag = state["queue"].to(dev), state["queue_tag"].to(dev)
        self._pending_tag = state["pending_tag"].to(dev)
        told = state["told"]
        self._told_x, self._told_f = told["x"].to(dev), told["f"].to(dev)
        self._told_g = None if told["g"] is None else told["g"].to(dev)
        self._told_failed, self._told_tag = told["failed"].to(dev), told["tag"].to(dev)
        self.n_generations = int(state["n_generations"])
        self._need = None if state["need"] is None else int(state["need"])
        self.survival.load_state_dict(_to_device(state["survival"], dev))
        self.load_extra_state(_to_device(state["extra"], dev))


def _to_device(obj: Any, device: torch.device) -> Any:
    """Move the tensors of a nested state to ``device``."""
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_device(v, device) for v in obj]
    return obj
