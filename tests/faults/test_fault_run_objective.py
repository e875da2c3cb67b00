"""A study whose objective is a trainer run (``polyopt.compose.run_objective``: Envelope Q-learning on Deep Sea
Treasure, as examples/tune_envelope.py tunes it), its `polyopt study` process killed with SIGKILL while it
trains, then resumed: the stored record equals an uninterrupted study's, value for value (every inner run is
seeded from its point, so a re-made run gives the same hypervolume and IGD)."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from faultkit import (
    Backend,
    assert_exact,
    checkpoints,
    finish,
    no_traceback,
    polyopt,
    reference,
    wait_for,
)

from polyopt.study.storage import Storage

#: inner runs (evaluations) of the study's one run
RUNS = 4

STUDY = """
[study]
name = "tuning"
seeds = 1
budget = {{ evaluations = {runs} }}
checkpoint_every = 1
storage = "{url}"
heartbeat_seconds = 0.25
stale_after_seconds = 60.0

[metrics]
record = ["hv"]
every = 1

[[optimizers]]
name = "random-search"
config = {{ batch_size = 1 }}

[[problems]]
name = "fault_tuning:EnvelopeTuning"
label = "envelope"
options = {{ delay = 0.1 }}
"""


def test_a_study_of_trainer_runs_killed_mid_run_resumes_to_the_same_record(
    backend: Backend, tmp_path: Path
) -> None:
    text = STUDY.format(runs=RUNS, url=backend.url)
    ref = reference(tmp_path, text)
    (key,) = ref.x
    assert len({tuple(row) for row in ref.f[key]}) > 1, "the runs should not all score the same"
    path = tmp_path / "tuning.toml"
    path.write_text(text)
    storage = Storage(backend.url)

    proc = polyopt("run", str(path), "--quiet", "--no-report")  # one in-process worker
    wait_for(lambda: checkpoints(storage, "tuning") >= 1, "a first checkpoint")
    os.kill(proc.pid, signal.SIGKILL)
    code, _out, err = finish(proc)
    assert code == -signal.SIGKILL, err
    (run,) = storage.runs(storage.study_id("tuning"), with_results=False)
    assert run.status == "running" and 1 <= run.n_evaluations < RUNS, (
        run.status,
        run.n_evaluations,
    )

    code, _out, err = finish(polyopt("resume", str(path), "--quiet", "--no-report"))
    assert code == 0, err
    no_traceback(err)
    assert f"resuming 1 run ({key}) whose worker is gone" in err, err
    assert_exact(storage, "tuning", ref, evaluations=RUNS)
    storage.close()
