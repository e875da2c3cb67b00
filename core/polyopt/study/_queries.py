"""The storage's read-only queries of runs: records, counts, checkpoints, evaluations and metrics.

:class:`RunQueries` is a mixin of :class:`polyopt.study.storage.Storage`, which supplies ``_read`` (one
transaction, retried like every other; see that module's docstring).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
from sqlalchemy import Connection, func, select

from polyopt.study import schema as s
from polyopt.study._records import EvaluationBatch, RunRecord, decode_batch, to_record

__all__ = ["STATUSES", "RunQueries"]

STATUSES = ("pending", "running", "done", "failed")


class RunQueries:
    """Reads of one study's runs."""

    _read: Callable[[Callable[[Connection], Any]], Any]

    def runs(self, study_id: int, *, with_results: bool = True) -> list[RunRecord]:
        """The study's runs in order; ``with_results=False`` skips the (possibly large) final fronts, for
        frequent polling."""
        cols = [c for c in s.runs.c if with_results or c.name != "result"]
        rows = self._read(
            lambda conn: conn.execute(
                select(*cols).where(s.runs.c.study_id == study_id).order_by(s.runs.c.id)
            ).all()
        )
        return [to_record(r) for r in rows]

    def _record(self, conn: Connection, run_id: int) -> RunRecord:
        return to_record(conn.execute(select(s.runs).where(s.runs.c.id == run_id)).one())

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
        parts = [decode_batch(r) for r in rows]
        return EvaluationBatch(
            first_index=parts[0].first_index,
            x=np.concatenate([p.x for p in parts]),
            f=np.concatenate([p.f for p in parts]),
            g=None
            if parts[0].g is None
            else np.concatenate([p.g for p in parts if p.g is not None]),
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
