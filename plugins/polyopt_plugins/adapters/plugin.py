"""Registers the adapters: pymoo problems and algorithms, MO-Gymnasium environments (lazy targets)."""

from __future__ import annotations

from polyopt import hookimpl
from polyopt.registry import Registry

_ALGORITHMS = {
    "nsga2": ("NSGA2", "pymoo's NSGA-II (rank and crowding survival); 2-3 objectives"),
    "nsga3": ("NSGA3", "pymoo's NSGA-III (reference-direction niching); many objectives"),
    "moead": ("MOEAD", "pymoo's MOEA/D (decomposition, one offspring per step); unconstrained"),
    "sms-emoa": ("SMSEMOA", "pymoo's SMS-EMOA (hypervolume-contribution survival)"),
    "rvea": (
        "RVEA",
        "pymoo's RVEA (angle-penalized reference vectors); needs a generation horizon",
    ),
    "ga": ("GA", "pymoo's single-objective genetic algorithm"),
    "de": ("DE", "pymoo's differential evolution (single objective)"),
    "cmaes": ("CMAES", "pymoo's CMA-ES (through the cma package); single objective, unconstrained"),
}


@hookimpl
def polyopt_register(registry: Registry) -> None:
    registry.add(
        "objective",
        "pymoo.problem",
        "polyopt_plugins.adapters.pymoo_problem:pymoo_problem",
        summary="any pymoo test problem by name: make('objective', 'pymoo.problem', name='dtlz2', n_obj=3)",
    )
    registry.add(
        "environment",
        "mo-gymnasium",
        "polyopt_plugins.adapters.mo_gymnasium_env:MOGymnasiumEnv",
        summary="any MO-Gymnasium id, vectorized: make('environment', 'mo-gymnasium', "
        "env_id='minecart-v0', num_envs=8)",
    )
    for name, (cls, summary) in _ALGORITHMS.items():
        registry.add(
            "optimizer",
            f"pymoo.{name}",
            f"polyopt_plugins.adapters.pymoo_optimizer:{cls}",
            summary=summary,
        )
