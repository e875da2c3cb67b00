"""What the study storage hands out: runs as stored, batches of evaluations, what a resume did; and how they
map to rows (evaluations as raw little-endian float64 arrays)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from polyopt.study.definition import RunSpec

__all__ = ["RunRecord", "EvaluationBatch", "Recovery"]


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


def run_row(study_id: int, spec: RunSpec) -> dict[str, Any]:
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


def to_record(r: Any) -> RunRecord:
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


def encode_batch(b: EvaluationBatch) -> dict[str, Any]:
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


def decode_batch(r: Any) -> EvaluationBatch:
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
