"""The registry: names of every pluggable piece, by kind, with lazy ``"module:attr"`` targets.

Plugins add entries in their ``polyopt_register(registry)`` hook; the target is imported on first use, so
registering never imports heavy libraries.

Example:
    >>> from polyopt.registry import Registry
    >>> reg = Registry()
    >>> reg.add("objective", "acme.bowl", "polyopt_envs.basic:Sphere", plugin="acme")
    >>> reg.names("objective")
    ['acme.bowl']
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from polyopt.config import check_kwargs
from polyopt.errors import (
    ConfigError,
    PluginCollisionError,
    PluginError,
    UnknownNameError,
    did_you_mean,
)

__all__ = ["Registry", "Entry", "KINDS"]

KINDS: tuple[str, ...] = (
    "optimizer",
    "objective",
    "environment",
    "metric",
    "operator",
    "survival",
    "acquisition",
    "advantage",
    "policy_loss",
    "kl_estimator",
    "reward",
)
_NAME = re.compile(r"^[a-z0-9]+([.-][a-z0-9]+)*$")


@dataclass
class Entry:
    """One registered name.

    Attributes:
        kind: one of :data:`KINDS`.
        name: lowercase words joined by hyphens, third-party names prefixed (``acme.hill-climb``).
        target: ``"module:attr"`` (imported on first use) or the object itself.
        plugin: the plugin (entry-point name) that registered it.
        distribution: the distribution that plugin came from.
        summary: one line for ``polyopt list``.
    """

    kind: str
    name: str
    target: Any
    plugin: str = ""
    distribution: str = ""
    summary: str = ""
    _loaded: Any = field(default=None, repr=False)

    def load(self) -> Any:
        """Import (once) and return the target."""
        if self._loaded is None:
            self._loaded = self._import() if isinstance(self.target, str) else self.target
        return self._loaded

    def _import(self) -> Any:
        module_name, _, attr = self.target.partition(":")
        try:
            obj: Any = importlib.import_module(module_name)
            for part in attr.split(".") if attr else ():
                obj = getattr(obj, part)
        except Exception as exc:
            source = f" (plugin {self.plugin!r}, {self.distribution})" if self.plugin else ""
            raise PluginError(
                f"{self.kind} {self.name!r}{source}: cannot import {self.target!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc
        return obj


class Registry:
    """Names by kind. Adding a name twice raises :class:`PluginCollisionError` naming both sources."""

    def __init__(self) -> None:
        self._entries: dict[str, dict[str, Entry]] = {k: {} for k in KINDS}
        #: set by the plugin loader while a plugin's hook runs, so entries record where they came from.
        self.current_plugin: tuple[str, str] = ("", "")

    def add(
        self,
        kind: str,
        name: str,
        target: Any,
        *,
        summary: str = "",
        plugin: str | None = None,
        distribution: str | None = None,
    ) -> None:
        """Register ``target`` (``"module:attr"`` or an object) as ``name`` of ``kind``.

        Raises:
            ConfigError: unknown kind or a malformed name.
            PluginCollisionError: the name is taken; the message names both plugins and distributions.
        """
        self._check_kind(kind)
        if not _NAME.match(name):
            raise ConfigError(
                f"{kind} name {name!r} is malformed; expected lowercase words joined by hyphens, "
                "optionally prefixed by a plugin name and a dot (e.g. 'acme.hill-climb')"
            )
        plugin = self.current_plugin[0] if plugin is None else plugin
        distribution = self.current_plugin[1] if distribution is None else distribution
        if name in self._entries[kind]:
            old = self._entries[kind][name]
            raise PluginCollisionError(
                f"{kind} {name!r} is registered twice: by plugin {old.plugin!r} ({old.distribution or 'unknown'}) "
                f"and by plugin {plugin!r} ({distribution or 'unknown'}); third-party names should carry "
                "their plugin's prefix, e.g. 'acme.name'"
            )
        self._entries[kind][name] = Entry(kind, name, target, plugin, distribution, summary)

    def remove_plugin(self, plugin: str) -> None:
        """Drop every entry a plugin added (used when its registration fails halfway)."""
        for entries in self._entries.values():
            for name in [n for n, e in entries.items() if e.plugin == plugin]:
                del entries[name]

    def entry(self, kind: str, name: str) -> Entry:
        """Return the entry, or raise :class:`UnknownNameError` with suggestions."""
        self._check_kind(kind)
        try:
            return self._entries[kind][name]
        except KeyError:
            names = sorted(self._entries[kind])
            hint = did_you_mean(name, names)
            listing = f" Registered {kind} names: {', '.join(names)}." if len(names) <= 40 else ""
            raise UnknownNameError(f"unknown {kind} {name!r}.{hint}{listing}") from None

    def get(self, kind: str, name: str) -> Any:
        """Return the (imported) target registered as ``name``."""
        return self.entry(kind, name).load()

    def create(self, kind: str, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call the target with ``args`` and ``kwargs`` (unknown keyword options raise with suggestions)."""
        target = self.get(kind, name)
        if not hasattr(target, "Config"):  # optimizers validate their own Config
            check_kwargs(target, kwargs, owner=f"{kind} {name!r}")
        return target(*args, **kwargs)

    def names(self, kind: str) -> list[str]:
        """Sorted names of ``kind``."""
        self._check_kind(kind)
        return sorted(self._entries[kind])

    def entries(self, kind: str | None = None) -> Iterator[Entry]:
        """Entries of one kind (or all), sorted by kind then name."""
        for k in (kind,) if kind else KINDS:
            self._check_kind(k)
            for name in sorted(self._entries[k]):
                yield self._entries[k][name]

    def __contains__(self, item: tuple[str, str]) -> bool:
        kind, name = item
        return name in self._entries.get(kind, {})

    def _check_kind(self, kind: str) -> None:
        if kind not in self._entries:
            raise UnknownNameError(
                f"unknown registry kind {kind!r}.{did_you_mean(kind, KINDS)} "
                f"Kinds: {', '.join(KINDS)}"
            )
