"""Registers the single-objective evolution family (continuous boxes, one objective)."""

from __future__ import annotations

from polyopt import hookimpl
from polyopt.registry import Registry

_PKG = "polyopt_plugins.evolution"

_OPTIMIZERS = {
    "cma-es": (
        "cmaes:CMAES",
        "CMA-ES, full covariance, tensorized; restarts='ipop'|'bipop' optional",
    ),
    "ipop-cma-es": ("cmaes:IPOPCMAES", "CMA-ES restarting with a doubled population (IPOP)"),
    "bipop-cma-es": ("cmaes:BIPOPCMAES", "CMA-ES alternating large and small restarts (BIPOP)"),
    "de": (
        "de:DifferentialEvolution",
        "differential evolution, rand/1/bin (or current-to-pbest/1)",
    ),
    "jade": ("de:JADE", "JADE: current-to-pbest/1/bin, archive, adapted F and CR"),
    "metade": (
        "metade:MetaDE",
        "MetaDE: DE strategies (base vectors, differences, crossover, F, CR) evolved by an outer DE",
    ),
    "pso": ("pso:PSO", "particle swarm, global or ring topology, inertia or constriction"),
    "cbo": ("cbo:CBO", "consensus-based optimization with anisotropic noise"),
}


@hookimpl
def polyopt_register(registry: Registry) -> None:
    for name, (target, summary) in _OPTIMIZERS.items():
        registry.add("optimizer", name, f"{_PKG}.{target}", summary=summary)
