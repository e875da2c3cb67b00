"""Composing objectives: scalarize, stack, constrain, noisy, desirability, and runs as objectives.

Each returns a new :class:`Objective`: the first five wrap others, all on batches and on any device;
:func:`run_objective` makes a trainer's run (its config as the search space, its result's metrics as the
objectives) an Objective, so BO or a MOEA can tune it.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import math
import struct
import typing
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from polyopt.errors import ConfigError, PolyoptError, SpaceError, did_you_mean
from polyopt.objective import (
    Direction,
    Evaluation,
    Objective,
    directions_of,
    evaluate,
    problem_name,
)
from polyopt.spaces import Box, Categorical, Integer, Product, Space

__all__ = ["scalarize", "stack", "constrain", "noisy", "desirability", "run_objective"]


class _Wrapped(Objective):
    def __init__(self, base: Objective, name: str) -> None:
        self.base, self.space, self.name = base, base.space, name
        self.n_objectives, self.n_constraints = base.n_objectives, base.n_constraints
        self.directions = directions_of(base.directions, base.n_objectives)
        self.ref_point, self.optimum = base.ref_point, base.optimum


class _Scalarized(_Wrapped):
    def __init__(
        self, base: Objective, weights: Tensor, method: str, ideal: Tensor | None, theta: float
    ) -> None:
        super().__init__(base, f"{method}({problem_name(base)})")
        self.weights, self.method, self.ideal, self.theta = weights, method, ideal, theta
        self.n_objectives, self.directions, self.ref_point, self.optimum = (
            1,
            ("minimize",),
            None,
            None,
        )

    def evaluate(self, x: Tensor) -> Evaluation:
        ev = evaluate(self.base, x)  # minimization form
        f, w = ev.f, self.weights.to(ev.f)
        z = torch.zeros_like(w) if self.ideal is None else self.ideal.to(f) * self.base.signs.to(f)
        if self.method == "linear":
            s = (f * w).sum(-1)
        elif self.method == "chebyshev":
            s = (w * (f - z)).amax(-1)
        else:  # pbi: distance along the weight direction plus theta times the perpendicular distance
            unit = w / w.norm()
            d1 = ((f - z) * unit).sum(-1)
            d2 = (f - z - d1.unsqueeze(-1) * unit).norm(dim=-1)
            s = d1 + self.theta * d2
        return ev.replace(f=s.unsqueeze(-1))


def scalarize(
    obj: Objective,
    weights: Sequence[float] | Tensor,
    method: str = "chebyshev",
    *,
    ideal: Sequence[float] | Tensor | None = None,
    theta: float = 5.0,
) -> Objective:
    """One objective from several: ``linear`` (weighted sum), ``chebyshev`` (``max_i w_i (f_i - z_i)``) or
    ``pbi`` (penalty boundary intersection, MOEA/D). Maximized objectives are negated first; the result is
    minimized.

    Args:
        obj: a multi-objective Objective.
        weights: ``m`` non-negative weights, not all zero.
        method: ``"linear"``, ``"chebyshev"`` or ``"pbi"``.
        ideal: ``m`` ideal point ``z`` in the user's direction (default 0).
        theta: PBI penalty.
    """
    w = torch.as_tensor(weights, dtype=torch.float64).flatten()
    if w.numel() != obj.n_objectives:
        raise ConfigError(
            f"weights={w.tolist()} has {w.numel()} values; expected {obj.n_objectives}"
        )
    if bool((w < 0).any()) or not bool((w > 0).any()) or not bool(torch.isfinite(w).all()):
        raise ConfigError(
            f"weights={w.tolist()}; expected finite non-negative values, not all zero"
        )
    if method not in ("linear", "chebyshev", "pbi"):
        raise ConfigError(f"method={method!r}; expected 'linear', 'chebyshev' or 'pbi'")
    z = None if ideal is None else torch.as_tensor(ideal, dtype=torch.float64).flatten()
    return _Scalarized(obj, w, method, z, theta)


class _Stacked(Objective):
    def __init__(self, parts: Sequence[Objective]) -> None:
        self.parts, self.space = list(parts), parts[0].space
        self.n_objectives = sum(p.n_objectives for p in parts)
        self.n_constraints = sum(p.n_constraints for p in parts)
        self.directions = tuple(
            d for p in parts for d in directions_of(p.directions, p.n_objectives)
        )
        self.name = "+".join(problem_name(p) for p in parts)

    def evaluate(self, x: Tensor) -> Evaluation:
        evs = [p.evaluate(x) for p in self.parts]
        gs = [e.g for e in evs if e.g is not None]
        return Evaluation(
            f=torch.cat([e.f.reshape(x.shape[0], -1) for e in evs], dim=-1),
            g=torch.cat(gs, dim=-1) if gs else None,
        )


def stack(*objectives: Objective) -> Objective:
    """One multi-objective Objective from several over the same space (objectives and constraints side by side)."""
    if len(objectives) < 2:
        raise ConfigError(f"stack() got {len(objectives)} objective(s); expected at least 2")
    first = objectives[0].space
    for o in objectives[1:]:
        if (
            o.space.dim != first.dim
            or o.space.kind != first.kind
            or not torch.equal(o.space.bounds, first.bounds)
        ):
            raise SpaceError(
                f"stack(): {o!r} has space {o.space!r}, expected the same space as {first!r}"
            )
    return _Stacked(objectives)


class _Constrained(_Wrapped):
    def __init__(self, base: Objective, g_fn: Callable[[Tensor], Tensor], n_new: int) -> None:
        super().__init__(base, f"constrain({problem_name(base)})")
        self.g_fn, self.n_constraints = g_fn, base.n_constraints + n_new

    def evaluate(self, x: Tensor) -> Evaluation:
        ev = self.base.evaluate(x)
        g = self.g_fn(x)
        g = g.unsqueeze(-1) if g.dim() == 1 else g
        return ev.replace(g=g if ev.g is None else torch.cat([ev.g, g], dim=-1))


def constrain(
    obj: Objective, g_fn: Callable[[Tensor], Tensor], n_constraints: int = 1
) -> Objective:
    """Add constraints ``g_fn(x: n x d) -> n x c`` (feasible where ``<= 0``) to an objective."""
    if n_constraints < 1:
        raise ConfigError(f"n_constraints={n_constraints}; expected at least 1")
    return _Constrained(obj, g_fn, n_constraints)


class _Noisy(_Wrapped):
    def __init__(self, base: Objective, std: Tensor, seed: int) -> None:
        super().__init__(base, f"noisy({problem_name(base)})")
        self.std = std
        self._gen: torch.Generator | None = None
        self._seed = seed

    def evaluate(self, x: Tensor) -> Evaluation:
        ev = self.base.evaluate(x)
        if self._gen is None or self._gen.device != x.device:
            self._gen = torch.Generator(device=x.device).manual_seed(self._seed)
        eps = torch.randn(ev.f.shape, generator=self._gen, device=x.device, dtype=ev.f.dtype)
        return ev.replace(f=ev.f + eps * self.std.to(ev.f))


def noisy(obj: Objective, std: float | Sequence[float], *, seed: int = 0) -> Objective:
    """Add Gaussian noise of standard deviation ``std`` (one or per objective) to every evaluation."""
    s = torch.as_tensor(std, dtype=torch.float64).flatten()
    if bool((s < 0).any()) or s.numel() not in (1, obj.n_objectives):
        raise ConfigError(
            f"std={s.tolist()}; expected one or {obj.n_objectives} non-negative values"
        )
    return _Noisy(obj, s, seed)


class _Desirability(_Wrapped):
    def __init__(
        self, base: Objective, low: Tensor, high: Tensor, weights: Tensor, shape: Tensor
    ) -> None:
        super().__init__(base, f"desirability({problem_name(base)})")
        self.low, self.high, self.weights, self.shape = low, high, weights, shape
        self.n_objectives, self.directions, self.ref_point, self.optimum = (
            1,
            ("maximize",),
            None,
            1.0,
        )

    def evaluate(self, x: Tensor) -> Evaluation:
        ev = evaluate(self.base, x)  # minimization form: desirability 1 at low, 0 at high
        signs = self.base.signs.to(ev.f)
        lo, hi = self.low.to(ev.f) * signs, self.high.to(ev.f) * signs
        d = ((hi - ev.f) / (hi - lo)).clamp(0, 1) ** self.shape.to(ev.f)
        w = self.weights.to(ev.f)
        overall = torch.exp((w * torch.log(d.clamp_min(1e-300))).sum(-1) / w.sum())
        return ev.replace(f=torch.where(d.min(-1).values > 0, overall, 0.0).unsqueeze(-1))


def desirability(
    obj: Objective,
    best: Sequence[float],
    worst: Sequence[float],
    *,
    weights: Sequence[float] | None = None,
    shape: Sequence[float] | float = 1.0,
) -> Objective:
    """Derringer–Suich desirability: each objective mapped to ``[0, 1]`` (1 at ``best``, 0 at ``worst``, in the
    user's direction, raised to ``shape``), combined by a weighted geometric mean. The result is maximized.
    """
    m = obj.n_objectives
    lo, hi = (torch.as_tensor(v, dtype=torch.float64).flatten() for v in (best, worst))
    if lo.numel() != m or hi.numel() != m or bool((lo == hi).any()):
        raise ConfigError(f"best={lo.tolist()}, worst={hi.tolist()}; expected {m} distinct pairs")
    w = (
        torch.ones(m, dtype=torch.float64)
        if weights is None
        else torch.as_tensor(weights, dtype=torch.float64)
    )
    s = torch.as_tensor(shape, dtype=torch.float64).flatten().expand(m)
    return _Desirability(obj, lo, hi, w, s)


#: Directions of the metrics a run objective knows without being told: the MORL evaluation protocol's
#: indicators (:mod:`polyopt_plugins.morl.protocol`), the actor-critic trainers' evaluation return, and the
#: run's own counters (``wall_time`` in seconds, ``n_env_steps`` environment steps).
METRIC_DIRECTIONS: dict[str, Direction] = {
    "hypervolume": "maximize",
    "eum": "maximize",
    "cardinality": "maximize",
    "sparsity": "minimize",
    "igd": "minimize",
    "mul": "minimize",
    "eval_return": "maximize",
    "wall_time": "minimize",
    "n_env_steps": "minimize",
}
_RUN_FIELDS = ("wall_time", "n_env_steps")  # read from the result itself, not its metrics


@dataclasses.dataclass(frozen=True)
class _Field:
    """How one column of a point becomes one config value."""

    space: Space
    log: bool = False  # the column holds log10 of the value

    def value(self, column: float) -> Any:
        if isinstance(self.space, Categorical):
            return self.space.value(round(column))
        if isinstance(self.space, Integer):
            return round(column)
        return 10.0**column if self.log else float(column)


class _RunObjective(Objective):
    def __init__(
        self,
        trainer: Any,
        trainer_name: str,
        problem: Any,
        problem_options: dict[str, Any],
        budget: Any,
        fields: dict[str, _Field],
        metrics: dict[str, Direction],
        config: dict[str, Any],
        seed: int,
        repeats: int,
        device: Any,
        dtype: Any,
    ) -> None:
        self.trainer, self.trainer_name = trainer, trainer_name
        self.problem, self.problem_options = problem, problem_options
        self.budget, self.fields, self.metrics = budget, fields, metrics
        self.config, self.seed, self.repeats = config, seed, repeats
        self.device, self.dtype = device, dtype
        self.product = Product({k: f.space for k, f in fields.items()})
        self.space = self.product
        self.n_objectives = len(metrics)
        self.directions = tuple(metrics.values())
        self.name = (
            f"run({trainer_name}@{problem if isinstance(problem, str) else problem_name(problem)})"
        )

    def configs(self, x: Tensor) -> list[dict[str, Any]]:
        """The trainer config of each row of ``x`` (``n x d``): the fixed ``config`` plus the searched fields."""
        parts = self.product.unflatten(x.detach().to(torch.float64).cpu())
        return [
            {**self.config, **{k: f.value(float(parts[k][i, 0])) for k, f in self.fields.items()}}
            for i in range(x.shape[0])
        ]

    def seeds(self, x: Tensor) -> list[list[int]]:
        """The inner runs' seeds of each row (``repeats`` each): a hash of the row's values and ``seed``, so
        the same point always gets the same runs, in any order, process or resumed study."""
        rows = x.detach().to(torch.float64).cpu().tolist()
        out = []
        for row in rows:
            key = struct.pack(f"<q{len(row)}d", self.seed, *row)
            base = int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little")
            out.append([(base + r) % 2**31 for r in range(self.repeats)])
        return out

    def _problem(self) -> Any:
        from polyopt.run import make_problem

        if isinstance(self.problem, str):
            return make_problem(self.problem, **self.problem_options)
        return copy.deepcopy(self.problem)  # every run starts from the same untouched problem

    def run_metrics(self, config: dict[str, Any], seed: int) -> list[float]:
        """One inner run with ``config`` and ``seed``: the value of each metric (user's direction)."""
        from polyopt.run import optimize

        result = optimize(
            self.trainer,
            self._problem(),
            budget=self.budget,
            seed=seed,
            device=self.device,
            dtype=self.dtype,
            verbose=False,
            **config,
        )
        values = []
        for name in self.metrics:
            if name in _RUN_FIELDS:
                values.append(float(getattr(result, name)))
                continue
            have = getattr(result, "metrics", {})
            if name not in have:
                raise ConfigError(
                    f"metric {name!r} is not in the result of {self.trainer_name!r}.{did_you_mean(name, have)} "
                    f"Its result has: {', '.join(sorted([*have, *_RUN_FIELDS]))}"
                )
            values.append(float(have[name]))
        return values

    def evaluate(self, x: Tensor) -> Evaluation:
        rows, errors = [], {}
        for i, (config, seeds) in enumerate(zip(self.configs(x), self.seeds(x), strict=True)):
            try:
                runs = [self.run_metrics(config, s) for s in seeds]
                rows.append([sum(col) / len(col) for col in zip(*runs, strict=True)])
            except PolyoptError:
                raise  # a wrong setting (or a metric the result lacks) is the caller's to fix
            except Exception as exc:  # the run itself failed (diverged, ...): a failed evaluation
                rows.append([math.nan] * self.n_objectives)
                errors[i] = f"{type(exc).__name__}: {exc}"
        dtype = x.dtype if x.is_floating_point() else torch.float64
        f = torch.tensor(rows, dtype=dtype, device=x.device).reshape(x.shape[0], -1)
        return Evaluation(f=f, info={"errors": errors} if errors else {})


def run_objective(
    trainer: str | type,
    problem: str | Any,
    budget: Any,
    *,
    space: Mapping[str, Space | Sequence[Any]],
    metrics: Sequence[str] | Mapping[str, Direction],
    config: Mapping[str, Any] | None = None,
    problem_options: Mapping[str, Any] | None = None,
    seed: int = 0,
    repeats: int = 1,
    ref_point: Sequence[float] | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
) -> Objective:
    """A trainer's run as an Objective: a point is a config, its value the run's metrics.

    Each evaluated row trains ``trainer`` on a fresh ``problem`` under ``budget`` with the row's config and
    reads ``metrics`` from its :class:`~polyopt.TrainerResult`. The runs are seeded from the row's values and
    ``seed`` (a hash), so a point always gets the same runs, whatever the order, the process or a resumed
    study: the objective is deterministic except for ``wall_time``, which is measured (the first run in a
    process also pays one-time imports). A run that raises (other than a polyopt error, which is a setting
    to fix) is a failed evaluation; its message is in ``Evaluation.info["errors"]``.

    Args:
        trainer: a registered trainer name (``"envelope"``) or a Trainer class.
        problem: a registered environment name, or an Environment (deep-copied for every run).
        budget: every inner run's budget: a :class:`~polyopt.Budget` or a dict (``{"env_steps": 2000}``).
        space: ``{config field: range}``: a one-dimensional :class:`~polyopt.Box`, :class:`~polyopt.Integer` or
            :class:`~polyopt.Categorical`, or ``(low, high)`` (an Integer when both are ints, else a Box), or
            ``(low, high, "log")`` (searched as ``log10``; the config gets ``10 ** column``).
        metrics: names in the result's ``metrics`` (e.g. ``hypervolume``, ``eum``) or the run's ``wall_time``
            / ``n_env_steps``, as ``{name: "maximize" | "minimize"}``, or a list of names whose direction is
            known (:data:`METRIC_DIRECTIONS`).
        config: fixed config fields of every run (not searched).
        problem_options: options of a registered ``problem``.
        seed: base of the inner runs' seeds.
        repeats: runs per point (different seeds); the metrics are their means.
        ref_point: hypervolume reference point over ``metrics`` (user's direction), for BO and reports.
        device: the inner runs' device (default: the trainer's).
        dtype: the inner runs' dtype (default: the trainer's).

    Raises:
        ConfigError: a space or config key that is not a field of the trainer's config, a range that does not
            fit the field's type, an unknown direction, or (when a point is evaluated) a metric the result
            lacks.

    Example:
        >>> from polyopt.compose import run_objective
        >>> obj = run_objective("envelope", "deep-sea-treasure", {"env_steps": 500},
        ...     space={"learning_rate": (1e-4, 1e-2, "log")}, metrics=["hypervolume", "wall_time"])
        >>> obj.n_objectives, obj.directions
        (2, ('maximize', 'minimize'))
    """
    from polyopt.optimizer import Trainer
    from polyopt.run import Budget

    cls, trainer_name = _trainer_class(trainer)
    if not issubclass(cls, Trainer):
        raise ConfigError(
            f"trainer={trainer!r} is a {cls.__name__}, not a Trainer; a run objective trains a policy"
        )
    fixed = dict(config or {})
    fields = {key: _field(key, value) for key, value in space.items()}
    if not fields:
        raise ConfigError("space={} is empty; expected at least one config field to search")
    _check_keys(cls, trainer_name, fields, fixed)
    directions = _directions(metrics)
    if repeats < 1:
        raise ConfigError(f"repeats={repeats}; expected at least 1")
    if ref_point is not None and len(ref_point) != len(directions):
        raise ConfigError(
            f"ref_point={list(ref_point)} has {len(ref_point)} values; expected one per metric "
            f"({', '.join(directions)})"
        )
    obj = _RunObjective(
        cls,
        trainer_name,
        problem,
        dict(problem_options or {}),
        Budget.coerce(budget),
        fields,
        directions,
        fixed,
        seed,
        repeats,
        device,
        dtype,
    )
    obj.ref_point = None if ref_point is None else [float(v) for v in ref_point]
    if isinstance(problem, str):
        obj._problem()  # an unknown problem or option fails now, not at the first evaluation
    return obj


def _trainer_class(trainer: Any) -> tuple[type, str]:
    if isinstance(trainer, str):
        from polyopt.plugins import registry

        return registry().get("optimizer", trainer), trainer
    if isinstance(trainer, type):
        return trainer, trainer.__name__
    raise ConfigError(
        f"trainer={trainer!r}; expected a registered trainer name or a Trainer class (not an instance: "
        "every evaluation builds its own)"
    )


def _field(key: str, spec: Any) -> _Field:
    """The search range of config field ``key`` from a Space or ``(low, high[, "log"])``."""
    if isinstance(spec, Space):
        if spec.dim != 1 or isinstance(spec, Product):
            raise ConfigError(
                f"space[{key!r}] = {spec!r} has {spec.dim} dimensions; expected a one-dimensional "
                "Box, Integer or Categorical"
            )
        return _Field(spec)
    expected = '(low, high), (low, high, "log"), or a Box, Integer or Categorical'
    if not isinstance(spec, (tuple, list)) or len(spec) not in (2, 3):
        raise ConfigError(f"space[{key!r}] = {spec!r}; expected {expected}")
    low, high = spec[0], spec[1]
    log = len(spec) == 3
    if log and spec[2] != "log":
        raise ConfigError(f"space[{key!r}] = {spec!r}: third entry {spec[2]!r}; expected 'log'")
    numbers = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high))
    if not numbers or not low < high:
        raise ConfigError(f"space[{key!r}] = {spec!r}; expected {expected} with low < high")
    if log:
        if low <= 0:
            raise ConfigError(f"space[{key!r}] = {spec!r}: a log range needs low > 0")
        return _Field(Box(math.log10(low), math.log10(high)), log=True)
    if isinstance(low, int) and isinstance(high, int):
        return _Field(Integer(low, high))
    return _Field(Box(float(low), float(high)))


def _check_keys(cls: type, trainer: str, fields: dict[str, _Field], fixed: dict[str, Any]) -> None:
    """Every key names a config field of the right type, and the config builds."""
    from polyopt.config import build_config

    config_cls: Any = cls.Config  # type: ignore[attr-defined]  # checked a Trainer above
    known = {f.name for f in dataclasses.fields(config_cls) if f.init}
    hints = typing.get_type_hints(config_cls)
    for where, keys in (("space", fields), ("config", fixed)):
        for key in keys:
            if key not in known:
                raise ConfigError(
                    f"{where} key {key!r} is not a config field of {trainer!r}."
                    f"{did_you_mean(key, known)} Its fields: {', '.join(sorted(known))}"
                )
    both = sorted(set(fields) & set(fixed))
    if both:
        raise ConfigError(f"{both} are in both space and config; a field is searched or fixed")
    for key, f in fields.items():
        if hints.get(key) is int and not isinstance(f.space, (Integer, Categorical)):
            raise ConfigError(
                f"space[{key!r}] is continuous ({f.space!r}) but {trainer!r}'s {key} is an int; "
                "give (low, high) as ints or an Integer"
            )
    lowest = {k: f.value(float(f.space.bounds[0, 0])) for k, f in fields.items()}
    build_config(config_cls, {**fixed, **lowest}, owner=f"optimizer {trainer!r}")


def _directions(metrics: Sequence[str] | Mapping[str, Direction]) -> dict[str, Direction]:
    if isinstance(metrics, str):
        raise ConfigError(f"metrics={metrics!r}; expected a list of names or {{name: direction}}")
    if isinstance(metrics, Mapping):
        out = dict(metrics)
    else:
        out = {}
        for name in metrics:
            if name not in METRIC_DIRECTIONS:
                raise ConfigError(
                    f"metric {name!r} has no known direction; give metrics as "
                    f"{{{name!r}: 'maximize' or 'minimize', ...}} (known: "
                    f"{', '.join(sorted(METRIC_DIRECTIONS))})"
                )
            out[name] = METRIC_DIRECTIONS[name]
    if not out or len(out) != len(list(metrics)):
        raise ConfigError(f"metrics={list(metrics)}; expected at least one, each once")
    for name, d in out.items():
        if d not in ("minimize", "maximize"):
            raise ConfigError(
                f"metric {name!r}: direction {d!r}; expected 'maximize' or 'minimize'"
            )
    return out
