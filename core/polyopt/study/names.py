"""What the names in a study stand for: registered names, ``"module:attr"`` targets (a module beside the
study file imports without ``PYTHONPATH``, in worker processes too), and metric names."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from polyopt.components import metric_input
from polyopt.errors import ConfigError, did_you_mean

__all__ = [
    "BEST",
    "METRIC_ALIASES",
    "add_module_dir",
    "canonical_metric",
    "make_problem",
    "metric_input",
    "metric_names",
    "n_objectives",
    "resolve_target",
    "unknown_metrics",
]

#: Study metric names besides the registered ``metric`` entries: "hv" is short for "hypervolume", and "best" is
#: the best objective value of a single-objective run (in the objective's own direction).
METRIC_ALIASES = {"hv": "hypervolume"}
BEST = "best"


def metric_names() -> list[str]:
    """Every name ``[metrics] record`` accepts: the registered metrics (``polyopt list metrics``), "hv" and
    "best"."""
    from polyopt.plugins import registry

    return sorted({*registry().names("metric"), *METRIC_ALIASES, BEST})


def canonical_metric(name: str) -> str:
    """The registered name behind a study metric name (``"hv"`` -> ``"hypervolume"``)."""
    return METRIC_ALIASES.get(name, name)


def resolve_target(kind: str, name: str) -> Any:
    """Return what ``name`` stands for: a registered name, or ``"module:attr"`` imported.

    The module of a ``"module:attr"`` target is looked for first in the folders of the studies built in this
    process (the study file's folder; see :func:`add_module_dir`), then on ``sys.path``, so a module beside
    the study file works without ``PYTHONPATH``, in worker processes too. An imported optimizer must be an
    Optimizer subclass; an imported problem an Objective or Environment subclass, or an Objective instance
    (what ``@polyopt.objective`` makes). A study read from a shared database never calls any other callable.

    Raises:
        UnknownNameError: a name that is not registered (with suggestions).
        ConfigError: a target that cannot be imported or is not of the expected type.
    """
    from polyopt._progress import quiet_third_party

    quiet_third_party()  # before a study's optimizer module (and its libraries) is imported
    if ":" not in name:
        from polyopt.plugins import registry

        return registry().get(kind, name)
    from polyopt.registry import import_target

    try:
        _import_module(name.partition(":")[0])  # a module beside the study file first
        obj: Any = import_target(name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"{kind} {name!r}: cannot import it: {exc}{_where_looked()}") from exc
    from polyopt.environment import Environment
    from polyopt.objective import Objective
    from polyopt.optimizer import Optimizer

    if kind == "optimizer":
        if isinstance(obj, type) and issubclass(obj, Optimizer):
            return obj
        raise ConfigError(f"optimizer {name!r} is {obj!r}; expected a subclass of Optimizer")
    if isinstance(obj, Objective) or (
        isinstance(obj, type) and issubclass(obj, (Objective, Environment))
    ):
        return obj
    raise ConfigError(
        f"{kind} {name!r} is {obj!r}; expected a subclass of Objective or Environment, or an "
        "Objective (e.g. a function decorated with @polyopt.objective)"
    )


def make_problem(name: str, options: Mapping[str, Any]) -> Any:
    """Create a problem from a registered name or a ``"module:attr"`` target (a class gets ``options``;
    an Objective instance takes none)."""
    if ":" not in name:
        from polyopt.run import make_problem as make

        return make(name, **options)
    from polyopt.config import check_kwargs

    target = resolve_target("objective", name)
    if not isinstance(target, type):
        if options:
            raise ConfigError(
                f"problem {name!r} is an Objective already made (e.g. by @polyopt.objective), so it "
                f"takes no options; got {sorted(options)}"
            )
        return target
    check_kwargs(target, options, owner=f"problem {name!r}")
    return target(**options)


#: Folders searched first for the top-level module of a ``"module:attr"`` target, most recent first.
_MODULE_DIRS: list[Path] = []


def add_module_dir(folder: str | Path) -> None:
    """Let ``"module:attr"`` targets import modules from ``folder`` (a study file's folder) without
    ``PYTHONPATH``. The folder joins ``sys.path`` only when a target's module is found in it."""
    path = Path(folder).resolve()
    if path in _MODULE_DIRS:
        _MODULE_DIRS.remove(path)
    _MODULE_DIRS.insert(0, path)


def _import_module(module_name: str) -> Any:
    top = module_name.partition(".")[0]
    for folder in _MODULE_DIRS:
        source = _module_source(folder, top)
        if source is None:
            continue
        loaded = sys.modules.get(top)
        origin = getattr(loaded, "__file__", None)
        if loaded is not None and (origin is None or Path(origin).resolve() != source):
            raise ConfigError(
                f"module {top!r} is already imported from {origin or 'elsewhere'}, so {source} "
                "cannot be; rename one of them"
            )
        if str(folder) not in sys.path:
            sys.path.insert(
                0, str(folder)
            )  # as Python does for a script's folder; workers inherit it
            importlib.invalidate_caches()
        break
    return importlib.import_module(module_name)


def _module_source(folder: Path, top: str) -> Path | None:
    """The file that defines module ``top`` in ``folder`` (a module or a package), if any."""
    for candidate in (folder / f"{top}.py", folder / top / "__init__.py"):
        if candidate.is_file():
            return candidate.resolve()
    return None


def _where_looked() -> str:
    folders = ", ".join(str(f) for f in _MODULE_DIRS[:3])
    return f" (looked beside the study file in {folders} and on sys.path)" if folders else ""


def n_objectives(problem: Any) -> int:
    """Objectives of an Objective, reward components of an Environment (1 if it says neither)."""
    count: Any = getattr(problem, "n_objectives", None) or getattr(problem, "reward_dim", None) or 1
    return int(count)


def unknown_metrics(names: Sequence[str]) -> list[str]:
    """One message per name in ``names`` that is not a study metric (with a suggestion)."""
    known = metric_names()
    return [
        f"unknown metric {name!r}.{did_you_mean(name, known)} Metrics: {', '.join(known)}"
        for name in names
        if name not in known
    ]
