"""The Ray executor on a local 2-CPU cluster: every run a task, results in the storage."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyopt.study import Study
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
