"""The worker: budgets, batched evaluation storage, metrics cadence, failures and lost leases."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from sqlalchemy import func, select

from polyopt.study import Study
from polyopt.study import schema as s
from polyopt.study.runner import Worker
from polyopt.study.storage import Storage
from polyopt_plugins.search.random import RandomSearch


class Exploding(RandomSearch):
    """Random search that raises on its third step."""

    def step(self) -> dict[str, float]:
        if self.n_steps == 2:
            raise RuntimeError("boom on step 3")
        return super().step()


def _setup(tmp_path: Path, **kw) -> tuple[Storage, int, Study]:
    base = dict(
        optimizers={"random-search": {"batch_size": 10}},
        problems=[{"name": "zdt1", "options": {"n_var": 3}}],
        seeds=1,
        budget=205,
        base_dir=tmp_path,
        checkpoint_every=5,
        metrics=["hv", "igd"],
    )
    study = Study("r", **{**base, **kw})
    storage = Storage(study.storage_url)
    return storage, storage.add_study(study), study


def test_a_run_spends_its_budget_and_stores_evaluations_per_checkpoint(tmp_path: Path) -> None:
    storage, sid, _ = _setup(tmp_path)
    assert Worker(storage, "r").run_all() == 1
    run = storage.runs(sid)[0]
    assert run.status == "done" and run.n_evaluations == 205 and run.n_steps == 21
    assert run.result["config"] == {
        "batch_size": 10,
        "archive_size": None,
    }  # resolved, defaults included
    assert run.result["device"] == "cpu" and run.result["dtype"] == "float64"
    ev = storage.evaluations(run.id)
    assert ev.x.shape == (205, 3) and ev.f.shape == (205, 2) and not ev.failed.any()
    with storage.engine.connect() as conn:
        inserts = conn.execute(select(func.count()).select_from(s.evaluation_batches)).scalar()
    assert (
        inserts == 5
    )  # 21 steps, a checkpoint every 5 steps, plus the final one: not one INSERT per point
    metrics = storage.metrics(run.id)
    assert [m["step"] for m in metrics] == list(range(1, 22))
    assert metrics[-1]["values"]["hv"] == pytest.approx(run.result["metrics"]["hv"])
    assert metrics[-1]["values"]["hv"] >= metrics[0]["values"]["hv"]


def test_metrics_every_evaluations_samples_alike_across_batch_sizes(tmp_path: Path) -> None:
    storage, sid, _ = _setup(tmp_path, metrics={"record": ["hv"], "every_evaluations": 50})
    Worker(storage, "r").run_all()
    evals = [m["n_evaluations"] for m in storage.metrics(storage.runs(sid)[0].id)]
    assert evals == [50, 100, 150, 200, 205]


def test_a_raising_run_is_retried_then_marked_failed_with_its_traceback(tmp_path: Path) -> None:
    storage, sid, _ = _setup(tmp_path, optimizers=[f"{__name__}:Exploding"], max_attempts=2)
    Worker(storage, "r").run_all()
    run = storage.runs(sid)[0]
    assert run.status == "failed" and run.attempts == 2 and "boom on step 3" in run.error


def test_a_worker_that_lost_its_lease_writes_nothing(tmp_path: Path) -> None:
    storage, sid, _ = _setup(tmp_path)
    slow, fast = Worker(storage, "r", owner="slow"), Worker(storage, "r", owner="fast")
    record = slow.claim()
    assert (
        storage.claim(sid, "fast", stale_after=-1.0) is not None
    )  # "fast" takes over the stale lease
    assert slow.execute(record) == "lost"
    assert storage.evaluations(record.id) is None and storage.checkpoint(record.id) is None
    assert fast.execute(storage.run(record.id)) == "done"
    assert storage.evaluations(record.id).x.shape[0] == 205


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_a_cuda_run_is_recorded_and_checkpointed(tmp_path: Path) -> None:
    storage, sid, _ = _setup(
        tmp_path,
        optimizers=[{"name": "random-search", "config": {"batch_size": 10}, "device": "cuda"}],
    )
    Worker(storage, "r").run_all()
    run = storage.runs(sid)[0]
    assert run.status == "done", run.error
    assert storage.evaluations(run.id).x.shape == (205, 3) and storage.checkpoint(run.id)[1] == 205
