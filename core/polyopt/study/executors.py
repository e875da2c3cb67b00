"""Executors: where a study's runs execute. All of them go through the storage, so they mix freely.

- ``"local"``: one worker in this process, run after run.
- ``"process"``: ``workers`` worker processes on this machine (spawned, each with its own connections).
- ``"ray"``: each pending run a Ray task asking for the ``num_cpus``/``num_gpus`` its optimizer entry declares,
  on a local ``ray.init()`` or the cluster at ``ray_address``; the task claims its run through the storage, so a
  task whose run another worker took does nothing.

Another machine joins a study by running ``polyopt study run study.toml --storage URL`` against the same
PostgreSQL database: the study is stored once, and runs are claimed atomically.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from pathlib import Path
from typing import Any

from polyopt.errors import ConfigError
from polyopt.study.definition import Study
from polyopt.study.progress import watch
from polyopt.study.storage import Storage

__all__ = ["run_study", "EXECUTORS"]

EXECUTORS = ("local", "process", "ray")


def run_study(
    study: Study,
    *,
    executor: str = "local",
    workers: int = 1,
    ray_address: str | None = None,
    quiet: bool = False,
    report: bool = True,
    resume: bool = False,
) -> Path | None:
    """Validate, store and execute every run of ``study``; then write its report.

    Args:
        study: the study.
        executor: ``"local"``, ``"process"`` or ``"ray"``.
        workers: worker processes (``"process"``; ``"local"`` with ``workers > 1`` becomes ``"process"``).
        ray_address: a Ray cluster address (default: a local ``ray.init()``).
        quiet: no progress bars.
        report: write the HTML/CSV/JSON report at the end.
        resume: first make failed runs, and running runs whose lease is stale, pending again.

    Returns:
        The report's HTML path (None with ``report=False``).
    """
    if executor not in EXECUTORS:
        from polyopt.errors import did_you_mean

        raise ConfigError(
            f"executor {executor!r}; expected one of {', '.join(EXECUTORS)}."
            f"{did_you_mean(executor, EXECUTORS)}"
        )
    if workers < 1:
        raise ConfigError(f"workers={workers}; expected at least 1")
    study.validate()
    storage = Storage(study.storage_url)
    try:
        sid = storage.add_study(study)
        if resume:
            storage.reset(sid, failed=True, stale_after=study.stale_after_seconds)
        with watch(storage, sid, quiet=quiet):
            if executor == "ray":
                _run_ray(storage, study, sid, ray_address)
            elif executor == "process" or workers > 1:
                _run_processes(study.storage_url, study.name, workers)
            else:
                from polyopt.study.runner import Worker

                Worker(storage, study.name).run_all()
        if not report:
            return None
        from polyopt.study.report import write_report

        return write_report(storage, study.name, study.report_dir or study.output_dir / "report")
    finally:
        storage.close()


def work(url: str, study_name: str, threads: int | None = None) -> int:
    """Entry point of a worker process: execute runs until none is left; return how many.

    Args:
        url: the storage URL.
        study_name: the study.
        threads: torch intra-op threads for this process (None: torch's default). Workers sharing a machine
            each get their share of the cores: oversubscribed torch threads make small kernels (a 500 x 100
            ``cdist``) about 100 times slower.
    """
    if threads is not None:
        import torch

        torch.set_num_threads(threads)
    from polyopt.study.runner import Worker

    return Worker(url, study_name).run_all()


def _run_processes(url: str, study_name: str, workers: int) -> None:
    ctx = mp.get_context(
        "spawn"
    )  # a fresh interpreter: no inherited database connections or torch threads
    threads = max(1, (os.cpu_count() or 1) // workers)
    procs = [
        ctx.Process(target=work, args=(url, study_name, threads), name=f"polyopt-worker-{i}")
        for i in range(workers)
    ]
    for p in procs:
        p.start()
    try:
        for p in procs:
            p.join()
    except (
        KeyboardInterrupt
    ):  # the children got the SIGINT too: let them hand their runs back first
        for p in procs:
            p.join(timeout=10)
            if p.is_alive():
                p.terminate()
        raise
    bad = [p.exitcode for p in procs if p.exitcode]
    if bad:
        raise RuntimeError(
            f"{len(bad)} worker process(es) exited with codes {bad}; their runs are resumed by "
            "`polyopt study resume`"
        )


def run_one(url: str, study_name: str, run_id: int) -> str:
    """A Ray task: claim run ``run_id`` (if still claimable) and execute it; return its status."""
    import torch

    from polyopt.study.runner import Worker

    torch.set_num_threads(
        1
    )  # one CPU per task unless the run asked for more; Ray already pins the GPU
    worker = Worker(url, study_name)
    record = worker.claim(run_id)
    return "skipped" if record is None else worker.execute(record)


def _run_ray(storage: Storage, study: Study, sid: int, address: str | None) -> None:
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("the ray executor needs Ray: pip install 'polyopt[ray]'") from exc
    started = not ray.is_initialized()
    if started:
        ray.init(
            address=address, include_dashboard=False, log_to_driver=False, configure_logging=False
        )
    try:
        task = ray.remote(run_one)
        pending = [r for r in storage.runs(sid) if r.status == "pending"]
        refs = [
            task.options(**_ray_resources(r.spec.resources)).remote(
                study.storage_url, study.name, r.id
            )
            for r in pending
        ]
        ray.get(refs)
    finally:
        if started:
            ray.shutdown()


def _ray_resources(resources: dict[str, Any]) -> dict[str, float]:
    return {
        "num_cpus": float(resources.get("num_cpus", 1)),
        "num_gpus": float(resources.get("num_gpus", 0)),
    }
