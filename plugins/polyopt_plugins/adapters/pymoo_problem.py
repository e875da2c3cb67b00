"""pymoo problems as polyopt Objectives.

:class:`PymooProblem` wraps any ``pymoo.core.problem.Problem`` (or a name for ``pymoo.problems.get_problem``).
Points are evaluated batched on the CPU with numpy in float64 and the values come back on the points' device
and dtype. pymoo's inequality constraints ``G`` are polyopt constraints as they are (feasible when ``g <= 0``);
each equality constraint ``h = 0`` becomes ``|h| - eq_tolerance <= 0``, the tolerance pymoo itself uses when it
computes constraint violation (``1e-4`` by default), so feasibility agrees with pymoo's.

Registered as the objective ``pymoo.problem``:

    >>> import polyopt
    >>> problem = polyopt.make("objective", "pymoo.problem", name="dtlz2", n_obj=3)  # doctest: +SKIP
"""

from __future__ import annotations

import inspect
from typing import Any

import numpy as np
import torch
from torch import Tensor

from polyopt.errors import ConfigError, SpaceError, UnknownNameError
from polyopt.objective import Evaluation, Objective, directions_of
from polyopt.spaces import Box, Integer, Space
from polyopt_plugins.adapters._options import check_options

__all__ = ["PymooProblem", "pymoo_problem", "EQ_TOLERANCE"]

#: ``|h| - EQ_TOLERANCE <= 0`` stands for pymoo's equality constraint ``h = 0`` (pymoo's own default tolerance).
EQ_TOLERANCE = 1e-4


class PymooProblem(Objective):
    """A pymoo problem as an Objective (all objectives minimized, as in pymoo).

    Args:
        problem: a ``pymoo.core.problem.Problem`` instance, or a name for ``pymoo.problems.get_problem``
            (``"zdt1"``, ``"dtlz2"``, ``"bnh"``, ...).
        eq_tolerance: equality constraints ``h = 0`` become ``|h| - eq_tolerance <= 0``.
        **options: the named problem's constructor options (``n_var=10``, ``n_obj=3``); unknown ones raise with
            a suggestion. Not allowed with a problem instance.

    Raises:
        UnknownNameError: pymoo has no problem of that name.
        ConfigError: an option the problem does not take.
        SpaceError: the problem has no finite bounds ``xl``/``xu`` (polyopt spaces are bounded) or uses pymoo's
            mixed-variable ``vars``.
    """

    def __init__(self, problem: Any, *, eq_tolerance: float = EQ_TOLERANCE, **options: Any) -> None:
        if isinstance(problem, str):
            problem = _get_problem(problem, options)
        elif options:
            raise ConfigError(
                f"options {sorted(options)} given with a pymoo problem instance; "
                "pass them when creating the problem"
            )
        if not eq_tolerance >= 0:
            raise ConfigError(f"eq_tolerance={eq_tolerance!r}; expected a number >= 0")
        self.pymoo = problem
        self.eq_tolerance = float(eq_tolerance)
        self.space = _space_of(problem)
        self.n_objectives = int(problem.n_obj)
        self.n_inequality, self.n_equality = int(problem.n_ieq_constr), int(problem.n_eq_constr)
        self.n_constraints = self.n_inequality + self.n_equality
        self.directions = directions_of(None, self.n_objectives)
        self.name = f"pymoo.{problem.name().lower()}"

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x d``) with pymoo on the CPU.

        Returns:
            ``f: n x m`` and ``g: n x c`` (inequalities first, then equalities as ``|h| - eq_tolerance``), on
            ``x``'s device in ``x``'s floating dtype.
        """
        wanted = ["F"] + ["G"] * bool(self.n_inequality) + ["H"] * bool(self.n_equality)
        out = self.pymoo.evaluate(
            x.detach().cpu().double().numpy(), return_values_of=wanted, return_as_dictionary=True
        )
        dtype = x.dtype if x.is_floating_point() else torch.float64
        to = lambda a: torch.as_tensor(np.asarray(a, dtype=np.float64).reshape(x.shape[0], -1)).to(  # noqa: E731
            device=x.device, dtype=dtype
        )
        parts = []
        if self.n_inequality:
            parts.append(to(out["G"]))
        if self.n_equality:
            parts.append(to(out["H"]).abs() - self.eq_tolerance)
        return Evaluation(f=to(out["F"]), g=torch.cat(parts, dim=1) if parts else None)

    def pareto_front(self, n: int) -> Tensor | None:
        """About ``n`` points of pymoo's known Pareto front (``n x m``, float64), or None when pymoo has none."""
        calc = getattr(self.pymoo, "_calc_pareto_front", None)
        params = inspect.signature(calc).parameters if calc is not None else {}
        kwargs: dict[str, Any] = {}
        if "n_pareto_points" in params or "n_points" in params:
            kwargs["n_pareto_points" if "n_pareto_points" in params else "n_points"] = n
        elif "ref_dirs" in params:
            kwargs["ref_dirs"] = _directions(n, self.n_objectives)
        try:
            front = self.pymoo.pareto_front(**kwargs)
        except Exception:  # pymoo raises for problems whose front it cannot compute
            return None
        if front is None:
            return None
        return torch.as_tensor(np.asarray(front, dtype=np.float64)).reshape(-1, self.n_objectives)


def pymoo_problem(name: str = "zdt1", **options: Any) -> PymooProblem:
    """The registered objective ``pymoo.problem``: a pymoo test problem by name.

    Args:
        name: a ``pymoo.problems.get_problem`` name (``"zdt1"``, ``"dtlz2"``, ``"bnh"``, ``"mw1"``, ...);
            ``"zdt1"`` when not given (so the entry can be made without arguments, as the contract tests do).
        **options: the problem's constructor options (``n_var``, ``n_obj``, ...), and ``eq_tolerance``.

    Returns:
        The :class:`PymooProblem`.
    """
    return PymooProblem(name, **options)


def _get_problem(name: str, options: dict[str, Any]) -> Any:
    from pymoo.core.problem import Problem
    from pymoo.problems import get_problem

    try:
        problem = get_problem(name, **options)
    except TypeError as exc:  # an option the constructor rejects; find which, with a suggestion
        check_options(
            type(get_problem(name)), options, owner=f"pymoo problem {name!r}", stop_at=Problem
        )
        raise ConfigError(f"pymoo problem {name!r} rejected options {options}: {exc}") from exc
    except Exception as exc:
        if "not found" in str(exc):
            raise UnknownNameError(
                f"pymoo has no problem {name!r}; see pymoo.problems.get_problem for names "
                "such as 'zdt1', 'dtlz2', 'bnh'"
            ) from exc
        raise
    check_options(type(problem), options, owner=f"pymoo problem {name!r}", stop_at=Problem)
    return problem


def _space_of(problem: Any) -> Space:
    if getattr(problem, "vars", None) is not None:
        raise SpaceError(
            f"pymoo problem {problem.name()} declares mixed variables (vars=...); "
            "only problems with xl/xu bounds are supported"
        )
    xl, xu = problem.xl, problem.xu
    if xl is None or xu is None or not (np.isfinite(xl).all() and np.isfinite(xu).all()):
        raise SpaceError(
            f"pymoo problem {problem.name()} has bounds xl={xl!r}, xu={xu!r}; expected finite "
            "bounds for every variable"
        )
    lower = np.broadcast_to(np.asarray(xl, dtype=np.float64), (problem.n_var,)).tolist()
    upper = np.broadcast_to(np.asarray(xu, dtype=np.float64), (problem.n_var,)).tolist()
    vtype = problem.vtype
    if vtype is int or (isinstance(vtype, type) and issubclass(vtype, np.integer)):
        return Integer([int(v) for v in lower], [int(v) for v in upper])
    return Box(lower, upper)


def _directions(n: int, m: int) -> np.ndarray:
    """About ``n`` Das-Dennis directions (``k x m``) for fronts pymoo computes from reference directions."""
    from pymoo.util.ref_dirs import get_reference_directions

    return get_reference_directions("das-dennis", m, n_partitions=das_dennis_partitions(n, m))


def das_dennis_partitions(n: int, m: int) -> int:
    """The largest number of partitions giving at most ``n`` Das-Dennis directions in ``m`` objectives (>= 1)."""
    from math import comb

    p = 1
    while comb(p + 1 + m - 1, m - 1) <= n:
        p += 1
    return p
