"""``polyopt study ...``: run, resume, inspect, report and delete studies.

``STUDY`` is a study file (``study.toml``: its storage is the file's own, or ``--storage``), a SQLite database
file (``study.sqlite``), or a study name in ``--storage URL`` (or ``$POLYOPT_STORAGE``).

Exit status of every command: 0 on success; 1 when something failed (``run``/``resume``: a run failed or was
left unfinished, one line each); 2 for bad input (an unknown name, a bad option or file, a study that is not
there); 130 when interrupted (Ctrl-C or SIGTERM: the runs are handed back, and ``resume`` continues them).
Passwords in storage URLs are printed as ``***``.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import typer

from polyopt.errors import (
    ConfigError,
    IncompatibleProblemError,
    PolyoptError,
    SpaceError,
)

__all__ = ["app"]

app = typer.Typer(
    help="Define, run, resume and report studies (optimizer x problem x seed grids).",
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,  # plain help: rich panels show flags as taking a value ("--quiet <bool>")
)

_STORAGE = typer.Option(
    None, "--storage", help="SQLAlchemy URL (default: the study file's; or $POLYOPT_STORAGE)"
)
_QUIET = typer.Option(False, "--quiet", "-q", help="no progress bars")
_WORKERS = typer.Option(1, "--workers", "-w", help="worker processes on this machine")
_EXECUTOR = typer.Option("local", "--executor", "-e", help="local | process | ray")
_RAY = typer.Option(None, "--ray-address", help="Ray cluster address (default: a local ray.init())")
_WAIT = typer.Option(
    True,
    help="wait for runs other workers hold, taking over any whose lease they abandon (--no-wait leaves "
    "them, and exits 1 if any is unfinished)",
)
#: Errors that mean "the user asked for something invalid": exit code 2 (typer's own usage errors too).
_USAGE_ERRORS = (ConfigError, IncompatibleProblemError, SpaceError)
#: At most this many failed or unfinished runs are listed one per line.
_MAX_LINES = 50
_PASSWORD = re.compile(r"(\b[a-zA-Z][a-zA-Z0-9+.-]*://[^:/@\s]*:)[^@\s]+@")


def _mask(text: str) -> str:
    """``text`` with the password of every URL in it shown as ``***``."""
    return _PASSWORD.sub(r"\1***@", text)


def _fail(exc: Exception) -> typer.Exit:
    """Print ``error: ...`` in red (passwords masked); exit 2 for bad input, 1 otherwise."""
    message = str(exc) if isinstance(exc, PolyoptError) else f"{type(exc).__name__}: {exc}"
    typer.secho(f"error: {_mask(message)}", fg="red", err=True)
    return typer.Exit(2 if isinstance(exc, _USAGE_ERRORS) else 1)


def _debug() -> bool:
    """``polyopt --debug ...`` (or ``POLYOPT_DEBUG=1``): let unexpected errors show their traceback."""
    top = sys.modules.get("polyopt.cli")
    return bool(os.environ.get("POLYOPT_DEBUG")) or bool(
        getattr(top, "_options", {}).get("debug", False)
    )


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """One line and an exit code for every error (see the module docstring); 130 on Ctrl-C."""
    try:
        yield
    except (typer.Exit, typer.Abort):
        raise
    except KeyboardInterrupt:
        typer.secho("interrupted", fg="yellow", err=True)
        raise typer.Exit(130) from None
    except PolyoptError as exc:
        raise _fail(exc) from None
    except Exception as exc:
        if _debug():
            raise
        typer.secho(
            f"error: {_mask(f'{type(exc).__name__}: {exc}')} "
            "(run `polyopt --debug study ...` for the traceback)",
            fg="red",
            err=True,
        )
        raise typer.Exit(1) from None


def _resolve(study: str, storage: str | None) -> tuple[str, str, Path | None]:
    """``(storage URL, study name, report folder)`` for a study file, a SQLite file or a name."""
    from polyopt.study.definition import load_study

    path = Path(study)
    if path.suffix == ".toml":
        s = load_study(path)
        url = storage or s.storage_url
        return url, s.name, s.output_dir / "report"
    if path.suffix in (".sqlite", ".db"):
        if not path.is_file():
            raise ConfigError(f"the study database {str(path)!r} does not exist")
        from polyopt.study.storage import Storage

        url = f"sqlite:///{path.resolve()}"
        names = Storage(url).study_names()
        if len(names) != 1:
            raise ConfigError(
                f"{path} holds {len(names)} studies ({', '.join(names)}); pass --storage {url} "
                "and the study's name"
            )
        return url, names[0], path.resolve().parent / "report"
    named = storage or os.environ.get("POLYOPT_STORAGE")
    if not named:
        raise ConfigError(
            f"{study!r} is neither a .toml study file nor a .sqlite database; for a study name, "
            "pass --storage URL (or set POLYOPT_STORAGE)"
        )
    return named, study, None


def _load(study: str, storage: str | None) -> Any:
    """The study from its file, or (by name or SQLite file) as stored."""
    from polyopt.study.definition import load_study

    if Path(study).suffix == ".toml":
        s = load_study(study)
        if storage:
            s.storage = storage
        return s
    from polyopt.study.storage import Storage

    url, name, report_dir = _resolve(study, storage)
    s = Storage(url).load_study(name)
    if report_dir is not None:  # a SQLite file: its report goes beside it
        s.report_dir = report_dir
    return s


def _execute(target: str, storage: str | None, *, resume: bool, **options: Any) -> None:
    """Run or resume the study ``target``; print failed and unfinished runs, then the report's path; exit 1
    unless every run is done, 130 on Ctrl-C."""
    from polyopt.study.executors import StudyInterrupted, run_study, study_outcome

    s = _load(target, storage)
    again = f"polyopt study resume {target}" + (f" --storage {_mask(storage)}" if storage else "")
    with _sigterm_interrupts():
        try:
            path = run_study(s, resume=resume, notify=_note, **options)
        except StudyInterrupted as exc:
            typer.secho(f"{_mask(str(exc))}; continue with: {again}", fg="yellow", err=True)
            raise typer.Exit(130) from None
    outcome = study_outcome(s.storage_url, s.name)
    for key, error in outcome.failed[:_MAX_LINES]:
        typer.secho(f"failed: {key}: {_mask(error)}", fg="red", err=True)
    for key, why in outcome.unfinished[:_MAX_LINES]:
        typer.secho(f"unfinished: {key}: {why}", fg="yellow", err=True)
    listed = len(outcome.failed) + len(outcome.unfinished)
    if listed > 2 * _MAX_LINES or len(outcome.failed) > _MAX_LINES:
        typer.secho("(more in `polyopt study status --runs`)", err=True)
    if outcome.failed:
        crashed = " (add --retry-crashed for runs whose workers died)" if outcome.died else ""
        typer.secho(
            f"{len(outcome.failed)} of {outcome.total} runs failed; retry them with: {again}"
            f"{crashed}",
            fg="red",
            err=True,
        )
    if outcome.unfinished:
        typer.secho(
            f"{len(outcome.unfinished)} of {outcome.total} runs are unfinished; continue with: "
            f"{again}",
            fg="yellow",
            err=True,
        )
    if path is not None:
        typer.echo(str(path))
    if not outcome.ok:
        raise typer.Exit(1)


def _note(line: str) -> None:
    typer.secho(_mask(line), fg="yellow", err=True)


@contextlib.contextmanager
def _sigterm_interrupts() -> Iterator[None]:
    """SIGTERM (a scheduler's preemption, ``kill``) stops a study as Ctrl-C does: runs are handed back."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@app.command()
def run(
    study_file: Path = typer.Argument(..., help="the study file (TOML)"),
    storage: str | None = _STORAGE,
    workers: int = _WORKERS,
    executor: str = _EXECUTOR,
    ray_address: str | None = _RAY,
    quiet: bool = _QUIET,
    report: bool = typer.Option(True, help="write the report at the end"),
    wait: bool = _WAIT,
) -> None:
    """Run every run of a study not yet done (joining workers already on it); print the report's path last.

    Exits 1 when a run failed or is unfinished (one line each; `study resume` retries them)."""
    with _errors():
        _execute(
            str(study_file),
            storage,
            resume=False,
            executor=executor,
            workers=workers,
            ray_address=ray_address,
            quiet=quiet,
            report=report,
            wait=wait,
        )


@app.command()
def resume(
    study_file: str = typer.Argument(..., help="study file, SQLite file, or name (with --storage)"),
    storage: str | None = _STORAGE,
    workers: int = _WORKERS,
    executor: str = _EXECUTOR,
    ray_address: str | None = _RAY,
    quiet: bool = _QUIET,
    report: bool = typer.Option(True, help="write the report at the end"),
    wait: bool = _WAIT,
    retry_crashed: bool = typer.Option(
        False,
        "--retry-crashed",
        help="also retry runs failed because their workers died max_attempts times",
    ),
) -> None:
    """Resume a study: failed runs and runs whose worker is gone (its process ended on this host, or its
    lease went stale) continue from their last checkpoint; pending runs start. Prints the report's path last.

    Exits 1 when a run failed or is unfinished (one line each)."""
    with _errors():
        _execute(
            study_file,
            storage,
            resume=True,
            executor=executor,
            workers=workers,
            ray_address=ray_address,
            quiet=quiet,
            report=report,
            wait=wait,
            retry_crashed=retry_crashed,
        )


@app.command()
def validate(study_file: Path = typer.Argument(..., help="the study file (TOML)")) -> None:
    """Check a study file (names, config keys, optimizer/problem pairings) without running anything."""
    from polyopt.study.definition import load_study

    try:
        s = load_study(study_file)
        s.validate()
    except PolyoptError as exc:
        raise _fail(exc) from exc
    typer.echo(f"study {s.name!r}: {s.grid} = {len(s.runs())} runs, valid")


@app.command()
def schema() -> None:
    """Print every key of a study file with its type, default and meaning, and an example (Markdown)."""
    from polyopt.study.reference import study_file_markdown

    typer.echo(study_file_markdown(), nl=False)


@app.command()
def status(
    study: str = typer.Argument(..., help="study file, SQLite file, or name"),
    storage: str | None = _STORAGE,
    runs: bool = typer.Option(
        False, "--runs", help="list every run, with its lease and the last line of its error"
    ),
) -> None:
    """Show the study's runs by state and their stored evaluations (each run with --runs)."""
    from rich.console import Console
    from rich.table import Table

    from polyopt.study.storage import Storage, mask_url

    with _errors():
        url, name, _ = _resolve(study, storage)
        st = Storage(url)
        sid = st.study_id(name)
        counts, records = st.counts(sid), st.runs(sid, with_results=False)
    console = Console()
    table = Table(
        title=f"study {name}", caption=mask_url(url), title_justify="left", caption_justify="left"
    )
    for col in ("optimizer", *counts, "stored evaluations"):
        table.add_column(col, justify="left" if col == "optimizer" else "right")
    for label in dict.fromkeys(r.spec.optimizer_label for r in records):
        mine = [r for r in records if r.spec.optimizer_label == label]
        table.add_row(
            label,
            *[str(sum(r.status == s for r in mine)) for s in counts],
            f"{sum(r.n_evaluations for r in mine):,}",
        )
    table.add_row(
        "[bold]all",
        *[f"[bold]{v}" for v in counts.values()],
        f"[bold]{sum(r.n_evaluations for r in records):,}",
    )
    console.print(table)
    if runs:
        detail = Table()
        for col in ("run", "status", "attempts", "evaluations", "wall time", "lease", "error"):
            detail.add_column(col, overflow="fold")
        now = time.time()
        for r in records:
            evaluations = f"{r.n_evaluations:,}"
            if r.status == "running" and r.live_evaluations > r.n_evaluations:
                evaluations += f" (live {r.live_evaluations:,})"
            lease = ""
            if r.status == "running":
                lease = f"{r.lease_owner}, {now - (r.heartbeat_at or now):.0f} s ago"
            detail.add_row(
                r.key,
                r.status,
                str(r.attempts) + (f" ({r.crashes} crashed)" if r.crashes else ""),
                evaluations,
                f"{r.wall_time:.1f} s",
                lease,
                _mask(r.last_error) if r.status in ("failed", "pending", "running") else "",
                style="red" if r.status == "failed" else None,
            )
        console.print(detail)


@app.command()
def delete(
    study: str = typer.Argument(..., help="study file, SQLite file, or name (with --storage)"),
    storage: str | None = _STORAGE,
    yes: bool = typer.Option(False, "--yes", "-y", help="do not ask for confirmation"),
    force: bool = typer.Option(
        False, "--force", help="delete even while live workers hold leases on its runs"
    ),
) -> None:
    """Delete a study from its storage: its runs, evaluations, metrics and checkpoints (report files
    stay)."""
    from polyopt.study.storage import Storage, mask_url

    with _errors():
        url, name, _ = _resolve(study, storage)
        st = Storage(url)
        sid = st.study_id(name)
        records = st.runs(sid, with_results=False)
        definition = st.load_study(name)
        fresh = time.time() - definition.stale_after_seconds
        live = [r for r in records if r.status == "running" and (r.heartbeat_at or 0) > fresh]
        if live and not force:
            raise PolyoptError(
                f"{len(live)} runs of study {name!r} are leased by live workers "
                f"({', '.join(sorted({r.lease_owner or '?' for r in live})[:3])}); stop them first, "
                "or pass --force"
            )
        done = sum(r.status == "done" for r in records)
        where = mask_url(url)
        if not yes:
            typer.confirm(
                f"delete study {name!r} ({len(records)} runs, {done} done) from {where}?",
                abort=True,
            )
        n = st.delete_study(name)
        typer.echo(f"deleted study {name!r} ({n} runs) from {where}")


@app.command()
def report(
    study: str = typer.Argument(..., help="study file, SQLite file, or name"),
    storage: str | None = _STORAGE,
    out: Path | None = typer.Option(
        None, "--out", "-o", help="output folder (default: beside the study)"
    ),
) -> None:
    """Write the HTML report (plots embedded) with CSV and JSON exports; print its path."""
    from polyopt.study.report import write_report

    try:
        url, name, default_out = _resolve(study, storage)
        path = write_report(url, name, out or default_out or Path(f"{name}-report"))
    except PolyoptError as exc:
        raise _fail(exc) from exc
    typer.echo(str(path))


if __name__ == "__main__":
    app()
