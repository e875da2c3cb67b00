"""Plugin discovery and loading (DESIGN.md §3).

Discovery finds entry points of the ``polyopt`` group without importing them, sorts them by name for
determinism, drops exact duplicates (the same distribution seen twice on ``sys.path``), and raises
:class:`PluginCollisionError` when two distributions claim one entry-point name. Then it loads one plugin at a
time: a plugin that fails to import or to register is recorded with its name, distribution, version and
exception, a warning is issued, and the others keep working.

Environment variables:
    POLYOPT_DISABLE_PLUGIN_AUTOLOAD=1: load only polyopt's own builtins (plus those in POLYOPT_PLUGINS).
    POLYOPT_PLUGINS=a,b: load only these third-party entry points (plus the builtins).
"""

from __future__ import annotations

import os
import threading
import warnings
from dataclasses import dataclass
from importlib import metadata
from types import ModuleType
from typing import Any

import pluggy

from polyopt import hookspecs
from polyopt.errors import PluginCollisionError, PluginError
from polyopt.registry import Registry

__all__ = [
    "PluginInfo",
    "load_plugins",
    "registry",
    "plugin_manager",
    "plugin_infos",
    "reset",
    "GROUP",
]

GROUP = "polyopt"
BUILTIN_DISTRIBUTION = "polyopt"


@dataclass(frozen=True)
class PluginInfo:
    """What ``polyopt plugins`` shows for one plugin."""

    name: str
    distribution: str
    version: str
    value: str
    status: str = "loaded"  # "loaded", "failed" or "disabled"
    error: str = ""


@dataclass(frozen=True)
class _Found:
    name: str
    value: str
    distribution: str
    version: str
    entry_point: metadata.EntryPoint


_lock = threading.RLock()
_state: dict[str, Any] = {}


def _find() -> list[_Found]:
    """Entry points of the group, sorted, de-duplicated, without importing anything."""
    seen: dict[str, _Found] = {}
    for ep in sorted(metadata.entry_points(group=GROUP), key=lambda e: (e.name, e.value)):
        dist = ep.dist.metadata["Name"] if ep.dist is not None else "unknown"
        version = ep.dist.version if ep.dist is not None else "unknown"
        found = _Found(ep.name, ep.value, dist, version, ep)
        old = seen.get(ep.name)
        if old is None:
            seen[ep.name] = found
        elif (old.distribution, old.value) != (dist, ep.value):
            raise PluginCollisionError(
                f"plugin name {ep.name!r} is claimed by two distributions: {old.distribution} {old.version} "
                f"({old.value}) and {dist} {version} ({ep.value}); uninstall one of them"
            )
    return [seen[k] for k in sorted(seen)]


def _selected(found: list[_Found]) -> tuple[list[_Found], list[_Found]]:
    only = [p.strip() for p in os.environ.get("POLYOPT_PLUGINS", "").split(",") if p.strip()]
    disabled = os.environ.get("POLYOPT_DISABLE_PLUGIN_AUTOLOAD", "").lower() not in (
        "",
        "0",
        "false",
        "no",
    )
    if only:
        known = {f.name for f in found}
        missing = [n for n in only if n not in known]
        if missing:
            from polyopt.errors import did_you_mean

            raise PluginError(
                f"POLYOPT_PLUGINS names {missing[0]!r}, which is not installed."
                f"{did_you_mean(missing[0], known)} Installed: {', '.join(sorted(known))}"
            )
    load, skip = [], []
    for f in found:
        builtin = f.distribution == BUILTIN_DISTRIBUTION
        wanted = builtin or (f.name in only if only else not disabled)
        (load if wanted else skip).append(f)
    return load, skip


def load_plugins() -> tuple[Registry, pluggy.PluginManager, list[PluginInfo]]:
    """Discover and load plugins into a new registry. Returns ``(registry, plugin_manager, infos)``."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    reg = Registry()
    found = _find()
    if not any(f.distribution == BUILTIN_DISTRIBUTION for f in found):
        warnings.warn(
            "polyopt's builtin plugins are not registered: polyopt is imported from a source tree "
            "without being installed. Install it with `pip install -e .` (or `make test`) from the "
            "repository root.",
            stacklevel=3,
        )
    load, skip = _selected(found)
    pm.hook.polyopt_register.call_historic(kwargs={"registry": reg})
    infos = [PluginInfo(f.name, f.distribution, f.version, f.value, "disabled") for f in skip]
    for f in load:
        infos.append(_load_one(f, pm, reg))
    return reg, pm, sorted(infos, key=lambda i: i.name)


def _load_one(f: _Found, pm: pluggy.PluginManager, reg: Registry) -> PluginInfo:
    try:
        module: ModuleType = f.entry_point.load()
    except Exception as exc:  # a broken plugin must not break the others
        return _failed(f, f"import failed: {type(exc).__name__}: {exc}")
    reg.current_plugin = (f.name, f"{f.distribution} {f.version}")
    try:
        # polyopt_register is historic: registering the module runs its hook against the registry at once
        pm.register(module, name=f.name)
    except PluginCollisionError:
        raise
    except Exception as exc:
        reg.remove_plugin(f.name)
        if pm.is_registered(module):
            pm.unregister(module)
        return _failed(f, f"registration failed: {type(exc).__name__}: {exc}")
    finally:
        reg.current_plugin = ("", "")
    return PluginInfo(f.name, f.distribution, f.version, f.value)


def _failed(f: _Found, message: str) -> PluginInfo:
    warnings.warn(
        f"polyopt plugin {f.name!r} from {f.distribution} {f.version} was not loaded: {message}",
        stacklevel=4,
    )
    return PluginInfo(f.name, f.distribution, f.version, f.value, "failed", message)


def _ensure() -> dict[str, Any]:
    with _lock:
        if not _state:
            reg, pm, infos = load_plugins()
            _state.update(registry=reg, pm=pm, infos=infos)
        return _state


def registry() -> Registry:
    """The process-wide registry, loading plugins on first use."""
    return _ensure()["registry"]


def plugin_manager() -> pluggy.PluginManager:
    """The process-wide pluggy manager (for the run-observation hooks)."""
    return _ensure()["pm"]


def plugin_infos() -> list[PluginInfo]:
    """Status of every discovered plugin."""
    return list(_ensure()["infos"])


def reset() -> None:
    """Forget loaded plugins; the next use discovers again (tests, or after installing a plugin)."""
    with _lock:
        _state.clear()
