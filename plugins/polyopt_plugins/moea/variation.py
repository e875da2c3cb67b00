"""Operator lookup, the Product-space operator, and :func:`default_variation` (crossover then mutation).

``default_variation(space)`` picks operators by space kind, so every algorithm runs on any space:

=============  ====================  =====================
kind           crossover             mutation
=============  ====================  =====================
continuous     ``sbx``               ``polynomial-mutation``
integer        ``integer-sbx``       ``integer-pm``
binary         ``uniform-crossover`` ``bit-flip``
categorical    ``uniform-crossover`` ``categorical-resample``
permutation    ``ox``                ``inversion-mutation``
Product        each part's defaults  each part's defaults
=============  ====================  =====================

A Product space gets a ``ProductOperator`` (chosen, never named, so not registered) of its parts' operators.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

from polyopt.errors import ConfigError, did_you_mean
from polyopt.spaces import Product, Space

from .operators import Crossover

__all__ = [
    "OPERATORS",
    "ProductOperator",
    "Variation",
    "default_variation",
    "make_operator",
    "resolve_operator",
]

#: Builtin operators by registry name (``plugin.py`` registers exactly these).
OPERATORS: dict[str, tuple[str, str]] = {
    "sbx": (
        "operators:SBX",
        "simulated binary crossover (pymoo defaults eta=15, prob=0.9, prob_var=0.5)",
    ),
    "integer-sbx": ("operators:IntegerSBX", "SBX on integer values, then rounded"),
    "polynomial-mutation": (
        "operators:PolynomialMutation",
        "polynomial mutation (eta=20, prob_var=1/d)",
    ),
    "integer-pm": (
        "operators:IntegerPolynomialMutation",
        "polynomial mutation on integers, then rounded",
    ),
    "de-rand-1-bin": (
        "operators:DERand1Bin",
        "differential evolution DE/rand/1/bin (F=0.5, CR=0.9)",
    ),
    "uniform-crossover": (
        "operators:UniformCrossover",
        "each variable from either parent (binary, categorical, integer, continuous)",
    ),
    "bit-flip": ("operators:BitFlip", "flip each bit with probability 1/d"),
    "categorical-resample": (
        "operators:CategoricalResample",
        "redraw categorical values uniformly",
    ),
    "ox": ("permutation:OrderCrossover", "order crossover for permutations"),
    "pmx": ("permutation:PartiallyMappedCrossover", "partially mapped crossover for permutations"),
    "swap-mutation": ("permutation:SwapMutation", "swap two positions of a permutation"),
    "inversion-mutation": ("permutation:InversionMutation", "reverse a segment of a permutation"),
}

_DEFAULTS = {
    "crossover": {
        "continuous": "sbx",
        "integer": "integer-sbx",
        "binary": "uniform-crossover",
        "categorical": "uniform-crossover",
        "permutation": "ox",
    },
    "mutation": {
        "continuous": "polynomial-mutation",
        "integer": "integer-pm",
        "binary": "bit-flip",
        "categorical": "categorical-resample",
        "permutation": "inversion-mutation",
    },
}


def resolve_operator(name: str) -> type:
    """Return the operator class registered as ``name`` (builtins without loading the plugin registry)."""
    if name in OPERATORS:
        module, _, attr = OPERATORS[name][0].partition(":")
        return getattr(importlib.import_module(f"{__package__}.{module}"), attr)
    import polyopt

    reg = polyopt.registry()
    if ("operator", name) not in reg:
        names = sorted(set(OPERATORS) | set(reg.names("operator")))
        raise ConfigError(
            f"unknown operator {name!r}.{did_you_mean(name, names)} Known: {', '.join(names)}"
        )
    return reg.get("operator", name)


def make_operator(name: str, space: Space, options: Mapping[str, Any] | None = None) -> Any:
    """Build operator ``name`` for ``space``, passing only the ``options`` its constructor accepts.

    Args:
        name: a registered operator name.
        space: the space of the columns it will see.
        options: e.g. ``{"prob": 0.9, "eta": 15}``; keys the operator does not take are skipped, so one set
            of algorithm options can configure any operator.

    Returns:
        The operator.
    """
    cls = resolve_operator(name)
    params = inspect.signature(cls).parameters
    kept = {k: v for k, v in (options or {}).items() if k in params and v is not None}
    return cls(space, **kept)


class ProductOperator:
    """Applies one operator per part of a :class:`~polyopt.spaces.Product` space to that part's columns.

    All parts are crossovers (then ``parents: P x n x d -> O x n x d``, and every part must take the same
    number of parents and give the same number of children) or all are mutations (``n x d -> n x d``).

    Args:
        space: the Product space.
        parts: ``{part name: operator}``; parts left out get their kind's default.
        role: ``"crossover"`` or ``"mutation"``, the defaults used for missing parts.
        options: options passed to default operators (see :func:`make_operator`).
    """

    def __init__(
        self,
        space: Product,
        parts: Mapping[str, Any] | None = None,
        *,
        role: str = "crossover",
        options: Mapping[str, Any] | None = None,
    ) -> None:
        if not isinstance(space, Product):
            raise ConfigError(f"the product operator needs a Product space, got {space!r}")
        if role not in _DEFAULTS:
            raise ConfigError(f"role={role!r}; expected 'crossover' or 'mutation'")
        given = dict(parts or {})
        unknown = set(given) - set(space.parts)
        if unknown:
            raise ConfigError(
                f"operators given for unknown parts {sorted(unknown)}; "
                f"parts are {list(space.parts)}"
            )
        self.space, self.role = space, role
        self.parts = {
            name: given.get(name) or make_operator(_DEFAULTS[role][_kind(p)], p, options)
            for name, p in space.parts.items()
        }
        ops = list(self.parts.values())
        self.is_crossover = isinstance(ops[0], (Crossover, ProductOperator)) and getattr(
            ops[0], "is_crossover", True
        )
        if self.is_crossover:
            shapes = {(op.n_parents, op.n_offsprings) for op in ops}
            if len(shapes) != 1:
                raise ConfigError(
                    f"crossovers of a Product space must agree on (parents, children), got {shapes}"
                )
            self.n_parents, self.n_offsprings = shapes.pop()

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        """Apply each part's operator to its columns: ``P x n x d -> O x n x d`` or ``n x d -> n x d``."""
        return torch.cat(
            [op(x[..., self.space.slices[name]], generator) for name, op in self.parts.items()],
            dim=-1,
        )


def _kind(space: Space) -> str:
    if isinstance(space, Product):
        return "mixed"
    return space.kind


class Variation:
    """Crossover followed by mutation.

    Args:
        crossover: maps ``P x n x d`` parents to ``O x n x d`` children.
        mutation: maps ``k x d`` to ``k x d``.
    """

    def __init__(self, crossover: Any, mutation: Any) -> None:
        self.crossover, self.mutation = crossover, mutation

    @property
    def n_parents(self) -> int:
        """Parents per mating."""
        return int(self.crossover.n_parents)

    @property
    def n_offsprings(self) -> int:
        """Children per mating."""
        return int(self.crossover.n_offsprings)

    def n_matings(self, n_children: int) -> int:
        """Matings needed for at least ``n_children`` children."""
        return math.ceil(n_children / self.n_offsprings)

    def __call__(self, parents: Tensor, generator: torch.Generator) -> Tensor:
        """``parents: P x n x d`` -> ``(O * n) x d`` mutated children, all first children first (as pymoo)."""
        children = self.crossover(parents, generator)  # O x n x d
        return self.mutation(children.reshape(-1, parents.shape[-1]), generator)


def _operator_for(space: Space, role: str, name: str, options: Mapping[str, Any]) -> Any:
    """One operator of ``role`` for ``space``: the named one, or the kind's default (per part for
    Products)."""
    if not isinstance(space, Product):
        chosen = _DEFAULTS[role][space.kind] if name == "auto" else name
        return make_operator(chosen, space, options)
    parts: dict[str, Any] = {}
    if name != "auto":
        cls = resolve_operator(name)
        kinds = getattr(cls, "space_kinds", frozenset())
        parts = {
            k: make_operator(name, p, options)
            for k, p in space.parts.items()
            if not isinstance(p, Product) and p.kind in kinds
        }
        if not parts:
            raise ConfigError(
                f"{role} {name!r} handles {sorted(kinds)} columns; no part of {space!r} is one"
            )
    for k, p in space.parts.items():
        if k not in parts and isinstance(p, Product):
            parts[k] = _operator_for(p, role, "auto", options)
    return ProductOperator(space, parts, role=role, options=options)


def default_variation(
    space: Space,
    *,
    crossover: str = "auto",
    mutation: str = "auto",
    crossover_options: Mapping[str, Any] | None = None,
    mutation_options: Mapping[str, Any] | None = None,
) -> Variation:
    """The variation for any space: named operators where given, the kind's defaults elsewhere.

    For a Product space each part gets its own operator; a named operator is used for the parts whose kind
    it handles, and mutation's per-variable probability defaults to ``min(0.5, 1 / d)`` of the whole space
    (as pymoo counts variables), not of each part.

    Args:
        space: the problem's space.
        crossover: a registered crossover name or ``"auto"``.
        mutation: a registered mutation name or ``"auto"``.
        crossover_options: options for crossovers (e.g. ``prob``, ``eta``), each passed where accepted.
        mutation_options: options for mutations (e.g. ``eta``, ``prob_var``).

    Returns:
        The :class:`Variation`.
    """
    mopts = dict(mutation_options or {})
    if isinstance(space, Product) and mopts.get("prob_var") is None:
        mopts["prob_var"] = min(0.5, 1.0 / space.dim)
    return Variation(
        _operator_for(space, "crossover", crossover, dict(crossover_options or {})),
        _operator_for(space, "mutation", mutation, mopts),
    )
