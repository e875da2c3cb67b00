"""The worker: budgets (seconds across resumes), batched evaluation storage, metrics cadence, failures, lost
leases, and waiting for runs other workers hold."""

from __future__ import annotations

import io
import sys
import threading
import time
from pathlib import Path

import pytest
import torch
from sqlalchemy import func, select, update

from polyopt.study import Study
from polyopt.study import schema as s
from polyopt.study.recorder import Recorder
from polyopt.study.runner import Worker, build_optimizer
from polyopt.study.storage import Storage
from polyopt_plugins.search.random import RandomSearch


class Exploding(RandomSearch):
    """Random search that raises on its third step."""

    def step(self) -> dict[str, float]:
        if self.n_steps == 2:
            raise RuntimeError("boom on step 3")
        return super().step()


class Exiting(RandomSearch):
    """Random search whose second step calls sys.exit, as a careless objective might."""

    def step(self) -> dict[str, float]:
        if self.n_steps == 1:
            sys.exit(3)
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


def test_sys_exit_in_a_run_fails_the_run_not_the_worker(tmp_path: Path) -> None:
    storage, sid, _ = _setup(tmp_path, optimizers=[f"{__name__}:Exiting"], max_attempts=1, seeds=2)
    assert Worker(storage, "r").run_all() == 2
    runs = storage.runs(sid)
    assert [r.status for r in runs] == ["failed", "failed"]
    assert runs[0].last_error == "the run called sys.exit(3)"


def test_a_seconds_budget_counts_the_time_spent_before_a_resume(tmp_path: Path) -> None:
    storage, sid, _ = _setup(tmp_path, budget={"seconds": 30})
    worker = Worker(storage, "r", owner="first")
    record = worker.claim()
    opt = build_optimizer(record)
    recorder = Recorder(opt, record.spec, worker.definition.metrics)
    opt.listeners.append(recorder.on_evaluate)
    opt.step()
    opt.step()
    state = opt.state_dict()
    state["counters"]["elapsed"] = 31.0  # the first worker had spent the budget when it died
    buf = io.BytesIO()
    torch.save(state, buf)
    batch, metrics = recorder.drain()
    storage.save(
        record.id,
        "first",
        step=2,
        n_evaluations=opt.n_evaluations,
        wall_time=31.0,
        state=buf.getvalue(),
        batch=batch,
        metrics=metrics,
    )
    storage.release(record.id, "first")
    Worker(storage, "r").run_all()
    run = storage.runs(sid)[0]
    assert run.status == "done" and run.n_steps == 2 and run.n_evaluations == 20
    assert run.result["wall_time"] >= 31.0
    assert storage.evaluations(run.id).x.shape[0] == 20


def test_a_worker_waits_for_a_run_another_worker_holds_and_takes_it_over_when_abandoned(
    tmp_path: Path,
) -> None:
    storage, _, _ = _setup(tmp_path, seeds=2, heartbeat_seconds=0.1, stale_after_seconds=0.6)
    held = Worker(storage, "r", owner="stalled").claim()  # claimed, then never renewed
    assert Worker(storage, "r").run_all(wait=False) == 1  # the free run only
    assert storage.run(held.id).status == "running"
    started = time.monotonic()
    assert Worker(storage, "r").run_all() == 1  # waits until the lease is stale, then takes it over
    assert time.monotonic() - started >= 0.3
    run = storage.run(held.id)
    assert run.status == "done" and run.crashes == 1 and run.n_evaluations == 205


def test_a_waiting_worker_returns_when_the_other_worker_finishes(tmp_path: Path) -> None:
    storage, _, _ = _setup(tmp_path, seeds=1, heartbeat_seconds=0.1)
    record = Worker(storage, "r", owner="other").claim()

    def finish() -> None:  # the other worker completes its run while this one waits
        with storage.engine.begin() as conn:
            conn.execute(
                update(s.runs)
                .where(s.runs.c.id == record.id)
                .values(status="done", lease_owner=None)
            )

    timer = threading.Timer(0.5, finish)
    timer.start()
    started = time.monotonic()
    assert Worker(storage, "r").run_all() == 0  # nothing taken over: the lease was live
    timer.join()
    assert time.monotonic() - started >= 0.4
    assert storage.run(record.id).crashes == 0


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
