"""Variation operators for continuous, integer, binary and categorical columns.

The protocol every operator follows (permutations live in :mod:`.permutation`):

- a **crossover** has ``n_parents`` and ``n_offsprings`` and maps ``parents: P x n x d`` (``P`` parents
  for each of ``n`` matings) to ``O x n x d`` children; with probability ``1 - prob`` a mating copies its
  parents;
- a **mutation** maps ``x: n x d`` to ``n x d``.

Operators are built for one space (``Op(space, **options)``), draw every random number from the generator
they are called with, and are fully batched. Defaults match pymoo 0.6.2: SBX ``eta=15, prob=0.9`` per mating
and ``prob_var=0.5`` per variable with ``prob_bin=0.5`` exchange; polynomial mutation ``eta=20``, applied to
an individual with probability 0.9 and to each variable with probability ``min(0.5, 1 / d)``.
"""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor

from polyopt.errors import ConfigError
from polyopt.spaces import Space

__all__ = [
    "Crossover",
    "Mutation",
    "SBX",
    "IntegerSBX",
    "PolynomialMutation",
    "IntegerPolynomialMutation",
    "DERand1Bin",
    "UniformCrossover",
    "BitFlip",
    "CategoricalResample",
]


def _rand(shape: tuple[int, ...], like: Tensor, generator: torch.Generator) -> Tensor:
    """Uniform [0, 1) numbers of ``shape`` with ``like``'s dtype and device, drawn from ``generator``."""
    return torch.rand(shape, generator=generator, device=like.device, dtype=like.dtype)


def _check_prob(name: str, value: float) -> float:
    if not 0.0 <= value <= 1.0:
        raise ConfigError(f"{name}={value!r}; expected a probability in [0, 1]")
    return float(value)


class Crossover:
    """Base of every crossover: ``parents: P x n x d -> O x n x d``, applied per mating with ``prob``.

    Args:
        space: the space of the columns this operator sees.
        prob: probability that a mating recombines; otherwise its first ``O`` parents are copied.
    """

    role: ClassVar[str] = "crossover"
    n_parents: ClassVar[int] = 2
    n_offsprings: ClassVar[int] = 2
    #: space kinds this operator is valid for
    space_kinds: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, space: Space, *, prob: float = 0.9) -> None:
        if self.space_kinds and space.kind not in self.space_kinds:
            raise ConfigError(
                f"{type(self).__name__} handles {sorted(self.space_kinds)} spaces, not {space!r}"
            )
        self.space = space
        self.prob = _check_prob("prob", prob)

    def __call__(self, parents: Tensor, generator: torch.Generator) -> Tensor:
        """Recombine ``parents`` (``P x n x d``) into ``O x n x d`` children."""
        children = self._do(parents, generator)
        if self.prob >= 1.0:
            return children
        cross = _rand((parents.shape[1],), parents, generator) < self.prob  # n matings
        return torch.where(cross[None, :, None], children, parents[: self.n_offsprings])

    def _do(self, parents: Tensor, generator: torch.Generator) -> Tensor:
        raise NotImplementedError


class Mutation:
    """Base of every mutation: ``x: n x d -> n x d``.

    Args:
        space: the space of the columns this operator sees.
        prob: probability that an individual is mutated at all.
        prob_var: probability that each variable of a mutated individual changes; ``None`` means
            ``min(0.5, 1 / d)``, as pymoo.
    """

    role: ClassVar[str] = "mutation"
    space_kinds: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, space: Space, *, prob: float = 1.0, prob_var: float | None = None) -> None:
        if self.space_kinds and space.kind not in self.space_kinds:
            raise ConfigError(
                f"{type(self).__name__} handles {sorted(self.space_kinds)} spaces, not {space!r}"
            )
        self.space = space
        self.prob = _check_prob("prob", prob)
        self.prob_var = (
            min(0.5, 1.0 / space.dim) if prob_var is None else _check_prob("prob_var", prob_var)
        )

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Mutate ``x`` (``n x d``)."""
        mutated = self._do(x, generator)
        if self.prob >= 1.0:
            return mutated
        chosen = _rand((x.shape[0],), x, generator) <= self.prob
        return torch.where(chosen[:, None], mutated, x)

    def _do(self, x: Tensor, generator: torch.Generator) -> Tensor:
        raise NotImplementedError

    def _variable_mask(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """``n x d`` bool: which variables change."""
        return _rand(tuple(x.shape), x, generator) < self.prob_var


class SBX(Crossover):
    """Simulated binary crossover (Deb & Agrawal 1995), pymoo's variant.

    Args:
        space: a Box (or Integer, see :class:`IntegerSBX`).
        eta: distribution index; larger keeps children closer to their parents.
        prob: probability that a mating recombines.
        prob_var: probability that each variable is recombined.
        prob_bin: probability that the two children swap a variable.
        eps: parents closer than this in a variable are not recombined there.
    """

    space_kinds = frozenset({"continuous"})

    def __init__(
        self,
        space: Space,
        *,
        eta: float = 15.0,
        prob: float = 0.9,
        prob_var: float = 0.5,
        prob_bin: float = 0.5,
        eps: float = 1e-14,
    ) -> None:
        super().__init__(space, prob=prob)
        if eta <= 0:
            raise ConfigError(f"eta={eta!r}; expected a positive distribution index")
        self.eta, self.prob_var = float(eta), _check_prob("prob_var", prob_var)
        self.prob_bin, self.eps = _check_prob("prob_bin", prob_bin), float(eps)

    def _betaq(self, beta: Tensor, u: Tensor) -> Tensor:
        alpha = 2.0 - beta.pow(-(self.eta + 1.0))
        inv = 1.0 / (self.eta + 1.0)
        return torch.where(
            u <= 1.0 / alpha, (u * alpha).pow(inv), (1.0 / (2.0 - u * alpha)).pow(inv)
        )

    def _do(self, parents: Tensor, generator: torch.Generator) -> Tensor:
        p1, p2 = parents[0], parents[1]  # n x d each
        lower, upper = self.space.bounds.to(parents)
        cross = _rand(tuple(p1.shape), p1, generator) < self.prob_var
        cross &= ((p1 - p2).abs() > self.eps) & (lower != upper)
        y1, y2 = torch.minimum(p1, p2), torch.maximum(p1, p2)
        delta = y2 - y1  # masked where 0: those variables are not recombined
        u = _rand(tuple(p1.shape), p1, generator)
        c1 = 0.5 * ((y1 + y2) - self._betaq(1.0 + 2.0 * (y1 - lower) / delta, u) * delta)
        c2 = 0.5 * ((y1 + y2) + self._betaq(1.0 + 2.0 * (upper - y2) / delta, u) * delta)
        smaller = p1 < p2
        child1, child2 = torch.where(smaller, c1, c2), torch.where(smaller, c2, c1)
        swap = (_rand(tuple(p1.shape), p1, generator) < self.prob_bin) ^ (p1 > p2)
        child1, child2 = torch.where(swap, child2, child1), torch.where(swap, child1, child2)
        child1 = torch.where(cross, child1, p1).clamp(lower, upper)
        child2 = torch.where(cross, child2, p2).clamp(lower, upper)
        return torch.stack([child1, child2])


class IntegerSBX(SBX):
    """SBX on the integers' real values, then rounded to the nearest valid integer (pymoo's approach)."""

    space_kinds = frozenset({"integer", "binary"})

    def _do(self, parents: Tensor, generator: torch.Generator) -> Tensor:
        return self.space.repair(super()._do(parents, generator))


class PolynomialMutation(Mutation):
    """Polynomial mutation (Deb & Goyal 1996), pymoo's variant.

    Args:
        space: a Box (or Integer, see :class:`IntegerPolynomialMutation`).
        eta: distribution index.
        prob: probability that an individual is mutated (pymoo's default 0.9).
        prob_var: per-variable probability; ``None`` is ``min(0.5, 1 / d)``.
    """

    space_kinds = frozenset({"continuous"})

    def __init__(
        self, space: Space, *, eta: float = 20.0, prob: float = 0.9, prob_var: float | None = None
    ) -> None:
        super().__init__(space, prob=prob, prob_var=prob_var)
        if eta <= 0:
            raise ConfigError(f"eta={eta!r}; expected a positive distribution index")
        self.eta = float(eta)

    def _do(self, x: Tensor, generator: torch.Generator) -> Tensor:
        lower, upper = self.space.bounds.to(x)
        mut = self._variable_mask(x, generator) & (lower != upper)
        span = upper - lower
        delta1, delta2 = (x - lower) / span, (upper - x) / span
        u = _rand(tuple(x.shape), x, generator)
        power = 1.0 / (self.eta + 1.0)
        low_side = (2.0 * u + (1.0 - 2.0 * u) * (1.0 - delta1).pow(self.eta + 1.0)).pow(power) - 1.0
        high_side = 1.0 - (
            2.0 * (1.0 - u) + 2.0 * (u - 0.5) * (1.0 - delta2).pow(self.eta + 1.0)
        ).pow(power)
        y = x + torch.where(u <= 0.5, low_side, high_side) * span
        return torch.where(mut, y.clamp(lower, upper), x)


class IntegerPolynomialMutation(PolynomialMutation):
    """Polynomial mutation of integers' real values, then rounded (pymoo's approach)."""

    space_kinds = frozenset({"integer", "binary"})

    def _do(self, x: Tensor, generator: torch.Generator) -> Tensor:
        return self.space.repair(super()._do(x, generator))


class DERand1Bin(Crossover):
    """Differential evolution's DE/rand/1/bin: ``v = r1 + F (r2 - r3)``, binomial crossover with the target.

    Parents per mating: ``[target, r1, r2, r3]``; one child. At least one variable comes from ``v``.
    Out-of-bounds values are reflected to the midpoint between the bound and the base vector ``r1``.

    Args:
        space: a Box.
        f: differential weight ``F``.
        cr: crossover rate (probability that a variable comes from ``v``).
        prob: probability that a mating recombines (otherwise the target is copied).
    """

    n_parents = 4
    n_offsprings = 1
    space_kinds = frozenset({"continuous"})

    def __init__(self, space: Space, *, f: float = 0.5, cr: float = 0.9, prob: float = 1.0) -> None:
        super().__init__(space, prob=prob)
        if not 0.0 < f <= 2.0:
            raise ConfigError(f"f={f!r}; expected a differential weight in (0, 2]")
        self.f, self.cr = float(f), _check_prob("cr", cr)

    def _do(self, parents: Tensor, generator: torch.Generator) -> Tensor:
        target, r1, r2, r3 = parents[0], parents[1], parents[2], parents[3]  # n x d each
        lower, upper = self.space.bounds.to(parents)
        v = r1 + self.f * (r2 - r3)
        v = torch.where(
            v < lower, 0.5 * (lower + r1), torch.where(v > upper, 0.5 * (upper + r1), v)
        )
        take = _rand(tuple(target.shape), target, generator) < self.cr
        forced = torch.randint(
            0, target.shape[1], (target.shape[0], 1), generator=generator, device=target.device
        )
        take |= torch.arange(target.shape[1], device=target.device)[None, :] == forced
        return torch.where(take, v, target).unsqueeze(0)


class UniformCrossover(Crossover):
    """Uniform crossover: each variable comes from either parent with probability 1/2 (any column kind
    except permutations).

    Args:
        space: any non-permutation space.
        prob: probability that a mating recombines.
    """

    space_kinds = frozenset({"continuous", "integer", "binary", "categorical"})

    def __init__(self, space: Space, *, prob: float = 0.9) -> None:
        super().__init__(space, prob=prob)

    def _do(self, parents: Tensor, generator: torch.Generator) -> Tensor:
        p1, p2 = parents[0], parents[1]
        swap = _rand(tuple(p1.shape), p1, generator) < 0.5
        return torch.stack([torch.where(swap, p2, p1), torch.where(swap, p1, p2)])


class BitFlip(Mutation):
    """Flip each bit with probability ``prob_var`` (default ``min(0.5, 1 / d)``)."""

    space_kinds = frozenset({"binary"})

    def _do(self, x: Tensor, generator: torch.Generator) -> Tensor:
        return torch.where(self._variable_mask(x, generator), 1.0 - x, x)


class CategoricalResample(Mutation):
    """Redraw each categorical (or integer) variable uniformly with probability ``prob_var``."""

    space_kinds = frozenset({"categorical", "integer", "binary"})

    def _do(self, x: Tensor, generator: torch.Generator) -> Tensor:
        lower, upper = self.space.bounds.to(x)
        u = _rand(tuple(x.shape), x, generator)
        fresh = torch.floor(lower + u * (upper - lower + 1)).clamp(max=upper)
        return torch.where(self._variable_mask(x, generator), fresh, x)
