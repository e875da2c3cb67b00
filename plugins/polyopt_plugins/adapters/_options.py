"""Checking keyword options against a third-party constructor.

pymoo's constructors end in ``**kwargs`` that flow up the class hierarchy and are often stored silently, so a
typo would be ignored; :func:`polyopt.config.check_kwargs` (which gives up on ``**kwargs``) cannot see that.
Here the accepted names are the union of every ``__init__`` up the MRO, stopping at the first one without
``**kwargs``.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterable, Mapping
from typing import Any

from polyopt.errors import ConfigError, did_you_mean


def accepted_options(cls: type, *, stop_at: type | None = None) -> list[str]:
    """Keyword names the constructor of ``cls`` really uses.

    Args:
        cls: the class to be constructed.
        stop_at: a base class whose own ``**kwargs`` are a catch-all (not followed further).

    Returns:
        Sorted names, without ``self`` and the catch-all ``**kwargs``.
    """
    names: set[str] = set()
    for klass in cls.__mro__:
        init = klass.__dict__.get("__init__")
        if init is None:
            continue
        params = inspect.signature(init).parameters.values()
        names |= {p.name for p in params if p.kind in (p.POSITIONAL_OR_KEYWORD, p.KEYWORD_ONLY)}
        if klass is stop_at or not any(p.kind is p.VAR_KEYWORD for p in params):
            break
    names.discard("self")
    return sorted(names)


def check_options(
    cls: type,
    options: Mapping[str, Any],
    *,
    owner: str,
    stop_at: type | None = None,
    reserved: Iterable[str] = (),
) -> None:
    """Raise :class:`ConfigError` for an option ``cls`` does not take, or one polyopt sets itself.

    Args:
        cls: the class the options are passed to.
        options: the user's options.
        owner: what is configured, for the message (``"optimizer 'pymoo.nsga2'"``).
        stop_at: see :func:`accepted_options`.
        reserved: names the adapter controls (``seed``, ``termination``, ...) with why, as ``"name: why"``.
    """
    taken = dict(item.split(": ", 1) for item in reserved)
    accepted = [k for k in accepted_options(cls, stop_at=stop_at) if k not in taken]
    for key in options:
        if key in taken:
            raise ConfigError(f"option {key!r} for {owner} is set by polyopt: {taken[key]}")
        if key not in accepted:
            raise ConfigError(
                f"unknown option {key!r} for {owner} ({cls.__name__}).{did_you_mean(key, accepted)} "
                f"Known options: {', '.join(accepted) or 'none'}"
            )
