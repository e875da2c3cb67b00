"""The Optimizer contract.

Lifecycle (what :func:`polyopt.optimize` and the study runner do):

1. ``opt = Algo(problem, seed=..., device=..., dtype=..., **config)`` — config keys are validated against
   ``Algo.Config``; the problem is checked against what the algorithm supports; then :meth:`Optimizer.setup`.
2. ``metrics = opt.step()`` until the budget is spent — one iteration; returns a dict of floats.
3. ``opt.result()`` — the best point(s) in the user's direction.

``state_dict()`` holds only tensors, numbers, strings and containers of them (loadable with
``torch.load(weights_only=True)``), including the RNG state, so ``load_state_dict`` continues a run exactly.
A subclass implements :meth:`Optimizer.step`, :meth:`Optimizer.result`, and :meth:`Optimizer.get_state` /
:meth:`Optimizer.set_state` for its own mutable state; an :class:`AskTellOptimizer` implements ``ask``/``tell``
instead of ``step``.
"""

from __future__ import annotations

import dataclasses
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import Any, ClassVar

import torch
from torch import Tensor

from polyopt.config import build_config, config_to_dict
from polyopt.devices import resolve_device, resolve_dtype
from polyopt.errors import IncompatibleProblemError
from polyopt.objective import Evaluation, Objective, evaluate
from polyopt.result import Result

__all__ = ["Optimizer", "AskTellOptimizer", "NoConfig", "EvaluationListener"]

#: Called with ``(x: n x d, evaluation)`` after every batch of evaluations (minimization form).
EvaluationListener = Callable[[Tensor, Evaluation], None]

ALL_SPACES = frozenset({"continuous", "integer", "categorical", "binary", "permutation", "mixed"})


@dataclasses.dataclass
class NoConfig:
    """This optimizer has no options."""


class Optimizer(ABC):
    """Base class of every optimizer and trainer.

    Class attributes describe what the algorithm can handle; :meth:`compatibility` turns them into a reason
    (used before a run and by study validation).
    """

    Config: ClassVar[type] = NoConfig
    #: Registry name, set by the registry when resolved by name; class name otherwise.
    name: ClassVar[str] = ""
    #: Problem type accepted (Objective, or Environment for RL trainers).
    problem_type: ClassVar[type] = Objective
    #: Space kinds the algorithm handles.
    space_kinds: ClassVar[frozenset[str]] = ALL_SPACES
    min_objectives: ClassVar[int] = 1
    max_objectives: ClassVar[int | None] = None
    supports_constraints: ClassVar[bool] = True
    #: ``"auto"`` (the GPU when there is one) or ``"cpu"``; ``default_dtype`` None means float64 on CPU,
    #: float32 on a GPU.
    default_device: ClassVar[str] = "auto"
    default_dtype: ClassVar[torch.dtype | None] = None

    def __init__(
        self,
        problem: Any,
        *,
        seed: int | None = None,
        device: torch.device | str | None = None,
        dtype: torch.dtype | str | None = None,
        **config: Any,
    ) -> None:
        owner = f"optimizer {self.name or type(self).__name__!r}"
        self.config = build_config(type(self).Config, config, owner=owner)
        reason = type(self).compatibility(problem)
        if reason:
            raise IncompatibleProblemError(
                f"{owner} cannot run on {_problem_name(problem)}: {reason}"
            )
        self.problem = problem
        self.seed = int(torch.randint(0, 2**31 - 1, ()).item()) if seed is None else int(seed)
        self.device = resolve_device(device, self.default_device)
        self.dtype = resolve_dtype(dtype, self.device, self.default_dtype)
        self.generator = torch.Generator(device=self.device).manual_seed(self.seed)
        self.n_evaluations = 0
        self.n_steps = 0
        self.n_env_steps = 0
        #: Set by the run loop: evaluations still allowed (None = unlimited). Ask/tell steps ask for no more.
        self.evaluation_limit: int | None = None
        self.listeners: list[EvaluationListener] = []
        self._elapsed_before = 0.0
        self._clock = time.perf_counter()
        self.setup()

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        """Return why this optimizer cannot handle ``problem``, or None if it can."""
        if not isinstance(problem, cls.problem_type):
            return f"it needs a {cls.problem_type.__name__}, got {type(problem).__name__}"
        if not isinstance(problem, Objective):
            return None
        kind = problem.space.kind
        if kind not in cls.space_kinds:
            return f"it handles {', '.join(sorted(cls.space_kinds))} spaces, not a {kind} space"
        m = problem.n_objectives
        if m < cls.min_objectives or (cls.max_objectives is not None and m > cls.max_objectives):
            hi = "any number" if cls.max_objectives is None else cls.max_objectives
            return f"it handles {cls.min_objectives} to {hi} objectives, the problem has {m}"
        if problem.n_constraints and not cls.supports_constraints:
            return f"it does not handle constraints, the problem has {problem.n_constraints}"
        return None

    def setup(self) -> None:
        """Initialize algorithm state (called at the end of ``__init__``; ``self.config`` is ready)."""

    @abstractmethod
    def step(self) -> dict[str, float]:
        """Do one iteration and return its metrics."""

    @abstractmethod
    def result(self) -> Result:
        """Return the best point(s) found so far."""

    def get_state(self) -> dict[str, Any]:
        """Return the algorithm's mutable state (tensors, numbers, strings, containers of them)."""
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`get_state` returned."""

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x d``) on the problem: checked, minimization form, counted, and reported to
        :attr:`listeners`."""
        ev = evaluate(self.problem, x)
        self.n_evaluations += x.shape[0]
        for listener in self.listeners:
            listener(x, ev)
        return ev

    @property
    def elapsed(self) -> float:
        """Seconds spent by this optimizer, across resumes."""
        return self._elapsed_before + time.perf_counter() - self._clock

    def state_dict(self) -> dict[str, Any]:
        """Everything needed to continue this run exactly (safe for ``torch.load(weights_only=True)``)."""
        return {
            "counters": {
                "n_evaluations": self.n_evaluations,
                "n_steps": self.n_steps,
                "n_env_steps": self.n_env_steps,
                "elapsed": self.elapsed,
                "seed": self.seed,
            },
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
        self._elapsed_before, self._clock = float(counters["elapsed"]), time.perf_counter()
        self.generator.set_state(
            state["generator"].cpu()
            if isinstance(state["generator"], Tensor)
            else state["generator"]
        )
        self.set_state(state["state"])

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
        ok = ~evaluation.failed_mask
        x, f, v = x[ok], evaluation.f[ok], evaluation.violation()[ok]
        g = None if evaluation.g is None else evaluation.g[ok]
        feasible = bool((v <= 0).any())
        if f.shape[0]:
            keep = (v <= 0) if feasible else (v == v.min())
            x, f, g = x[keep], f[keep], None if g is None else g[keep]
            if f.shape[1] == 1:
                best = f[:, 0].argmin()
                idx = best.view(1)
            else:
                idx = _non_dominated_unique(f)
            x, f, g = x[idx], f[idx], None if g is None else g[idx]
        signs = self.problem.signs.to(f)
        return Result(
            x=x,
            f=f * signs,
            g=g,
            n_evaluations=self.n_evaluations,
            n_steps=self.n_steps,
            n_env_steps=self.n_env_steps,
            wall_time=self.elapsed,
            feasible=feasible and f.shape[0] > 0,
            infeasible_declared=infeasible_declared,
            directions=tuple(self.problem.directions or ("minimize",) * self.problem.n_objectives),
            optimizer=self.name or type(self).__name__,
            problem=_problem_name(self.problem),
            extras=extras or {},
        )


def _non_dominated_unique(f: Tensor) -> Tensor:
    """Indices of the non-dominated rows of ``f`` (``n x m``), one per distinct objective vector."""
    from polyopt.pareto import non_dominated_mask

    idx = non_dominated_mask(f).nonzero().flatten()
    _, first = _unique_rows(f[idx])
    return idx[first]


def _unique_rows(f: Tensor) -> tuple[Tensor, Tensor]:
    uniq, inverse = torch.unique(f, dim=0, return_inverse=True)
    first = torch.full((uniq.shape[0],), f.shape[0], dtype=torch.long, device=f.device)
    first.scatter_reduce_(0, inverse, torch.arange(f.shape[0], device=f.device), reduce="amin")
    return uniq, first.sort().values


class AskTellOptimizer(Optimizer):
    """An optimizer driven by ``ask``/``tell``; ``step`` is ask → evaluate → tell.

    Points may be pending: ``ask`` can be called again before the earlier points are told, and ``tell`` takes
    any evaluated subset. ``tell`` takes evaluations in minimization form, as :meth:`Optimizer.evaluate` and
    :func:`polyopt.evaluate` return them; a black box that raised is told as ``Evaluation.failure(n, m)``.

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
        """How many points ``ask()`` returns by default."""
        return 1

    @abstractmethod
    def ask(self, n: int | None = None) -> Tensor:
        """Return ``n`` (default :attr:`batch_size`) new points, ``n x d``, on ``self.device``."""

    @abstractmethod
    def tell(self, x: Tensor, evaluation: Evaluation) -> None:
        """Record evaluated points ``x`` (``n x d``) and their evaluation (minimization form)."""

    def step(self) -> dict[str, float]:
        n = self.batch_size
        if self.evaluation_limit is not None:
            n = max(1, min(n, self.evaluation_limit - self.n_evaluations))
        x = self.ask(n)
        ev = self.evaluate(x)
        self.tell(x, ev)
        self.n_steps += 1
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


def _problem_name(problem: Any) -> str:
    return getattr(problem, "name", "") or type(problem).__name__
