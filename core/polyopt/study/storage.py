"""Study storage on SQLAlchemy 2: SQLite by default, PostgreSQL by URL.

SQLite runs in WAL mode with a busy timeout, every transaction starts with ``BEGIN IMMEDIATE`` (so a reader
never has to upgrade to a writer, the case a busy timeout cannot cure) and a transaction that still meets
"database is locked" is retried with backoff. PostgreSQL claims runs with ``SELECT ... FOR UPDATE SKIP LOCKED``.

Leases: a worker owns a run while ``runs.lease_owner`` names it; every write a worker makes about its run is
conditional on still owning it (a conditional UPDATE whose row count is checked), so a worker whose lease was
taken over (it stalled past ``stale_after_seconds``) can never write over its successor: it gets
:class:`LeaseLost` and stops. Lease times are the workers' wall clocks (``time.time()``): machines sharing a
PostgreSQL study need synchronized clocks (NTP); ``stale_after_seconds`` (60 s by default) absorbs small skew.
A SQLite study is for the processes of one machine (a network file system breaks SQLite's locking).
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
from sqlalchemy import (
    Connection,
    Engine,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError, OperationalError

from polyopt.errors import ConfigError, PolyoptError
from polyopt.study import schema as s
from polyopt.study.definition import RunSpec, Study

__all__ = ["Storage", "RunRecord", "EvaluationBatch", "LeaseLost", "STATUSES"]

STATUSES = ("pending", "running", "done", "failed")
T = TypeVar("T")


class LeaseLost(PolyoptError):
    """This worker no longer owns the run (another worker took it over after the lease went stale)."""


@dataclass
class RunRecord:
    """A run as stored."""

    id: int
    key: str
    spec: RunSpec
    status: str
    attempts: int
    lease_owner: str | None
    heartbeat_at: float | None
    n_evaluations: int
    n_steps: int
    wall_time: float
    error: str | None
    result: dict[str, Any] | None


@dataclass
class EvaluationBatch:
    """Consecutive evaluations of a run, as numpy arrays (``f`` in minimization form).

    Attributes:
        first_index: index of the first row among the run's evaluations.
        x: ``n x d`` points.
        f: ``n x m`` objective values.
        g: ``n x c`` constraint values or None.
        failed: ``n`` bool.
        elapsed: ``n`` seconds since the run started, when each row was evaluated.
    """

    first_index: int
    x: np.ndarray
    f: np.ndarray
    g: np.ndarray | None
    failed: np.ndarray
    elapsed: np.ndarray


class Storage:
    """A study database. Opening it creates or migrates the schema.

    Args:
        url: a SQLAlchemy URL: ``sqlite:///path/study.sqlite`` or ``postgresql+psycopg://user:pw@host/db``.
        lock_retries: how many times a transaction that met "database is locked" is retried (SQLite).
    """

    def __init__(self, url: str, *, lock_retries: int = 20) -> None:
        self.url = url
        self.lock_retries = lock_retries
        self.engine = _make_engine(url)
        self.dialect = self.engine.dialect.name
        self._write(self._migrate)

    def _migrate(self, conn: Connection) -> None:
        if (
            self.dialect == "postgresql"
        ):  # two workers opening a fresh database migrate one after the other
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727310)")
        s.migrate(conn)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    # -- transactions -----------------------------------------------------------------------------------

    @contextmanager
    def _begin(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one transaction, retried with backoff while SQLite reports a lock."""
        for attempt in range(self.lock_retries + 1):
            try:
                with self._begin() as conn:
                    return fn(conn)
            except OperationalError as exc:
                msg = str(exc).lower()
                if attempt == self.lock_retries or not ("locked" in msg or "busy" in msg):
                    raise
                time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
        raise AssertionError("unreachable")

    # -- studies ----------------------------------------------------------------------------------------

    def add_study(self, study: Study) -> int:
        """Store ``study`` and its runs; idempotent (a second worker adds nothing).

        A stored study may grow (more seeds, optimizers or problems: the new runs are added) but a stored run
        never changes: its spec, the metrics and the checkpoint cadence must stay as they were.

        Raises:
            ConfigError: the definition changes or drops runs already stored under this name.
        """

        def add(conn: Connection) -> int:
            row = conn.execute(
                select(s.studies.c.id, s.studies.c.fingerprint).where(
                    s.studies.c.name == study.name
                )
            ).first()
            definition = json.dumps(study.to_dict())
            if row is None:
                sid = conn.execute(
                    insert(s.studies).values(
                        name=study.name,
                        fingerprint=study.fingerprint(),
                        definition=definition,
                        created_at=time.time(),
                    )
                ).inserted_primary_key[0]
                have: dict[str, str] = {}
            else:
                sid = row.id
                have = dict(
                    conn.execute(
                        select(s.runs.c.key, s.runs.c.spec).where(s.runs.c.study_id == sid)
                    ).all()
                )
                self._check_compatible(study, row.fingerprint, have)
            new = [_run_row(sid, r) for r in study.runs() if r.key not in have]
            if new:
                conn.execute(insert(s.runs), new)
                conn.execute(
                    update(s.studies).where(s.studies.c.id == sid).values(definition=definition)
                )
            return int(sid)

        try:
            return self._write(add)
        except IntegrityError:  # another worker inserted the same study concurrently: now it exists
            return self._write(add)

    def _check_compatible(self, study: Study, fingerprint: str, have: dict[str, str]) -> None:
        where = f"the storage {self.url!r} already holds a study named {study.name!r}"
        fix = "; use a new study name (or delete the stored study) to change it"
        if fingerprint != study.fingerprint():
            raise ConfigError(f"{where} with other [metrics] or checkpoint_every{fix}")
        specs = {r.key: r for r in study.runs()}
        dropped = sorted(set(have) - set(specs))
        if dropped:
            raise ConfigError(
                f"{where} with runs this definition drops ({', '.join(dropped[:3])}"
                f"{', ...' if len(dropped) > 3 else ''}){fix}"
            )
        changed = sorted(k for k, spec in have.items() if json.loads(spec) != specs[k].to_dict())
        if changed:
            raise ConfigError(
                f"{where} whose runs {', '.join(changed[:3])}{', ...' if len(changed) > 3 else ''} "
                f"are defined differently (config, options, budget, device or resources){fix}"
            )

    def study_names(self) -> list[str]:
        with self._begin() as conn:
            return list(conn.execute(select(s.studies.c.name).order_by(s.studies.c.id)).scalars())

    def study_id(self, name: str) -> int:
        """The id of study ``name``. Raises ConfigError (with suggestions) if absent."""
        with self._begin() as conn:
            sid = conn.execute(select(s.studies.c.id).where(s.studies.c.name == name)).scalar()
        if sid is None:
            from polyopt.errors import did_you_mean

            names = self.study_names()
            raise ConfigError(
                f"no study named {name!r} in {self.url}.{did_you_mean(name, names)} "
                f"Studies there: {', '.join(names) or 'none'}"
            )
        return int(sid)

    def load_study(self, name: str) -> Study:
        """Rebuild the stored definition of study ``name``."""
        sid = self.study_id(name)
        with self._begin() as conn:
            definition = conn.execute(
                select(s.studies.c.definition).where(s.studies.c.id == sid)
            ).scalar_one()
        return Study.from_stored(json.loads(definition), storage=self.url)

    # -- runs: claiming and leases ------------------------------------------------------------------------

    def claim(
        self, study_id: int, owner: str, stale_after: float, *, run_id: int | None = None
    ) -> RunRecord | None:
        """Atomically take a pending run, or a running one whose lease is stale; None when none is left.

        The candidate is selected ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) and taken with an UPDATE that repeats
        the condition and must change exactly one row, so two workers can never both take it.
        """

        def take(conn: Connection) -> RunRecord | None:
            now = time.time()
            claimable = or_(
                s.runs.c.status == "pending",
                (s.runs.c.status == "running") & (s.runs.c.heartbeat_at < now - stale_after),
            )
            where = (s.runs.c.study_id == study_id) & claimable
            if run_id is not None:
                where = where & (s.runs.c.id == run_id)
            ids = (
                conn.execute(
                    select(s.runs.c.id)
                    .where(where)
                    .order_by(s.runs.c.id)
                    .limit(4)
                    .with_for_update(skip_locked=True)
                )
                .scalars()
                .all()
            )
            for rid in ids:
                done = conn.execute(
                    update(s.runs)
                    .where(where & (s.runs.c.id == rid))
                    .values(
                        status="running",
                        lease_owner=owner,
                        heartbeat_at=now,
                        attempts=s.runs.c.attempts + 1,
                        started_at=func.coalesce(s.runs.c.started_at, now),
                    )
                )
                if done.rowcount == 1:
                    return self._record(conn, rid)
            return None

        return self._write(take)

    def heartbeat(self, run_id: int, owner: str, n_evaluations: int) -> bool:
        """Renew the lease (and show live progress); False if this worker no longer owns the run."""

        def beat(conn: Connection) -> bool:
            done = conn.execute(
                update(s.runs)
                .where(_owned(run_id, owner))
                .values(heartbeat_at=time.time(), n_evaluations=n_evaluations)
            )
            return done.rowcount == 1

        return self._write(beat)

    def save(
        self,
        run_id: int,
        owner: str,
        *,
        step: int,
        n_evaluations: int,
        wall_time: float,
        state: bytes | None,
        batch: EvaluationBatch | None,
        metrics: list[dict[str, Any]],
        result: dict[str, Any] | None = None,
    ) -> None:
        """Store a checkpoint, the evaluations since the previous one and the metrics, in ONE transaction.

        With ``result``, the run is also marked done. Raises :class:`LeaseLost` (and writes nothing) if this
        worker no longer owns the run.
        """

        def write(conn: Connection) -> None:
            values: dict[str, Any] = dict(
                heartbeat_at=time.time(),
                n_evaluations=n_evaluations,
                n_steps=step,
                wall_time=wall_time,
            )
            if result is not None:
                values.update(
                    status="done",
                    result=json.dumps(result),
                    finished_at=time.time(),
                    lease_owner=None,
                    error=None,
                )
            if (
                conn.execute(update(s.runs).where(_owned(run_id, owner)).values(**values)).rowcount
                != 1
            ):
                raise LeaseLost(f"run {run_id} is no longer leased to {owner}")
            if batch is not None and batch.x.shape[0]:
                conn.execute(
                    insert(s.evaluation_batches).values(run_id=run_id, **_encode_batch(batch))
                )
            if metrics:
                conn.execute(
                    insert(s.step_metrics),
                    [
                        {
                            "run_id": run_id,
                            "step": m["step"],
                            "n_evaluations": m["n_evaluations"],
                            "elapsed": m["elapsed"],
                            "values": json.dumps(m["values"]),
                        }
                        for m in metrics
                    ],
                )
            if state is not None:
                conn.execute(delete(s.checkpoints).where(s.checkpoints.c.run_id == run_id))
                conn.execute(
                    insert(s.checkpoints).values(
                        run_id=run_id,
                        step=step,
                        n_evaluations=n_evaluations,
                        state=state,
                        created_at=time.time(),
                    )
                )

        self._write(write)

    def fail(self, run_id: int, owner: str, error: str, max_attempts: int) -> str:
        """Record an exception; the run goes back to pending until it has failed ``max_attempts`` times.

        Returns the new status ("pending" or "failed"); nothing is written if the lease was lost.
        """

        def write(conn: Connection) -> str:
            attempts = conn.execute(
                select(s.runs.c.attempts).where(s.runs.c.id == run_id)
            ).scalar_one()
            status = "failed" if attempts >= max_attempts else "pending"
            conn.execute(
                update(s.runs)
                .where(_owned(run_id, owner))
                .values(status=status, error=error[-4000:], lease_owner=None)
            )
            return status

        return self._write(write)

    def release(self, run_id: int, owner: str) -> None:
        """Give a run back (pending) without counting a failure, e.g. on Ctrl-C."""
        self._write(
            lambda conn: conn.execute(
                update(s.runs)
                .where(_owned(run_id, owner))
                .values(status="pending", lease_owner=None, attempts=s.runs.c.attempts - 1)
            )
        )

    def reset(self, study_id: int, *, failed: bool = True, stale_after: float | None = None) -> int:
        """Make failed runs (and running runs with a lease older than ``stale_after``) pending again; return
        how many. Their checkpoints are kept, so they resume where they stopped."""

        def write(conn: Connection) -> int:
            cond = (s.runs.c.status == "failed") if failed else (s.runs.c.id < 0)
            if stale_after is not None:
                cond = cond | (
                    (s.runs.c.status == "running")
                    & (s.runs.c.heartbeat_at < time.time() - stale_after)
                )
            return conn.execute(
                update(s.runs)
                .where((s.runs.c.study_id == study_id) & cond)
                .values(status="pending", lease_owner=None, attempts=0)
            ).rowcount

        return self._write(write)

    # -- reading ----------------------------------------------------------------------------------------

    def runs(self, study_id: int, *, with_results: bool = True) -> list[RunRecord]:
        """The study's runs in order; ``with_results=False`` skips the (possibly large) final fronts, for
        frequent polling."""
        cols = [c for c in s.runs.c if with_results or c.name != "result"]
        with self._begin() as conn:
            rows = conn.execute(
                select(*cols).where(s.runs.c.study_id == study_id).order_by(s.runs.c.id)
            ).all()
        return [_to_record(r) for r in rows]

    def _record(self, conn: Connection, run_id: int) -> RunRecord:
        return _to_record(conn.execute(select(s.runs).where(s.runs.c.id == run_id)).one())

    def run(self, run_id: int) -> RunRecord:
        with self._begin() as conn:
            return self._record(conn, run_id)

    def counts(self, study_id: int) -> dict[str, int]:
        """Runs by status (every status present, zeros included)."""
        with self._begin() as conn:
            rows = conn.execute(
                select(s.runs.c.status, func.count())
                .where(s.runs.c.study_id == study_id)
                .group_by(s.runs.c.status)
            ).all()
        return {**dict.fromkeys(STATUSES, 0), **{r[0]: int(r[1]) for r in rows}}

    def checkpoint(self, run_id: int) -> tuple[int, int, bytes] | None:
        """``(step, n_evaluations, state bytes)`` of the run's latest checkpoint, or None."""
        with self._begin() as conn:
            row = conn.execute(
                select(
                    s.checkpoints.c.step, s.checkpoints.c.n_evaluations, s.checkpoints.c.state
                ).where(s.checkpoints.c.run_id == run_id)
            ).first()
        return None if row is None else (int(row[0]), int(row[1]), bytes(row[2]))

    def evaluations(self, run_id: int) -> EvaluationBatch | None:
        """Every stored evaluation of the run, concatenated in order (None if there is none)."""
        with self._begin() as conn:
            rows = conn.execute(
                select(s.evaluation_batches)
                .where(s.evaluation_batches.c.run_id == run_id)
                .order_by(s.evaluation_batches.c.first_index)
            ).all()
        if not rows:
            return None
        parts = [_decode_batch(r) for r in rows]
        return EvaluationBatch(
            first_index=parts[0].first_index,
            x=np.concatenate([p.x for p in parts]),
            f=np.concatenate([p.f for p in parts]),
            g=None if parts[0].g is None else np.concatenate([p.g for p in parts]),
            failed=np.concatenate([p.failed for p in parts]),
            elapsed=np.concatenate([p.elapsed for p in parts]),
        )

    def metrics(self, run_id: int) -> list[dict[str, Any]]:
        """Recorded metrics of a run, by step: ``{"step", "n_evaluations", "elapsed", "values": {...}}``."""
        with self._begin() as conn:
            rows = conn.execute(
                select(s.step_metrics)
                .where(s.step_metrics.c.run_id == run_id)
                .order_by(s.step_metrics.c.step)
            ).all()
        return [
            {
                "step": r.step,
                "n_evaluations": r.n_evaluations,
                "elapsed": r.elapsed,
                "values": json.loads(r.values),
            }
            for r in rows
        ]


def _owned(run_id: int, owner: str) -> Any:
    return (
        (s.runs.c.id == run_id) & (s.runs.c.lease_owner == owner) & (s.runs.c.status == "running")
    )


def _run_row(study_id: int, spec: RunSpec) -> dict[str, Any]:
    return dict(
        study_id=study_id,
        key=spec.key,
        spec=json.dumps(spec.to_dict()),
        status="pending",
        attempts=0,
        n_evaluations=0,
        n_steps=0,
        wall_time=0.0,
        resources=json.dumps(spec.resources),
    )


def _to_record(r: Any) -> RunRecord:
    return RunRecord(
        id=r.id,
        key=r.key,
        spec=RunSpec.from_dict(json.loads(r.spec)),
        status=r.status,
        attempts=r.attempts,
        lease_owner=r.lease_owner,
        heartbeat_at=r.heartbeat_at,
        n_evaluations=r.n_evaluations,
        n_steps=r.n_steps,
        wall_time=r.wall_time,
        error=r.error,
        result=None if getattr(r, "result", None) is None else json.loads(r.result),
    )


def _encode_batch(b: EvaluationBatch) -> dict[str, Any]:
    def blob(a: np.ndarray) -> bytes:
        return np.ascontiguousarray(a, dtype="<f8").tobytes()

    return {
        "first_index": b.first_index,
        "n": b.x.shape[0],
        "x": blob(b.x),
        "f": blob(b.f),
        "g": None if b.g is None else blob(b.g),
        "failed": np.asarray(b.failed, dtype=np.uint8).tobytes(),
        "elapsed": blob(b.elapsed),
    }


def _decode_batch(r: Any) -> EvaluationBatch:
    n = r.n

    def arr(data: bytes) -> np.ndarray:
        return np.frombuffer(bytes(data), dtype="<f8").reshape(n, -1)

    return EvaluationBatch(
        first_index=r.first_index,
        x=arr(r.x),
        f=arr(r.f),
        g=None if r.g is None else arr(r.g),
        failed=np.frombuffer(bytes(r.failed), dtype=np.uint8).astype(bool),
        elapsed=arr(r.elapsed)[:, 0],
    )


def _make_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split(":///", 1)[1] if ":///" in url else ""
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"timeout": 30})
        event.listen(engine, "connect", _sqlite_connect)
        event.listen(engine, "begin", lambda conn: conn.exec_driver_sql("BEGIN IMMEDIATE"))
        return engine
    if url.startswith("postgresql"):
        return create_engine(url, pool_pre_ping=True)
    raise ConfigError(f"storage {url!r}; expected a sqlite:/// or postgresql+psycopg:// URL")


def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
    # let SQLAlchemy's "begin" event issue BEGIN IMMEDIATE instead of pysqlite's deferred BEGIN
    dbapi_conn.isolation_level = None
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.close()
