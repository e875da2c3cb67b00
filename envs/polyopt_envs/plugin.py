"""Registers the builtin problems."""

from __future__ import annotations

from polyopt import hookimpl
from polyopt.registry import Registry

_OBJECTIVES = {
    "sphere": ("basic:Sphere", "sum of squares, any dimension; optimum 0"),
    "rastrigin": ("basic:Rastrigin", "highly multimodal, any dimension; optimum 0"),
    "zdt1": ("zdt:ZDT1", "2 objectives, convex front"),
    "zdt2": ("zdt:ZDT2", "2 objectives, concave front"),
    "zdt3": ("zdt:ZDT3", "2 objectives, disconnected front"),
    "zdt4": ("zdt:ZDT4", "2 objectives, multimodal (21^9 local fronts)"),
    "zdt6": ("zdt:ZDT6", "2 objectives, non-uniform, biased density"),
}


@hookimpl
def polyopt_register(registry: Registry) -> None:
    for name, (target, summary) in _OBJECTIVES.items():
        registry.add("objective", name, f"polyopt_envs.{target}", summary=summary)
