"""Study storage: schema migrations from an older database, atomic claims, leases, safe checkpoints."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from sqlalchemy import create_engine, inspect, text

from polyopt import ConfigError
from polyopt.study import Study
from polyopt.study import schema as s
from polyopt.study.runner import load_state
from polyopt.study.storage import EvaluationBatch, LeaseLost, Storage

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
        assert s.current_version(conn) == s.SCHEMA_VERSION == 2
        cols = {c["name"] for c in inspect(conn).get_columns("runs")}
    assert "resources" in cols
    runs = storage.runs(1)
    assert [r.key for r in runs] == [spec.key] and runs[0].spec == spec
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
    assert storage.reset(sid) == 1 and storage.counts(sid)["pending"] == 1


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
