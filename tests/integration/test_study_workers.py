"""Several worker processes on one study never run the same run twice (SQLite, and PostgreSQL when available)."""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from polyopt.study.storage import Storage

STUDY = """
[study]
name = "crowd"
seeds = 4
budget = {{ evaluations = 96 }}
checkpoint_every = 2
storage = "{url}"

[metrics]
record = ["hv"]
every = 2

[[optimizers]]
name = "random-search"
config = {{ batch_size = 8 }}

[[optimizers]]
name = "sobol-search"
config = {{ batch_size = 8 }}

[[problems]]
name = "zdt1"
options = {{ n_var = 4 }}
"""


def _crowd(tmp_path: Path, url: str, n_workers: int = 3) -> Storage:
    """Start ``n_workers`` independent `polyopt study run` processes on one study and wait for all."""
    study_file = tmp_path / "crowd.toml"
    study_file.write_text(STUDY.format(url=url))
    cmd = [
        sys.executable,
        "-m",
        "polyopt.study.cli",
        "run",
        str(study_file),
        "--quiet",
        "--no-report",
    ]
    procs = [
        subprocess.Popen(
            cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=dict(os.environ)
        )
        for _ in range(n_workers)
    ]
    errors = [p.communicate(timeout=120)[1].decode() for p in procs]
    assert all(p.returncode == 0 for p in procs), errors
    return Storage(url)


def _check_each_run_once(storage: Storage) -> None:
    runs = storage.runs(storage.study_id("crowd"))
    assert len(runs) == 8
    for r in runs:
        assert r.status == "done"
        assert r.attempts == 1, f"{r.key} was claimed {r.attempts} times"
        ev = storage.evaluations(r.id)
        assert ev.x.shape[0] == r.n_evaluations == 96


def test_sqlite_workers_never_share_a_run(tmp_path: Path) -> None:
    storage = _crowd(tmp_path, f"sqlite:///{tmp_path / 'crowd.sqlite'}")
    _check_each_run_once(storage)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    base = os.environ.get("POLYOPT_TEST_POSTGRES_URL")
    if not base:
        pytest.skip(
            "POLYOPT_TEST_POSTGRES_URL is not set (CI's .ci/run starts a PostgreSQL server and sets it)"
        )
    from polyopt.study.pgschema import drop_schema, schema_url

    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield schema_url(base, schema)
    drop_schema(base, schema)


@pytest.mark.postgres
def test_postgres_workers_never_share_a_run(tmp_path: Path, postgres_url: str) -> None:
    storage = _crowd(tmp_path, postgres_url, n_workers=2)
    _check_each_run_once(storage)
    storage.close()
