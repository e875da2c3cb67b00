"""polyopt: one torch-native contract — Objective, Environment, Optimizer — for black-box search and RL.

Example:
    >>> import polyopt
    >>> result = polyopt.optimize("random-search", "zdt1", budget=100, seed=0)
    >>> result.f.shape[1]
    2

Heavy libraries (botorch, pymoo, gymnasium, transformers, ray) load only when a plugin that needs them is used.
"""

from __future__ import annotations

from polyopt import components
from polyopt.environment import Environment, GymnasiumEnv, Step
from polyopt.errors import (
    ConfigError,
    EvaluationError,
    IncompatibleProblemError,
    PluginCollisionError,
    PluginError,
    PolyoptError,
    SpaceError,
    UnknownNameError,
)
from polyopt.hookspecs import hookimpl
from polyopt.objective import Evaluation, FunctionObjective, Objective, evaluate, objective
from polyopt.optimizer import AskTellOptimizer, ObjectiveOptimizer, Optimizer, Trainer
from polyopt.plugins import registry
from polyopt.registry import Registry
from polyopt.result import Result, RunResult, TrainerResult
from polyopt.run import Budget, make, make_problem, optimize, run
from polyopt.spaces import Binary, Box, Categorical, Integer, Permutation, Product, Space

__version__ = "0.1.0"


# public submodules reachable as attributes (`polyopt.metrics.hypervolume`), imported on first use
_SUBMODULES = ("compose", "devices", "metrics", "pareto", "refdirs", "study", "testing")


def __getattr__(name: str) -> object:
    # Studies pull in SQLAlchemy on first use, so they load lazily: `polyopt.Study(...)`.
    if name == "Study":
        from polyopt.study import Study

        return Study
    if name in _SUBMODULES:
        import importlib

        return importlib.import_module(f"polyopt.{name}")
    raise AttributeError(f"module 'polyopt' has no attribute {name!r}")


__all__ = [
    "AskTellOptimizer",
    "Binary",
    "Box",
    "Budget",
    "Categorical",
    "ConfigError",
    "Environment",
    "Evaluation",
    "EvaluationError",
    "FunctionObjective",
    "GymnasiumEnv",
    "IncompatibleProblemError",
    "Integer",
    "Objective",
    "ObjectiveOptimizer",
    "Optimizer",
    "Permutation",
    "PluginCollisionError",
    "PluginError",
    "PolyoptError",
    "Product",
    "Registry",
    "Result",
    "RunResult",
    "Space",
    "SpaceError",
    "Step",
    "Study",
    "Trainer",
    "TrainerResult",
    "UnknownNameError",
    "components",
    "evaluate",
    "hookimpl",
    "make",
    "make_problem",
    "objective",
    "optimize",
    "registry",
    "run",
    "__version__",
]
