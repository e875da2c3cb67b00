"""Fault-injection tests: every scenario on SQLite and, when POLYOPT_TEST_POSTGRES_URL names a server (CI's
.ci/run starts one), on PostgreSQL, each in a schema of its own."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from faultkit import Backend, postgres_base


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite:///{tmp_path / 'study.sqlite'}")
        return
    base = postgres_base()
    from polyopt.study.pgschema import drop_schema, schema_url

    schema = f"faults_{uuid.uuid4().hex[:12]}"
    yield Backend("postgres", schema_url(base, schema), base)
    drop_schema(base, schema)
