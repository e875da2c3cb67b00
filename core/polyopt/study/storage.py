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
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote

import numpy as np
from sqlalchemy import (
    Connection,
    Engine,
    case,
    create_engine,
    delete,
    event,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError

from polyopt.errors import ConfigError, PolyoptError
from polyopt.study import schema as s
from polyopt.study.definition import RunSpec, Study

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

STATUSES = ("pending", "running", "done", "failed")
T = TypeVar("T")

#: How long a storage that has not yet reached its database keeps retrying: long enough for a restart, short
#: enough that a wrong port fails quickly.
FIRST_CONNECT_SECONDS = 5.0

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


class LeaseLost(PolyoptError):
    """This worker no longer owns the run (another worker took it over after the lease went stale)."""


class StorageUnavailable(PolyoptError):
    """The database stayed unreachable for longer than the storage's ``retry_seconds``."""


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


def host_id() -> str:
    """This machine, as leases name it: a lease whose ``lease_host`` equals this may be judged by its process
    id. The host name alone is not enough (cloned machines share one, and the first pid namespace has the same
    number everywhere), so on Linux it adds the boot id (one per boot of one machine) and the pid namespace
    (one per container); elsewhere the hardware address, which :func:`uuid.getnode` makes up per process when it
    cannot read one -- then no other process matches, and only stale leases are taken over."""
    name = socket.gethostname()
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            boot = f.read().strip()[:13]
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return f"{name}/{uuid.getnode():012x}"
    return f"{name}/{boot}/{namespace.removeprefix('pid:[').rstrip(']')}"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host (and namespace) still exists; True when unsure.

    A zombie (exited, not yet reaped by its parent) counts as gone.
    """
    if os.name != "posix" or pid <= 0:
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, as another user
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


@dataclass
class RunRecord:
    """A run as stored.

    ``n_evaluations`` is what the storage holds (the latest checkpoint's count); ``live_evaluations`` what the
    worker leasing it last reported (progress only, lost when the worker dies).
    """

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
    crashes: int = 0
    lease_host: str | None = None
    lease_pid: int | None = None
    live_evaluations: int = 0

    @property
    def last_error(self) -> str:
        """The last non-empty line of :attr:`error` (an exception's type and message), or ""."""
        lines = [line.strip() for line in (self.error or "").splitlines() if line.strip()]
        return lines[-1] if lines else ""


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


@dataclass
class Recovery:
    """What :meth:`Storage.recover` did (run keys in each list).

    Attributes:
        reclaimed: running runs whose worker is gone (process ended, or lease stale), made pending again.
        died: running runs whose worker is gone and whose workers died ``max_attempts`` times: failed now.
        retried: failed runs made pending again.
        kept_failed: failed runs left failed because their workers died ``max_attempts`` times.
        leased: runs leased by live workers: ``(key, owner, seconds until the lease goes stale)``.
    """

    reclaimed: list[str] = field(default_factory=list)
    died: list[str] = field(default_factory=list)
    retried: list[str] = field(default_factory=list)
    kept_failed: list[str] = field(default_factory=list)
    leased: list[tuple[str, str, float]] = field(default_factory=list)


class Storage:
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
        self.engine = _make_engine(url)
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
                kind = _transient(exc, self.dialect)
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
                dead = self._dead_leases(conn, study_id)
                abandoned = _abandoned(now - stale_after, dead)
                where = (s.runs.c.study_id == study_id) & or_(
                    s.runs.c.status == "pending", abandoned
                )
                if run_id is not None:
                    where = where & (s.runs.c.id == run_id)
                rows = conn.execute(
                    select(*_LEASE_COLUMNS)
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
                    if row.status == "running" and _gives_up(row, max_attempts):
                        error = _died_error(row, now, max_attempts, dead)
                        done = conn.execute(update(s.runs).where(this).values(**_failed(error)))
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
                            error=_crash_note(row, now, dead)
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

    def _dead_leases(self, conn: Connection, study_id: int) -> list[int]:
        """Ids of the study's running runs leased to processes of this host that no longer exist."""
        rows = conn.execute(
            select(s.runs.c.id, s.runs.c.lease_pid).where(
                (s.runs.c.study_id == study_id)
                & (s.runs.c.status == "running")
                & (s.runs.c.lease_host == host_id())
                & (s.runs.c.lease_pid != os.getpid())
            )
        ).all()
        return [rid for rid, pid in rows if pid is not None and not process_alive(int(pid))]

    def heartbeat(self, run_id: int, owner: str, n_evaluations: int) -> bool:
        """Renew the lease and report live progress (``n_evaluations`` made so far, stored or not); False if
        this worker no longer owns the run."""

        def beat(conn: Connection) -> bool:
            done = conn.execute(
                update(s.runs)
                .where(_owned(run_id, owner))
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
                    **_NO_LEASE,
                )
            if (
                conn.execute(update(s.runs).where(_owned(run_id, owner)).values(**values)).rowcount
                != 1
            ):
                raise LeaseLost(f"run {run_id} is no longer leased to {owner}")
            if (
                batch is not None
                and batch.x.shape[0]
                and not (calls > 1 and _batch_stored(conn, run_id, batch))
            ):
                conn.execute(
                    insert(s.evaluation_batches).values(run_id=run_id, **_encode_batch(batch))
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
                .where(_owned(run_id, owner))
                .values(
                    status=status,
                    error=error,
                    live_evaluations=s.runs.c.n_evaluations,
                    **_NO_LEASE,
                )
            )
            return status

        return self._write(write)

    def release(self, run_id: int, owner: str) -> None:
        """Give a run back (pending) without counting an attempt, e.g. on Ctrl-C."""
        self._write(
            lambda conn: conn.execute(
                update(s.runs)
                .where(_owned(run_id, owner))
                .values(
                    status="pending",
                    attempts=s.runs.c.attempts - 1,
                    live_evaluations=s.runs.c.n_evaluations,
                    **_NO_LEASE,
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
            dead = self._dead_leases(conn, study_id)
            rows = conn.execute(
                select(*_LEASE_COLUMNS)
                .where((s.runs.c.study_id == study_id) & s.runs.c.status.in_(("running", "failed")))
                .order_by(s.runs.c.id)
                .with_for_update()
            ).all()
            for row in rows:
                this = (s.runs.c.id == row.id) & (s.runs.c.status == row.status)
                if row.status == "running" and not (
                    row.id in dead or (row.heartbeat_at or 0.0) < now - stale_after
                ):
                    left = (row.heartbeat_at or now) + stale_after - now
                    out.leased.append((row.key, row.lease_owner or "?", max(0.0, left)))
                elif row.status == "running" and row.crashes + 1 >= max_attempts:
                    conn.execute(
                        update(s.runs)
                        .where(this)
                        .values(**_failed(_died_error(row, now, max_attempts, dead)))
                    )
                    out.died.append(row.key)
                elif row.status == "running":
                    conn.execute(
                        update(s.runs)
                        .where(this)
                        .values(
                            status="pending",
                            attempts=0,
                            crashes=s.runs.c.crashes + 1,
                            error=_crash_note(row, now, dead),
                            live_evaluations=s.runs.c.n_evaluations,
                            **_NO_LEASE,
                        )
                    )
                    out.reclaimed.append(row.key)
                elif row.crashes >= max_attempts and not retry_crashed:
                    out.kept_failed.append(row.key)
                else:
                    crashes = 0 if retry_crashed else s.runs.c.crashes
                    conn.execute(
                        update(s.runs)
                        .where(this)
                        .values(status="pending", attempts=0, crashes=crashes, finished_at=None)
                    )
                    out.retried.append(row.key)
            return out

        return self._write(write)

    # -- reading ----------------------------------------------------------------------------------------

    def runs(self, study_id: int, *, with_results: bool = True) -> list[RunRecord]:
        """The study's runs in order; ``with_results=False`` skips the (possibly large) final fronts, for
        frequent polling."""
        cols = [c for c in s.runs.c if with_results or c.name != "result"]
        rows = self._read(
            lambda conn: conn.execute(
                select(*cols).where(s.runs.c.study_id == study_id).order_by(s.runs.c.id)
            ).all()
        )
        return [_to_record(r) for r in rows]

    def _record(self, conn: Connection, run_id: int) -> RunRecord:
        return _to_record(conn.execute(select(s.runs).where(s.runs.c.id == run_id)).one())

    def run(self, run_id: int) -> RunRecord:
        return self._read(lambda conn: self._record(conn, run_id))

    def counts(self, study_id: int) -> dict[str, int]:
        """Runs by status (every status present, zeros included)."""
        rows = self._read(
            lambda conn: conn.execute(
                select(s.runs.c.status, func.count())
                .where(s.runs.c.study_id == study_id)
                .group_by(s.runs.c.status)
            ).all()
        )
        return {**dict.fromkeys(STATUSES, 0), **{r[0]: int(r[1]) for r in rows}}

    def checkpoint(self, run_id: int) -> tuple[int, int, bytes] | None:
        """``(step, n_evaluations, state bytes)`` of the run's latest checkpoint, or None."""
        row = self._read(
            lambda conn: conn.execute(
                select(
                    s.checkpoints.c.step, s.checkpoints.c.n_evaluations, s.checkpoints.c.state
                ).where(s.checkpoints.c.run_id == run_id)
            ).first()
        )
        return None if row is None else (int(row[0]), int(row[1]), bytes(row[2]))

    def evaluations(self, run_id: int) -> EvaluationBatch | None:
        """Every stored evaluation of the run, concatenated in order (None if there is none)."""
        rows = self._read(
            lambda conn: conn.execute(
                select(s.evaluation_batches)
                .where(s.evaluation_batches.c.run_id == run_id)
                .order_by(s.evaluation_batches.c.first_index)
            ).all()
        )
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
        rows = self._read(
            lambda conn: conn.execute(
                select(s.step_metrics)
                .where(s.step_metrics.c.run_id == run_id)
                .order_by(s.step_metrics.c.step)
            ).all()
        )
        return [
            {
                "step": r.step,
                "n_evaluations": r.n_evaluations,
                "elapsed": r.elapsed,
                "values": json.loads(r.values),
            }
            for r in rows
        ]


_NO_LEASE: dict[str, Any] = dict(lease_owner=None, lease_host=None, lease_pid=None)
_LEASE_COLUMNS = (
    s.runs.c.id,
    s.runs.c.key,
    s.runs.c.status,
    s.runs.c.attempts,
    s.runs.c.crashes,
    s.runs.c.lease_owner,
    s.runs.c.lease_pid,
    s.runs.c.heartbeat_at,
    s.runs.c.error,
)


def _abandoned(stale_before: float, dead: list[int]) -> Any:
    """Running runs whose heartbeat is older than ``stale_before`` or whose process is gone."""
    gone = s.runs.c.heartbeat_at < stale_before
    if dead:
        gone = gone | s.runs.c.id.in_(dead)
    return (s.runs.c.status == "running") & gone


def _gives_up(row: Any, max_attempts: int | None) -> bool:
    """Whether an abandoned run has used up its attempts (counting the crash being taken over)."""
    return max_attempts is not None and (
        row.crashes + 1 >= max_attempts or row.attempts >= max_attempts
    )


def _why_gone(row: Any, now: float, dead: list[int] | None = None) -> str:
    if dead is not None and row.id in dead:
        return f"{row.lease_owner}: the process is gone"
    if row.heartbeat_at is None:
        return f"{row.lease_owner}: no heartbeat"
    return f"{row.lease_owner}: no heartbeat for {now - row.heartbeat_at:.0f} s"


def _crash_note(row: Any, now: float, dead: list[int] | None = None) -> str:
    return f"worker died ({_why_gone(row, now, dead)}); crash {row.crashes + 1}, taken over"


def _died_error(
    row: Any, now: float, max_attempts: int | None, dead: list[int] | None = None
) -> str:
    return (
        f"worker died {row.crashes + 1} time(s), attempts {row.attempts} of {max_attempts} "
        f"(last {_why_gone(row, now, dead)}): the run may crash its worker (a segfault, the "
        "out-of-memory killer, os._exit)"
    )


def _failed(error: str) -> dict[str, Any]:
    return dict(
        status="failed",
        error=error,
        crashes=s.runs.c.crashes + 1,
        finished_at=time.time(),
        live_evaluations=s.runs.c.n_evaluations,
        **_NO_LEASE,
    )


def _batch_stored(conn: Connection, run_id: int, batch: EvaluationBatch) -> bool:
    n = conn.execute(
        select(s.evaluation_batches.c.n).where(
            (s.evaluation_batches.c.run_id == run_id)
            & (s.evaluation_batches.c.first_index == batch.first_index)
        )
    ).scalar()
    return n is not None and int(n) == batch.x.shape[0]


def _transient(exc: DBAPIError, dialect: str) -> str | None:
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
        crashes=0,
        n_evaluations=0,
        live_evaluations=0,
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
        crashes=r.crashes,
        lease_host=r.lease_host,
        lease_pid=r.lease_pid,
        live_evaluations=r.live_evaluations,
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
