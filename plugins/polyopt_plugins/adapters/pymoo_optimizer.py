"""pymoo's algorithms as polyopt optimizers, so a study can compare them with polyopt's own.

Each ``pymoo.<name>`` optimizer drives a pymoo algorithm through pymoo's ask/tell interface
(``algorithm.setup(problem)``, ``ask()``, ``tell(infills=pop)``). pymoo sees a proxy problem built from the
polyopt Objective whose values are the minimization-form values of polyopt's checked evaluation path, so the
evaluation budget, listeners and failure policy are polyopt's.

Generations: pymoo proposes a whole generation at a time (one individual for MOEA/D). ``ask(n)`` hands out
at most ``n`` rows of the open generation and never crosses into the next; several asks before a tell are fine
within a generation, and the generation goes back to pymoo once every row is told (in any order or subsets).

Seeds: pymoo's seed is drawn from ``self.generator`` at setup (``pymoo_seed``); pymoo draws everything from
its own ``numpy.random.Generator``, so a run is reproducible whatever else uses numpy's global RNG.

Failed rows (NaN values): pymoo is told ``FAILURE_PENALTY`` for every objective and, when the problem has
constraints, for every constraint too, so the row is dominated and infeasible; polyopt records them as failed
and never returns them. An unconstrained problem gets no extra constraint column, so a run on it matches
running pymoo directly with the same seed.

Resuming: pymoo's algorithm objects hold numpy arrays and operator objects that cannot be stored as tensors.
``state_dict`` stores what was told, per generation, and ``load_state_dict`` replays it: a fresh algorithm with
the same pymoo seed is asked each generation again (checked to propose the same points) and told the stored
values. No objective is evaluated again; the cost is pymoo's own work per generation (survival, variation),
about what the original run spent outside the objective.

Example:
    >>> import polyopt
    >>> result = polyopt.optimize("pymoo.nsga2", "zdt1", budget=200, seed=0, pop_size=20)  # doctest: +SKIP
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np
import torch
from torch import Tensor

from polyopt import AskTellOptimizer, Evaluation, Result
from polyopt_plugins.adapters._options import check_options
from polyopt_plugins.adapters.pymoo_problem import das_dennis_partitions

__all__ = [
    "PymooConfig",
    "RVEAConfig",
    "PymooOptimizer",
    "FAILURE_PENALTY",
    "NSGA2",
    "NSGA3",
    "MOEAD",
    "SMSEMOA",
    "RVEA",
    "GA",
    "DE",
    "CMAES",
]

#: What pymoo is told for each objective (and constraint, if any) of a failed row: large, finite, infeasible.
FAILURE_PENALTY = 1e12

#: Options the adapter sets itself, with why.
_RESERVED = (
    "seed: it is drawn from the run seed",
    "termination: the polyopt budget ends the run",
    "pop_size: use the pop_size config field",
    "verbose: pymoo's printing is off",
    "evaluator: polyopt evaluates",
)
_DEFAULT_DIRECTIONS = 100


@dataclass
class PymooConfig:
    pop_size: int | None = None
    """Population size; None keeps pymoo's default (100 for most). For reference-direction algorithms (NSGA-III,
    MOEA/D, RVEA) it is the number of Das-Dennis directions made (at most this many), unless options give
    ``ref_dirs``."""
    options: dict[str, Any] = field(default_factory=dict)
    """Further keyword arguments of the pymoo algorithm's constructor (``{"n_offsprings": 10}``, operator
    objects, ``ref_dirs``); names are checked against the constructor, with suggestions."""

    def __post_init__(self) -> None:
        if self.pop_size is not None and (isinstance(self.pop_size, bool) or self.pop_size < 1):
            raise ValueError(f"pop_size={self.pop_size!r}; expected an integer >= 1 or None")
        if not isinstance(self.options, dict) or not all(isinstance(k, str) for k in self.options):
            raise ValueError(f"options={self.options!r}; expected a dict of keyword arguments")


@dataclass
class RVEAConfig(PymooConfig):
    max_generations: int | None = None
    """Generations RVEA plans for (its angle penalty and direction adaptation follow this schedule). None:
    derived from the run's evaluation budget as pymoo does, or 100 when the run has none."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.max_generations is not None and self.max_generations < 1:
            raise ValueError(
                f"max_generations={self.max_generations!r}; expected an integer >= 1 or None"
            )


@dataclass
class _Generation:
    """The open generation: what pymoo proposed and what polyopt has told so far."""

    infills: Any  # the pymoo Population (or Individual) that goes back to tell()
    pop: Any  # the same as a Population
    x: np.ndarray  # n x d float64, repaired into the space
    f: np.ndarray  # n x m, minimization form, penalized
    g: np.ndarray  # n x c
    told: np.ndarray  # n bool
    handed: int = 0

    def __len__(self) -> int:
        return self.x.shape[0]


class PymooOptimizer(AskTellOptimizer):
    """Base of the pymoo adapters: a subclass names the pymoo class and what it supports."""

    Config = PymooConfig
    #: ``"module:Class"`` of the pymoo algorithm.
    pymoo_class: ClassVar[str] = ""
    #: Whether the algorithm needs reference directions (made from ``pop_size`` unless given).
    uses_ref_dirs: ClassVar[bool] = False
    space_kinds = frozenset({"continuous", "integer"})
    default_device = "cpu"

    @classmethod
    def algorithm_class(cls) -> type:
        """The pymoo algorithm class (imports pymoo)."""
        module, _, attr = cls.pymoo_class.partition(":")
        return getattr(importlib.import_module(module), attr)

    def setup(self) -> None:
        from pymoo.core.algorithm import Algorithm

        check_options(
            self.algorithm_class(),
            self.config.options,
            owner=f"optimizer {self.name!r}",
            stop_at=Algorithm,
            reserved=_RESERVED,
        )
        self.pymoo_seed = int(
            torch.randint(0, 2**31 - 1, (), generator=self.generator, device=self.device)
        )
        self.algorithm: Any = (
            None  # the pymoo algorithm, made on first ask (RVEA needs the run's budget)
        )
        self._horizon: int | None = None
        self._gen: _Generation | None = None
        self._done: list[
            tuple[np.ndarray, np.ndarray, np.ndarray]
        ] = []  # told generations (x, f, g)
        self._history: list[tuple[Tensor, Evaluation]] = []  # every told batch, for result()

    # ---------------------------------------------------------------- pymoo side
    def _start(self) -> None:
        from pymoo.core.problem import Problem

        space, problem = self.problem.space, self.problem
        bounds = space.bounds.numpy()
        proxy = Problem(
            n_var=bounds.shape[1],
            n_obj=problem.n_objectives,
            n_ieq_constr=problem.n_constraints,
            xl=bounds[0],
            xu=bounds[1],
        )
        proxy._evaluate = lambda X, out, *args, **kwargs: out.update(F=proxy.told_f, G=proxy.told_g)
        kwargs = dict(self.config.options)
        if self.uses_ref_dirs and "ref_dirs" not in kwargs:
            kwargs["ref_dirs"] = _ref_dirs(
                self.config.pop_size or _DEFAULT_DIRECTIONS, problem.n_objectives
            )
        elif not self.uses_ref_dirs and self.config.pop_size is not None:
            kwargs["pop_size"] = self.config.pop_size
        self.algorithm = self.algorithm_class()(**kwargs)
        self.algorithm.setup(
            proxy, termination=self._termination(), seed=self.pymoo_seed, verbose=False
        )
        self._proxy = proxy

    def _termination(self) -> Any:
        from pymoo.core.termination import NoTermination

        return NoTermination()

    def _open(self) -> _Generation:
        """Ask pymoo for the next generation and repair it into the space (rounding integers)."""
        from pymoo.core.individual import Individual
        from pymoo.core.population import Population

        infills = self.algorithm.ask()
        if infills is None or (not isinstance(infills, Individual) and len(infills) == 0):
            raise RuntimeError(
                f"pymoo's {type(self.algorithm).__name__} proposed no points: it has stopped by "
                "its own criteria; end the run (or restart it with a new seed)"
            )
        pop = Population.create(infills) if isinstance(infills, Individual) else infills
        x = self.problem.space.repair(
            torch.from_numpy(np.asarray(pop.get("X"), dtype=np.float64))
        ).numpy()
        pop.set("X", x)  # pymoo keeps exactly the points that were evaluated
        n, m, c = x.shape[0], self.problem.n_objectives, self.problem.n_constraints
        return _Generation(
            infills, pop, x, np.zeros((n, m)), np.zeros((n, c)), np.zeros(n, dtype=bool)
        )

    def _close(self, gen: _Generation) -> None:
        """Give a fully told generation back to pymoo."""
        self._proxy.told_f, self._proxy.told_g = gen.f, gen.g
        self.algorithm.evaluator.eval(self._proxy, gen.pop, skip_already_evaluated=False)
        self.algorithm.tell(infills=gen.infills)
        self._done.append((gen.x, gen.f, gen.g))

    # ---------------------------------------------------------------- polyopt side
    @property
    def batch_size(self) -> int:
        """Rows of the open generation not yet asked (a new generation's size when none is open)."""
        gen = self._current()
        return max(1, len(gen) - gen.handed)

    def _current(self) -> _Generation:
        if self.algorithm is None:
            self._start()
        if self._gen is None:
            self._gen = self._open()
        return self._gen

    def ask(self, n: int | None = None) -> Tensor:
        """Return ``n`` (default: the rest of the generation) points of the open generation, ``n x d``.

        Raises:
            RuntimeError: the open generation has fewer than ``n`` points left to ask (pymoo proposes whole
                generations; tell the pending points to open the next one).
        """
        gen = self._current()
        left = len(gen) - gen.handed
        n = left if n is None else n
        if n > left or left == 0:
            raise RuntimeError(
                f"{self.name}: ask({n}) but {left} of the {len(gen)} points of this pymoo generation are "
                f"left to ask; tell the {int((~gen.told).sum())} pending ones before asking for more"
            )
        x = gen.x[gen.handed : gen.handed + n]
        gen.handed += n
        return torch.from_numpy(x).to(device=self.device, dtype=self.dtype)

    def tell(self, x: Tensor, evaluation: Evaluation) -> None:
        """Record ``x`` (``n x d``, asked from the open generation) and its minimization-form evaluation.

        Raises:
            ValueError: a row of ``x`` was not asked from the open generation, or was told already.
        """
        gen = self._gen
        if gen is None:
            raise ValueError(
                f"{self.name}: tell() without an open generation; tell only points from ask()"
            )
        rows = _match_rows(
            x, torch.from_numpy(gen.x).to(x), gen.handed, torch.from_numpy(gen.told).to(x.device)
        )
        if bool((rows < 0).any()):
            raise ValueError(
                f"{self.name}: {int((rows < 0).sum())} told points were not asked from the open "
                "pymoo generation (or were told already)"
            )
        rows_np = rows.cpu().numpy()
        gen.f[rows_np], gen.g[rows_np] = _penalized(evaluation)
        gen.told[rows_np] = True
        self._history.append((x, evaluation))
        if gen.told.all():
            self._gen = None
            self._close(gen)

    def result(self) -> Result:
        """The best feasible point (one objective) or the non-dominated feasible set of every evaluated point."""
        if not self._history:
            d, m = self.problem.space.bounds.shape[1], self.problem.n_objectives
            empty = torch.zeros(0, d, dtype=self.dtype, device=self.device)
            return self.make_result(
                empty, Evaluation(f=torch.zeros(0, m, dtype=self.dtype, device=self.device))
            )
        return self.make_result(
            torch.cat([x for x, _ in self._history]),
            Evaluation.cat([ev for _, ev in self._history]),
        )

    # ---------------------------------------------------------------- resuming by replay
    def get_state(self) -> dict[str, Any]:
        done = {
            key: [torch.from_numpy(np.ascontiguousarray(g[i])) for g in self._done]
            for i, key in enumerate(("x", "f", "g"))
        }
        gen = self._gen
        open_gen = (
            None
            if gen is None
            else {
                "handed": gen.handed,
                "told": torch.from_numpy(gen.told.copy()),
                "f": torch.from_numpy(gen.f.copy()),
                "g": torch.from_numpy(gen.g.copy()),
            }
        )
        history = {
            "x": [x for x, _ in self._history],
            "f": [ev.f for _, ev in self._history],
            "g": [ev.g for _, ev in self._history],
            "failed": [ev.failed for _, ev in self._history],
        }
        return {
            "pymoo_seed": self.pymoo_seed,
            "horizon": self._horizon,
            "started": self.algorithm is not None,
            "done": done,
            "open": open_gen,
            "history": history,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.pymoo_seed, self._horizon = int(state["pymoo_seed"]), state["horizon"]
        self.algorithm, self._gen, self._done = None, None, []
        h = state["history"]
        self._history = [
            (x, Evaluation(f=f, g=g, failed=failed))
            for x, f, g, failed in zip(h["x"], h["f"], h["g"], h["failed"])
        ]
        if not state["started"]:
            return
        self._start()
        for x, f, g in zip(*(state["done"][k] for k in ("x", "f", "g"))):
            gen = self._replayed(x)
            gen.f[:], gen.g[:], gen.told[:], gen.handed = f.numpy(), g.numpy(), True, len(gen)
            self._close(gen)
        if state["open"] is not None:
            o = state["open"]
            gen = self._current()
            gen.handed, gen.told[:], gen.f[:], gen.g[:] = (
                int(o["handed"]),
                o["told"].numpy(),
                o["f"].numpy(),
                o["g"].numpy(),
            )

    def _replayed(self, x: Tensor) -> _Generation:
        gen = self._open()
        if gen.x.shape != tuple(x.shape) or not np.array_equal(gen.x, x.numpy()):
            raise RuntimeError(
                f"{self.name}: replaying the stored run, pymoo proposed different points than it "
                "did originally (a different pymoo version or options?); cannot resume exactly"
            )
        return gen


def _match_rows(x: Tensor, candidates: Tensor, handed: int, told: Tensor) -> Tensor:
    """For each row of ``x`` (``n x d``), the index of an equal asked-and-untold row of ``candidates``
    (``k x d``), each candidate used once; -1 where there is none."""
    free = torch.arange(candidates.shape[0], device=x.device) < handed
    free &= ~told
    eq = (x.unsqueeze(1) == candidates.unsqueeze(0)).all(-1) & free  # n x k
    same = (x.unsqueeze(1) == x.unsqueeze(0)).all(-1)  # n x n: duplicates among the told rows
    occurrence = torch.tril(same, diagonal=-1).sum(
        -1
    )  # n: how many equal rows come before this one
    slot = eq.long().cumsum(-1) - 1  # n x k: rank of each matching candidate
    pick = eq & (slot == occurrence.unsqueeze(-1))
    found = pick.any(-1)
    return torch.where(found, pick.long().argmax(-1), torch.full_like(found, -1, dtype=torch.long))


def _penalized(evaluation: Evaluation) -> tuple[np.ndarray, np.ndarray]:
    """``(f: n x m, g: n x c)`` float64 arrays for pymoo: failed rows get ``FAILURE_PENALTY`` everywhere."""
    failed = evaluation.failed_mask.unsqueeze(-1)
    big = FAILURE_PENALTY
    f = torch.where(failed, big, evaluation.f.nan_to_num(nan=big, posinf=big, neginf=-big))
    g = evaluation.g if evaluation.g is not None else f[:, :0]
    g = torch.where(failed, big, g.nan_to_num(nan=big, posinf=big, neginf=-big))
    return f.double().cpu().numpy(), g.double().cpu().numpy()


def _ref_dirs(n: int, m: int) -> np.ndarray:
    from pymoo.util.ref_dirs import get_reference_directions

    return get_reference_directions("das-dennis", m, n_partitions=das_dennis_partitions(n, m))


class _MultiObjective(PymooOptimizer):
    min_objectives = 2


class _SingleObjective(PymooOptimizer):
    max_objectives = 1


class NSGA2(_MultiObjective):
    """pymoo's NSGA-II."""

    pymoo_class = "pymoo.algorithms.moo.nsga2:NSGA2"


class NSGA3(_MultiObjective):
    """pymoo's NSGA-III; ``pop_size`` sets the number of reference directions."""

    pymoo_class = "pymoo.algorithms.moo.nsga3:NSGA3"
    uses_ref_dirs = True


class MOEAD(_MultiObjective):
    """pymoo's MOEA/D: after the initial population, one offspring per generation (so per step)."""

    pymoo_class = "pymoo.algorithms.moo.moead:MOEAD"
    uses_ref_dirs = True
    supports_constraints = False


class SMSEMOA(_MultiObjective):
    """pymoo's SMS-EMOA."""

    pymoo_class = "pymoo.algorithms.moo.sms:SMSEMOA"


class RVEA(_MultiObjective):
    """pymoo's RVEA; its schedule needs a generation horizon (``max_generations`` or the evaluation budget)."""

    Config = RVEAConfig
    pymoo_class = "pymoo.algorithms.moo.rvea:RVEA"
    uses_ref_dirs = True
    supports_constraints = False

    def _termination(self) -> Any:
        from pymoo.termination.max_gen import MaximumGenerationTermination

        if self._horizon is None:
            self._horizon = self.config.max_generations or _generations(
                self.evaluation_limit,
                self.config.pop_size or _DEFAULT_DIRECTIONS,
                self.problem.n_objectives,
            )
        return MaximumGenerationTermination(self._horizon)


def _generations(evaluations: int | None, pop_size: int, m: int) -> int:
    """Generations an evaluation budget allows (pymoo's own conversion); 100 without a budget."""
    if evaluations is None:
        return 100
    n = len(_ref_dirs(pop_size, m))
    return max(1, int(np.ceil((evaluations - n) / n)))


class GA(_SingleObjective):
    """pymoo's genetic algorithm (single objective)."""

    pymoo_class = "pymoo.algorithms.soo.nonconvex.ga:GA"


class DE(_SingleObjective):
    """pymoo's differential evolution (single objective)."""

    pymoo_class = "pymoo.algorithms.soo.nonconvex.de:DE"


class CMAES(_SingleObjective):
    """pymoo's CMA-ES (single objective, unconstrained); needs the ``cma`` package."""

    pymoo_class = "pymoo.algorithms.soo.nonconvex.cmaes:CMAES"
    supports_constraints = False
