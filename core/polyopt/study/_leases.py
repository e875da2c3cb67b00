"""Leases of runs: who holds one (host and process), when one is abandoned, and what a takeover records.

A lease is abandoned when its heartbeat is older than the study's ``stale_after_seconds``, or at once when it
names a process of this host that no longer exists. Taking one over counts a crash against the run.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from typing import Any

from sqlalchemy import Connection, select

from polyopt.study import schema as s

__all__ = ["host_id", "process_alive", "dead_leases", "recovery"]


def host_id() -> str:
    """This machine, as leases name it: a lease whose ``lease_host`` equals this may be judged by its process
    id. The host name alone is not enough (cloned machines share one, and the first pid namespace has the same
    number everywhere), so on Linux it adds the boot id (one per boot of one machine) and the pid namespace
    (one per container); elsewhere the hardware address, which :func:`uuid.getnode` makes up per process when it
    cannot read one -- then no other process matches, and only stale leases are taken over."""
    name = socket.gethostname()
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            boot = f.read().strip()[:13]
        namespace = os.readlink("/proc/self/ns/pid")  # "pid:[4026531836]"
    except OSError:
        return f"{name}/{uuid.getnode():012x}"
    return f"{name}/{boot}/{namespace.removeprefix('pid:[').rstrip(']')}"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` of this host (and namespace) still exists; True when unsure.

    A zombie (exited, not yet reaped by its parent) counts as gone.
    """
    if os.name != "posix" or pid <= 0:
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # EPERM: it exists, as another user
        return True
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state not in ("Z", "X")


def owned(run_id: int, owner: str) -> Any:
    return (
        (s.runs.c.id == run_id) & (s.runs.c.lease_owner == owner) & (s.runs.c.status == "running")
    )


NO_LEASE: dict[str, Any] = dict(lease_owner=None, lease_host=None, lease_pid=None)
LEASE_COLUMNS = (
    s.runs.c.id,
    s.runs.c.key,
    s.runs.c.status,
    s.runs.c.attempts,
    s.runs.c.crashes,
    s.runs.c.lease_owner,
    s.runs.c.lease_pid,
    s.runs.c.heartbeat_at,
    s.runs.c.error,
)


def abandoned(stale_before: float, dead: list[int]) -> Any:
    """Running runs whose heartbeat is older than ``stale_before`` or whose process is gone."""
    gone = s.runs.c.heartbeat_at < stale_before
    if dead:
        gone = gone | s.runs.c.id.in_(dead)
    return (s.runs.c.status == "running") & gone


def gives_up(row: Any, max_attempts: int | None) -> bool:
    """Whether an abandoned run has used up its attempts (counting the crash being taken over)."""
    return max_attempts is not None and (
        row.crashes + 1 >= max_attempts or row.attempts >= max_attempts
    )


def _why_gone(row: Any, now: float, dead: list[int] | None = None) -> str:
    if dead is not None and row.id in dead:
        return f"{row.lease_owner}: the process is gone"
    if row.heartbeat_at is None:
        return f"{row.lease_owner}: no heartbeat"
    return f"{row.lease_owner}: no heartbeat for {now - row.heartbeat_at:.0f} s"


def crash_note(row: Any, now: float, dead: list[int] | None = None) -> str:
    return f"worker died ({_why_gone(row, now, dead)}); crash {row.crashes + 1}, taken over"


def died_error(
    row: Any, now: float, max_attempts: int | None, dead: list[int] | None = None
) -> str:
    return (
        f"worker died {row.crashes + 1} time(s), attempts {row.attempts} of {max_attempts} "
        f"(last {_why_gone(row, now, dead)}): the run may crash its worker (a segfault, the "
        "out-of-memory killer, os._exit)"
    )


def failed_values(error: str) -> dict[str, Any]:
    return dict(
        status="failed",
        error=error,
        crashes=s.runs.c.crashes + 1,
        finished_at=time.time(),
        live_evaluations=s.runs.c.n_evaluations,
        **NO_LEASE,
    )


def dead_leases(conn: Connection, study_id: int) -> list[int]:
    """Ids of the study's running runs leased to processes of this host that no longer exist."""
    rows = conn.execute(
        select(s.runs.c.id, s.runs.c.lease_pid).where(
            (s.runs.c.study_id == study_id)
            & (s.runs.c.status == "running")
            & (s.runs.c.lease_host == host_id())
            & (s.runs.c.lease_pid != os.getpid())
        )
    ).all()
    return [rid for rid, pid in rows if pid is not None and not process_alive(int(pid))]


def recovery(
    row: Any,
    now: float,
    dead: list[int],
    stale_after: float,
    max_attempts: int,
    retry_crashed: bool,
) -> tuple[str, dict[str, Any] | None]:
    """What a resume does with a running or failed run: ``(field of Recovery, values to update or None)``.

    A running run whose lease is live is left to its worker ("leased"). One whose worker is gone counts a
    crash: it is failed ("died") if its workers died ``max_attempts`` times, else pending again
    ("reclaimed"). A failed run is pending again with fresh attempts ("retried") unless its workers died
    ``max_attempts`` times and ``retry_crashed`` is not set ("kept_failed").
    """
    if row.status == "running":
        if not (row.id in dead or (row.heartbeat_at or 0.0) < now - stale_after):
            return "leased", None
        if row.crashes + 1 >= max_attempts:
            return "died", failed_values(died_error(row, now, max_attempts, dead))
        return "reclaimed", dict(
            status="pending",
            attempts=0,
            crashes=s.runs.c.crashes + 1,
            error=crash_note(row, now, dead),
            live_evaluations=s.runs.c.n_evaluations,
            **NO_LEASE,
        )
    if row.crashes >= max_attempts and not retry_crashed:
        return "kept_failed", None
    crashes = 0 if retry_crashed else s.runs.c.crashes
    return "retried", dict(status="pending", attempts=0, crashes=crashes, finished_at=None)
