"""Study storage: schema migrations from an older database, atomic claims, leases (stale, or naming a process
that is gone), worker deaths counted against max_attempts, retried outages, safe checkpoints, masked URLs."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from sqlalchemy import create_engine, inspect, text, update
from sqlalchemy.exc import OperationalError

from polyopt import ConfigError
from polyopt.study import Study
from polyopt.study import schema as s
from polyopt.study.runner import load_state
from polyopt.study.storage import (
    EvaluationBatch,
    LeaseLost,
    Storage,
    StorageUnavailable,
    host_id,
    mask_url,
    process_alive,
    redact,
)

# The version-1 schema exactly as polyopt 0.1 wrote it (frozen here, independent of the code under test).
V1_SQL = [
    "CREATE TABLE schema_version (version INTEGER NOT NULL)",
    "INSERT INTO schema_version (version) VALUES (1)",
    "CREATE TABLE studies (id INTEGER PRIMARY KEY, name VARCHAR(200) NOT NULL UNIQUE, fingerprint VARCHAR(64) "
    "NOT NULL, definition TEXT NOT NULL, created_at FLOAT NOT NULL)",
    "CREATE TABLE runs (id INTEGER PRIMARY KEY, study_id INTEGER NOT NULL REFERENCES studies(id), key VARCHAR(400) "
    "NOT NULL, spec TEXT NOT NULL, status VARCHAR(16) NOT NULL, attempts INTEGER NOT NULL, lease_owner "
    "VARCHAR(200), heartbeat_at FLOAT, started_at FLOAT, finished_at FLOAT, n_evaluations INTEGER NOT NULL, "
    "n_steps INTEGER NOT NULL, wall_time FLOAT NOT NULL, error TEXT, result TEXT, UNIQUE (study_id, key))",
    "CREATE TABLE checkpoints (run_id INTEGER PRIMARY KEY REFERENCES runs(id), step INTEGER NOT NULL, "
    "n_evaluations INTEGER NOT NULL, state BLOB NOT NULL, created_at FLOAT NOT NULL)",
    "CREATE TABLE evaluation_batches (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), "
    "first_index INTEGER NOT NULL, n INTEGER NOT NULL, x BLOB NOT NULL, f BLOB NOT NULL, g BLOB, "
    "failed BLOB NOT NULL, elapsed BLOB NOT NULL, UNIQUE (run_id, first_index))",
    "CREATE TABLE step_metrics (id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), "
    'step INTEGER NOT NULL, n_evaluations INTEGER NOT NULL, elapsed FLOAT NOT NULL, "values" TEXT NOT NULL)',
]


def _study(tmp_path: Path, **kw) -> Study:
    base = dict(
        optimizers=["random-search"], problems=["zdt1"], seeds=2, budget=32, base_dir=tmp_path
    )
    return Study("st", **{**base, **kw})


def _batch(first: int, n: int) -> EvaluationBatch:
    rng = np.random.default_rng(first)
    return EvaluationBatch(
        first_index=first,
        x=rng.random((n, 3)),
        f=rng.random((n, 2)),
        g=None,
        failed=rng.random(n) < 0.3,
        elapsed=np.arange(n, dtype=np.float64),
    )


def test_database_written_by_schema_v1_is_migrated_and_its_runs_survive(tmp_path: Path) -> None:
    study = _study(tmp_path)
    url = f"sqlite:///{tmp_path / 'old.sqlite'}"
    engine = create_engine(url)
    spec = study.runs()[0]
    with engine.begin() as conn:
        for sql in V1_SQL:
            conn.execute(text(sql))
        conn.execute(
            text("INSERT INTO studies VALUES (1, 'st', :fp, :d, 0.0)"),
            {"fp": study.fingerprint(), "d": json.dumps(study.to_dict())},
        )
        conn.execute(
            text(
                "INSERT INTO runs (id, study_id, key, spec, status, attempts, n_evaluations, n_steps, "
                "wall_time) VALUES (1, 1, :k, :spec, 'pending', 0, 0, 0, 0.0)"
            ),
            {"k": spec.key, "spec": json.dumps(spec.to_dict())},
        )
    engine.dispose()

    storage = Storage(url)
    with storage.engine.connect() as conn:
        assert s.current_version(conn) == s.SCHEMA_VERSION == 3
        cols = {c["name"] for c in inspect(conn).get_columns("runs")}
    assert {"resources", "crashes", "lease_host", "lease_pid", "live_evaluations"} <= cols
    runs = storage.runs(1)
    assert [r.key for r in runs] == [spec.key] and runs[0].spec == spec
    assert runs[0].crashes == 0 and runs[0].live_evaluations == 0 and runs[0].lease_pid is None
    assert storage.add_study(study) == 1 and len(storage.runs(1)) == 2  # the missing run is added


def test_fresh_database_matches_the_current_tables(storage_url: str) -> None:
    storage = Storage(storage_url)
    with storage.engine.connect() as conn:
        insp = inspect(conn)
        for table in s.metadata.sorted_tables:
            assert {c["name"] for c in insp.get_columns(table.name)} == set(table.c.keys()), (
                table.name
            )
        assert s.current_version(conn) == s.SCHEMA_VERSION
        if storage.dialect == "sqlite":
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    storage.close()


def test_database_from_a_newer_polyopt_is_refused(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'future.sqlite'}"
    Storage(url).close()
    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE schema_version SET version = 99"))
    with pytest.raises(RuntimeError, match="newer"):
        Storage(url)


def test_a_run_is_claimed_once_and_a_stale_lease_is_taken_over(
    tmp_path: Path, storage_url: str
) -> None:
    storage = Storage(storage_url)
    sid = storage.add_study(_study(tmp_path, seeds=1))
    first = storage.claim(sid, "a", stale_after=60)
    assert first is not None and first.attempts == 1
    assert storage.claim(sid, "b", stale_after=60) is None  # leased and fresh
    time.sleep(0.05)
    taken = storage.claim(sid, "b", stale_after=0.01)
    assert taken is not None and taken.id == first.id and taken.attempts == 2
    with pytest.raises(LeaseLost):  # the old owner can no longer write
        storage.save(
            first.id,
            "a",
            step=1,
            n_evaluations=4,
            wall_time=0.1,
            state=b"x",
            batch=_batch(0, 4),
            metrics=[],
        )
    assert storage.evaluations(first.id) is None and storage.checkpoint(first.id) is None
    assert not storage.heartbeat(first.id, "a", 4) and storage.heartbeat(first.id, "b", 4)


def test_evaluations_are_stored_in_batches_and_read_back_exactly(
    tmp_path: Path, storage_url: str
) -> None:
    storage = Storage(storage_url)
    sid = storage.add_study(_study(tmp_path, seeds=1))
    run = storage.claim(sid, "w", stale_after=60)
    b1, b2 = _batch(0, 5), _batch(5, 7)
    storage.save(
        run.id, "w", step=1, n_evaluations=5, wall_time=0.1, state=b"s1", batch=b1, metrics=[]
    )
    storage.save(
        run.id,
        "w",
        step=2,
        n_evaluations=12,
        wall_time=0.2,
        state=b"s2",
        batch=b2,
        metrics=[{"step": 2, "n_evaluations": 12, "elapsed": 0.2, "values": {"hv": 0.5}}],
        result={"f": [[1.0, 2.0]], "metrics": {"hv": 0.5}},
    )
    ev = storage.evaluations(run.id)
    np.testing.assert_array_equal(ev.x, np.concatenate([b1.x, b2.x]))
    np.testing.assert_array_equal(ev.failed, np.concatenate([b1.failed, b2.failed]))
    assert storage.checkpoint(run.id) == (2, 12, b"s2")  # only the latest checkpoint is kept
    done = storage.run(run.id)
    assert (
        done.status == "done" and done.result["metrics"]["hv"] == 0.5 and done.lease_owner is None
    )
    assert storage.metrics(run.id)[0]["values"] == {"hv": 0.5}


def test_failed_runs_are_retried_until_max_attempts(tmp_path: Path, storage_url: str) -> None:
    storage = Storage(storage_url)
    sid = storage.add_study(_study(tmp_path, seeds=1))
    for expected in ("pending", "failed"):
        run = storage.claim(sid, "w", stale_after=60)
        assert storage.fail(run.id, "w", "Traceback: boom", max_attempts=2) == expected
    assert storage.claim(sid, "w", stale_after=60) is None
    recovery = storage.recover(sid, stale_after=60, max_attempts=2)
    assert recovery.retried == ["random-search/zdt1/0"] and storage.counts(sid)["pending"] == 1
    assert storage.claim(sid, "w", stale_after=60).attempts == 1  # a resume gives fresh attempts


def test_a_stored_study_may_grow_but_its_runs_never_change(tmp_path: Path) -> None:
    storage = Storage(f"sqlite:///{tmp_path / 'd.sqlite'}")
    sid = storage.add_study(_study(tmp_path))
    assert (
        storage.add_study(_study(tmp_path, seeds=3)) == sid
    )  # one more seed: one more run per cell
    assert len(storage.runs(sid)) == 3 and storage.load_study("st").seeds == [0, 1, 2]
    with pytest.raises(ConfigError, match="defined differently"):
        storage.add_study(_study(tmp_path, seeds=3, budget=64))
    with pytest.raises(ConfigError, match="drops"):
        storage.add_study(_study(tmp_path, seeds=1))
    with pytest.raises(ConfigError, match="metrics"):
        storage.add_study(_study(tmp_path, seeds=3, metrics=["igd"]))


def test_checkpoints_never_unpickle_arbitrary_objects() -> None:
    buf = io.BytesIO()
    torch.save({"state": Path("/etc")}, buf)  # an object that is not a tensor or plain data
    with pytest.raises(Exception, match="[Ww]eights only"):
        load_state(buf.getvalue())
    buf = io.BytesIO()
    torch.save({"t": torch.arange(3), "n": 1, "s": "x"}, buf)
    assert load_state(buf.getvalue())["t"].tolist() == [0, 1, 2]


# -- leases of processes that are gone, and worker deaths ----------------------------------------------------


def _gone_pid() -> int:
    """The id of a process of this host that has exited (and been reaped)."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def _set(storage: Storage, run_id: int, **values: Any) -> None:
    with storage.engine.begin() as conn:
        conn.execute(update(s.runs).where(s.runs.c.id == run_id).values(**values))


def test_a_lease_names_its_host_and_process(tmp_path: Path, storage_url: str) -> None:
    storage = Storage(storage_url)
    sid = storage.add_study(_study(tmp_path, seeds=1))
    run = storage.claim(sid, "w", stale_after=60)
    assert run.lease_host == host_id() and run.lease_pid == os.getpid()
    storage.release(run.id, "w")
    back = storage.run(run.id)
    assert back.status == "pending" and back.attempts == 0 and back.lease_pid is None


def test_a_run_leased_to_a_process_that_is_gone_is_taken_over_at_once(
    tmp_path: Path, storage_url: str
) -> None:
    storage = Storage(storage_url)
    sid = storage.add_study(_study(tmp_path, seeds=1))
    run = storage.claim(sid, "dead", stale_after=60)
    _set(storage, run.id, lease_pid=_gone_pid())
    taken = storage.claim(sid, "heir", stale_after=60)  # the heartbeat is fresh, the process is not
    assert taken is not None and taken.id == run.id and taken.lease_owner == "heir"
    assert taken.crashes == 1 and taken.attempts == 2 and "the process is gone" in taken.error


def test_a_fresh_lease_of_a_live_process_or_another_host_is_left_alone(
    tmp_path: Path, storage_url: str
) -> None:
    storage = Storage(storage_url)
    sid = storage.add_study(_study(tmp_path, seeds=1))
    run = storage.claim(sid, "other", stale_after=60)
    _set(storage, run.id, lease_host="elsewhere", lease_pid=_gone_pid())
    assert storage.claim(sid, "me", stale_after=60) is None  # another host: only staleness counts
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        _set(storage, run.id, lease_host=host_id(), lease_pid=sleeper.pid)
        assert storage.claim(sid, "me", stale_after=60) is None  # alive on this host
    finally:
        sleeper.kill()
        sleeper.wait()
    assert storage.claim(sid, "me", stale_after=60).lease_owner == "me"


def test_process_alive_sees_exited_and_zombie_processes() -> None:
    assert process_alive(os.getpid())
    assert not process_alive(_gone_pid())
    zombie = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 30
    while process_alive(zombie.pid) and time.monotonic() < deadline:
        time.sleep(0.05)  # exited but not reaped: a zombie
    assert not process_alive(zombie.pid)
    zombie.wait()


def test_a_run_whose_workers_keep_dying_fails_with_worker_died(
    tmp_path: Path, storage_url: str
) -> None:
    storage = Storage(storage_url)
    sid = storage.add_study(_study(tmp_path, seeds=2))
    for attempt in (1, 2, 3):
        run = storage.claim(sid, f"w{attempt}", stale_after=60, max_attempts=3)
        assert run.key == "random-search/zdt1/0" and run.attempts == attempt
        assert run.crashes == attempt - 1
        _set(storage, run.id, lease_pid=_gone_pid())  # its worker died
    # after the third death the run is failed, not handed out again, and the next run is claimed instead
    nxt = storage.claim(sid, "w4", stale_after=60, max_attempts=3)
    assert nxt.key == "random-search/zdt1/1"
    dead = storage.run(run.id)
    assert dead.status == "failed" and dead.crashes == 3 and dead.lease_owner is None
    assert dead.last_error.startswith("worker died 3 time(s)")

    # a resume leaves it failed (its count is not reset) unless asked; then it starts over
    recovery = storage.recover(sid, stale_after=60, max_attempts=3)
    assert recovery.kept_failed == [dead.key] and recovery.retried == []
    assert recovery.leased == [(nxt.key, "w4", pytest.approx(60, abs=5))]
    assert storage.run(run.id).status == "failed"
    recovery = storage.recover(sid, stale_after=60, max_attempts=3, retry_crashed=True)
    again = storage.run(run.id)
    assert recovery.retried == [dead.key] and again.status == "pending" and again.crashes == 0


def test_a_resume_counts_the_abandoned_lease_and_keeps_the_count(
    tmp_path: Path, storage_url: str
) -> None:
    storage = Storage(storage_url)
    sid = storage.add_study(_study(tmp_path, seeds=1))
    run = storage.claim(sid, "w", stale_after=60)
    _set(storage, run.id, lease_pid=_gone_pid())
    recovery = storage.recover(sid, stale_after=60, max_attempts=2)
    back = storage.run(run.id)
    assert recovery.reclaimed == [run.key] and back.status == "pending" and back.crashes == 1
    run = storage.claim(sid, "w", stale_after=60, max_attempts=2)
    _set(storage, run.id, heartbeat_at=time.time() - 120)  # its worker stalled: a stale lease
    recovery = storage.recover(sid, stale_after=60, max_attempts=2)
    dead = storage.run(run.id)
    assert recovery.died == [run.key] and dead.status == "failed" and dead.crashes == 2
    assert "no heartbeat for 1" in dead.last_error


def test_heartbeats_show_progress_while_the_stored_count_stays_the_checkpoints(
    tmp_path: Path, storage_url: str
) -> None:
    storage = Storage(storage_url)
    sid = storage.add_study(_study(tmp_path, seeds=1))
    run = storage.claim(sid, "w", stale_after=60)
    storage.save(
        run.id,
        "w",
        step=1,
        n_evaluations=5,
        wall_time=0.1,
        state=b"s",
        batch=_batch(0, 5),
        metrics=[],
    )
    assert storage.heartbeat(run.id, "w", 17)
    live = storage.run(run.id)
    assert live.n_evaluations == 5 and live.live_evaluations == 17
    _set(storage, run.id, lease_pid=_gone_pid())  # the worker dies: what is stored is what counts
    storage.recover(sid, stale_after=60, max_attempts=3)
    after = storage.run(run.id)
    assert after.n_evaluations == after.live_evaluations == 5
    assert storage.evaluations(run.id).x.shape[0] == 5


def test_a_study_is_deleted_with_everything_it_stored(tmp_path: Path, storage_url: str) -> None:
    storage = Storage(storage_url)
    sid = storage.add_study(_study(tmp_path, seeds=2))
    storage.add_study(Study("other", optimizers=["random-search"], problems=["zdt1"], seeds=1))
    run = storage.claim(sid, "w", stale_after=60)
    storage.save(
        run.id,
        "w",
        step=1,
        n_evaluations=5,
        wall_time=0.1,
        state=b"s",
        batch=_batch(0, 5),
        metrics=[{"step": 1, "n_evaluations": 5, "elapsed": 0.1, "values": {}}],
    )
    assert storage.delete_study("st") == 2
    assert storage.study_names() == ["other"]
    assert storage.evaluations(run.id) is None and storage.checkpoint(run.id) is None
    assert storage.metrics(run.id) == []
    with pytest.raises(ConfigError, match="no study named 'st'"):
        storage.delete_study("st")


# -- outages -----------------------------------------------------------------------------------------


class _Flaky:
    """An engine stand-in whose transactions fail like a restarting server: ``refuse`` times before the
    transaction runs, then (``drop_after_commit``) once after it committed, as when the connection dies
    before the commit's acknowledgement arrives."""

    def __init__(self, engine: Any, *, refuse: int = 0, drop_after_commit: bool = False) -> None:
        self.engine = engine
        self.refuse = refuse
        self.drop_after_commit = drop_after_commit
        self.calls = 0

    @contextmanager
    def begin(self) -> Iterator[Any]:
        self.calls += 1
        if self.refuse:
            self.refuse -= 1
            raise OperationalError("connect", {}, Exception("connection refused"))
        with self.engine.begin() as conn:
            yield conn
        if self.drop_after_commit:
            self.drop_after_commit = False
            raise OperationalError(
                "COMMIT",
                {},
                Exception("server closed the connection unexpectedly"),
                connection_invalidated=True,
            )

    def dispose(self) -> None:
        self.engine.dispose()


def test_a_short_outage_is_retried(tmp_path: Path, storage_url: str) -> None:
    storage = Storage(storage_url)
    sid = storage.add_study(_study(tmp_path, seeds=1))
    storage.engine = _Flaky(storage.engine, refuse=3)
    assert storage.claim(sid, "w", stale_after=60) is not None
    assert storage.engine.calls == 4


def test_a_long_outage_fails_with_one_line_and_no_password(tmp_path: Path) -> None:
    storage = Storage(f"sqlite:///{tmp_path / 'x.sqlite'}", retry_seconds=0.3)
    storage.url = "postgresql+psycopg://me:s3cret@db.example/x"  # as the message would name it
    storage.engine = _Flaky(storage.engine, refuse=10_000)
    with pytest.raises(
        StorageUnavailable, match=r"me:\*\*\*@db.example.*connection refused"
    ) as exc:
        storage.study_names()
    assert "s3cret" not in str(exc.value)


def test_errors_that_are_not_outages_are_not_retried(tmp_path: Path) -> None:
    storage = Storage(f"sqlite:///{tmp_path / 'x.sqlite'}")
    calls = []

    def broken(conn: Any) -> None:
        calls.append(1)
        conn.execute(text("SELECT * FROM no_such_table"))

    with pytest.raises(OperationalError, match="no such table"):
        storage._write(broken)
    assert len(calls) == 1


def test_a_checkpoint_whose_commit_looked_failed_is_not_stored_twice(
    tmp_path: Path, storage_url: str
) -> None:
    storage = Storage(storage_url)
    sid = storage.add_study(_study(tmp_path, seeds=1))
    run = storage.claim(sid, "w", stale_after=60)
    storage.engine = _Flaky(storage.engine, drop_after_commit=True)
    metrics = [{"step": 1, "n_evaluations": 5, "elapsed": 0.1, "values": {"hv": 0.1}}]
    storage.save(
        run.id,
        "w",
        step=1,
        n_evaluations=5,
        wall_time=0.1,
        state=b"s",
        batch=_batch(0, 5),
        metrics=metrics,
    )
    assert storage.engine.calls == 2  # committed, reported as failed, retried
    assert storage.evaluations(run.id).x.shape[0] == 5
    assert [m["step"] for m in storage.metrics(run.id)] == [1]


def test_a_claim_whose_commit_looked_failed_returns_the_run_it_took(
    tmp_path: Path, storage_url: str
) -> None:
    storage = Storage(storage_url)
    sid = storage.add_study(_study(tmp_path, seeds=2))
    storage.engine = _Flaky(storage.engine, drop_after_commit=True)
    run = storage.claim(sid, "w", stale_after=60)
    assert run.key == "random-search/zdt1/0"
    assert storage.counts(sid) == {"pending": 1, "running": 1, "done": 0, "failed": 0}


def test_passwords_are_masked() -> None:
    url = "postgresql+psycopg://polyopt:p%40ss@127.0.0.1:5432/db"
    assert mask_url(url) == "postgresql+psycopg://polyopt:***@127.0.0.1:5432/db"
    assert redact("failed for p@ss and p%40ss", url) == "failed for *** and ***"
    assert redact("nothing to hide", "sqlite:///x.sqlite") == "nothing to hide"
