"""Composing objectives: scalarize, stack, constrain, noisy, desirability.

Each returns a new :class:`Objective` wrapping others; all work on batches and on any device.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from polyopt.errors import ConfigError, SpaceError
from polyopt.objective import Evaluation, Objective, directions_of, evaluate, problem_name

__all__ = ["scalarize", "stack", "constrain", "noisy", "desirability"]


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
