"""Registers the baseline search optimizers."""

from __future__ import annotations

from polyopt import hookimpl
from polyopt.registry import Registry


@hookimpl
def polyopt_register(registry: Registry) -> None:
    registry.add(
        "optimizer",
        "random-search",
        "polyopt_plugins.search.random:RandomSearch",
        summary="uniform random sampling; any space, any number of objectives",
    )
    registry.add(
        "optimizer",
        "sobol-search",
        "polyopt_plugins.search.random:SobolSearch",
        summary="scrambled Sobol sequence in the encoded unit cube; any space",
    )
