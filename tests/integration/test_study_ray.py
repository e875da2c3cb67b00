"""The Ray executor on a local 2-CPU cluster: every run a task, results in the storage."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import update

from polyopt.study import Study
from polyopt.study import schema as s
from polyopt.study.executors import run_study
from polyopt.study.storage import Storage

pytestmark = [pytest.mark.ray, pytest.mark.slow]


def test_ray_executor_runs_every_run_once(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'polyopt[ray]')")
    study = Study(
        "on-ray",
        optimizers=[
            {"name": "random-search", "config": {"batch_size": 8}, "resources": {"num_cpus": 1}}
        ],
        problems=[{"name": "zdt1", "options": {"n_var": 4}}],
        seeds=3,
        budget=48,
        metrics=["hv"],
        base_dir=tmp_path,
    )
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        run_study(study, executor="ray", quiet=True, report=False)
    finally:
        ray.shutdown()
    storage = Storage(study.storage_url)
    runs = storage.runs(storage.study_id("on-ray"))
    assert [r.status for r in runs] == ["done"] * 3
    assert all(r.attempts == 1 and storage.evaluations(r.id).x.shape[0] == 48 for r in runs)
    assert all(r.result["metrics"]["hv"] >= 0 for r in runs)


def test_ray_executor_replaces_dead_tasks_and_takes_over_abandoned_runs(tmp_path: Path) -> None:
    ray = pytest.importorskip("ray", reason="ray is not installed (pip install 'polyopt[ray]')")
    faults = str(Path(__file__).parents[1] / "faults")
    study = Study(
        "ray-deaths",
        optimizers=[{"name": "random-search", "config": {"batch_size": 8}}],
        problems=[
            {"name": "fault_objectives:WorkerKiller", "label": "kills", "options": {"how": "kill"}},
            {"name": "zdt1", "options": {"n_var": 4}},
        ],
        seeds=1,
        budget=48,
        max_attempts=5,  # above Ray's own 3 retries: polyopt, not Ray, bounds the deaths
        base_dir=tmp_path,
    )
    storage = Storage(study.storage_url)
    sid = storage.add_study(study)
    # a run left running by a worker that died before this run started
    abandoned = next(r for r in storage.runs(sid) if r.key.endswith("/zdt1/0"))
    assert storage.claim(sid, "gone", stale_after=60, run_id=abandoned.id) is not None
    with storage.engine.begin() as conn:
        conn.execute(update(s.runs).where(s.runs.c.id == abandoned.id).values(lease_pid=_gone()))

    notes: list[str] = []
    sys.path.insert(0, faults)  # the driver resolves the objective's name too
    ray.init(
        num_cpus=2,
        include_dashboard=False,
        log_to_driver=False,
        configure_logging=False,
        runtime_env={"env_vars": {"PYTHONPATH": faults}},
    )
    try:
        run_study(study, executor="ray", report=False, notify=notes.append)
    finally:
        ray.shutdown()
        sys.path.remove(faults)
    runs = {r.key: r for r in storage.runs(sid)}
    killed = runs["random-search/kills/0"]
    assert killed.status == "failed" and killed.crashes == 5, killed
    assert killed.last_error.startswith("worker died 5 time(s)")
    died = [n for n in notes if n.startswith("the Ray task running random-search/kills/0 died")]
    assert len(died) == 5 and all(n.endswith("a new task takes it over") for n in died), notes
    taken = runs["random-search/zdt1/0"]
    assert taken.status == "done" and taken.crashes == 1
    assert storage.evaluations(taken.id).x.shape[0] == 48
    storage.close()


def _gone() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid
