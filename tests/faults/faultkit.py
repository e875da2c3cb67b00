"""Tools of the fault-injection tests: study files, `polyopt study` processes, an uninterrupted reference run,
the exactness check, and a TCP proxy that can cut every connection to PostgreSQL for a while."""

from __future__ import annotations

import os
import select
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from polyopt.study import Study
from polyopt.study.runner import Worker
from polyopt.study.storage import Storage

HERE = Path(__file__).resolve().parent
#: every budget in the suite is this many evaluations: 40 steps of 8 points
EVALUATIONS = 320


def study_toml(
    name: str,
    url: str,
    *,
    problems: list[dict[str, Any]] | None = None,
    optimizers: tuple[str, ...] = ("random-search", "sobol-search"),
    seeds: int = 2,
    delay: float = 0.05,
    heartbeat: float = 0.25,
    stale_after: float = 60.0,
    max_attempts: int = 3,
) -> str:
    """A study file: ``optimizers`` x a slow ZDT1 (and ``problems``) x ``seeds``, checkpointed every 2 steps."""
    configs = {
        "random-search": "{ batch_size = 8 }",
        "sobol-search": "{ batch_size = 8 }",
        "nsga2": "{ pop_size = 8 }",
    }
    lines = [
        "[study]",
        f'name = "{name}"',
        f"seeds = {seeds}",
        f"budget = {{ evaluations = {EVALUATIONS} }}",
        "checkpoint_every = 2",
        f'storage = "{url}"',
        f"heartbeat_seconds = {heartbeat}",
        f"stale_after_seconds = {stale_after}",
        f"max_attempts = {max_attempts}",
        "",
        "[metrics]",
        'record = ["hv"]',
        "every = 3",
    ]
    for opt in optimizers:
        lines += ["", "[[optimizers]]", f'name = "{opt}"', f"config = {configs[opt]}"]
    entries = [{"name": "fault_objectives:SlowZDT1", "label": "zdt1", "options": {}}]
    for entry in entries + list(problems or []):
        options = {"n_var": 4, "delay": delay, **entry["options"]}
        inline = ", ".join(f"{k} = {_toml(v)}" for k, v in options.items())
        lines += [
            "",
            "[[problems]]",
            f'name = "{entry["name"]}"',
            f'label = "{entry["label"]}"',
            f"options = {{ {inline} }}",
        ]
    return "\n".join(lines) + "\n"


def _toml(value: Any) -> str:
    return f'"{value}"' if isinstance(value, str) else repr(value)


def write_study(tmp_path: Path, text: str, stem: str = "study") -> Path:
    path = tmp_path / f"{stem}.toml"
    path.write_text(text)
    return path


def env(extra_path: Path | None = None) -> dict[str, str]:
    """The environment of a `polyopt study` process: the objectives (and ``extra_path``) importable; only
    polyopt's own plugins load, unless ``extra_path`` brings plugins to test."""
    paths = [str(HERE)] + ([str(extra_path)] if extra_path else [])
    old = os.environ.get("PYTHONPATH")
    out = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(paths + ([old] if old else [])),
        "COLUMNS": "200",
        "POLYOPT_DISABLE_PLUGIN_AUTOLOAD": "1",
    }
    if extra_path is not None:
        del out["POLYOPT_DISABLE_PLUGIN_AUTOLOAD"]
    out.pop("POLYOPT_PLUGINS", None)
    return out


def polyopt(*args: str, extra_path: Path | None = None) -> subprocess.Popen[str]:
    """Start `python -m polyopt study ARGS` in its own session (so it can be signalled as a terminal would,
    without touching pytest), with Ctrl-C at its default behaviour."""
    return subprocess.Popen(
        [sys.executable, "-m", "polyopt", "study", *args],
        env=env(extra_path),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )


def finish(proc: subprocess.Popen[str], timeout: float = 180) -> tuple[int, str, str]:
    """Wait for ``proc``; return ``(exit code, stdout, stderr)``."""
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        raise AssertionError(
            f"`polyopt study` did not finish in {timeout} s:\n{err[-3000:]}"
        ) from None
    return proc.returncode, out, err


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 120) -> Any:
    """Poll ``condition`` until it returns something truthy (database errors count as not yet)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            value = condition()
        except Exception:  # the study is not stored yet, or the database is being restarted
            value = None
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def workers_of(parent: int) -> list[int]:
    """Process ids of the worker processes (spawned, not the resource tracker) of ``parent``."""
    out = subprocess.run(["pgrep", "-P", str(parent)], capture_output=True, text=True).stdout
    pids = []
    for pid in out.split():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            pids.append(int(pid))
    return pids


def checkpoints(storage: Storage, name: str) -> int:
    """How many of the study's runs have a checkpoint."""
    runs = storage.runs(storage.study_id(name), with_results=False)
    return sum(storage.checkpoint(r.id) is not None for r in runs)


@dataclass
class Backend:
    kind: str
    """``"sqlite"`` or ``"postgres"``."""
    url: str
    """A fresh, empty study database."""
    base: str | None = None
    """PostgreSQL: the server's URL (without the schema)."""


def postgres_base(variable: str = "POLYOPT_TEST_POSTGRES_URL") -> str:
    """The server URL in ``variable``; skips the test when it is not set."""
    import pytest

    base = os.environ.get(variable)
    if not base:
        pytest.skip(f"{variable} is not set (CI's .ci/run starts a PostgreSQL server and sets it)")
    return base


@dataclass
class Reference:
    """What an uninterrupted run stored, by run key."""

    x: dict[str, np.ndarray]
    f: dict[str, np.ndarray]
    steps: dict[str, list[int]]
    front: dict[str, np.ndarray]


def reference(tmp_path: Path, text: str) -> Reference:
    """Run the study of ``text`` uninterrupted, in this process, on SQLite, with no delay."""
    study = Study.from_dict(_loads(text), base_dir=tmp_path)
    study.storage = f"sqlite:///{tmp_path / 'reference.sqlite'}"
    for p in study.problems:
        p.options["delay"] = 0.0
        if p.name.endswith(":WorkerKiller"):  # it would kill this process: let it never strike
            p.options["after"] = 10**9
    storage = Storage(study.storage_url)
    sid = storage.add_study(study)
    Worker(storage, study.name).run_all()
    ref = Reference({}, {}, {}, {})
    for r in storage.runs(sid):
        assert r.status == "done", r.error
        ev = storage.evaluations(r.id)
        ref.x[r.key], ref.f[r.key] = ev.x, ev.f
        ref.steps[r.key] = [m["step"] for m in storage.metrics(r.id)]
        ref.front[r.key] = np.asarray(r.result["f"])
    storage.close()
    return ref


def _loads(text: str) -> dict[str, Any]:
    import tomllib

    return tomllib.loads(text)


def assert_exact(
    storage: Storage,
    name: str,
    ref: Reference,
    failed: dict[str, str] | None = None,
    *,
    evaluations: int = EVALUATIONS,
) -> None:
    """Nothing lost, nothing duplicated: every run is done with exactly the uninterrupted run's evaluations
    (each once, in order; ``evaluations`` of them), metrics and front; or, for the keys of ``failed``, failed
    with that reason and a stored record consistent with its last checkpoint."""
    failed = failed or {}
    runs = storage.runs(storage.study_id(name))
    assert {r.key for r in runs} == set(ref.x), "the planned runs are not all stored"
    for r in runs:
        ev = storage.evaluations(r.id)
        stored = 0 if ev is None else ev.x.shape[0]
        if r.key in failed:
            assert r.status == "failed" and failed[r.key] in r.last_error, (r.key, r.error)
            ckpt = storage.checkpoint(r.id)
            assert stored == r.n_evaluations == (ckpt[1] if ckpt else 0), r.key
            if stored:  # what is stored is the reference's beginning, once
                np.testing.assert_array_equal(ev.x, ref.x[r.key][:stored])
            continue
        assert r.status == "done", (r.key, r.status, r.error)
        assert stored == r.n_evaluations == evaluations, (r.key, stored, r.n_evaluations)
        np.testing.assert_array_equal(ev.x, ref.x[r.key], err_msg=r.key)
        np.testing.assert_array_equal(ev.f, ref.f[r.key], err_msg=r.key)
        assert [m["step"] for m in storage.metrics(r.id)] == ref.steps[r.key], r.key
        np.testing.assert_array_equal(np.asarray(r.result["f"]), ref.front[r.key], err_msg=r.key)


def no_traceback(err: str) -> None:
    assert "Traceback" not in err, err[-4000:]


class Proxy:
    """A TCP proxy in front of a server; :meth:`outage` cuts every connection and refuses new ones for a while
    (what clients see while PostgreSQL restarts)."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self._lock = threading.Lock()
        self._sockets: list[socket.socket] = []
        self._down = threading.Event()
        self._stop = threading.Event()
        self._listener = self._listen(0)
        self.port = self._listener.getsockname()[1]
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _listen(self, port: int) -> socket.socket:
        sock = socket.socket()
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
        sock.listen(64)
        sock.settimeout(0.1)
        return sock

    def _accept(self) -> None:
        while not self._stop.is_set():
            if self._down.is_set():
                time.sleep(0.05)
                continue
            try:
                client, _ = self._listener.accept()
            except (TimeoutError, OSError):
                continue
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while True:
                ready, _, _ = select.select([a, b], [], [], 0.5)
                for src in ready:
                    data = src.recv(65536)
                    if not data:
                        return
                    (b if src is a else a).sendall(data)
        except OSError:
            return
        finally:
            for s in (a, b):
                s.close()

    def outage(self, seconds: float) -> None:
        """Close every connection and the listening socket; listen again (same port) after ``seconds``."""
        self._down.set()
        self._listener.close()
        with self._lock:
            doomed, self._sockets = self._sockets, []
        for s in doomed:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()
        time.sleep(seconds)
        self._listener = self._listen(self.port)
        self._down.clear()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._listener.close()
        with self._lock:
            for s in self._sockets:
                s.close()
