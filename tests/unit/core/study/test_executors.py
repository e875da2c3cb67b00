"""The process pool's accounting of worker deaths: a dead worker's run is named even when a live worker took
its lease over before the parent noticed the death."""

from __future__ import annotations

import socket
from pathlib import Path

from test_storage import _gone_pid, _set, _study

from polyopt.study.executors import _held
from polyopt.study.storage import Storage


def test_a_dead_workers_run_is_named_after_another_worker_took_it_over(
    tmp_path: Path, storage_url: str
) -> None:
    storage = Storage(storage_url)
    sid = storage.add_study(_study(tmp_path, seeds=2))
    gone = _gone_pid()
    run = storage.claim(sid, f"{socket.gethostname()}:{gone}:0123abcd", stale_after=60)
    assert run is not None
    _set(storage, run.id, lease_pid=gone)
    assert _held(storage, sid, {gone}) == [run.key]  # still leased to the dead worker

    heir = storage.claim(sid, "heir", stale_after=60)  # taken over at once: the process is gone
    assert heir is not None and heir.id == run.id
    assert _held(storage, sid, {gone}) == []  # the lease alone no longer names it
    assert _held(storage, sid, {gone}, taken_over=True) == [run.key]  # the crash note does
    assert _held(storage, sid, {gone + 1}, taken_over=True) == []  # and only for that process
    storage.close()
