"""Executors: where a study's runs execute. All of them go through the storage, so they mix freely.

- ``"local"``: one worker in this process, run after run.
- ``"process"``: ``workers`` worker processes on this machine (spawned, each with its own connections). A worker
  that dies while it holds a run (killed, out of memory, a crashing objective) is replaced, and the run is taken
  over at once; a run whose workers died ``max_attempts`` times is failed with "worker died".
- ``"ray"``: each pending run a Ray task asking for the ``num_cpus``/``num_gpus`` its optimizer entry declares,
  on a local ``ray.init()`` or the cluster at ``ray_address``; the task claims its run through the storage, so a
  task whose run another worker took does nothing.

Another machine joins a study by running ``polyopt study run study.toml --storage URL`` against the same
PostgreSQL database: the study is stored once, and runs are claimed atomically. Each worker returns when every
run is done or failed (waiting for runs other workers hold, and taking over those they abandon).

Ctrl-C (or SIGTERM) hands every run this process and its workers hold back to the storage, with its checkpoint,
and raises :class:`StudyInterrupted` (a KeyboardInterrupt) saying what was handed back.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import re
import signal
import socket
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import wait as wait_for_any
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from polyopt.errors import ConfigError, PolyoptError
from polyopt.study.definition import Study
from polyopt.study.progress import watch
from polyopt.study.storage import (
    Recovery,
    RunRecord,
    Storage,
    host_id,
    process_alive,
    redact,
)

__all__ = ["run_study", "study_outcome", "Outcome", "StudyInterrupted", "EXECUTORS"]

EXECUTORS = ("local", "process", "ray")

#: Seconds the workers get to hand their runs back after Ctrl-C before they are killed.
STOP_SECONDS = 15.0


class StudyInterrupted(KeyboardInterrupt):
    """Ctrl-C stopped the study; ``str()`` says what was handed back.

    Attributes:
        handed_back: keys of the runs given back to the storage (pending, checkpoints kept).
        stranded: keys of runs still leased to a worker that did not stop in time (a resume on this host
            reclaims them at once).
    """

    def __init__(self, handed_back: list[str], stranded: list[str]) -> None:
        self.handed_back = handed_back
        self.stranded = stranded
        parts = [
            f"interrupted: handed back {_runs(handed_back)}, to continue from the last checkpoint"
            if handed_back
            else "interrupted: no run was in progress"
        ]
        if stranded:
            parts.append(
                f"{_runs(stranded)} still leased to a killed worker (a resume reclaims them)"
            )
        super().__init__("; ".join(parts))


@dataclass
class Outcome:
    """Where a study stands: what :func:`study_outcome` read from its storage.

    Attributes:
        total: how many runs the study has.
        done: how many are done.
        failed: ``(key, last line of its error)`` of each failed run.
        unfinished: ``(key, why)`` of each run neither done nor failed (pending, or leased).
        died: keys of the failed runs whose workers died ``max_attempts`` times (a resume leaves them failed
            unless asked to retry them).
    """

    total: int
    done: int
    failed: list[tuple[str, str]] = field(default_factory=list)
    unfinished: list[tuple[str, str]] = field(default_factory=list)
    died: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every run is done."""
        return self.done == self.total


def run_study(
    study: Study,
    *,
    executor: str = "local",
    workers: int = 1,
    ray_address: str | None = None,
    quiet: bool = False,
    report: bool = True,
    resume: bool = False,
    wait: bool = True,
    retry_crashed: bool = False,
    notify: Callable[[str], None] | None = None,
) -> Path | None:
    """Validate, store and execute every run of ``study``; then write its report.

    Runs that fail are recorded as failed (see :func:`study_outcome`); this returns normally all the same.

    Args:
        study: the study.
        executor: ``"local"``, ``"process"`` or ``"ray"``.
        workers: worker processes (``"process"``; ``"local"`` with ``workers > 1`` becomes ``"process"``).
        ray_address: a Ray cluster address (default: a local ``ray.init()``).
        quiet: no progress bars and no notes.
        report: write the HTML/CSV/JSON report at the end.
        resume: first make failed runs, and runs whose worker is gone, pending again (see
            :meth:`Storage.recover`).
        wait: wait for runs other workers hold (taking over those they abandon); ``False`` leaves them.
        retry_crashed: with ``resume``, also retry runs failed because their workers died ``max_attempts``
            times.
        notify: called with each one-line note (reclaimed runs, dead workers, runs waited for); default:
            printed to stderr unless ``quiet``.

    Returns:
        The report's HTML path (None with ``report=False``).

    Raises:
        StudyInterrupted: on Ctrl-C, after the runs were handed back.
    """
    if executor not in EXECUTORS:
        from polyopt.errors import did_you_mean

        raise ConfigError(
            f"executor {executor!r}; expected one of {', '.join(EXECUTORS)}."
            f"{did_you_mean(executor, EXECUTORS)}"
        )
    if workers < 1:
        raise ConfigError(f"workers={workers}; expected at least 1")
    say = notify or (_quiet if quiet else _stderr)
    study.validate()
    storage = Storage(study.storage_url)
    try:
        sid = storage.add_study(study)
        if resume:
            recovery = storage.recover(
                sid,
                stale_after=study.stale_after_seconds,
                max_attempts=study.max_attempts,
                retry_crashed=retry_crashed,
            )
        else:
            recovery = _leases(storage.runs(sid, with_results=False), study)
        for line in describe_recovery(recovery, wait=wait):
            say(line)
        with watch(storage, sid, quiet=quiet):
            _execute(storage, study, sid, executor, workers, ray_address, wait, say)
        if not report:
            return None
        from polyopt.study.report import write_report

        return write_report(storage, study.name, study.report_dir or study.output_dir / "report")
    finally:
        storage.close()


def _execute(
    storage: Storage,
    study: Study,
    sid: int,
    executor: str,
    workers: int,
    ray_address: str | None,
    wait: bool,
    say: Callable[[str], None],
) -> None:
    if executor == "ray":
        _run_ray(storage, study, sid, ray_address, wait, say)
    elif executor == "process" or workers > 1:
        _run_processes(storage, study, sid, workers, wait, say)
    else:
        from polyopt.study.runner import Worker

        worker = Worker(storage, study.name)
        try:
            worker.run_all(wait=wait)
        except KeyboardInterrupt:
            held = _held(storage, sid, {os.getpid()})
            raise StudyInterrupted(worker.released, held) from None


def study_outcome(storage: Storage | str, name: str) -> Outcome:
    """Read where study ``name`` stands: done, failed (with each error's last line) and unfinished runs."""
    if isinstance(storage, str):
        opened = Storage(storage)
        try:
            return study_outcome(opened, name)
        finally:
            opened.close()
    study = storage.load_study(name)
    records = storage.runs(storage.study_id(name), with_results=False)
    out = Outcome(total=len(records), done=sum(r.status == "done" for r in records))
    now = time.time()
    for r in records:
        if r.status == "failed":
            out.failed.append((r.key, redact(r.last_error, storage.url) or "(no error recorded)"))
            if r.crashes >= study.max_attempts:
                out.died.append(r.key)
        elif r.status == "pending":
            out.unfinished.append((r.key, "pending"))
        elif r.status == "running":
            age = now - (r.heartbeat_at or now)
            out.unfinished.append((r.key, f"leased by {r.lease_owner} (heartbeat {age:.0f} s ago)"))
    return out


def describe_recovery(recovery: Recovery, *, wait: bool = True) -> list[str]:
    """One line per thing a user should know before the study continues."""
    lines = []
    if recovery.reclaimed:  # by a resume, or (run) by the claims to come
        lines.append(f"resuming {_runs(recovery.reclaimed)} whose worker is gone")
    if recovery.retried:
        lines.append(f"retrying {_runs(recovery.retried)} that failed")
    if recovery.died:
        lines.append(f"failed {_runs(recovery.died)}: their workers died max_attempts times")
    if recovery.kept_failed:
        lines.append(
            f"{_runs(recovery.kept_failed)} stay failed because their workers died max_attempts "
            "times; `polyopt study resume --retry-crashed` runs them again"
        )
    if recovery.leased:
        owners = sorted({owner for _key, owner, _left in recovery.leased})
        longest = max(left for _key, _owner, left in recovery.leased)
        waiting = (
            f"waiting for them; any whose lease is not renewed within {longest:.0f} s is taken over"
            if wait
            else "left to them (--no-wait)"
        )
        lines.append(
            f"{_runs([k for k, _o, _l in recovery.leased])} leased by live workers "
            f"({', '.join(owners[:3])}{', ...' if len(owners) > 3 else ''}): {waiting}"
        )
    return lines


def work(url: str, study_name: str, threads: int | None = None, wait: bool = True) -> None:
    """Entry point of a worker process: execute runs until none is left.

    SIGTERM (what the parent sends on Ctrl-C) hands the current run back and ends the process quietly with
    code 130; SIGINT is ignored (the parent started it so), so a terminal's Ctrl-C reaches only the parent.

    Args:
        url: the storage URL.
        study_name: the study.
        threads: torch intra-op threads for this process (None: torch's default). Workers sharing a machine
            each get their share of the cores: oversubscribed torch threads make small kernels (a 500 x 100
            ``cdist``) about 100 times slower.
        wait: see :meth:`Worker.run_all`.
    """
    signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        if threads is not None:
            import torch

            torch.set_num_threads(threads)
        from polyopt.study.runner import Worker

        Worker(url, study_name).run_all(wait=wait)
    except KeyboardInterrupt:
        raise SystemExit(130) from None
    except PolyoptError as exc:  # e.g. the database stayed unreachable: one line, not a traceback
        _stderr(f"worker {os.getpid()}: error: {redact(str(exc), url)}")
        raise SystemExit(1) from None


def _run_processes(
    storage: Storage,
    study: Study,
    sid: int,
    workers: int,
    wait: bool,
    say: Callable[[str], None],
) -> None:
    # spawn: a fresh interpreter, with no inherited database connections or torch threads
    ctx = mp.get_context("spawn")
    threads = max(1, (os.cpu_count() or 1) // workers)
    live: list[BaseProcess] = []
    started = 0
    # every death that leaves a run behind counts a crash on that run, and a run stops being handed out after
    # max_attempts of them, so replacements are bounded by this anyway
    replacements = len(study.runs()) * study.max_attempts

    def start() -> None:
        nonlocal started
        p = ctx.Process(
            target=work,
            args=(study.storage_url, study.name, threads, wait),
            name=f"polyopt-worker-{started}",
        )
        started += 1
        with _sigint_ignored():
            p.start()
        live.append(p)

    for _ in range(workers):
        start()
    try:
        while live:
            wait_for_any([p.sentinel for p in live])
            for p in [p for p in live if p.exitcode is not None]:
                live.remove(p)
                held = _held(storage, sid, {p.pid or -1}, taken_over=p.exitcode != 0)
                if p.exitcode == 0 and not held:
                    continue
                what = f"worker {p.name} (pid {p.pid}) {_how(p.exitcode)}"
                if held and replacements > 0:
                    replacements -= 1
                    say(f"{what} while running {', '.join(held)}; a new worker takes it over")
                    start()
                else:
                    say(what + (f" while running {', '.join(held)}" if held else ""))
    except KeyboardInterrupt:
        pids = {p.pid for p in live if p.pid is not None}
        held = _held(storage, sid, pids)
        _stop(live)
        stranded = _held(storage, sid, pids)
        raise StudyInterrupted([k for k in held if k not in stranded], stranded) from None
    except BaseException:  # e.g. the database stayed unreachable: leave no orphaned worker behind
        _stop(live)
        raise


def _stop(procs: list[BaseProcess]) -> None:
    """SIGTERM the workers (they hand their runs back), wait up to STOP_SECONDS, then kill what is left; a
    second Ctrl-C kills at once."""
    for p in procs:
        if p.is_alive():
            p.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    try:
        for p in procs:
            p.join(max(0.0, deadline - time.monotonic()))
    except KeyboardInterrupt:
        pass
    for p in procs:
        if p.is_alive():
            p.kill()
            p.join()


def _held(storage: Storage, sid: int, pids: set[int], *, taken_over: bool = False) -> list[str]:
    """Keys of the study's runs leased to processes ``pids`` of this host.

    With ``taken_over`` (the processes died), also the runs another worker already took over from them: a
    live worker reclaims a dead lease at once, often before the parent sees the death, and the run's crash
    note ("worker died (HOST:PID:...") is then the only record of who held it.
    """
    host = host_id()
    mark = re.compile(rf"[( ]{re.escape(socket.gethostname())}:({'|'.join(map(str, pids))}):")
    return [
        r.key
        for r in storage.runs(sid, with_results=False)
        if (r.status == "running" and r.lease_host == host and r.lease_pid in pids)
        or (taken_over and r.status in ("running", "failed") and mark.search(r.error or ""))
    ]


def _leases(records: list[RunRecord], study: Study) -> Recovery:
    """The running runs, as a worker about to claim sees them: leased by live workers, or abandoned (their
    worker's process is gone, or their lease is stale) and about to be taken over."""
    out = Recovery()
    now = time.time()
    host = host_id()
    for r in records:
        if r.status != "running":
            continue
        left = (r.heartbeat_at or 0.0) + study.stale_after_seconds - now
        gone = r.lease_host == host and r.lease_pid not in (None, os.getpid())
        if left <= 0 or (gone and not process_alive(int(r.lease_pid or 0))):
            out.reclaimed.append(r.key)
        else:
            out.leased.append((r.key, r.lease_owner or "?", left))
    return out


def _how(exitcode: int | None) -> str:
    if exitcode is not None and exitcode < 0:
        try:
            return f"was killed by {signal.Signals(-exitcode).name}"
        except ValueError:
            return f"was killed by signal {-exitcode}"
    return f"exited with code {exitcode}"


@contextlib.contextmanager
def _sigint_ignored() -> Iterator[None]:
    """Ignore SIGINT while a child starts: it inherits that, so Ctrl-C in a terminal (which signals the whole
    process group) reaches only the parent, which then stops the workers in order."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _raise_interrupt(_signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt


def _runs(keys: list[str]) -> str:
    shown = ", ".join(keys[:3]) + (f" and {len(keys) - 3} more" if len(keys) > 3 else "")
    return f"{len(keys)} run{'s' if len(keys) != 1 else ''} ({shown})" if keys else "no run"


def _stderr(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _quiet(_line: str) -> None:
    pass


def run_one(url: str, study_name: str, run_id: int, wait: bool = True) -> str:
    """A Ray task: claim run ``run_id`` and execute it; return its status, or "skipped" if it is not claimable.

    With ``wait``, a run another worker holds is waited for (polling every ``heartbeat_seconds`` at most) and
    taken over if that worker's lease goes stale -- a task that replaces one dead on another node finds the
    lease fresh at first.
    """
    import torch

    from polyopt.study.runner import Worker

    # one CPU per task unless the run asked for more; Ray already pins the GPU
    torch.set_num_threads(1)
    worker = Worker(url, study_name)
    d = worker.definition
    while True:
        record = worker.claim(run_id)
        if record is not None:
            return worker.execute(record)
        held = worker.storage.run(run_id)
        if not wait or held.status != "running":
            return "skipped"
        until_stale = (held.heartbeat_at or 0.0) + d.stale_after_seconds - time.time()
        time.sleep(min(d.heartbeat_seconds, max(0.2, until_stale + 0.05)))


def _run_ray(
    storage: Storage,
    study: Study,
    sid: int,
    address: str | None,
    wait: bool,
    say: Callable[[str], None],
) -> None:
    """One Ray task per unfinished run (pending, or running under a lease that may be abandoned).

    Ray does not retry a task whose worker died: polyopt does, for as long as the run is claimable, so the
    study's ``max_attempts`` (counted in the storage) bounds the deaths, not Ray's ``max_retries``.
    """
    try:
        import ray
        from ray.exceptions import RayError, RayTaskError
    except ImportError as exc:
        raise ConfigError("the ray executor needs Ray: pip install 'polyopt[ray]'") from exc
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=address, include_dashboard=False, log_to_driver=False, configure_logging=False
        )
    live: dict[Any, RunRecord] = {}
    try:
        task: Any = ray.remote(run_one)  # ray's stubs drop the defaulted 4th argument

        def submit(record: RunRecord) -> None:
            options = _ray_resources(record.spec.resources)
            ref = task.options(max_retries=0, **options).remote(
                study.storage_url, study.name, record.id, wait
            )
            live[ref] = record

        runs = [
            r for r in storage.runs(sid, with_results=False) if r.status in ("pending", "running")
        ]
        # a death before the claim counts no crash, so replacements are bounded here too
        replacements = len(runs) * study.max_attempts
        for r in runs:
            submit(r)
        while live:
            (ref,), _ = ray.wait(list(live), num_returns=1)
            record = live.pop(ref)
            try:
                ray.get(ref)
            except RayTaskError:  # run_one itself raised (e.g. the database is unreachable)
                raise
            except RayError as exc:
                # the task's worker or node died, or Ray's memory monitor killed it
                what = f"the Ray task running {record.key} died ({type(exc).__name__})"
                if storage.run(record.id).status in ("pending", "running") and replacements > 0:
                    replacements -= 1
                    say(what + "; a new task takes it over")
                    submit(record)
                else:
                    say(what)
    except BaseException:
        for ref in live:
            ray.cancel(ref, force=True)
        raise
    finally:
        if started:
            ray.shutdown()


def _ray_resources(resources: dict[str, Any]) -> dict[str, float]:
    return {
        "num_cpus": float(resources.get("num_cpus", 1)),
        "num_gpus": float(resources.get("num_gpus", 0)),
    }
