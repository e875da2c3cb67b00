"""Configuration dataclasses: built from keyword arguments, validated when created.

An optimizer declares ``Config``, a dataclass whose fields carry docstrings (a string literal right after the
field, as in CleanRL). :func:`build_config` rejects unknown keys with a suggestion and checks simple types, so a
typo never silently falls back to a default.
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import itertools
import textwrap
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from polyopt.errors import ConfigError, did_you_mean

__all__ = ["build_config", "config_fields", "config_to_dict", "check_kwargs"]

C = TypeVar("C")


def build_config(config_cls: type[C], values: Mapping[str, Any], *, owner: str = "") -> C:
    """Create ``config_cls(**values)``, raising :class:`ConfigError` for unknown keys or mistyped values.

    Args:
        config_cls: a dataclass type.
        values: the user's keyword arguments.
        owner: what is being configured, for messages (e.g. ``"optimizer 'nsga2'"``).
    """
    fields = {f.name: f for f in dataclasses.fields(config_cls) if f.init}  # type: ignore[arg-type]  # a dataclass type, by contract
    where = f" for {owner}" if owner else ""
    for key in values:
        if key not in fields:
            known = ", ".join(sorted(fields)) or "none"
            raise ConfigError(
                f"unknown config key {key!r}{where}.{did_you_mean(key, fields)} Known keys: {known}"
            )
    hints = typing.get_type_hints(config_cls)
    coerced = {k: _coerce(k, v, hints.get(k, Any), where) for k, v in values.items()}
    try:
        return config_cls(**coerced)
    except (TypeError, ValueError) as exc:
        raise ConfigError(f"invalid config{where}: {exc}") from exc


def _coerce(key: str, value: Any, hint: Any, where: str) -> Any:
    """Accept ints for floats and strings from the command line; refuse clear type mismatches."""
    allowed = _simple_types(hint)
    if not allowed or (
        isinstance(value, tuple(allowed)) and not (isinstance(value, bool) and bool not in allowed)
    ):
        return value
    if float in allowed and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, str):
        if type(None) in allowed and value.lower() in ("none", "null"):
            return None
        for typ in (bool, int, float):
            if typ in allowed:
                try:
                    return _parse(value, typ)
                except ValueError:
                    continue
    names = " | ".join(t.__name__ for t in allowed)
    raise ConfigError(
        f"config key {key!r}{where} is {value!r} ({type(value).__name__}); expected {names}"
    )


def _parse(text: str, typ: type) -> Any:
    if typ is bool:
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no"):
            return False
        raise ValueError(text)
    return typ(text)


def _simple_types(hint: Any) -> list[type]:
    """The plain types a hint admits (``int | None`` -> [int, NoneType]); [] when it admits anything."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        out = []
        for arg in typing.get_args(hint):
            sub = _simple_types(arg)
            if not sub:
                return []
            out += sub
        return out
    if hint in (int, float, str, bool, type(None)):
        return [hint]
    if origin in (typing.Literal,):
        return list({type(a) for a in typing.get_args(hint)})
    if origin in (list, tuple, dict) or hint in (list, tuple, dict):
        return [origin or hint]
    return []


def config_fields(config_cls: type) -> list[tuple[str, str, Any, str]]:
    """Return ``(name, type, default, doc)`` for each field, docs taken from the string after each field."""
    docs = _field_docs(config_cls)
    out = []
    for f in dataclasses.fields(config_cls):
        if f.default is not dataclasses.MISSING:
            default = f.default
        elif f.default_factory is not dataclasses.MISSING:
            default = f.default_factory()
        else:
            default = dataclasses.MISSING
        typ = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
        out.append((f.name, typ, default, docs.get(f.name, "")))
    return out


def _field_docs(config_cls: type) -> dict[str, str]:
    docs: dict[str, str] = {}
    for klass in reversed(config_cls.__mro__):
        if not dataclasses.is_dataclass(klass):
            continue
        try:
            tree = ast.parse(textwrap.dedent(inspect.getsource(klass)))
        except (OSError, TypeError, SyntaxError):
            continue
        body = tree.body[0].body if tree.body and isinstance(tree.body[0], ast.ClassDef) else []
        for node, nxt in itertools.pairwise(body):
            if (
                isinstance(node, ast.AnnAssign)
                and isinstance(node.target, ast.Name)
                and isinstance(nxt, ast.Expr)
                and isinstance(nxt.value, ast.Constant)
                and isinstance(nxt.value.value, str)
            ):
                docs[node.target.id] = " ".join(nxt.value.value.split())
    return docs


def config_to_dict(config: Any) -> dict[str, Any]:
    """A config dataclass as a plain dict (for storage and reports)."""
    if dataclasses.is_dataclass(config) and not isinstance(config, type):
        return dataclasses.asdict(config)
    return dict(config or {})


def check_kwargs(fn: Any, values: Mapping[str, Any], *, owner: str = "") -> None:
    """Raise :class:`ConfigError` if ``values`` has a key ``fn`` (a callable or class) does not accept."""
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return
    accepted = [
        k
        for k, p in params.items()
        if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD) and k != "self"
    ]
    where = f" for {owner}" if owner else ""
    for key in values:
        if key not in accepted:
            raise ConfigError(
                f"unknown option {key!r}{where}.{did_you_mean(key, accepted)} "
                f"Known options: {', '.join(accepted) or 'none'}"
            )
