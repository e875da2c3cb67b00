"""Isolated PostgreSQL schemas: several studies (or test sessions) share one database without sharing tables."""

from __future__ import annotations

import re
from urllib.parse import quote

__all__ = ["schema_url", "drop_schema"]

_NAME = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")


def schema_url(url: str, schema: str) -> str:
    """Create ``schema`` in the database at ``url`` (if absent); return a URL whose connections use it.

    Args:
        url: ``postgresql+psycopg://user:password@host:port/database``.
        schema: lowercase letters, digits and underscores.
    """
    from sqlalchemy import create_engine, text

    if not _NAME.match(schema):
        raise ValueError(f"schema {schema!r}; expected lowercase letters, digits and underscores")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"CREATE SCHEMA IF NOT EXISTS {schema}"))
    engine.dispose()
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


def drop_schema(url: str, schema: str) -> None:
    """Drop ``schema`` and everything in it."""
    from sqlalchemy import create_engine, text

    if not _NAME.match(schema):
        raise ValueError(f"schema {schema!r}; expected lowercase letters, digits and underscores")
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text(f"DROP SCHEMA IF EXISTS {schema} CASCADE"))
    engine.dispose()
