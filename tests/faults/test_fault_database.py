"""A database outage of a few seconds while two workers run a study: SQLite locked by another process;
PostgreSQL restarted for real (``pg_ctlcluster ... restart`` on the cluster CI starts for this, when the test may
run it) or else cut off by a TCP proxy that drops every connection and refuses new ones. The workers retry
with backoff: the study finishes, exit code 0, and the record equals an uninterrupted run."""

from __future__ import annotations

import os
import random
import shutil
import sqlite3
import subprocess
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from faultkit import (
    Backend,
    Proxy,
    assert_exact,
    checkpoints,
    finish,
    no_traceback,
    polyopt,
    postgres_base,
    reference,
    study_toml,
    wait_for,
)
from sqlalchemy.engine import make_url

from polyopt.study.storage import Storage

#: seconds each outage lasts (a PostgreSQL restart takes about 2-3 s here)
OUTAGE = 3.0


@contextmanager
def _outage(backend: Backend, tmp_path: Path) -> Iterator[tuple[str, Callable[[], None]]]:
    """``(study URL, cut)``: ``cut()`` makes the study's database unavailable for a few seconds."""
    if backend.kind == "sqlite":
        path = make_url(backend.url).database

        def lock() -> None:  # another process holds the write lock: every transaction waits
            conn = sqlite3.connect(path, timeout=30, isolation_level=None)
            conn.execute("BEGIN EXCLUSIVE")
            time.sleep(OUTAGE)
            conn.execute("ROLLBACK")
            conn.close()

        yield backend.url, lock
        return
    from polyopt.study.pgschema import drop_schema, schema_url

    cluster = os.environ.get("POLYOPT_TEST_POSTGRES_RESTART", "").split()
    if len(cluster) == 2 and os.geteuid() == 0 and shutil.which("pg_ctlcluster"):
        base = postgres_base("POLYOPT_TEST_POSTGRES_RESTART_URL")
        schema = f"faults_{uuid.uuid4().hex[:12]}"
        url = schema_url(base, schema)

        def restart() -> None:
            subprocess.run(["pg_ctlcluster", *cluster, "restart"], check=True, timeout=120)

        try:
            yield url, restart
        finally:
            wait_for(lambda: _reachable(base), "the restarted server")
            drop_schema(base, schema)
        return
    assert backend.base is not None
    server = make_url(backend.url)
    proxy = Proxy(server.host or "127.0.0.1", server.port or 5432)
    try:
        via = server.set(host="127.0.0.1", port=proxy.port)
        yield via.render_as_string(hide_password=False), lambda: proxy.outage(OUTAGE)
    finally:
        proxy.close()


def _reachable(url: str) -> bool:
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return conn.execute(text("SELECT 1")).scalar() == 1
    finally:
        engine.dispose()


def test_a_database_outage_of_a_few_seconds_is_ridden_out(backend: Backend, tmp_path: Path) -> None:
    seed = int(os.environ.get("POLYOPT_FAULT_SEED") or random.randrange(10**6))
    print(f"outage times drawn with POLYOPT_FAULT_SEED={seed}")
    rng = random.Random(seed)
    with _outage(backend, tmp_path) as (url, cut):
        text = study_toml("outage", url)
        ref = reference(tmp_path, text)
        path = tmp_path / "outage.toml"
        path.write_text(text)
        storage = Storage(url)
        proc = polyopt("run", str(path), "--workers", "2", "--quiet", "--no-report")
        wait_for(lambda: checkpoints(storage, "outage") >= 1, "a first checkpoint")
        cuts = 0
        for _ in range(2):
            time.sleep(rng.uniform(0.0, 1.0))
            if proc.poll() is not None:
                break
            cutter = threading.Thread(target=cut)
            cutter.start()
            cutter.join()
            cuts += 1
        code, _out, err = finish(proc)
        assert cuts >= 1, "the study finished before the outage: make it longer"
        assert code == 0, err
        no_traceback(err)
        assert_exact(storage, "outage", ref)
        runs = storage.runs(storage.study_id("outage"))
        assert all(r.attempts == 1 and r.crashes == 0 for r in runs), [
            (r.key, r.attempts, r.crashes, r.error) for r in runs
        ]
        storage.close()
