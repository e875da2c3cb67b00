"""The entry point polyopt loads (``[project.entry-points.polyopt] hello = "polyopt_hello.plugin"``).

Keep this module thin: it only names things. Targets are ``"module:attr"`` strings, imported on first use, so
``polyopt list`` stays fast however many plugins are installed. Prefix every name with the plugin's own name
(``hello.``) so that no two distributions ever claim the same name.
"""

from __future__ import annotations

from polyopt import hookimpl
from polyopt.registry import Registry


@hookimpl
def polyopt_register(registry: Registry) -> None:
    """Add this plugin's optimizer and objective to polyopt's registry."""
    registry.add(
        "optimizer",
        "hello.hill-climb",
        "polyopt_hello.hill_climb:HillClimb",
        summary="(1+lambda) hill climbing with a 1/5th-success step size; one objective",
    )
    registry.add(
        "objective",
        "hello.bowl",
        "polyopt_hello.bowl:Bowl",
        summary="shifted quadratic bowl, any dimension; optimum 0",
    )
