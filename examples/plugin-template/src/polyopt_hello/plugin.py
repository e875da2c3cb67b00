"""The entry point polyopt loads (``[project.entry-points.polyopt] hello = "polyopt_hello.plugin"``).

Keep this module thin: it only names things. Targets are ``"module:attr"`` strings, imported on first use, so
``polyopt list`` stays fast however many plugins are installed. Every name carries the plugin's prefix
(``hello.``): polyopt refuses a third-party name without it.
"""

from __future__ import annotations

import polyopt

_ENTRIES = {
    ("optimizer", "hello.hill-climb"): (
        "hill_climb:HillClimb",
        "(1+lambda) hill climbing, one objective",
    ),
    ("objective", "hello.bowl"): ("bowl:Bowl", "shifted quadratic bowl, any dimension; optimum 0"),
    ("operator", "hello.gauss"): (
        "gauss:Gauss",
        "Gaussian mutation scaled to each variable's range",
    ),
    ("advantage", "hello.centered"): ("centered:centered", "reward minus its group's mean, scaled"),
    ("acquisition", "hello.mean"): (
        "mean:mean",
        "posterior mean of the objective (pure exploitation)",
    ),
}


@polyopt.hookimpl
def polyopt_register(registry: polyopt.Registry) -> None:
    """Add this plugin's names to polyopt's registry."""
    for (kind, name), (target, summary) in _ENTRIES.items():
        registry.add(kind, name, f"polyopt_hello.{target}", summary=summary)
