"""Study storage on SQLAlchemy 2: SQLite by default, PostgreSQL by URL.

SQLite runs in WAL mode with a busy timeout, every transaction starts with ``BEGIN IMMEDIATE`` (so a reader
never has to upgrade to a writer, the case a busy timeout cannot cure) and a transaction that still meets
"database is locked" is retried with backoff. PostgreSQL claims runs with ``SELECT ... FOR UPDATE SKIP LOCKED``.

Outages: a transaction that fails because the connection dropped or the server is restarting (PostgreSQL:
connection refused, "terminating connection", "the database system is starting up", a SQLSTATE of class 08 or
57P0x) is retried with backoff for up to ``retry_seconds`` (60 s by default); pooled connections are checked
before use (``pool_pre_ping``). Every transaction may run twice, so each one is idempotent: a retried checkpoint
that had in fact committed stores nothing twice.

Leases: a worker owns a run while ``runs.lease_owner`` names it; every write a worker makes about its run is
conditional on still owning it (a conditional UPDATE whose row count is checked), so a worker whose lease was
taken over (it stalled past ``stale_after_seconds``) can never write over its successor: it gets
:class:`LeaseLost` and stops. A lease also records the host and process id of its worker: a run leased to a
process of this host that no longer exists is taken over at once, without waiting for the lease to go stale.
Lease times are the workers' wall clocks (``time.time()``): machines sharing a PostgreSQL study need synchronized
clocks (NTP); ``stale_after_seconds`` (60 s by default) absorbs small skew. A SQLite study is for the processes
of one machine (a network file system breaks SQLite's locking).

Worker deaths: taking over an abandoned lease (its process is gone, or its heartbeat stopped) counts a crash
against the run. A run whose workers died ``max_attempts`` times is failed with "worker died" instead of being
handed to the next worker (as Optuna fails stale trials), and a resume does not reset that count.
"""

from __future__ import annotations

import json
import os
import random
import time
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import (
    Connection,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError

from polyopt.errors import ConfigError, PolyoptError
from polyopt.study import schema as s
from polyopt.study._connection import make_engine, mask_url, redact, transient
from polyopt.study._leases import (
    LEASE_COLUMNS,
    NO_LEASE,
    abandoned,
    crash_note,
    dead_leases,
    died_error,
    failed_values,
    gives_up,
    host_id,
    owned,
    process_alive,
    recovery,
)
from polyopt.study._queries import STATUSES, RunQueries
from polyopt.study._records import (
    EvaluationBatch,
    Recovery,
    RunRecord,
    encode_batch,
    run_row,
)
from polyopt.study.definition import Study

__all__ = [
    "Storage",
    "RunRecord",
    "EvaluationBatch",
    "Recovery",
    "LeaseLost",
    "StorageUnavailable",
    "STATUSES",
    "mask_url",
    "redact",
    "host_id",
    "process_alive",
]

T = TypeVar("T")

#: How long a storage that has not yet reached its database keeps retrying: long enough for a restart, short
#: enough that a wrong port fails quickly.
FIRST_CONNECT_SECONDS = 5.0


class LeaseLost(PolyoptError):
    """This worker no longer owns the run (another worker took it over after the lease went stale)."""


class StorageUnavailable(PolyoptError):
    """The database stayed unreachable for longer than the storage's ``retry_seconds``."""


class Storage(RunQueries):
    """A study database. Opening it creates or migrates the schema.

    Args:
        url: a SQLAlchemy URL: ``sqlite:///path/study.sqlite`` or ``postgresql+psycopg://user:pw@host/db``.
        lock_retries: how many times a transaction that met "database is locked" is retried (SQLite).
        retry_seconds: how long a transaction is retried while the database is unreachable (a restart).
    """

    def __init__(self, url: str, *, lock_retries: int = 20, retry_seconds: float = 60.0) -> None:
        self.url = url
        self.lock_retries = lock_retries
        self.retry_seconds = retry_seconds
        self.engine = make_engine(url)
        self.dialect = self.engine.dialect.name
        self._connected = False
        self._write(self._migrate)

    @property
    def display_url(self) -> str:
        """The URL with its password masked: the form to print."""
        return mask_url(self.url)

    def __repr__(self) -> str:
        return f"Storage({self.display_url!r})"

    def _migrate(self, conn: Connection) -> None:
        if self.dialect == "postgresql":
            # two workers opening a fresh database migrate one after the other
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(727310)")
        s.migrate(conn)

    def close(self) -> None:
        """Release the connection pool."""
        self.engine.dispose()

    # -- transactions -----------------------------------------------------------------------------------

    def _write(self, fn: Callable[[Connection], T]) -> T:
        """Run ``fn`` in one transaction, retried with backoff while SQLite reports a lock or the database is
        unreachable (see the module docstring). ``fn`` must be safe to run again after a failed commit."""
        started = time.monotonic()
        attempt = 0
        while True:
            try:
                with self.engine.begin() as conn:
                    out = fn(conn)
                self._connected = True
                return out
            except DBAPIError as exc:
                kind = transient(exc, self.dialect)
                if kind is None or (kind == "locked" and attempt >= self.lock_retries):
                    raise
                limit = (
                    self.retry_seconds
                    if self._connected
                    else min(self.retry_seconds, FIRST_CONNECT_SECONDS)
                )
                if kind == "disconnect" and time.monotonic() - started >= limit:
                    reason = redact(str(exc.orig).strip().splitlines()[0], self.url)
                    raise StorageUnavailable(
                        f"the study database {self.display_url} was unreachable for "
                        f"{time.monotonic() - started:.0f} s ({reason})"
                    ) from exc
                time.sleep(min(2.0, 0.05 * 2**attempt) * (0.5 + random.random()))
                attempt += 1

    _read = _write  # reads retry alike (SQLite reads also BEGIN IMMEDIATE)

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
                inserted = conn.execute(
                    insert(s.studies).values(
                        name=study.name,
                        fingerprint=study.fingerprint(),
                        definition=definition,
                        created_at=time.time(),
                    )
                ).inserted_primary_key
                assert inserted is not None  # an INSERT of one row has one primary key
                sid = inserted[0]
                have: dict[str, str] = {}
            else:
                sid = row.id
                have = dict(
                    conn.execute(
                        select(s.runs.c.key, s.runs.c.spec).where(s.runs.c.study_id == sid)
                    ).all()
                )
                self._check_compatible(study, row.fingerprint, have)
            new = [run_row(sid, r) for r in study.runs() if r.key not in have]
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
        where = f"the storage {self.display_url!r} already holds a study named {study.name!r}"
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
        return self._read(
            lambda conn: list(
                conn.execute(select(s.studies.c.name).order_by(s.studies.c.id)).scalars()
            )
        )

    def study_id(self, name: str) -> int:
        """The id of study ``name``. Raises ConfigError (with suggestions) if absent."""
        sid = self._read(
            lambda conn: conn.execute(
                select(s.studies.c.id).where(s.studies.c.name == name)
            ).scalar()
        )
        if sid is None:
            from polyopt.errors import did_you_mean

            names = self.study_names()
            raise ConfigError(
                f"no study named {name!r} in {self.display_url}.{did_you_mean(name, names)} "
                f"Studies there: {', '.join(names) or 'none'}"
            )
        return int(sid)

    def load_study(self, name: str) -> Study:
        """Rebuild the stored definition of study ``name``."""
        sid = self.study_id(name)
        definition = self._read(
            lambda conn: conn.execute(
                select(s.studies.c.definition).where(s.studies.c.id == sid)
            ).scalar_one()
        )
        return Study.from_stored(json.loads(definition), storage=self.url)

    def delete_study(self, name: str) -> int:
        """Delete study ``name`` with its runs, evaluations, metrics and checkpoints; return how many runs it
        had. Raises ConfigError (with suggestions) if there is no such study."""
        sid = self.study_id(name)

        def delete_all(conn: Connection) -> int:
            run_ids = select(s.runs.c.id).where(s.runs.c.study_id == sid).scalar_subquery()
            for table in (s.step_metrics, s.evaluation_batches, s.checkpoints):
                conn.execute(delete(table).where(table.c.run_id.in_(run_ids)))
            n = conn.execute(delete(s.runs).where(s.runs.c.study_id == sid)).rowcount
            conn.execute(delete(s.studies).where(s.studies.c.id == sid))
            return int(n)

        return self._write(delete_all)

    # -- runs: claiming and leases ------------------------------------------------------------------------

    def claim(
        self,
        study_id: int,
        owner: str,
        stale_after: float,
        *,
        run_id: int | None = None,
        max_attempts: int | None = None,
    ) -> RunRecord | None:
        """Atomically take a pending run, or one whose lease was abandoned; None when none is left.

        A lease is abandoned when its heartbeat is older than ``stale_after`` seconds, or at once when it
        names a process of this host that no longer exists. Taking one over counts a crash; with
        ``max_attempts``, an abandoned run whose workers died that many times (or that used up its attempts)
        is failed with "worker died" instead, and the next run is tried.

        The candidate is selected ``FOR UPDATE SKIP LOCKED`` (PostgreSQL) and taken with an UPDATE that repeats
        the condition and must change exactly one row, so two workers can never both take it.
        """
        host, pid = host_id(), os.getpid()
        calls = 0

        def take(conn: Connection) -> RunRecord | None:
            nonlocal calls
            calls += 1
            if calls > 1:  # a retry: the previous attempt may have committed its claim after all
                mine = conn.execute(
                    select(s.runs.c.id).where(
                        (s.runs.c.study_id == study_id)
                        & (s.runs.c.status == "running")
                        & (s.runs.c.lease_owner == owner)
                    )
                ).scalar()
                if mine is not None:
                    return self._record(conn, mine)
            while True:
                now = time.time()
                dead = dead_leases(conn, study_id)
                where = (s.runs.c.study_id == study_id) & or_(
                    s.runs.c.status == "pending", abandoned(now - stale_after, dead)
                )
                if run_id is not None:
                    where = where & (s.runs.c.id == run_id)
                rows = conn.execute(
                    select(*LEASE_COLUMNS)
                    .where(where)
                    .order_by(s.runs.c.id)
                    .limit(4)
                    .with_for_update(skip_locked=True)
                ).all()
                if not rows:
                    return None
                progressed = False
                for row in rows:
                    this = where & (s.runs.c.id == row.id)
                    if row.status == "running" and gives_up(row, max_attempts):
                        error = died_error(row, now, max_attempts, dead)
                        done = conn.execute(
                            update(s.runs).where(this).values(**failed_values(error))
                        )
                        progressed |= done.rowcount == 1
                        continue
                    done = conn.execute(
                        update(s.runs)
                        .where(this)
                        .values(
                            status="running",
                            lease_owner=owner,
                            lease_host=host,
                            lease_pid=pid,
                            heartbeat_at=now,
                            attempts=s.runs.c.attempts + 1,
                            crashes=s.runs.c.crashes
                            + case((s.runs.c.status == "running", 1), else_=0),
                            error=crash_note(row, now, dead)
                            if row.status == "running"
                            else row.error,
                            live_evaluations=s.runs.c.n_evaluations,
                            started_at=func.coalesce(s.runs.c.started_at, now),
                        )
                    )
                    if done.rowcount == 1:
                        return self._record(conn, row.id)
                if not progressed:
                    return None

        return self._write(take)

    def heartbeat(self, run_id: int, owner: str, n_evaluations: int) -> bool:
        """Renew the lease and report live progress (``n_evaluations`` made so far, stored or not); False if
        this worker no longer owns the run."""

        def beat(conn: Connection) -> bool:
            done = conn.execute(
                update(s.runs)
                .where(owned(run_id, owner))
                .values(heartbeat_at=time.time(), live_evaluations=n_evaluations)
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
        worker no longer owns the run. Safe to retry: a batch or metrics rows that a failed-looking commit did
        store are not stored again.
        """
        calls = 0

        def write(conn: Connection) -> None:
            nonlocal calls
            calls += 1
            values: dict[str, Any] = dict(
                heartbeat_at=time.time(),
                n_evaluations=n_evaluations,
                live_evaluations=n_evaluations,
                n_steps=step,
                wall_time=wall_time,
            )
            if result is not None:
                values.update(
                    status="done",
                    result=json.dumps(result),
                    finished_at=time.time(),
                    error=None,
                    **NO_LEASE,
                )
            if (
                conn.execute(update(s.runs).where(owned(run_id, owner)).values(**values)).rowcount
                != 1
            ):
                raise LeaseLost(f"run {run_id} is no longer leased to {owner}")
            if (
                batch is not None
                and batch.x.shape[0]
                and not (calls > 1 and _batch_stored(conn, run_id, batch))
            ):
                conn.execute(
                    insert(s.evaluation_batches).values(run_id=run_id, **encode_batch(batch))
                )
            if metrics:
                if calls > 1:
                    steps = [m["step"] for m in metrics]
                    conn.execute(
                        delete(s.step_metrics).where(
                            (s.step_metrics.c.run_id == run_id) & s.step_metrics.c.step.in_(steps)
                        )
                    )
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
        error = redact(error, self.url)[-4000:]

        def write(conn: Connection) -> str:
            attempts = conn.execute(
                select(s.runs.c.attempts).where(s.runs.c.id == run_id)
            ).scalar_one()
            status = "failed" if attempts >= max_attempts else "pending"
            conn.execute(
                update(s.runs)
                .where(owned(run_id, owner))
                .values(
                    status=status,
                    error=error,
                    live_evaluations=s.runs.c.n_evaluations,
                    **NO_LEASE,
                )
            )
            return status

        return self._write(write)

    def release(self, run_id: int, owner: str) -> None:
        """Give a run back (pending) without counting an attempt, e.g. on Ctrl-C."""
        self._write(
            lambda conn: conn.execute(
                update(s.runs)
                .where(owned(run_id, owner))
                .values(
                    status="pending",
                    attempts=s.runs.c.attempts - 1,
                    live_evaluations=s.runs.c.n_evaluations,
                    **NO_LEASE,
                )
            )
        )

    def recover(
        self,
        study_id: int,
        *,
        stale_after: float,
        max_attempts: int,
        retry_crashed: bool = False,
    ) -> Recovery:
        """Prepare a resume: make failed runs and runs whose worker is gone pending again, with fresh attempts.

        A running run is taken back when its lease is stale or names a process of this host that no longer
        exists; that counts a crash, and a run whose workers died ``max_attempts`` times is failed ("worker
        died") instead. Failed runs whose workers died that often stay failed unless ``retry_crashed`` (which
        also starts their crash count over). Runs leased by live workers are left to them (see
        :attr:`Recovery.leased`). Checkpoints are kept, so every run continues where it stopped.
        """

        def write(conn: Connection) -> Recovery:
            out = Recovery()
            now = time.time()
            dead = dead_leases(conn, study_id)
            rows = conn.execute(
                select(*LEASE_COLUMNS)
                .where((s.runs.c.study_id == study_id) & s.runs.c.status.in_(("running", "failed")))
                .order_by(s.runs.c.id)
                .with_for_update()
            ).all()
            for row in rows:
                bucket, values = recovery(row, now, dead, stale_after, max_attempts, retry_crashed)
                if values is not None:
                    this = (s.runs.c.id == row.id) & (s.runs.c.status == row.status)
                    conn.execute(update(s.runs).where(this).values(**values))
                if bucket == "leased":
                    left = (row.heartbeat_at or now) + stale_after - now
                    out.leased.append((row.key, row.lease_owner or "?", max(0.0, left)))
                else:
                    getattr(out, bucket).append(row.key)
            return out

        return self._write(write)

    # -- reading ----------------------------------------------------------------------------------------


def _batch_stored(conn: Connection, run_id: int, batch: EvaluationBatch) -> bool:
    n = conn.execute(
        select(s.evaluation_batches.c.n).where(
            (s.evaluation_batches.c.run_id == run_id)
            & (s.evaluation_batches.c.first_index == batch.first_index)
        )
    ).scalar()
    return n is not None and int(n) == batch.x.shape[0]
