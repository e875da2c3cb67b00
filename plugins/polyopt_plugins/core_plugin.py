"""Registers the core's own pieces: quality indicators as ``metric`` entries."""

from __future__ import annotations

from polyopt import hookimpl
from polyopt.registry import Registry

_METRICS = {
    "hypervolume": "hypervolume (higher is better)",
    "igd": "inverted generational distance to a reference front",
    "igd-plus": "IGD+ (Pareto-compliant IGD)",
    "gd": "generational distance",
    "gd-plus": "GD+",
    "spacing": "Schott's spacing",
    "sparsity": "mean squared gap between neighbouring points (MORL)",
    "cardinality": "number of non-dominated points",
    "expected-utility": "expected utility over linear weights (EUM, MORL)",
    "r2": "R2 indicator: mean weighted Chebyshev distance to the ideal (lower is better)",
}


@hookimpl
def polyopt_register(registry: Registry) -> None:
    for name, summary in _METRICS.items():
        registry.add("metric", name, f"polyopt.metrics:{name.replace('-', '_')}", summary=summary)
