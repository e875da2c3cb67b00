"""The worker: claims runs, executes them with checkpoints and a heartbeat, and resumes abandoned ones.

Guarantee (what "no completed evaluation is lost or duplicated" means here): a worker buffers the evaluations
of a run in memory and stores them *in the same transaction* as the checkpoint taken every
``checkpoint_every`` steps (and with the final result). So the stored evaluations are always exactly the
evaluations ``0 .. n-1`` that produced the stored checkpoint's state, each row once (``(run, first_index)`` is
unique). When a worker dies, the evaluations it made after its last checkpoint were never stored; the next
worker restores the checkpoint (optimizer state and RNG) and the optimizer re-makes those evaluations exactly
as before — the black box is called again for them (at-least-once evaluation), while the record holds each
evaluation exactly once, and the finished run is identical to an uninterrupted run with the same seed (for a
deterministic objective). A worker that lost its lease (it stalled past ``stale_after_seconds`` and another
worker took the run over) cannot write anything more for that run.

A seconds budget is the run's, not one worker's: a resumed run stops once the time recorded in its checkpoint
plus this worker's time reaches it. A worker with nothing left to claim waits while other workers hold leases
on the study's runs, and takes over any lease they abandon (see :meth:`Worker.run_all`).
"""

from __future__ import annotations

import io
import os
import socket
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from typing import Any

import torch

from polyopt.config import config_to_dict
from polyopt.optimizer import Optimizer
from polyopt.study.definition import Study, make_problem, resolve_target
from polyopt.study.recorder import Recorder, result_to_json
from polyopt.study.storage import LeaseLost, RunRecord, Storage

__all__ = ["Worker", "worker_id", "build_optimizer", "load_state"]


def worker_id() -> str:
    """A unique lease owner name: ``host:pid:random``."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


def build_optimizer(record: RunRecord) -> Optimizer:
    """Construct the run's optimizer on its problem with its seed, device, dtype and config."""
    spec = record.spec
    problem = make_problem(spec.problem, spec.problem_options)
    cls = resolve_target("optimizer", spec.optimizer)
    return cls(problem, seed=spec.seed, device=spec.device, dtype=spec.dtype, **spec.config)


def save_state(opt: Optimizer) -> bytes:
    """``opt.state_dict()`` as ``torch.save`` bytes."""
    buf = io.BytesIO()
    torch.save(opt.state_dict(), buf)
    return buf.getvalue()


def load_state(data: bytes, device: torch.device | str = "cpu") -> dict[str, Any]:
    """Read checkpoint bytes with ``torch.load(weights_only=True)``: tensors and plain data only, never an
    arbitrary pickled object (the database may be shared)."""
    return torch.load(io.BytesIO(data), map_location=device, weights_only=True)


class _Heartbeat(threading.Thread):
    """Renews the lease every ``period`` seconds; sets :attr:`lost` if another worker took the run."""

    def __init__(
        self, storage: Storage, run_id: int, owner: str, period: float, progress: Callable[[], int]
    ) -> None:
        super().__init__(daemon=True, name=f"polyopt-heartbeat-{run_id}")
        self.storage = storage
        self.run_id = run_id
        self.owner = owner
        self.period = period
        self.progress = progress
        self.lost = threading.Event()
        self._stop = threading.Event()

    def run(self) -> None:
        while not self._stop.wait(self.period):
            try:
                if not self.storage.heartbeat(self.run_id, self.owner, self.progress()):
                    self.lost.set()
                    return
            except Exception:  # the database stayed unreachable (Storage retried): beat again later
                continue

    def stop(self) -> None:
        self._stop.set()


class Worker:
    """Executes the runs of one study until none is left to claim.

    Args:
        storage: the study's storage (or its URL).
        study: the study name.
        owner: the lease owner name (default: :func:`worker_id`).
        on_run: called with ``(record, status)`` after each run ("done", "pending" = will retry, "failed",
            "lost").
    """

    def __init__(
        self,
        storage: Storage | str,
        study: str,
        *,
        owner: str | None = None,
        on_run: Callable[[RunRecord, str], None] | None = None,
    ) -> None:
        self.storage = Storage(storage) if isinstance(storage, str) else storage
        self.definition: Study = self.storage.load_study(study)
        self.study_id = self.storage.study_id(study)
        self.owner = owner or worker_id()
        self.on_run = on_run
        #: keys of the runs this worker handed back on Ctrl-C
        self.released: list[str] = []

    def run_all(self, *, wait: bool = True) -> int:
        """Claim and execute runs until none is left; return how many this worker executed.

        Args:
            wait: when nothing is claimable but other workers still hold leases on runs of the study, wait
                for them (polling every ``heartbeat_seconds`` at most), taking over any lease they abandon;
                so this returns when every run is done or failed. ``False`` returns at once instead.
        """
        n = 0
        while True:
            record = self.claim()
            if record is not None:
                self.execute(record)
                n += 1
                continue
            pause = self._pause() if wait else None
            if pause is None:
                return n
            time.sleep(pause)

    def _pause(self) -> float | None:
        """Seconds to wait before the next claim while other workers hold leases; None when none does."""
        records = self.storage.runs(self.study_id, with_results=False)
        if any(r.status == "pending" for r in records):  # another worker was quicker: claim again
            return 0.05
        beats = [r.heartbeat_at or 0.0 for r in records if r.status == "running"]
        if not beats:
            return None
        d = self.definition
        until_stale = min(beats) + d.stale_after_seconds - time.time()
        return min(d.heartbeat_seconds, max(0.2, until_stale + 0.05))

    def claim(self, run_id: int | None = None) -> RunRecord | None:
        """Take a pending run or one whose lease was abandoned (``run_id`` to take that one only); a run
        whose workers died ``max_attempts`` times is failed on the way ("worker died")."""
        return self.storage.claim(
            self.study_id,
            self.owner,
            self.definition.stale_after_seconds,
            run_id=run_id,
            max_attempts=self.definition.max_attempts,
        )

    def execute(self, record: RunRecord) -> str:
        """Execute a claimed run from its last checkpoint to the end of its budget; return its new status."""
        d = self.definition
        beat = None
        try:
            opt = build_optimizer(record)
            if opt.n_evaluations:
                raise RuntimeError(
                    f"{type(opt).__name__} evaluated {opt.n_evaluations} points while being "
                    "constructed, before a study can listen; evaluate in step() instead"
                )
            self._restore(opt, record)
            recorder = Recorder(opt, record.spec, d.metrics)
            opt.listeners.append(recorder.on_evaluate)
            beat = _Heartbeat(
                self.storage, record.id, self.owner, d.heartbeat_seconds, lambda: opt.n_evaluations
            )
            beat.start()
            self._loop(opt, record, recorder, beat)
            status = "done"
        except LeaseLost:
            status = "lost"
        except KeyboardInterrupt:
            try:
                self.storage.release(record.id, self.owner)
                self.released.append(record.key)
            except Exception:
                # the database is unreachable too: the lease names this process, which is ending, so a
                # resume on this host reclaims the run at once
                pass
            raise
        except Exception:
            status = self.storage.fail(
                record.id, self.owner, traceback.format_exc(), d.max_attempts
            )
        except (
            SystemExit
        ) as exc:  # sys.exit() inside an objective or optimizer fails the run, not the worker
            status = self.storage.fail(
                record.id,
                self.owner,
                f"{traceback.format_exc()}\nthe run called sys.exit({exc.code!r})",
                d.max_attempts,
            )
        finally:
            if beat is not None:
                beat.stop()
        if self.on_run is not None:
            self.on_run(record, status)
        return status

    def _restore(self, opt: Optimizer, record: RunRecord) -> None:
        ckpt = self.storage.checkpoint(record.id)
        if ckpt is not None:
            opt.load_state_dict(load_state(ckpt[2], opt.device))

    def _loop(
        self, opt: Optimizer, record: RunRecord, recorder: Recorder, beat: _Heartbeat
    ) -> None:
        from polyopt.run import Budget, run

        every = self.definition.checkpoint_every

        def after_step(o: Optimizer, _metrics: dict[str, float]) -> None:
            if beat.lost.is_set():
                raise LeaseLost(f"run {record.key}: lease lost")
            recorder.after_step()
            if o.n_steps % every == 0:
                self._save(o, record, recorder)

        # run() counts what the optimizer already spent, its seconds too (restored with its checkpoint)
        result = run(opt, Budget.coerce(record.spec.budget), [after_step])
        recorder.after_step(force=True)
        final = result_to_json(result, recorder.last_values)
        # the resolved run: every config field with its default filled in, and the device/dtype used
        final.update(
            config=config_to_dict(opt.config),
            device=str(opt.device),
            dtype=str(opt.dtype).split(".")[-1],
        )
        self._save(opt, record, recorder, final=final)

    def _save(
        self,
        opt: Optimizer,
        record: RunRecord,
        recorder: Recorder,
        final: dict[str, Any] | None = None,
    ) -> None:
        batch, metrics = recorder.drain()
        self.storage.save(
            record.id,
            self.owner,
            step=opt.n_steps,
            n_evaluations=opt.n_evaluations,
            wall_time=opt.elapsed,
            state=save_state(opt),
            batch=batch,
            metrics=metrics,
            result=final,
        )
