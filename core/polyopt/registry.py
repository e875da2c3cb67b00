"""The registry: names of every pluggable piece, by kind, with lazy ``"module:attr"`` targets.

Core owns four kinds — ``optimizer``, ``objective``, ``environment`` and ``metric``. Every other kind (a MOEA
``operator``, a BO ``acquisition``, a policy-gradient ``advantage``, ...) is declared by the family that owns it,
with :meth:`Registry.add_kind`, from that family's ``polyopt_register`` hook; its protocol and data types are
public in :mod:`polyopt.components`. Plugins add entries with :meth:`Registry.add`; a target is imported on
first use, so registering never imports heavy libraries.

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
from collections.abc import Callable, Iterator
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

__all__ = ["CORE_KINDS", "Entry", "Kind", "Registry", "import_target"]

#: The kinds core declares itself; families declare the rest.
CORE_KINDS: tuple[str, ...] = ("optimizer", "objective", "environment", "metric")
_NAME = re.compile(r"^[a-z0-9]+([.-][a-z0-9]+)*$")
_KIND_NAME = re.compile(r"^[a-z][a-z0-9_]*$")

#: ``check(target) -> None or why the target does not fit its kind`` (run once, when a target is loaded).
Check = Callable[[Any], "str | None"]


def import_target(target: str) -> Any:
    """Import ``"package.module:attr.sub"`` (or a bare module) and return the object.

    Raises:
        ImportError, AttributeError: as the import raises them (callers add who asked).
    """
    module_name, _, attr = target.partition(":")
    obj: Any = importlib.import_module(module_name)
    for part in attr.split(".") if attr else ():
        obj = getattr(obj, part)
    return obj


@dataclass(frozen=True)
class Kind:
    """A declared registry kind.

    Attributes:
        name: lowercase with underscores (``policy_loss``).
        protocol: the type entries satisfy (a :class:`typing.Protocol` or a base class), for documentation
            and type checkers.
        doc: one line on what an entry of this kind is.
        plugin: the plugin that declared it (``"polyopt.core"`` for core kinds).
        check: returns why a loaded target does not fit the kind, or None.
    """

    name: str
    protocol: Any
    doc: str
    plugin: str = ""
    check: Check | None = None


@dataclass
class Entry:
    """One registered name.

    Attributes:
        kind: a declared kind.
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

    @property
    def source(self) -> str:
        """``" (plugin 'acme', acme-polyopt 0.2)"`` for messages, or ``""``."""
        return f" (plugin {self.plugin!r}, {self.distribution or 'unknown'})" if self.plugin else ""

    def load(self) -> Any:
        """Import (once) and return the target."""
        if self._loaded is None:
            self._loaded = self._import() if isinstance(self.target, str) else self.target
        return self._loaded

    def _import(self) -> Any:
        try:
            return import_target(self.target)
        except Exception as exc:
            raise PluginError(
                f"{self.kind} {self.name!r}{self.source}: cannot import {self.target!r}: "
                f"{type(exc).__name__}: {exc}"
            ) from exc


@dataclass(frozen=True)
class _Source:
    """Who is registering: set by the plugin loader while a plugin's hook runs."""

    plugin: str = ""
    distribution: str = ""
    builtin: bool = True


class Registry:
    """Names by kind.

    Adding a name twice raises :class:`PluginCollisionError` naming both sources. While plugins load
    (:meth:`loading`), entries of a kind no plugin has declared yet wait until the end of loading, so plugin
    order never matters; after loading an unknown kind raises at once.
    """

    def __init__(self) -> None:
        self._kinds: dict[str, Kind] = {}
        self._entries: dict[str, dict[str, Entry]] = {}
        self._deferred: list[tuple[Entry, _Source]] = []
        self._loading = False
        self._source = _Source()
        #: plugin name -> why it failed to load (set by the loader; used to explain unknown names)
        self.failed_plugins: dict[str, str] = {}
        _declare_core_kinds(self)

    # ---- kinds ------------------------------------------------------------------------------------------

    def add_kind(self, kind: str, protocol: Any, doc: str, *, check: Check | None = None) -> None:
        """Declare a kind of component (from the register hook of the family that owns it).

        Args:
            kind: lowercase with underscores, e.g. ``"advantage"``.
            protocol: the Protocol (or base class) its entries satisfy, from :mod:`polyopt.components`.
            doc: one line: what an entry of this kind is.
            check: optional ``check(target) -> reason or None``, run when an entry is first loaded.

        Raises:
            ConfigError: a malformed kind name.
            PluginCollisionError: another plugin declared the same kind.
        """
        if not _KIND_NAME.match(kind):
            raise ConfigError(
                f"kind name {kind!r} is malformed; expected lowercase letters, digits and underscores"
            )
        old = self._kinds.get(kind)
        if old is not None:
            if old.plugin == self._source.plugin and old.protocol is protocol:
                return  # the same plugin declaring again (e.g. its hook ran twice) changes nothing
            raise PluginCollisionError(
                f"kind {kind!r} is declared twice: by plugin {old.plugin!r} and by plugin "
                f"{self._source.plugin!r} ({self._source.distribution or 'unknown'})"
            )
        self._kinds[kind] = Kind(kind, protocol, doc, self._source.plugin, check)
        self._entries.setdefault(kind, {})

    def kinds(self) -> list[str]:
        """Declared kinds: core's first, then the families' in the order they were declared."""
        return list(self._kinds)

    def kind(self, kind: str) -> Kind:
        """The declaration of ``kind`` (raises :class:`UnknownNameError` with suggestions)."""
        self._check_kind(kind)
        return self._kinds[kind]

    # ---- adding -----------------------------------------------------------------------------------------

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
            ConfigError: unknown kind (after loading), a malformed name, or a third-party name without its
                plugin's prefix.
            PluginCollisionError: the name is taken; the message names both plugins and distributions.
        """
        if not _NAME.match(name):
            raise ConfigError(
                f"{kind} name {name!r} is malformed; expected lowercase words joined by hyphens, "
                "optionally prefixed by a plugin name and a dot (e.g. 'acme.hill-climb')"
            )
        source = self._source
        plugin = source.plugin if plugin is None else plugin
        distribution = source.distribution if distribution is None else distribution
        if not source.builtin and source.plugin and not name.startswith(f"{source.plugin}."):
            raise ConfigError(
                f"{kind} name {name!r} from plugin {source.plugin!r} lacks the plugin's prefix; "
                f"third-party names must start with {source.plugin + '.'!r} "
                f"(e.g. {source.plugin + '.' + name.split('.')[-1]!r})"
            )
        entry = Entry(kind, name, target, plugin, distribution, summary)
        if kind not in self._kinds and self._loading:
            self._deferred.append((entry, source))  # its family may declare the kind later
            return
        self._check_kind(kind)
        self._insert(entry)

    def _insert(self, entry: Entry) -> None:
        entries = self._entries[entry.kind]
        old = entries.get(entry.name)
        if old is not None:
            raise PluginCollisionError(
                f"{entry.kind} {entry.name!r} is registered twice: by plugin {old.plugin!r} "
                f"({old.distribution or 'unknown'}) and by plugin {entry.plugin!r} "
                f"({entry.distribution or 'unknown'}); the later one was rejected. A third-party "
                f"plugin's names carry its own prefix, e.g. {entry.plugin + '.' if entry.plugin else 'acme.'}"
                f"{entry.name.split('.')[-1]}"
            )
        entries[entry.name] = entry

    def remove_plugin(self, plugin: str) -> None:
        """Drop every entry (and pending entry) a plugin added (used when its registration fails)."""
        for entries in self._entries.values():
            for name in [n for n, e in entries.items() if e.plugin == plugin]:
                del entries[name]
        self._deferred = [(e, s) for e, s in self._deferred if e.plugin != plugin]

    # ---- loading (used by polyopt.plugins) ----------------------------------------------------------------

    def begin_loading(self) -> None:
        """Start plugin loading: entries of undeclared kinds wait for :meth:`finish_loading`."""
        self._loading = True

    def set_source(self, plugin: str = "", distribution: str = "", *, builtin: bool = True) -> None:
        """Record who registers next (the loader sets it around each plugin's hook)."""
        self._source = _Source(plugin, distribution, builtin)

    def finish_loading(self) -> dict[str, str]:
        """Add the waiting entries; return ``{plugin: error}`` for plugins whose entries could not be added
        (a kind nobody declared, or a name collision). Those plugins' entries are all removed."""
        self._loading = False
        failed: dict[str, str] = {}
        for entry, _source in self._deferred:
            if entry.plugin in failed:
                continue
            try:
                self._check_kind(entry.kind)
                self._insert(entry)
            except (UnknownNameError, PluginCollisionError) as exc:
                failed[entry.plugin] = f"registration failed: {exc}"
        self._deferred = []
        for plugin in failed:
            self.remove_plugin(plugin)
        return failed

    # ---- lookup -----------------------------------------------------------------------------------------

    def entry(self, kind: str, name: str) -> Entry:
        """Return the entry, or raise :class:`UnknownNameError` saying what the name is instead."""
        self._check_kind(kind)
        found = self._entries[kind].get(name)
        if found is not None:
            return found
        raise UnknownNameError(self._unknown_message(kind, name))

    def _unknown_message(self, kind: str, name: str) -> str:
        elsewhere = [k for k, entries in self._entries.items() if name in entries]
        if elsewhere:
            what = " and ".join(f"{_article(k)} {k.replace('_', ' ')}" for k in elsewhere)
            return (
                f"{name!r} is {what}, not {_article(kind)} {kind.replace('_', ' ')}; see `polyopt list "
                f"{kind.replace('_', '-')}` for the {kind.replace('_', ' ')} names"
            )
        prefix = name.split(".")[0] if "." in name else ""
        if prefix in self.failed_plugins:
            return (
                f"unknown {kind} {name!r}: it would come from plugin {prefix!r}, which failed to load "
                f"({self.failed_plugins[prefix]}); run `polyopt plugins` for details"
            )
        names = sorted(self._entries[kind])
        listing = f" Registered {kind} names: {', '.join(names)}." if len(names) <= 40 else ""
        return f"unknown {kind} {name!r}.{did_you_mean(name, names)}{listing}"

    def get(self, kind: str, name: str) -> Any:
        """Return the (imported) target registered as ``name``, checked against its kind."""
        entry = self.entry(kind, name)
        first = entry._loaded is None
        target = entry.load()
        check = self._kinds[kind].check
        if first and check is not None:
            reason = check(target)
            if reason:
                entry._loaded = None
                raise ConfigError(
                    f"{kind} {name!r}{entry.source} does not fit the {kind} protocol: {reason}"
                )
        return target

    def create(self, kind: str, name: str, /, *args: Any, **kwargs: Any) -> Any:
        """Call the target with ``args`` and ``kwargs`` (unknown keyword options raise with suggestions).

        An optimizer receives its registered ``name`` too (it shows in results and messages).
        """
        target = self.get(kind, name)
        if kind == "optimizer":
            return target(*args, name=name, **kwargs)
        if not hasattr(target, "Config"):  # optimizers validate their own Config
            check_kwargs(target, kwargs, owner=f"{kind} {name!r}")
        return target(*args, **kwargs)

    def name_of(self, kind: str, obj: Any) -> str | None:
        """The name ``obj`` (a class or function) is registered under in ``kind``, without importing others."""
        if kind not in self._entries:
            return None
        dotted = f"{getattr(obj, '__module__', '')}:{getattr(obj, '__qualname__', '')}"
        for entry in self._entries[kind].values():
            if entry.target is obj or entry._loaded is obj or entry.target == dotted:
                return entry.name
        return None

    def names(self, kind: str) -> list[str]:
        """Sorted names of ``kind``."""
        self._check_kind(kind)
        return sorted(self._entries[kind])

    def entries(self, kind: str | None = None) -> Iterator[Entry]:
        """Entries of one kind (or all), sorted by kind (in declaration order) then name."""
        for k in (kind,) if kind else self.kinds():
            self._check_kind(k)
            for name in sorted(self._entries[k]):
                yield self._entries[k][name]

    def __contains__(self, item: tuple[str, str]) -> bool:
        kind, name = item
        return name in self._entries.get(kind, {})

    def _check_kind(self, kind: str) -> None:
        if kind not in self._kinds:
            raise UnknownNameError(
                f"unknown registry kind {kind!r}.{did_you_mean(kind, self._kinds)} "
                f"Kinds: {', '.join(self._kinds)}"
            )


def _article(word: str) -> str:
    return "an" if word[:1] in "aeiou" else "a"


def _is_class_of(base_path: str) -> Check:
    """A check that the target is a subclass of the class at ``base_path`` (imported when checking)."""

    def check(target: Any) -> str | None:
        base = import_target(base_path)
        if isinstance(target, type) and issubclass(target, base):
            return None
        return f"expected a subclass of {base.__module__}.{base.__qualname__}, got {target!r}"

    return check


def _is_factory(target: Any) -> str | None:
    """Objectives and environments are classes or factories (functions returning one)."""
    return None if callable(target) else f"expected a class or a factory function, got {target!r}"


def _check_metric(target: Any) -> str | None:
    from polyopt.components._metric import check_metric

    return check_metric(target)


def _declare_core_kinds(reg: Registry) -> None:
    # Protocols are named by path: importing the contracts here would make the registry import torch.
    reg._source = _Source("polyopt.core", "polyopt", True)
    reg.add_kind(
        "optimizer",
        "polyopt.Optimizer",
        "an Optimizer subclass: search optimizers and trainers",
        check=_is_class_of("polyopt.optimizer:Optimizer"),
    )
    reg.add_kind(
        "objective",
        "polyopt.Objective",
        "an Objective class, or a factory returning one; its arguments are the problem's options",
        check=_is_factory,
    )
    reg.add_kind(
        "environment",
        "polyopt.Environment",
        "an Environment class, or a factory returning one; its arguments are its options",
        check=_is_factory,
    )
    reg.add_kind(
        "metric",
        "polyopt.components.Metric",
        "a quality indicator ``metric(f: n x m, ...) -> float`` in minimization form",
        check=_check_metric,
    )
    reg._source = _Source()
