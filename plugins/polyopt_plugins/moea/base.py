"""What every evolutionary algorithm here shares, as an ask/tell optimizer: queueing asks, collecting tells,
the population, state and result.

Life of a generation: ``ask`` hands out points from a queue, refilled with the initial sample while there is
no population, then with offspring (:meth:`EvolutionaryOptimizer.offspring`, duplicates removed); ``tell``
collects evaluations in a :class:`~polyopt_plugins.moea.population.Population` buffer, and once a
generation's worth has arrived (``pop_size`` for the initial one, ``n_offsprings`` afterwards)
:meth:`EvolutionaryOptimizer.advance` makes the next population. Several asks before a tell are fine:
offspring keep coming from the current population.

Two kinds of algorithm build on this base as siblings: the survival-based ones
(:class:`~polyopt_plugins.moea.survival_based.SurvivalOptimizer`: NSGA-II/III, SMS-EMOA, RVEA, dNSGA-II)
choose the next population from parents and children; MOEA/D (:mod:`polyopt_plugins.moea.moead`) keeps one
solution per subproblem of a :class:`~polyopt_plugins.moea.decomposition.Decomposition`.

Constraints: ``constraint_handling="feasibility"`` ranks by constrained domination (a smaller total violation
wins; Pareto domination among equal violations) through the survivals' feasibility-first split;
``"penalty"`` adds ``penalty_weight * violation`` to every objective and treats all rows as feasible. Either
way a failed row has infinite violation and objectives ``+inf``: it loses every comparison.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt import AskTellOptimizer, Evaluation, Result
from polyopt.errors import ConfigError
from polyopt_plugins.moea.duplicates import is_new
from polyopt_plugins.moea.population import Population
from polyopt_plugins.moea.variation import Variation, default_variation

__all__ = ["EAConfig", "EvolutionaryOptimizer", "selection_values"]

_MAX_DUPLICATE_ROUNDS = 10
#: the keys of the state every evolutionary optimizer saves; the rest is the algorithm's own
_BASE_STATE = ("pop", "queue", "queue_tag", "pending_tag", "told", "n_generations", "need")


@dataclass
class EAConfig:
    pop_size: int | None = 100
    """Population size (survivors per generation); None means the number of reference directions
    (Das-Dennis, about 100)."""
    n_offsprings: int | None = None
    """Offspring per generation; None means ``pop_size``."""
    crossover: str = "auto"
    """Registered crossover name, or ``"auto"`` for the space's default (SBX for continuous columns)."""
    crossover_options: dict[str, Any] | None = None
    """Options for the crossover's constructor (``factory(space, **options)``); each must be one it takes."""
    mutation: str = "auto"
    """Registered mutation name, or ``"auto"`` (polynomial mutation for continuous columns)."""
    mutation_options: dict[str, Any] | None = None
    """Options for the mutation's constructor, e.g. ``{"sigma": 0.3}``; each must be one it takes."""
    crossover_prob: float = 0.9
    """Probability that a mating recombines (pymoo's SBX default 0.9); passed where the crossover takes
    ``prob``."""
    crossover_eta: float = 15.0
    """SBX distribution index (pymoo's NSGA-II default 15); passed where the crossover takes ``eta``."""
    mutation_eta: float = 20.0
    """Polynomial mutation distribution index; passed where the mutation takes ``eta``."""
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
        for key in ("crossover_options", "mutation_options"):
            options = getattr(self, key)
            if options is not None and not isinstance(options, dict):
                raise ValueError(f"{key}={options!r}; expected a dict of options or None")


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

    A subclass implements :meth:`offspring` (new candidates from the population) and :meth:`advance` (the
    next population from a generation's evaluated points), and may override :meth:`target_pop_size`,
    :meth:`n_offsprings_now`, and :meth:`extra_state` / :meth:`load_extra_state` for its own state.
    """

    Config = EAConfig
    min_objectives = 2

    config: EAConfig
    #: the current population (None until the initial sample has been told)
    pop: Population | None

    # ---- hooks -------------------------------------------------------------------------------------------
    @abstractmethod
    def offspring(self, n: int | None = None) -> tuple[Tensor, Tensor]:
        """``n`` new candidates (default: a generation's) from the current population, ``n x d``, and their
        ``n`` int64 tags (-1, or the subproblem each was bred for)."""

    @abstractmethod
    def advance(self, told: Population) -> None:
        """Make the next population (:attr:`pop`) from a generation's evaluated points ``told`` (tagged)."""

    def target_pop_size(self) -> int:
        """Survivors wanted now."""
        if self.config.pop_size is None:
            raise ConfigError(f"optimizer {self.name!r} needs pop_size")
        return self.config.pop_size

    def n_offsprings_now(self) -> int:
        """Offspring per generation now."""
        return self.config.n_offsprings or self.target_pop_size()

    def extra_state(self) -> dict[str, Any]:
        """The algorithm's own mutable state (tensors, numbers, containers), saved next to the base's keys
        (``pop``, ``told``, ``queue``, ...), which it must not reuse."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`extra_state` (tensors already on :attr:`device`)."""

    # ---- building blocks for subclasses --------------------------------------------------------------------
    @property
    def population(self) -> Population:
        """The current population (:attr:`pop`); raises before the initial sample has been told."""
        if self.pop is None:
            raise RuntimeError("no population yet: the initial sample has not been told")
        return self.pop

    def make_variation(self) -> Variation:
        """Crossover and mutation for the problem's space, from the config: the named operators with the
        user's options, and the algorithm's defaults where an operator takes them."""
        c = self.config
        return default_variation(
            self.problem.space,
            crossover=c.crossover,
            mutation=c.mutation,
            crossover_options=c.crossover_options,
            mutation_options=c.mutation_options,
            crossover_defaults={"prob": c.crossover_prob, "eta": c.crossover_eta},
            mutation_defaults={"eta": c.mutation_eta, "prob_var": c.mutation_prob_var},
        )

    def with_selection(self, points: Population) -> Population:
        """``points`` as population rows: with the selection values this config compares (``f_sel``,
        ``v_sel``, see :func:`selection_values`) and without ask tags."""
        c = self.config
        f_sel, v_sel = selection_values(
            points.f, points.g, points.failed, c.constraint_handling, c.penalty_weight
        )
        return Population(
            x=points.x,
            f=points.f,
            failed=points.failed,
            g=points.g,
            rank=points.rank,
            crowding=points.crowding,
            f_sel=f_sel,
            v_sel=v_sel,
        )

    def initial_points(self, n: int | None = None) -> tuple[Tensor, Tensor]:
        """The initial sample: ``n`` (default ``pop_size``) uniform points, tagged by position."""
        n = self.target_pop_size() if n is None else n
        x = self.problem.space.sample(
            n, generator=self.generator, dtype=self.dtype, device=self.device
        )
        return x, torch.arange(n, device=self.device)

    def untagged(self, n: int) -> Tensor:
        """``n`` tags of -1 (offspring nobody in particular asked for)."""
        return torch.full((n,), -1, dtype=torch.int64, device=self.device)

    # ---- setup and ask/tell ----------------------------------------------------------------------------
    def setup(self) -> None:
        if self.problem.space.dim < 1:
            raise ConfigError("the problem's space has no columns")
        self.variation = self.make_variation()
        d, m = self.problem.space.dim, self.problem.n_objectives
        self.pop = None
        self._queue = torch.zeros(0, d, dtype=self.dtype, device=self.device)
        self._queue_tag = self.untagged(0)
        #: tags of asked points not told yet, in asking order
        self._pending_tag = self.untagged(0)
        #: points told since the last generation
        self._told = Population.empty(
            d, m, self.problem.n_constraints, dtype=self.dtype, device=self.device, tagged=True
        )
        self.n_generations = 0
        self._advanced = False
        #: points this generation waits for, fixed at its first ask (dNSGA-II's size may change meanwhile)
        self._need: int | None = None

    @property
    def batch_size(self) -> int:
        return self.target_pop_size() if self.pop is None else self.n_offsprings_now()

    def ask(self, n: int | None = None) -> Tensor:
        n = self.batch_size if n is None else n
        if n < 1:
            raise ValueError(f"ask(n={n}); expected n >= 1")
        if self._need is None:
            self._need = self.batch_size
        while self._queue.shape[0] < n:
            x, tag = self._fresh(n - self._queue.shape[0])
            self._queue = torch.cat([self._queue, x])
            self._queue_tag = torch.cat([self._queue_tag, tag])
        out = self._queue[:n]
        self._pending_tag = torch.cat([self._pending_tag, self._queue_tag[:n]])
        self._queue = self._queue[n:]
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
            if self.pop is None:
                x, tag = self.initial_points(n)
            elif attempt < _MAX_DUPLICATE_ROUNDS:
                x, tag = self.offspring(n)
            else:
                x, _ = self.initial_points(n)
                tag = self.untagged(x.shape[0])
            if not self.config.eliminate_duplicates:
                return x, tag
            known = [self._queue, self._told.x] + ([] if self.pop is None else [self.pop.x])
            keep = is_new(x, torch.cat(known))
            if bool(keep.any()):
                return x[keep], tag[keep]
        return x, tag

    def tell(self, x: Tensor, evaluation: Evaluation) -> None:
        k = x.shape[0]
        tag = self._pending_tag[:k]
        self._pending_tag = self._pending_tag[k:]
        if tag.shape[0] < k:  # points the optimizer did not ask for: untagged
            tag = torch.cat([tag, self.untagged(k - tag.shape[0])])
        like = self._told.f
        g = None
        if self._told.g is not None:
            if evaluation.g is None:
                raise ValueError(
                    f"tell: the problem has {self.problem.n_constraints} constraints but the "
                    "evaluation has no g"
                )
            g = evaluation.g.to(like)
        told = Population(
            x=x.to(self._told.x),
            f=evaluation.f.to(like),
            g=g,
            failed=evaluation.failed_mask.to(self.device),
            tag=tag,
        )
        self._told = Population.cat([self._told, told])
        need = self.batch_size if self._need is None else self._need
        if len(self._told) >= need:
            self._need = None
            generation = self._told
            self._told = generation.take(slice(0, 0))
            # unasked candidates were bred from the old population: drop them, as pymoo drops surplus children
            self._queue = self._queue[:0]
            self._queue_tag = self._queue_tag[:0]
            self.advance(generation)
            self.n_generations += 1
            self._advanced = True

    # ---- results, metrics, state ------------------------------------------------------------------------
    def _all_points(self) -> Population:
        """The population and the points told since the last generation."""
        return self._told if self.pop is None else Population.cat([self.pop, self._told])

    def result(self) -> Result:
        """The non-dominated feasible points of the population (and of points told since the last
        generation), in the user's direction."""
        points = self._all_points()
        return self.make_result(
            points.x, points.evaluation(), extras={"n_generations": self.n_generations}
        )

    def step_metrics(self, x: Tensor, evaluation: Evaluation) -> dict[str, float]:
        metrics = super().step_metrics(x, evaluation)
        metrics["n_generations"] = float(self.n_generations)
        if self.pop is not None:
            metrics["pop_size"] = float(len(self.pop))
        ref = getattr(self.problem, "ref_point", None)
        if (
            self._advanced
            and self.config.track_hypervolume
            and ref is not None
            and self.pop is not None
            and self.problem.n_objectives <= 3
        ):
            from polyopt.metrics import hypervolume

            ok = (
                self.pop.evaluation().feasible()
            )  # truly feasible, whatever the constraint handling
            ref_min = torch.as_tensor(ref, dtype=torch.float64) * self.problem.signs
            metrics["hypervolume"] = hypervolume(self.pop.f[ok], ref_min) if bool(ok.any()) else 0.0
        self._advanced = False
        return metrics

    def get_state(self) -> dict[str, Any]:
        extra = self.extra_state()
        clash = sorted(set(extra) & set(_BASE_STATE))
        if clash:
            raise RuntimeError(f"extra_state() keys {clash} are the base's; choose other names")
        return {
            "pop": None if self.pop is None else self.pop.state_dict(),
            "queue": self._queue,
            "queue_tag": self._queue_tag,
            "pending_tag": self._pending_tag,
            "told": self._told.state_dict(),
            "n_generations": self.n_generations,
            "need": self._need,
            **extra,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        dev = self.device
        pop = state["pop"]
        self.pop = None if pop is None else self.with_selection(Population.from_state(pop, dev))
        self._queue = state["queue"].to(dev)
        self._queue_tag = state["queue_tag"].to(dev)
        self._pending_tag = state["pending_tag"].to(dev)
        self._told = Population.from_state(state["told"], dev)
        self.n_generations = int(state["n_generations"])
        self._need = None if state["need"] is None else int(state["need"])
        own = {k: v for k, v in state.items() if k not in _BASE_STATE}
        self.load_extra_state(_to_device(own, dev))


def _to_device(obj: Any, device: torch.device) -> Any:
    """Move the tensors of a nested state to ``device``."""
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_device(v, device) for v in obj]
    return obj
