"""Objectives: batched functions from points to objective (and constraint) values.

An :class:`Objective` implements ``evaluate(x: n x d) -> Evaluation`` in the user's own direction (declared by
``directions``). Optimizers never call it directly: they call :func:`evaluate`, which checks shape, dtype and
device, marks non-finite rows as failed, and converts every objective to minimization. :class:`Result` objects
convert back, so users only ever see their own direction.

Failed evaluations (the policy every optimizer honours): a row whose objective values are NaN or infinite, or whose
constraint values are NaN, is marked in ``Evaluation.failed``. It keeps its raw values (so it is recorded as it
was), counts against the budget, and is treated as infeasible with infinite violation: it never enters a result,
loses every comparison against a valid point, and surrogate models exclude it from their fit.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import torch
from torch import Tensor

from polyopt.errors import EvaluationError, SpaceError
from polyopt.spaces import Box, Space

__all__ = [
    "Direction",
    "Evaluation",
    "FunctionObjective",
    "Objective",
    "directions_of",
    "evaluate",
    "objective",
    "problem_name",
    "signs_of",
]

Direction = Literal["minimize", "maximize"]


@dataclass
class Evaluation:
    """Values of ``n`` evaluated points.

    Attributes:
        f: ``n x m`` objective values.
        g: ``n x c`` constraint values, feasible when ``g <= 0``; None without constraints.
        failed: ``n`` bool, rows whose evaluation failed (see the module docstring); None means none failed.
    """

    f: Tensor
    g: Tensor | None = None
    failed: Tensor | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return self.f.shape[0]

    @property
    def failed_mask(self) -> Tensor:
        """``n`` bool: failed rows (all False when ``failed`` is None)."""
        if self.failed is None:
            return torch.zeros(self.f.shape[0], dtype=torch.bool, device=self.f.device)
        return self.failed

    def violation(self) -> Tensor:
        """``n``: total constraint violation, ``sum(max(g, 0))``; 0 when feasible, +inf for failed rows."""
        if self.g is None:
            v = torch.zeros(self.f.shape[0], dtype=self.f.dtype, device=self.f.device)
        else:
            v = self.g.clamp_min(0).nan_to_num(nan=0.0).sum(dim=-1)
        return torch.where(self.failed_mask, torch.full_like(v, float("inf")), v)

    def feasible(self) -> Tensor:
        """``n`` bool: not failed and every constraint ``<= 0``."""
        return self.violation() <= 0

    def replace(self, **changes: Any) -> Evaluation:
        """A copy with some fields changed (``f=...``, ``g=...``, ``failed=...``); ``info`` is kept."""
        return dataclasses.replace(self, **changes)

    def __getitem__(self, index: Tensor | slice | int) -> Evaluation:
        if isinstance(index, int):
            index = slice(index, index + 1)
        return Evaluation(
            f=self.f[index],
            g=None if self.g is None else self.g[index],
            failed=None if self.failed is None else self.failed[index],
        )

    @staticmethod
    def cat(evaluations: Sequence[Evaluation]) -> Evaluation:
        """Concatenate evaluations row-wise."""
        evs = list(evaluations)
        gs = [e.g for e in evs if e.g is not None]
        g = torch.cat(gs) if len(gs) == len(evs) else None
        failed = None
        if any(e.failed is not None for e in evs):
            failed = torch.cat([e.failed_mask for e in evs])
        return Evaluation(f=torch.cat([e.f for e in evs]), g=g, failed=failed)

    @staticmethod
    def failure(
        n: int,
        n_objectives: int,
        n_constraints: int = 0,
        *,
        dtype: torch.dtype = torch.float64,
        device: torch.device | str = "cpu",
    ) -> Evaluation:
        """An evaluation of ``n`` rows that all failed (e.g. the black box raised): values are NaN."""
        nan = torch.full((n, n_objectives), float("nan"), dtype=dtype, device=device)
        g = (
            torch.full((n, n_constraints), float("nan"), dtype=dtype, device=device)
            if n_constraints
            else None
        )
        return Evaluation(f=nan, g=g, failed=torch.ones(n, dtype=torch.bool, device=device))


class Objective:
    """A batched objective over a :class:`Space`.

    Subclasses set ``space``, ``n_objectives`` (default 1), ``n_constraints`` (default 0) and ``directions``
    (default all ``"minimize"``), and implement :meth:`evaluate`. Optional knowledge for benchmarks:
    :meth:`pareto_front`, ``optimum`` (best objective value, single-objective) and ``ref_point`` (for hypervolume,
    in the user's direction). A multi-fidelity objective sets ``fidelity = (column, target)``: the column of its
    points that sets how exactly (and expensively) a point is evaluated, and the value at which the objective is
    the one to optimize; optimizers that know fidelities (``ego``) spend cheap evaluations where they pay and
    report points at the target only.
    """

    space: Space
    n_objectives: int = 1
    n_constraints: int = 0
    directions: tuple[Direction, ...] = ()
    optimum: float | None = None
    ref_point: Sequence[float] | None = None
    name: str = ""
    fidelity: tuple[int, float] | None = None

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x d``, on any device) and return values in the user's direction.

        Returns:
            Evaluation with ``f: n x m`` and ``g: n x c`` (or None) on ``x``'s device.
        """
        raise NotImplementedError(f"{type(self).__name__} must implement evaluate(x)")

    def pareto_front(self, n: int) -> Tensor | None:
        """Return about ``n`` points (``n x m``, user's direction) of the true Pareto front, or None if unknown."""
        return None

    @property
    def signs(self) -> Tensor:
        """``m`` tensor: +1 for minimized and -1 for maximized objectives (multiply to get minimization form)."""
        return signs_of(self.directions, self.n_objectives)

    def __call__(self, x: Tensor) -> Evaluation:
        """Same as :meth:`evaluate`: the user's raw values."""
        return self.evaluate(x)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(space={self.space!r}, n_objectives={self.n_objectives})"


class FunctionObjective(Objective):
    """An Objective made from a plain batched function (see :func:`objective`)."""

    def __init__(
        self,
        fn: Callable[[Tensor], Any],
        space: Space,
        *,
        n_objectives: int = 1,
        n_constraints: int = 0,
        directions: Sequence[Direction] | Direction | None = None,
        name: str | None = None,
        ref_point: Sequence[float] | None = None,
        optimum: float | None = None,
    ) -> None:
        if not isinstance(space, Space):
            raise SpaceError(f"space={space!r}; expected a polyopt Space such as Box(lower, upper)")
        if isinstance(directions, str):
            directions = (directions,) * n_objectives
        self.fn, self.space = fn, space
        self.n_objectives, self.n_constraints = n_objectives, n_constraints
        self.directions = _check_directions(directions, n_objectives)
        self.name = name or str(getattr(fn, "__name__", "objective"))
        self.ref_point, self.optimum = ref_point, optimum
        functools.update_wrapper(self, fn, updated=())

    def evaluate(self, x: Tensor) -> Evaluation:
        out = self.fn(x)
        if isinstance(out, Evaluation):
            return out
        if isinstance(out, tuple) and len(out) == 2:
            f, g = out
            return Evaluation(f=_as_matrix(f, x), g=_as_matrix(g, x))
        return Evaluation(f=_as_matrix(out, x))


def objective(
    space: Space | None = None,
    *,
    n_objectives: int = 1,
    n_constraints: int = 0,
    directions: Sequence[Direction] | Direction | None = None,
    bounds: Sequence[Any] | None = None,
    name: str | None = None,
    ref_point: Sequence[float] | None = None,
) -> Callable[[Callable[[Tensor], Any]], FunctionObjective]:
    """Turn a batched function ``fn(x: n x d) -> f`` (or ``(f, g)``) into an :class:`Objective`.

    ``f`` may be ``n`` or ``n x m``; ``g`` is ``n x c``. Give ``space`` or ``bounds=(lower, upper)`` for a Box.

    Example:
        >>> import torch, polyopt
        >>> @polyopt.objective(bounds=([-5.0] * 2, [5.0] * 2))
        ... def sphere(x):
        ...     return (x ** 2).sum(dim=-1)
        >>> sphere(torch.zeros(3, 2)).f.shape
        torch.Size([3, 1])
    """
    if space is None:
        if bounds is None:
            raise SpaceError("objective() needs space=... or bounds=(lower, upper)")
        space = Box(*bounds)

    def wrap(fn: Callable[[Tensor], Any]) -> FunctionObjective:
        return FunctionObjective(
            fn,
            space,
            n_objectives=n_objectives,
            n_constraints=n_constraints,
            directions=directions,
            name=name,
            ref_point=ref_point,
        )

    return wrap


def evaluate(problem: Objective, x: Tensor) -> Evaluation:
    """Evaluate ``x`` (``n x d``) and return a checked Evaluation in minimization form.

    The values are the objective's own tensors (not copies) where no conversion is needed, e.g. ``f`` of a
    problem whose objectives are all minimized.

    Raises:
        EvaluationError: wrong shape, dtype or device of the returned values (a bug in the objective, not a
            black-box failure). Non-finite values are not errors: those rows are marked failed.
    """
    ev = problem.evaluate(x)
    if not isinstance(ev, Evaluation):
        raise EvaluationError(
            f"{problem_name(problem)}.evaluate returned {type(ev).__name__}; expected an Evaluation"
        )
    n = x.shape[0]
    f = _check_values(problem, "f", ev.f, (n, problem.n_objectives), x)
    g = None
    if problem.n_constraints:
        g = _check_values(problem, "g", ev.g, (n, problem.n_constraints), x)
    elif ev.g is not None and ev.g.numel():
        raise EvaluationError(
            f"{problem_name(problem)} returned constraints g of shape {tuple(ev.g.shape)} but declares "
            "n_constraints=0; set n_constraints"
        )
    # non-finite rows failed: f - f is 0 for a finite value and NaN for +-inf and NaN (2 small ops where
    # ~isfinite(f) takes 4; this check runs on every evaluation of every optimizer)
    failed = (f - f) != 0
    failed = failed.view(n) if failed.shape[-1] == 1 else failed.any(dim=-1)
    if g is not None:
        failed |= torch.isnan(g).any(dim=-1)
    if ev.failed is not None:
        failed |= ev.failed.to(failed.device)
    if "maximize" in directions_of(problem.directions, problem.n_objectives):
        f = f * problem.signs.to(f)
    return ev.replace(f=f, g=g, failed=failed)


def _check_values(
    problem: Objective, label: str, t: Tensor | None, shape: tuple[int, int], x: Tensor
) -> Tensor:
    name = problem_name(problem)
    if not isinstance(t, Tensor):
        raise EvaluationError(
            f"{name} returned {label} of type {type(t).__name__}; expected a tensor of shape {shape}"
        )
    if t.dim() == 1 and shape[1] == 1:
        t = t.unsqueeze(-1)
    if tuple(t.shape) != shape:
        raise EvaluationError(
            f"{name} returned {label} of shape {tuple(t.shape)}; expected {shape} "
            f"(n={shape[0]} points x {shape[1]} {'objectives' if label == 'f' else 'constraints'})"
        )
    if t.device != x.device:
        raise EvaluationError(
            f"{name} returned {label} on {t.device} for points on {x.device}; "
            "expected values on the points' device"
        )
    if not t.is_floating_point():
        raise EvaluationError(
            f"{name} returned {label} of dtype {t.dtype}; expected a floating-point tensor"
        )
    return t.to(x.dtype) if x.is_floating_point() else t


def _as_matrix(v: Any, x: Tensor) -> Tensor:
    t = torch.as_tensor(v, device=x.device)
    if not t.is_floating_point():
        t = t.to(x.dtype if x.is_floating_point() else torch.get_default_dtype())
    return t.unsqueeze(-1) if t.dim() == 1 else t


def _check_directions(directions: Sequence[str] | None, m: int) -> tuple[Direction, ...]:
    dirs = tuple(directions) if directions is not None else ("minimize",) * m
    if len(dirs) != m:
        raise EvaluationError(
            f"directions={list(dirs)} has {len(dirs)} entries; expected n_objectives={m}"
        )
    for d in dirs:
        if d not in ("minimize", "maximize"):
            raise EvaluationError(f"direction {d!r} is not 'minimize' or 'maximize'")
    return dirs  # type: ignore[return-value]


def problem_name(problem: Any) -> str:
    """A problem's display name: its ``name`` (the registered one for builtins), else its class name."""
    return getattr(problem, "name", "") or type(problem).__name__


def directions_of(directions: Sequence[str] | None, m: int) -> tuple[Direction, ...]:
    """The ``m`` directions, all ``"minimize"`` when ``directions`` is empty or None."""
    return tuple(directions or ("minimize",) * m)  # type: ignore[arg-type]  # checked where declared


def signs_of(directions: Sequence[str] | None, m: int) -> Tensor:
    """``m`` float64 signs: +1 for minimized, -1 for maximized objectives (multiply to get minimization form)."""
    return torch.tensor(
        [-1.0 if d == "maximize" else 1.0 for d in directions_of(directions, m)],
        dtype=torch.float64,
    )
