"""Rich progress bars for a running study, fed by polling the storage (so they show every worker's progress,
local, process pool or Ray alike)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from polyopt.study.storage import RunRecord, Storage

if TYPE_CHECKING:  # rich is imported when bars are shown
    from rich.progress import Progress, TaskID

__all__ = ["watch"]


@contextmanager
def watch(
    storage: Storage, study_id: int, *, quiet: bool = False, period: float = 0.5
) -> Iterator[None]:
    """Show one bar per optimizer (evaluations done of the budget) and one for runs, until the block ends."""
    if quiet:
        yield
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    progress = Progress(
        TextColumn("[bold]{task.description:<18}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[note]}"),
        TimeElapsedColumn(),
        transient=False,
    )
    tasks: dict[str, TaskID] = {}
    stop = threading.Event()

    def refresh() -> None:
        try:
            records = storage.runs(study_id, with_results=False)
        except Exception:  # the database is busy: show the next poll
            return
        _update(progress, tasks, records)

    def loop() -> None:
        while not stop.wait(period):
            refresh()

    with progress:
        refresh()
        thread = threading.Thread(target=loop, daemon=True, name="polyopt-progress")
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()
            refresh()


def _update(progress: Progress, tasks: dict[str, TaskID], records: list[RunRecord]) -> None:
    by_label: dict[str, list[RunRecord]] = {}
    for r in records:
        by_label.setdefault(r.spec.optimizer_label, []).append(r)
    for label, runs in by_label.items():
        total = sum(_target(r) for r in runs)
        # a running run shows what its worker reports (live), which may be ahead of what is stored
        done = sum(
            _target(r)
            if r.status in ("done", "failed")
            else min(max(r.live_evaluations, r.n_evaluations), _target(r))
            for r in runs
        )
        failed = sum(r.status == "failed" for r in runs)
        note = f"[red]{failed} failed" if failed else ""
        if label not in tasks:
            tasks[label] = progress.add_task(label, total=total, note=note)
        progress.update(tasks[label], completed=done, total=total, note=note)
    finished = sum(r.status in ("done", "failed") for r in records)
    running = sum(r.status == "running" for r in records)
    if "runs" not in tasks:
        tasks["runs"] = progress.add_task("runs", total=len(records), note="")
    progress.update(
        tasks["runs"], completed=finished, total=len(records), note=f"{running} running"
    )


def _target(r: RunRecord) -> int:
    """A run's evaluation budget (its progress unit); runs limited otherwise count as 1."""
    return int(r.spec.budget.get("evaluations") or 1)
