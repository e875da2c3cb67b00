"""The Optimizer contract: search optimizers and trainers.

Lifecycle (what :func:`polyopt.optimize` and the study runner do):

1. ``opt = Algo(problem, seed=..., device=..., dtype=..., **config)`` — config keys are validated against
   ``Algo.Config``; the problem is checked against what the algorithm supports; the dtype is honoured or
   refused; then :meth:`Optimizer.setup`.
2. ``metrics = opt.step()`` until the budget is spent — one iteration (:meth:`Optimizer.iterate`), counted
   here and nowhere else; returns a dict of floats.
3. ``opt.result()`` — a :class:`~polyopt.Result` (search) or a :class:`~polyopt.TrainerResult` (trainers).

Three bases, one per way of running:

- :class:`ObjectiveOptimizer` searches an :class:`~polyopt.Objective`; it declares what it can handle (space
  kinds, objective counts, constraints) and builds its result with :meth:`ObjectiveOptimizer.make_result`.
- :class:`AskTellOptimizer` is an objective optimizer driven by ``ask``/``tell``.
- :class:`Trainer` learns a policy on an :class:`~polyopt.Environment` (collect -> update).

House rules every optimizer follows (the conformance kit in :mod:`polyopt.testing` checks them):

- **Seeding**: every random number comes from ``self.generator`` (seeded from the run seed), never from
  torch's global RNG, so runs repeat exactly and the caller's global RNG is left alone. A library that only
  draws from the global RNG is called inside ``torch.random.fork_rng`` seeded from ``self.generator``.
- **State**: ``state_dict()`` holds only tensors, numbers, strings and containers of them (loadable with
  ``torch.load(weights_only=True)``), including the generator, so ``load_state_dict`` continues a run exactly.
- **dtype**: the optimizer computes in ``self.dtype`` and returns results in it, or lists the dtypes it
  supports in ``dtypes`` and refuses others when constructed.
- **ask(n)**: returns exactly ``n`` points (default ``batch_size``), never evaluates them, and may be called
  again before the earlier points are told (pending points).
- **Threads**: optimizers do not change torch's thread settings; :func:`polyopt.optimize` and studies run
  steps under :func:`polyopt.devices.threads` (see there for the default and why).
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypedDict, final

import torch
from torch import Tensor

from polyopt.config import build_config, config_to_dict
from polyopt.devices import resolve_device, resolve_dtype
from polyopt.environment import Environment
from polyopt.errors import ConfigError, IncompatibleProblemError
from polyopt.objective import Evaluation, Objective, directions_of, evaluate, problem_name
from polyopt.result import Result, RunResult, TrainerResult

if TYPE_CHECKING:
    from polyopt.run import Budget

__all__ = [
    "ALL_SPACES",
    "AskTellOptimizer",
    "EvaluationListener",
    "NoConfig",
    "ObjectiveOptimizer",
    "Optimizer",
    "TensorOptions",
    "Trainer",
]

#: Called with ``(x: n x d, evaluation)`` after every batch of evaluations (minimization form).
EvaluationListener = Callable[[Tensor, Evaluation], None]

ALL_SPACES = frozenset({"continuous", "integer", "categorical", "binary", "permutation", "mixed"})


@dataclasses.dataclass
class NoConfig:
    """This optimizer has no options."""


class TensorOptions(TypedDict):
    """Keyword arguments that put a new tensor on an optimizer's dtype and device."""

    dtype: torch.dtype
    device: torch.device


class Optimizer(ABC):
    """Base of every optimizer and trainer: lifecycle, seeding, state and counters.

    Subclasses implement :meth:`iterate` (one iteration), :meth:`result`, and :meth:`get_state` /
    :meth:`set_state` for their own mutable state; they may override :meth:`setup`.
    """

    Config: ClassVar[type] = NoConfig
    #: Problem type accepted (an Objective, or an Environment for trainers).
    problem_type: ClassVar[type] = object
    #: Budget limits this optimizer can spend (``Budget`` field names); a budget setting none is refused.
    spends: ClassVar[frozenset[str]] = frozenset({"steps", "seconds"})
    #: ``"auto"`` (the GPU when there is one) or ``"cpu"``; ``default_dtype`` None means float64 on CPU,
    #: float32 on a GPU.
    default_device: ClassVar[str] = "auto"
    default_dtype: ClassVar[torch.dtype | None] = None
    #: The floating dtypes it computes in; None means any. Others are refused when constructed.
    dtypes: ClassVar[frozenset[torch.dtype] | None] = None

    def __init__(
        self,
        problem: Any,
        *,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | str | None = None,
        name: str | None = None,
        **config: Any,
    ) -> None:
        #: The registry name (passed by the registry), else the one this class is registered under.
        self.name: str = name or _registered_name(type(self))
        owner = f"optimizer {self.name!r}"
        #: The validated ``Config`` dataclass instance.
        self.config: Any = build_config(type(self).Config, config, owner=owner)
        reason = type(self).compatibility(problem)
        if reason:
            raise IncompatibleProblemError(
                f"{owner} cannot run on {problem_name(problem)}: {reason}"
            )
        self.problem = problem
        self.seed = int(torch.randint(0, 2**31 - 1, ()).item()) if seed is None else int(seed)
        self.device = resolve_device(device, self.default_device)
        self.dtype = resolve_dtype(dtype, self.device, self.default_dtype)
        if self.dtypes is not None and self.dtype not in self.dtypes:
            names = ", ".join(sorted(str(d).removeprefix("torch.") for d in self.dtypes))
            raise ConfigError(
                f"{owner} computes in {names}; dtype={str(self.dtype).removeprefix('torch.')} is "
                "not supported"
            )
        self.generator = torch.Generator(device=self.device).manual_seed(self.seed)
        self.n_evaluations = 0
        self.n_steps = 0
        self.n_env_steps = 0
        #: Set by the run loop: evaluations still allowed (None = unlimited). Ask/tell steps ask for no more.
        self.evaluation_limit: int | None = None
        #: Set by the run loop: the budget's environment steps (None = unlimited), e.g. a schedule's horizon.
        self.env_step_limit: int | None = None
        #: Called after every batch of objective evaluations (studies record them this way).
        self.listeners: list[EvaluationListener] = []
        self._elapsed_before = 0.0
        self._clock = time.perf_counter()
        self.setup()

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        """Return why this optimizer cannot handle ``problem``, or None if it can."""
        if not isinstance(problem, cls.problem_type):
            article = "an" if cls.problem_type.__name__[0] in "AEIOU" else "a"
            return f"it needs {article} {cls.problem_type.__name__}, got {type(problem).__name__}"
        return None

    @classmethod
    def budget_problem(cls, budget: Budget) -> str | None:
        """Return why ``budget`` could never stop this optimizer, or None."""
        limits = {k for k in ("evaluations", "steps", "env_steps", "seconds") if getattr(budget, k)}
        if limits & cls.spends:
            return None
        usable = " or ".join(
            f"{k}=" for k in ("evaluations", "steps", "env_steps", "seconds") if k in cls.spends
        )
        what = "makes no objective evaluations" if "evaluations" in limits else "cannot spend it"
        return f"it {what}; give Budget({usable}...) instead"

    def setup(self) -> None:
        """Initialize algorithm state (called at the end of ``__init__``; ``self.config`` is ready)."""

    @final
    def step(self) -> dict[str, float]:
        """Do one iteration and return its metrics; counts the step."""
        metrics = self.iterate()
        self.n_steps += 1
        return metrics

    @abstractmethod
    def iterate(self) -> dict[str, float]:
        """One iteration (ask -> evaluate -> tell, or collect -> update); returns its metrics."""

    @abstractmethod
    def result(self) -> RunResult:
        """Return what the run has produced so far."""

    def get_state(self) -> dict[str, Any]:
        """Return the algorithm's mutable state (tensors, numbers, strings, containers of them)."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned."""

    @property
    def like(self) -> TensorOptions:
        """``{"dtype": self.dtype, "device": self.device}``, for tensor factories: ``torch.zeros(3, **self.like)``."""
        return {"dtype": self.dtype, "device": self.device}

    @property
    def elapsed(self) -> float:
        """Seconds spent by this optimizer, across resumes."""
        return self._elapsed_before + time.perf_counter() - self._clock

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly (safe for ``torch.load(weights_only=True)``)."""
        counters = {
            "n_evaluations": self.n_evaluations,
            "n_steps": self.n_steps,
            "n_env_steps": self.n_env_steps,
            "elapsed": self.elapsed,
            "seed": self.seed,
        }
        return {
            "counters": counters,
            "generator": self.generator.get_state(),
            "config": config_to_dict(self.config),
            "state": self.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a :meth:`state_dict` (taken from an optimizer built with the same problem and config)."""
        counters = state["counters"]
        self.n_evaluations = int(counters["n_evaluations"])
        self.n_steps = int(counters["n_steps"])
        self.n_env_steps = int(counters.get("n_env_steps", 0))
        self.seed = int(counters["seed"])
        self._elapsed_before = float(counters["elapsed"])
        self._clock = time.perf_counter()
        generator = state["generator"]
        self.generator.set_state(generator.cpu() if isinstance(generator, Tensor) else generator)
        self.set_state(state["state"])

    def _counters(self) -> dict[str, Any]:
        """The result fields every run reports."""
        return {
            "n_evaluations": self.n_evaluations,
            "n_steps": self.n_steps,
            "n_env_steps": self.n_env_steps,
            "wall_time": self.elapsed,
            "optimizer": self.name,
            "problem": problem_name(self.problem),
        }


def _registered_name(cls: type) -> str:
    """The name ``cls`` is registered under, else its ``name`` attribute, else its class name."""
    explicit = cls.__dict__.get("name")
    if isinstance(explicit, str) and explicit:
        return explicit
    from polyopt.plugins import registry

    return registry().name_of("optimizer", cls) or cls.__name__


class ObjectiveOptimizer(Optimizer):
    """Base of the optimizers that search an :class:`~polyopt.Objective`.

    Class attributes describe what the algorithm can handle; :meth:`compatibility` turns them into a reason
    (used before a run and by study validation).
    """

    problem_type = Objective
    spends = frozenset({"evaluations", "steps", "seconds"})
    #: Space kinds the algorithm handles.
    space_kinds: ClassVar[frozenset[str]] = ALL_SPACES
    min_objectives: ClassVar[int] = 1
    max_objectives: ClassVar[int | None] = None
    supports_constraints: ClassVar[bool] = True

    problem: Objective

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super().compatibility(problem)
        if reason:
            return reason
        kind = problem.space.kind
        if kind not in cls.space_kinds:
            return f"it handles {', '.join(sorted(cls.space_kinds))} spaces, not a {kind} space"
        m = problem.n_objectives
        if m < cls.min_objectives or (cls.max_objectives is not None and m > cls.max_objectives):
            return (
                f"it handles {_count(cls.min_objectives, cls.max_objectives)}, the problem has {m}"
            )
        if problem.n_constraints and not cls.supports_constraints:
            return f"it does not handle constraints, the problem has {problem.n_constraints}"
        return None

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x d``) on the problem: checked, minimization form, counted, and reported to
        :attr:`listeners`."""
        ev = evaluate(self.problem, x)
        self.n_evaluations += x.shape[0]
        for listener in self.listeners:
            listener(x, ev)
        return ev

    @abstractmethod
    def result(self) -> Result:
        """Return the best point(s) found so far."""

    def make_result(
        self,
        x: Tensor,
        evaluation: Evaluation,
        *,
        extras: dict[str, Any] | None = None,
        infeasible_declared: bool = False,
    ) -> Result:
        """Build a :class:`Result` from evaluated points (minimization form): the best feasible point for one
        objective, the non-dominated feasible set for several; the least-violating points while none is
        feasible; failed rows never."""
        from polyopt.pareto import non_dominated_unique

        ok = ~evaluation.failed_mask
        x, f, v = x[ok], evaluation.f[ok], evaluation.violation()[ok]
        g = None if evaluation.g is None else evaluation.g[ok]
        feasible = bool((v <= 0).any())
        if f.shape[0]:
            keep = (v <= 0) if feasible else (v == v.min())
            x, f, g = x[keep], f[keep], None if g is None else g[keep]
            idx = f[:, 0].argmin().view(1) if f.shape[1] == 1 else non_dominated_unique(f)
            x, f, g = x[idx], f[idx], None if g is None else g[idx]
        signs = self.problem.signs.to(f)
        m = self.problem.n_objectives
        return Result(
            x=x,
            f=f * signs,
            g=g,
            feasible=feasible and f.shape[0] > 0,
            infeasible_declared=infeasible_declared,
            directions=directions_of(self.problem.directions, m),
            extras=extras or {},
            **self._counters(),
        )


def _count(lo: int, hi: int | None) -> str:
    """``"2 or more objectives"``, ``"1 objective"``, ``"2 to 4 objectives"``."""
    if hi is None:
        return f"{lo} or more objectives"
    return f"{lo} objective{'s' if lo != 1 else ''}" if lo == hi else f"{lo} to {hi} objectives"


class AskTellOptimizer(ObjectiveOptimizer):
    """An objective optimizer driven by ``ask``/``tell``; an iteration is ask → evaluate → tell.

    ``ask(n)`` returns exactly ``n`` points (default :attr:`batch_size`) and may be called again before the
    earlier points are told (pending points); ``tell`` takes any evaluated subset, in minimization form, as
    :meth:`ObjectiveOptimizer.evaluate` and :func:`polyopt.evaluate` return it. A black box that raised is told
    as ``Evaluation.failure(n, m)``.

    Example:
        >>> import polyopt
        >>> problem = polyopt.make("objective", "sphere", dim=3)
        >>> opt = polyopt.make("optimizer", "random-search", problem, seed=0)
        >>> x = opt.ask(4)
        >>> opt.tell(x, polyopt.evaluate(problem, x))
        >>> opt.result().f_best > 0
        True
    """

    @property
    def batch_size(self) -> int:
        """How many points ``ask()`` returns by default: the config's ``batch_size`` field if it has one,
        else 1."""
        return int(getattr(self.config, "batch_size", 1))

    @abstractmethod
    def ask(self, n: int | None = None) -> Tensor:
        """Return ``n`` (default :attr:`batch_size`) new points, ``n x d``, on ``self.device``."""

    @abstractmethod
    def tell(self, x: Tensor, evaluation: Evaluation) -> None:
        """Record evaluated points ``x`` (``n x d``) and their evaluation (minimization form)."""

    def iterate(self) -> dict[str, float]:
        n = self.batch_size
        if self.evaluation_limit is not None:
            n = max(1, min(n, self.evaluation_limit - self.n_evaluations))
        x = self.ask(n)
        ev = self.evaluate(x)
        self.tell(x, ev)
        return self.step_metrics(x, ev)

    def step_metrics(self, x: Tensor, evaluation: Evaluation) -> dict[str, float]:
        """Metrics of one step: evaluations so far, failures, and the best feasible value (one objective)."""
        metrics = {
            "n_evaluations": float(self.n_evaluations),
            "n_failed": float(evaluation.failed_mask.sum()),
        }
        if evaluation.f.shape[1] == 1:
            ok = evaluation.feasible()
            if bool(ok.any()):
                best = evaluation.f[ok, 0].min() * self.problem.signs[0]
                metrics["step_best"] = float(best)
        return metrics


class Trainer(Optimizer):
    """Base of the trainers: learn a policy on an :class:`~polyopt.Environment`; an iteration is
    collect -> update.

    A trainer counts the environment steps it takes in ``n_env_steps`` (what ``Budget(env_steps=...)``
    limits) and returns a :class:`~polyopt.TrainerResult`. It makes no objective evaluations, so a budget of
    evaluations alone is refused before the run.
    """

    problem_type = Environment
    spends = frozenset({"steps", "env_steps", "seconds"})
    default_dtype = torch.float32

    problem: Environment

    @abstractmethod
    def result(self) -> TrainerResult:
        """The policy and the returns it achieves so far."""

    def make_result(
        self,
        policy: Any,
        returns: Tensor,
        **fields: Any,
    ) -> TrainerResult:
        """A :class:`TrainerResult` with this run's counters and names (``fields``: its other attributes)."""
        return TrainerResult(policy=policy, returns=returns, **fields, **self._counters())
