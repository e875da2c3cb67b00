"""Storage URLs for study tests: SQLite always, PostgreSQL when POLYOPT_TEST_POSTGRES_URL names a server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def storage_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty study database (a PostgreSQL schema of its own, dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'study.sqlite'}"
        return
    base = os.environ.get("POLYOPT_TEST_POSTGRES_URL")
    if not base:
        pytest.skip(
            "POLYOPT_TEST_POSTGRES_URL is not set (CI's .ci/run starts a PostgreSQL server and sets it)"
        )
    from polyopt.study.pgschema import drop_schema, schema_url

    schema = f"test_{uuid.uuid4().hex[:12]}"
    yield schema_url(base, schema)
    drop_schema(base, schema)
