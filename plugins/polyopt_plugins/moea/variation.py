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

Options: ``crossover_options`` / ``mutation_options`` are the user's and reach the operator's factory as they
are (an option it does not take is an error); the algorithm's own settings (``crossover_prob``, ``eta``, ...)
are passed only where the operator takes them.
"""

from __future__ import annotations

import importlib
import inspect
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import Tensor

import polyopt
from polyopt.components import Crossover, Mutation
from polyopt.errors import ConfigError, UnknownNameError, did_you_mean
from polyopt.spaces import Product, Space

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


def resolve_operator(name: str, role: str | None = None) -> Any:
    """Return the operator factory registered as ``name``, checked to fill ``role`` when given.

    Builtins are imported directly (no plugin loading); other names go through ``polyopt.registry()``, which
    checks that the target fits the ``operator`` kind and says what a name of another kind is.

    Raises:
        UnknownNameError: no operator of that name (the message says what the name is, if anything).
        ConfigError: the operator fills the other slot (``crossover="bit-flip"``).
    """
    if name in OPERATORS:
        module, _, attr = OPERATORS[name][0].partition(":")
        factory = getattr(importlib.import_module(f"polyopt_plugins.moea.{module}"), attr)
    else:
        try:
            factory = polyopt.registry().get("operator", name)
        except UnknownNameError as exc:
            slot = role or "operator"
            raise UnknownNameError(f"{slot}={name!r}: {exc}") from exc
    if role is not None and factory.role != role:
        raise ConfigError(
            f"{role}={name!r}: {name!r} is a {factory.role}, not a {role}; "
            f"give it as {factory.role}={name!r}, and see `polyopt list operator` for the {role}s"
        )
    return factory


def make_operator(
    name: str,
    space: Space,
    defaults: Mapping[str, Any] | None = None,
    *,
    options: Mapping[str, Any] | None = None,
    role: str | None = None,
) -> Any:
    """Build operator ``name`` for ``space`` as ``factory(space, **kwargs)``.

    Args:
        name: a registered operator name.
        space: the space of the columns it will see.
        defaults: the algorithm's settings, e.g. ``{"prob": 0.9, "eta": 15}``: each is passed only where the
            factory takes it (and is not None), so one set of algorithm settings configures any operator.
        options: the user's options, e.g. ``{"sigma": 0.3}``: every one is passed, over ``defaults``; one the
            factory does not take is a :class:`ConfigError` naming it.
        role: ``"crossover"`` or ``"mutation"``: the slot it fills (checked), for messages.

    Returns:
        The operator.
    """
    factory = resolve_operator(name, role)
    owner = f"{role or 'operator'} {name!r}"
    if space.kind not in factory.space_kinds:
        kinds = ", ".join(sorted(factory.space_kinds))
        raise ConfigError(f"{owner} handles {kinds} spaces, not a {space.kind} space")
    params = _options_taken(factory)
    taken = (
        params or []
    )  # a factory taking **kwargs gets no defaults: they may mean something else to it
    kwargs = {k: v for k, v in (defaults or {}).items() if k in taken and v is not None}
    for key in options or {}:
        if params is not None and key not in params:
            known = ", ".join(params) or "none"
            raise ConfigError(
                f"unknown option {key!r} for {owner}.{did_you_mean(key, params)} Known options: {known}"
            )
    kwargs.update(options or {})
    try:
        return factory(space, **kwargs)
    except (TypeError, ValueError) as exc:
        given = f" with options {dict(options)}" if options else ""
        raise ConfigError(f"{owner}{given}: {exc}") from exc


def _options_taken(factory: Any) -> list[str] | None:
    """The options ``factory(space, **options)`` takes (its keyword parameters after the space); None when
    it takes any (``**kwargs``) or its signature cannot be read."""
    try:
        params = list(inspect.signature(factory).parameters.values())
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_KEYWORD for p in params):
        return None
    keywords = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return [p.name for p in params[1:] if p.kind in keywords]


class ProductOperator:
    """Applies one operator per part of a :class:`~polyopt.spaces.Product` space to that part's columns.

    All parts are crossovers (then ``parents: P x n x d -> O x n x d``, and every part must take the same
    number of parents and give the same number of children) or all are mutations (``n x d -> n x d``).

    Args:
        space: the Product space.
        parts: ``{part name: operator}``; parts left out get their kind's default.
        role: ``"crossover"`` or ``"mutation"``: what every part is, and the defaults used for missing parts.
        defaults: settings passed to default operators where they take them (see :func:`make_operator`).
    """

    def __init__(
        self,
        space: Product,
        parts: Mapping[str, Any] | None = None,
        *,
        role: str = "crossover",
        defaults: Mapping[str, Any] | None = None,
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
        self.space = space
        self.role = role
        #: one operator per part, in the space's column order
        self.parts = {
            name: given.get(name) or _operator_for(p, role, "auto", defaults, None)
            for name, p in space.parts.items()
        }
        self.is_crossover = role == "crossover"
        if self.is_crossover:
            shapes = {(op.n_parents, op.n_offsprings) for op in self.parts.values()}
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


class Variation:
    """Crossover followed by mutation.

    Args:
        crossover: maps ``P x n x d`` parents to ``O x n x d`` children.
        mutation: maps ``k x d`` to ``k x d``.
    """

    def __init__(self, crossover: Crossover, mutation: Mutation) -> None:
        self.crossover = crossover
        self.mutation = mutation

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


def _operator_for(
    space: Space,
    role: str,
    name: str,
    defaults: Mapping[str, Any] | None,
    options: Mapping[str, Any] | None,
) -> Any:
    """One operator of ``role`` for ``space``: the named one, or the kind's default (per part for
    Products). ``options`` go to the named operator, or with ``"auto"`` to every default one."""
    if not isinstance(space, Product):
        chosen = _DEFAULTS[role][space.kind] if name == "auto" else name
        return make_operator(chosen, space, defaults, options=options, role=role)
    if name == "auto":
        parts = {
            k: _operator_for(p, role, "auto", defaults, options) for k, p in space.parts.items()
        }
        return ProductOperator(space, parts, role=role)
    kinds = resolve_operator(name, role).space_kinds
    parts = {
        k: make_operator(name, p, defaults, options=options, role=role)
        for k, p in space.parts.items()
        if not isinstance(p, Product) and p.kind in kinds
    }
    if not parts:
        raise ConfigError(
            f"{role} {name!r} handles {sorted(kinds)} columns; no part of {space!r} is one"
        )
    return ProductOperator(space, parts, role=role, defaults=defaults)


def default_variation(
    space: Space,
    *,
    crossover: str = "auto",
    mutation: str = "auto",
    crossover_options: Mapping[str, Any] | None = None,
    mutation_options: Mapping[str, Any] | None = None,
    crossover_defaults: Mapping[str, Any] | None = None,
    mutation_defaults: Mapping[str, Any] | None = None,
) -> Variation:
    """The variation for any space: named operators where given, the kind's defaults elsewhere.

    For a Product space each part gets its own operator; a named operator is used for the parts whose kind
    it handles, and mutation's per-variable probability defaults to ``min(0.5, 1 / d)`` of the whole space
    (as pymoo counts variables), not of each part.

    Args:
        space: the problem's space.
        crossover: a registered crossover name or ``"auto"``.
        mutation: a registered mutation name or ``"auto"``.
        crossover_options: the user's options for the crossover (every one must be taken; with ``"auto"``
            by every default crossover chosen).
        mutation_options: the user's options for the mutation, likewise.
        crossover_defaults: the algorithm's crossover settings (e.g. ``prob``, ``eta``), each passed where
            taken.
        mutation_defaults: the algorithm's mutation settings (e.g. ``eta``, ``prob_var``).

    Returns:
        The :class:`Variation`.

    Raises:
        ConfigError: an unknown operator, one in the wrong slot, or an option it does not take.
    """
    mdefaults = dict(mutation_defaults or {})
    if isinstance(space, Product) and mdefaults.get("prob_var") is None:
        mdefaults["prob_var"] = min(0.5, 1.0 / space.dim)
    return Variation(
        _operator_for(space, "crossover", crossover, crossover_defaults, crossover_options),
        _operator_for(space, "mutation", mutation, mdefaults, mutation_options),
    )
