"""The study database schema, versioned from day one.

Tables (current version, :data:`SCHEMA_VERSION`):

- ``schema_version(version)``: one row; :func:`migrate` brings any older database up to date.
- ``studies(id, name, fingerprint, definition, created_at)``: ``definition`` is the study as JSON.
- ``runs(id, study_id, key, spec, status, attempts, lease_owner, heartbeat_at, started_at, finished_at,
  n_evaluations, n_steps, wall_time, error, result, resources, crashes, lease_host, lease_pid,
  live_evaluations)``: ``spec`` is the resolved run (JSON), ``status`` one of pending/running/done/failed,
  ``result`` the final front as JSON. ``attempts`` counts the claims since the run was last made pending by a
  resume; ``crashes`` counts the leases its workers abandoned (died or stalled), and no resume resets it.
  ``n_evaluations`` is what is stored (the latest checkpoint's count); ``live_evaluations`` is what the
  leasing worker reports in its heartbeat (progress only). ``lease_host``/``lease_pid`` name the leasing
  process, so a worker on the same host can tell that it no longer exists.
- ``checkpoints(run_id, step, n_evaluations, state, created_at)``: the latest optimizer ``state_dict`` of a
  run, ``torch.save`` bytes, read back with ``torch.load(weights_only=True)``.
- ``evaluation_batches(run_id, first_index, n, x, f, g, failed, elapsed)``: the evaluations between two
  checkpoints as raw little-endian float64 (``failed``: uint8) arrays, ``n x d`` / ``n x m`` / ``n x c``;
  ``f`` in minimization form. ``(run_id, first_index)`` is unique, so a batch can never be stored twice.
- ``step_metrics(run_id, step, n_evaluations, elapsed, "values")``: recorded metrics (JSON).

Migrations are functions ``fn(connection)`` keyed by the version they produce; a fresh database runs them all,
so old and new databases end up identical. Each migration is frozen history: never edit one, add the next.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Column,
    Connection,
    Float,
    ForeignKey,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

__all__ = [
    "SCHEMA_VERSION",
    "metadata",
    "studies",
    "runs",
    "checkpoints",
    "evaluation_batches",
    "step_metrics",
    "migrate",
    "current_version",
]

SCHEMA_VERSION = 3

metadata = MetaData()

schema_version = Table("schema_version", metadata, Column("version", Integer, nullable=False))

studies = Table(
    "studies",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("fingerprint", String(64), nullable=False),
    Column("definition", Text, nullable=False),
    Column("created_at", Float, nullable=False),
)

runs = Table(
    "runs",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("study_id", Integer, ForeignKey("studies.id"), nullable=False, index=True),
    Column("key", String(400), nullable=False),
    Column("spec", Text, nullable=False),
    Column("status", String(16), nullable=False, index=True),
    Column("attempts", Integer, nullable=False),
    Column("lease_owner", String(200)),
    Column("heartbeat_at", Float),
    Column("started_at", Float),
    Column("finished_at", Float),
    Column("n_evaluations", Integer, nullable=False),
    Column("n_steps", Integer, nullable=False),
    Column("wall_time", Float, nullable=False),
    Column("error", Text),
    Column("result", Text),
    Column("resources", Text, nullable=False, server_default="{}"),  # version 2
    Column("crashes", Integer, nullable=False, server_default="0"),  # version 3
    Column("lease_host", String(200)),  # version 3
    Column("lease_pid", Integer),  # version 3
    Column("live_evaluations", Integer, nullable=False, server_default="0"),  # version 3
    UniqueConstraint("study_id", "key"),
)

checkpoints = Table(
    "checkpoints",
    metadata,
    Column("run_id", Integer, ForeignKey("runs.id"), primary_key=True),
    Column("step", Integer, nullable=False),
    Column("n_evaluations", Integer, nullable=False),
    Column("state", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

evaluation_batches = Table(
    "evaluation_batches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True),
    Column("first_index", Integer, nullable=False),
    Column("n", Integer, nullable=False),
    Column("x", LargeBinary, nullable=False),
    Column("f", LargeBinary, nullable=False),
    Column("g", LargeBinary),
    Column("failed", LargeBinary, nullable=False),
    Column("elapsed", LargeBinary, nullable=False),
    UniqueConstraint("run_id", "first_index"),
)

step_metrics = Table(
    "step_metrics",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("run_id", Integer, ForeignKey("runs.id"), nullable=False, index=True),
    Column("step", Integer, nullable=False),
    Column("n_evaluations", Integer, nullable=False),
    Column("elapsed", Float, nullable=False),
    Column("values", Text, nullable=False),
)


def _v1(conn: Connection) -> None:
    """The first schema, frozen: every table as of version 1 (``runs`` had no ``resources``)."""
    blob = "BYTEA" if conn.dialect.name == "postgresql" else "BLOB"
    pk = "SERIAL PRIMARY KEY" if conn.dialect.name == "postgresql" else "INTEGER PRIMARY KEY"
    statements = [
        "CREATE TABLE schema_version (version INTEGER NOT NULL)",
        f"CREATE TABLE studies (id {pk}, name VARCHAR(200) NOT NULL UNIQUE, fingerprint VARCHAR(64) NOT NULL, "
        "definition TEXT NOT NULL, created_at FLOAT NOT NULL)",
        f"CREATE TABLE runs (id {pk}, study_id INTEGER NOT NULL REFERENCES studies(id), key VARCHAR(400) NOT NULL, "
        "spec TEXT NOT NULL, status VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL, lease_owner VARCHAR(200), "
        "heartbeat_at FLOAT, started_at FLOAT, finished_at FLOAT, n_evaluations INTEGER NOT NULL, "
        "n_steps INTEGER NOT NULL, wall_time FLOAT NOT NULL, error TEXT, result TEXT, UNIQUE (study_id, key))",
        "CREATE INDEX ix_runs_study_id ON runs (study_id)",
        "CREATE INDEX ix_runs_status ON runs (status)",
        f"CREATE TABLE checkpoints (run_id INTEGER PRIMARY KEY REFERENCES runs(id), step INTEGER NOT NULL, "
        f"n_evaluations INTEGER NOT NULL, state {blob} NOT NULL, created_at FLOAT NOT NULL)",
        f"CREATE TABLE evaluation_batches (id {pk}, run_id INTEGER NOT NULL REFERENCES runs(id), "
        f"first_index INTEGER NOT NULL, n INTEGER NOT NULL, x {blob} NOT NULL, f {blob} NOT NULL, g {blob}, "
        f"failed {blob} NOT NULL, elapsed {blob} NOT NULL, UNIQUE (run_id, first_index))",
        "CREATE INDEX ix_evaluation_batches_run_id ON evaluation_batches (run_id)",
        f"CREATE TABLE step_metrics (id {pk}, run_id INTEGER NOT NULL REFERENCES runs(id), step INTEGER NOT NULL, "
        'n_evaluations INTEGER NOT NULL, elapsed FLOAT NOT NULL, "values" TEXT NOT NULL)',
        "CREATE INDEX ix_step_metrics_run_id ON step_metrics (run_id)",
        "INSERT INTO schema_version (version) VALUES (0)",
    ]
    for sql in statements:
        conn.execute(text(sql))


def _v2(conn: Connection) -> None:
    """Version 2: runs remember the resources (CPUs/GPUs) they asked for."""
    conn.execute(text("ALTER TABLE runs ADD COLUMN resources TEXT NOT NULL DEFAULT '{}'"))


def _v3(conn: Connection) -> None:
    """Version 3: abandoned leases are counted (``crashes``), leases name their process (``lease_host``,
    ``lease_pid``), and heartbeat progress (``live_evaluations``) is kept apart from the stored count."""
    for sql in (
        "ALTER TABLE runs ADD COLUMN crashes INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE runs ADD COLUMN lease_host VARCHAR(200)",
        "ALTER TABLE runs ADD COLUMN lease_pid INTEGER",
        "ALTER TABLE runs ADD COLUMN live_evaluations INTEGER NOT NULL DEFAULT 0",
    ):
        conn.execute(text(sql))


#: version produced -> migration function
MIGRATIONS: dict[int, Callable[[Connection], None]] = {1: _v1, 2: _v2, 3: _v3}


def current_version(conn: Connection) -> int:
    """The database's schema version (0 for an empty database)."""
    from sqlalchemy import inspect

    if not inspect(conn).has_table("schema_version"):
        return 0
    return int(conn.execute(text("SELECT version FROM schema_version")).scalar_one())


def migrate(conn: Connection) -> int:
    """Apply every migration newer than the database's version, in one transaction; return the new version.

    Raises:
        RuntimeError: the database was written by a newer polyopt (its version is above ours).
    """
    version = current_version(conn)
    if version > SCHEMA_VERSION:
        raise RuntimeError(
            f"the study database has schema version {version}, newer than this polyopt's "
            f"{SCHEMA_VERSION}; upgrade polyopt"
        )
    for target in range(version + 1, SCHEMA_VERSION + 1):
        MIGRATIONS[target](conn)
        conn.execute(text("UPDATE schema_version SET version = :v"), {"v": target})
    return SCHEMA_VERSION
