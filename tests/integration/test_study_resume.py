"""A worker killed with SIGKILL mid-run is resumed from its last checkpoint at once (its lease names a process of
this host that no longer exists): no stored evaluation is lost or duplicated, and the finished run equals an
uninterrupted run with the same seed."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from polyopt.study import load_study
from polyopt.study.executors import run_study
from polyopt.study.storage import Storage

SLOW_PROBLEM = '''
import time
from polyopt_envs.zdt import ZDT1

class SlowZDT1(ZDT1):
    """ZDT1 that takes a while per batch, so a test can kill the worker mid-run."""
    def evaluate(self, x):
        time.sleep(0.02)
        return super().evaluate(x)
'''

STUDY = """
[study]
name = "killed"
seeds = [7]
budget = {{ evaluations = 800 }}
checkpoint_every = 5
storage = "{url}"
heartbeat_seconds = 0.2
stale_after_seconds = 60.0

[metrics]
record = ["hv", "igd"]
every = 3

[[optimizers]]
name = "random-search"
config = {{ batch_size = 8 }}

[[problems]]
name = "slow_problem:SlowZDT1"
label = "slow-zdt1"
options = {{ n_var = 4 }}
"""


def _write(tmp_path: Path, name: str, db: str) -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(STUDY.format(url=f"sqlite:///{tmp_path / db}"))
    return path


def _wait_for_checkpoint(
    storage: Storage, proc: subprocess.Popen, min_evals: int, timeout: float = 90
) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert proc.poll() is None, "the worker finished before it could be killed"
        try:
            runs = storage.runs(storage.study_id("killed"))
            ckpt = storage.checkpoint(runs[0].id) if runs else None
        except Exception:  # the study is not stored yet
            ckpt = None
        if ckpt is not None and ckpt[1] >= min_evals:
            return runs[0].id
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared")


def test_killed_worker_is_resumed_exactly(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "slow_problem.py").write_text(SLOW_PROBLEM)
    monkeypatch.syspath_prepend(str(tmp_path))
    study_file = _write(tmp_path, "killed", "killed.sqlite")
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(tmp_path), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "polyopt.study.cli",
            "run",
            str(study_file),
            "--quiet",
            "--no-report",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    storage = Storage(f"sqlite:///{tmp_path / 'killed.sqlite'}")
    try:
        run_id = _wait_for_checkpoint(storage, proc, min_evals=80)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL

    # the dead worker left a consistent record: evaluations stored up to its last checkpoint, not beyond
    record = storage.run(run_id)
    _step, n_ckpt, _ = storage.checkpoint(run_id)
    stored = storage.evaluations(run_id)
    assert record.status == "running" and 0 < n_ckpt < 800
    assert stored.x.shape[0] == n_ckpt

    # the lease names the dead process: a resume takes the run back at once, without waiting for staleness
    from polyopt.study.storage import host_id

    assert record.lease_host == host_id() and record.lease_pid == proc.pid
    assert record.n_evaluations == n_ckpt  # what is stored, whatever the last heartbeat said
    notes: list[str] = []
    study = load_study(study_file)
    run_study(study, quiet=True, report=False, resume=True, notify=notes.append)
    assert notes == ["resuming 1 run (random-search/slow-zdt1/7) whose worker is gone"]
    resumed = storage.run(run_id)
    assert resumed.status == "done" and resumed.n_evaluations == 800 and resumed.crashes == 1
    ev = storage.evaluations(run_id)
    assert ev.x.shape[0] == 800
    assert len({tuple(row) for row in ev.x.tolist()}) == 800  # no evaluation stored twice

    # identical to a run that was never interrupted
    clean_file = _write(tmp_path, "clean", "clean.sqlite")
    run_study(load_study(clean_file), quiet=True, report=False)
    clean = Storage(f"sqlite:///{tmp_path / 'clean.sqlite'}")
    clean_run = clean.runs(clean.study_id("killed"))[0]
    clean_ev = clean.evaluations(clean_run.id)
    np.testing.assert_array_equal(ev.x, clean_ev.x)
    np.testing.assert_array_equal(ev.f, clean_ev.f)
    np.testing.assert_array_equal(
        np.asarray(resumed.result["f"]), np.asarray(clean_run.result["f"])
    )
    steps = [m["step"] for m in storage.metrics(run_id)]
    assert steps == [
        m["step"] for m in clean.metrics(clean_run.id)
    ]  # metrics recorded once per due step
