"""How the study storage reaches its database: engines (SQLite tuned for many processes, PostgreSQL with
pre-ping), which driver errors are worth a retry, and URLs with their passwords masked."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from polyopt.errors import ConfigError

__all__ = ["make_engine", "transient", "mask_url", "redact"]

# Lower-cased fragments of driver messages that mean "the server is (temporarily) unreachable".
_DISCONNECT_WORDS = (
    "connection refused",
    "server closed the connection",
    "terminating connection",
    "the database system is",  # starting up / shutting down / in recovery mode
    "could not receive data",
    "could not send data",
    "no connection to the server",
    "connection is closed",
    "connection has been closed",
    "connection reset",
    "broken pipe",
    "consuming input failed",
    "timeout expired",
)
# SQLSTATEs worth a retry besides class 08 (connection exceptions): admin/crash shutdown, cannot connect now,
# serialization failure and deadlock.
_TRANSIENT_SQLSTATES = ("57P01", "57P02", "57P03", "40001", "40P01")


def mask_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (for anything printed or stored)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return url


def redact(text: str, url: str | None) -> str:
    """``text`` with the password of ``url`` (as typed, and URL-quoted) replaced by ``***``."""
    if not url:
        return text
    try:
        password = make_url(url).password
    except (ArgumentError, ValueError):
        return text
    if not password:
        return text
    for form in {str(password), quote(str(password), safe="")}:
        text = text.replace(form, "***")
    return text


def transient(exc: DBAPIError, dialect: str) -> str | None:
    """``"locked"`` (SQLite busy), ``"disconnect"`` (worth a retry while the server comes back) or None."""
    if exc.connection_invalidated:
        return "disconnect"
    orig = exc.orig
    sqlstate = str(getattr(orig, "sqlstate", None) or "")
    if sqlstate.startswith("08") or sqlstate in _TRANSIENT_SQLSTATES:
        return "disconnect"
    msg = str(orig).lower()
    if dialect == "sqlite" and ("locked" in msg or "busy" in msg):
        return "locked"
    if any(word in msg for word in _DISCONNECT_WORDS):
        return "disconnect"
    return None


def make_engine(url: str) -> Engine:
    try:
        return _engine(url)
    except (ArgumentError, ImportError) as exc:  # a malformed URL, or its driver is not installed
        raise ConfigError(f"storage {mask_url(url)!r}: {exc}") from exc


def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    if url.startswith("postgresql"):
        # pre-ping: a pooled connection that died with a server restart is replaced before use; the connect
        # timeout keeps a worker from hanging on a host that does not answer (the URL may set its own)
        connect_args = {} if "connect_timeout" in url else {"connect_timeout": 10}
        return create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    raise ConfigError(
        f"storage {mask_url(url)!r}; expected a sqlite:/// or postgresql+psycopg:// URL"
    )


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of pysqlite's deferred BEGIN
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
