"""Plugin discovery and loading (DESIGN.md §3).

Discovery finds entry points of the ``polyopt`` group without importing them, de-duplicates them (the same
distribution seen twice on ``sys.path``), and loads polyopt's own builtins first, then third-party plugins sorted
by name, one at a time. One plugin never disables the others:

- a plugin whose import or registration raises anything — ``SystemExit`` and ``KeyboardInterrupt`` included —
  is recorded as failed with its name, distribution, version and exception, and a warning is issued;
- two distributions claiming one plugin name: the later (by distribution name) is rejected, both are named;
- a registered name that collides with an earlier plugin's rejects the later plugin (its names are removed),
  naming both; builtins load first, so a third-party plugin can never shadow them;
- third-party names must carry their plugin's prefix (``acme.hill-climb`` from plugin ``acme``);
- an observer hook (``polyopt_run_started`` ...) that raises is reported once and unregistered.

Asking for a name whose plugin failed says that plugin failed (see :meth:`Registry.entry`).

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
from polyopt.errors import did_you_mean
from polyopt.registry import Registry

__all__ = [
    "GROUP",
    "PluginInfo",
    "load_plugins",
    "notify",
    "plugin_infos",
    "plugin_manager",
    "registry",
    "reset",
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
    entry_point: metadata.EntryPoint | None

    @property
    def builtin(self) -> bool:
        return self.distribution == BUILTIN_DISTRIBUTION


_lock = threading.RLock()
_state: dict[str, Any] = {}


def _find() -> tuple[list[_Found], list[PluginInfo]]:
    """Entry points of the group, de-duplicated, builtins first, without importing anything.

    Returns:
        ``(found, rejected)``: the plugins to consider, and the later claimants of a taken plugin name.
    """
    eps = sorted(
        metadata.entry_points(group=GROUP),
        key=lambda e: (
            e.dist is None or e.dist.metadata["Name"] != BUILTIN_DISTRIBUTION,
            e.dist.metadata["Name"] if e.dist is not None else "",
            e.name,
        ),
    )
    seen: dict[str, _Found] = {}
    rejected: list[PluginInfo] = []
    for ep in eps:
        dist = ep.dist.metadata["Name"] if ep.dist is not None else "unknown"
        version = ep.dist.version if ep.dist is not None else "unknown"
        found = _Found(ep.name, ep.value, dist, version, ep)
        old = seen.get(ep.name)
        if old is None:
            seen[ep.name] = found
        elif (old.distribution, old.value) != (dist, ep.value):
            message = (
                f"plugin name {ep.name!r} is claimed by two distributions: {old.distribution} "
                f"{old.version} ({old.value}) and {dist} {version} ({ep.value}); {dist} was rejected. "
                "Uninstall one of them"
            )
            rejected.append(_failed(found, message, warn=True))
    builtins = sorted((f for f in seen.values() if f.builtin), key=lambda f: f.name)
    others = sorted((f for f in seen.values() if not f.builtin), key=lambda f: f.name)
    return builtins + others, rejected


def _selected(found: list[_Found]) -> tuple[list[_Found], list[_Found], list[PluginInfo]]:
    """``(load, skip, missing)``: what POLYOPT_PLUGINS / POLYOPT_DISABLE_PLUGIN_AUTOLOAD select; a name in
    POLYOPT_PLUGINS that is not installed becomes a failed entry (so ``polyopt plugins`` shows it)."""
    only = [p.strip() for p in os.environ.get("POLYOPT_PLUGINS", "").split(",") if p.strip()]
    flag = os.environ.get("POLYOPT_DISABLE_PLUGIN_AUTOLOAD", "").lower()
    disabled = flag not in ("", "0", "false", "no")
    known = {f.name for f in found}
    missing = []
    for name in (n for n in only if n not in known):
        message = (
            f"POLYOPT_PLUGINS names {name!r}, which is not installed.{did_you_mean(name, known)} "
            f"Installed: {', '.join(sorted(known))}"
        )
        missing.append(_failed(_Found(name, "", "not installed", "", None), message, warn=True))
    load: list[_Found] = []
    skip: list[_Found] = []
    for f in found:
        wanted = f.builtin or (f.name in only if only else not disabled)
        (load if wanted else skip).append(f)
    return load, skip, missing


def load_plugins() -> tuple[Registry, pluggy.PluginManager, list[PluginInfo]]:
    """Discover and load plugins into a new registry. Returns ``(registry, plugin_manager, infos)``."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    reg = Registry()
    found, rejected = _find()
    if not any(f.builtin for f in found):
        warnings.warn(
            "polyopt's builtin plugins are not registered: polyopt is imported from a source tree "
            "without being installed. Install it with `pip install -e .` (or `make test`) from the "
            "repository root.",
            stacklevel=3,
        )
    load, skip, missing = _selected(found)
    pm.hook.polyopt_register.call_historic(kwargs={"registry": reg})
    infos = [PluginInfo(f.name, f.distribution, f.version, f.value, "disabled") for f in skip]
    infos += rejected + missing
    reg.begin_loading()
    for f in load:
        infos.append(_load_one(f, pm, reg))
    late = reg.finish_loading()
    infos = [_failed(_found_of(i), late[i.name], warn=True) if i.name in late else i for i in infos]
    for name in late:
        _unregister(pm, name)
    reg.failed_plugins.update({i.name: i.error for i in infos if i.status == "failed"})
    return reg, pm, sorted(infos, key=lambda i: i.name)


def _load_one(f: _Found, pm: pluggy.PluginManager, reg: Registry) -> PluginInfo:
    assert f.entry_point is not None
    try:
        module: ModuleType = f.entry_point.load()
    except BaseException as exc:  # a broken plugin must not break the others, whatever it raises
        return _failed(f, f"import failed: {type(exc).__name__}: {exc}", warn=True)
    reg.set_source(f.name, f"{f.distribution} {f.version}", builtin=f.builtin)
    try:
        # polyopt_register is historic: registering the module runs its hook against the registry at once
        pm.register(module, name=f.name)
    except BaseException as exc:
        reg.remove_plugin(f.name)
        _unregister(pm, f.name)
        return _failed(f, f"registration failed: {type(exc).__name__}: {exc}", warn=True)
    finally:
        reg.set_source()
    return PluginInfo(f.name, f.distribution, f.version, f.value)


def _unregister(pm: pluggy.PluginManager, name: str) -> None:
    plugin = pm.get_plugin(name)
    if plugin is not None:
        pm.unregister(plugin)


def _found_of(info: PluginInfo) -> _Found:
    return _Found(info.name, info.value, info.distribution, info.version, None)


def _failed(f: _Found, message: str, *, warn: bool = False) -> PluginInfo:
    if warn:
        warnings.warn(
            f"polyopt plugin {f.name!r} from {f.distribution} {f.version} was not loaded: {message}",
            stacklevel=4,
        )
    return PluginInfo(f.name, f.distribution, f.version, f.value, "failed", message)


def notify(hook: str, **kwargs: Any) -> None:
    """Call the observer hook ``hook`` of every plugin; a plugin whose observer raises is warned about once,
    recorded as failed, and unregistered, and the run goes on."""
    pm = plugin_manager()
    caller = getattr(pm.hook, hook)
    for impl in caller.get_hookimpls():
        try:
            impl.function(**{k: kwargs[k] for k in impl.argnames})
        except Exception as exc:
            name = pm.get_name(impl.plugin) or "?"
            message = f"its {hook} hook raised {type(exc).__name__}: {exc}"
            warnings.warn(f"polyopt plugin {name!r} was disabled: {message}", stacklevel=2)
            pm.unregister(impl.plugin)
            with _lock:
                infos = _state.get("infos", [])
                _state["infos"] = [
                    PluginInfo(i.name, i.distribution, i.version, i.value, "failed", message)
                    if i.name == name
                    else i
                    for i in infos
                ]


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
