"""Small readers of study definitions: the TOML module, table and key checks, budgets, counted nouns."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from typing import Any

from polyopt.errors import ConfigError, did_you_mean

__all__ = ["budget_dict", "check_keys", "collect_error", "count", "table_list", "toml_reader"]


def collect_error(errors: list[str], what: str, fn: Any) -> None:
    try:
        fn()
    except Exception as exc:
        errors.append(f"{what}: {exc}")


def table_list(data: Mapping[str, Any], key: str) -> list[Any]:
    value = data.get(key)
    if not isinstance(value, list):
        raise ConfigError(
            f"the study file needs [[{key}]] entries (an array of tables), got {value!r}"
        )
    return value


def budget_dict(budget: Any) -> dict[str, Any]:
    from polyopt.run import Budget

    if isinstance(budget, Budget):
        return {k: v for k, v in dataclasses.asdict(budget).items() if v is not None}
    if isinstance(budget, int) and not isinstance(budget, bool):
        return {"evaluations": budget}
    if isinstance(budget, Mapping):
        return dict(budget)
    raise ConfigError(f"budget={budget!r}; expected an int (evaluations), a dict or a Budget")


def count(n: int, word: str) -> str:
    """``"1 seed"``, ``"3 seeds"``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def toml_reader() -> Any:
    """``tomllib`` (Python 3.11+), or ``tomli``, its backport for Python 3.10."""
    try:
        import tomllib
    except ImportError:  # Python 3.10
        try:
            import tomli as tomllib
        except ImportError as exc:
            raise ConfigError(
                "reading a study file needs Python 3.11 or the tomli package: pip install tomli"
            ) from exc
    return tomllib


def check_keys(data: Mapping[str, Any], known: Sequence[str], where: str) -> None:
    for key in data:
        if key not in known:
            raise ConfigError(
                f"unknown section {key!r} in {where}.{did_you_mean(key, known)} "
                f"Known: {', '.join(known)}"
            )
