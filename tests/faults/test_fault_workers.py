"""Workers that die, stall or are interrupted: kill -9 at random points, a run that kills its own worker,
SIGSTOP past the lease, and Ctrl-C. After each, `polyopt study` exits with the right code and the stored
record equals an uninterrupted run: nothing lost, nothing stored twice, every run done or failed with its
reason."""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path

from faultkit import (
    Backend,
    assert_exact,
    checkpoints,
    finish,
    no_traceback,
    polyopt,
    reference,
    study_toml,
    wait_for,
    workers_of,
)

from polyopt.study.storage import Storage


def test_workers_killed_at_random_points_lose_and_repeat_nothing(
    backend: Backend, tmp_path: Path
) -> None:
    """Workers killed at random points (in a run, where one is): the parent replaces them, the runs they held
    are taken over at once, and the parent exits 0 with its report. (A whole machine going down and the
    resume after it: the worker-killing objective below, and tests/integration/test_study_resume.py.)"""
    seed = int(os.environ.get("POLYOPT_FAULT_SEED") or random.randrange(10**6))
    print(f"kill points drawn with POLYOPT_FAULT_SEED={seed}")
    rng = random.Random(seed)
    # nsga2: a population and its RNG must come back exactly from every checkpoint
    text = study_toml("kills", backend.url, optimizers=("random-search", "nsga2"))
    ref = reference(tmp_path, text)
    path = tmp_path / "kills.toml"
    path.write_text(text)
    storage = Storage(backend.url)

    proc = polyopt("run", str(path), "--workers", "2", "--quiet")
    wait_for(lambda: checkpoints(storage, "kills") >= 1, "a first checkpoint")
    killed = 0
    mid_run = 0
    for _ in range(2):
        time.sleep(rng.uniform(0.0, 1.0))
        pids = workers_of(proc.pid)
        if proc.poll() is not None or not pids:
            break
        busy = [p for p in pids if p in _leasing(storage, "kills")]
        os.kill(rng.choice(busy or pids), signal.SIGKILL)
        killed += 1
        mid_run += bool(busy)
    code, out, err = finish(proc)
    assert code == 0, err
    no_traceback(err)
    assert err.count("was killed by SIGKILL") == killed, err  # each death is reported
    assert out.strip().endswith("index.html")
    assert_exact(storage, "kills", ref)
    crashes = sum(r.crashes for r in storage.runs(storage.study_id("kills")))
    assert crashes >= min(mid_run, 1)  # each run a killed worker held was taken over
    print(f"{mid_run} workers killed in a run: {crashes} crashes")
    storage.close()


def _leasing(storage: Storage, name: str) -> set[int | None]:
    """Process ids holding leases on the study's runs."""
    runs = storage.runs(storage.study_id(name), with_results=False)
    return {r.lease_pid for r in runs if r.status == "running"}


def test_a_run_that_kills_its_worker_fails_after_max_attempts(
    backend: Backend, tmp_path: Path
) -> None:
    killer = [
        {"name": "fault_objectives:WorkerKiller", "label": "exits", "options": {"how": "exit"}}
    ]
    text = study_toml(
        "killer",
        backend.url,
        problems=killer,
        optimizers=("random-search",),
        seeds=1,
        max_attempts=2,
    )
    ref = reference(tmp_path, text)
    path = tmp_path / "killer.toml"
    path.write_text(text)
    storage = Storage(backend.url)

    code, out, err = finish(polyopt("run", str(path), "--workers", "2", "--quiet"))
    assert code == 1, err
    no_traceback(err)
    key = "random-search/exits/0"
    assert_exact(storage, "killer", ref, failed={key: "worker died 2 time(s)"})
    # each death was reported, the run failed in one line naming it and why, and how to retry is said
    assert err.count(f"exited with code 1 while running {key}") == 2, err
    assert f"failed: {key}: worker died 2 time(s), attempts 2 of 2" in err
    assert "1 of 2 runs failed; retry them with: polyopt study resume" in err
    assert "--retry-crashed" in err and out.strip().endswith("index.html")

    # a resume does not run it again, and its count of deaths stays
    code, _out, err = finish(polyopt("resume", str(path), "--quiet", "--no-report"))
    assert code == 1 and "stay failed because their workers died max_attempts times" in err
    assert storage.run(storage.runs(storage.study_id("killer"))[1].id).crashes == 2
    assert_exact(storage, "killer", ref, failed={key: "worker died"})
    storage.close()


def test_a_run_that_kills_the_only_worker_is_failed_by_the_resumes(
    backend: Backend, tmp_path: Path
) -> None:
    killer = [
        {"name": "fault_objectives:WorkerKiller", "label": "sigkill", "options": {"how": "kill"}}
    ]
    text = study_toml(
        "alone",
        backend.url,
        problems=killer,
        optimizers=("random-search",),
        seeds=1,
        max_attempts=2,
    )
    ref = reference(tmp_path, text)
    path = tmp_path / "alone.toml"
    path.write_text(text)
    storage = Storage(backend.url)

    code, _out, err = finish(
        polyopt("run", str(path), "--quiet", "--no-report")
    )  # it kills the worker
    assert code == -signal.SIGKILL, err
    code, _out, err = finish(polyopt("resume", str(path), "--quiet", "--no-report"))
    assert code == -signal.SIGKILL
    assert "resuming 1 run (random-search/sigkill/0) whose worker is gone" in err
    code, _out, err = finish(polyopt("resume", str(path), "--quiet", "--no-report"))  # no third
    assert code == 1, err
    assert "failed 1 run (random-search/sigkill/0): their workers died max_attempts times" in err
    assert "failed: random-search/sigkill/0: worker died 2 time(s)" in err
    assert_exact(storage, "alone", ref, failed={"random-search/sigkill/0": "worker died"})
    storage.close()


def test_a_worker_stopped_past_its_lease_loses_its_run_and_writes_nothing_more(
    backend: Backend, tmp_path: Path
) -> None:
    text = study_toml(
        "stall", backend.url, optimizers=("nsga2", "sobol-search"), heartbeat=0.2, stale_after=2.0
    )
    ref = reference(tmp_path, text)
    path = tmp_path / "stall.toml"
    path.write_text(text)
    storage = Storage(backend.url)
    sid_of = lambda: storage.study_id("stall")  # noqa: E731

    first = polyopt("run", str(path), "--quiet", "--no-report")

    def checkpointed_run_of_first() -> tuple[int, str] | None:
        for r in storage.runs(sid_of(), with_results=False):
            if r.status == "running" and r.lease_pid == first.pid and storage.checkpoint(r.id):
                return r.id, r.lease_owner or ""
        return None

    run_id, owner = wait_for(checkpointed_run_of_first, "the first worker to checkpoint a run")
    os.kill(first.pid, signal.SIGSTOP)
    try:
        second = polyopt("run", str(path), "--quiet", "--no-report")
        wait_for(
            lambda: (
                storage.run(run_id).lease_owner not in (None, owner)
                or storage.run(run_id).status == "done"
            ),
            "the second worker to take the stalled run over",
        )
    finally:
        os.kill(first.pid, signal.SIGCONT)
    for proc in (first, second):
        code, _out, err = finish(proc)
        assert code == 0, err
        no_traceback(err)
    assert_exact(storage, "stall", ref)
    taken = storage.run(run_id)
    assert taken.crashes == 1 and taken.attempts == 2
    storage.close()


def test_ctrl_c_hands_the_runs_back_in_one_line_and_resume_finishes_them(
    backend: Backend, tmp_path: Path
) -> None:
    text = study_toml("ctrlc", backend.url)
    ref = reference(tmp_path, text)
    path = tmp_path / "ctrlc.toml"
    path.write_text(text)
    storage = Storage(backend.url)

    def interrupt(*args: str) -> list[str]:
        proc = polyopt(*args, "--quiet", "--no-report")
        wait_for(
            lambda: any(
                r.status == "running" and storage.checkpoint(r.id)
                for r in storage.runs(storage.study_id("ctrlc"), with_results=False)
            ),
            "a run with a checkpoint",
        )
        os.killpg(proc.pid, signal.SIGINT)  # a terminal's Ctrl-C reaches the whole process group
        code, _out, err = finish(proc, timeout=60)
        assert code == 130, err
        lines = [line for line in err.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("interrupted: handed back "), err
        assert lines[0].endswith(f"continue with: polyopt study resume {path}")
        assert storage.counts(storage.study_id("ctrlc"))["running"] == 0
        return lines

    interrupt("run", str(path), "--workers", "2")
    interrupt("resume", str(path))  # the in-process worker too
    code, _out, err = finish(polyopt("resume", str(path), "--quiet", "--no-report"))
    assert code == 0, err
    assert_exact(storage, "ctrlc", ref)
    assert all(r.crashes == 0 for r in storage.runs(storage.study_id("ctrlc")))
    storage.close()
