"""``polyopt study ...``: run, resume, inspect and report studies.

``STUDY`` is a study file (``study.toml``: its storage is the file's own, or ``--storage``), a SQLite database
file (``study.sqlite``), or a study name in ``--storage URL`` (or ``$POLYOPT_STORAGE``).
"""

from __future__ import annotations

import os
from pathlib import Path

import typer

from polyopt.errors import PolyoptError

__all__ = ["app"]

app = typer.Typer(
    help="Define, run, resume and report studies (optimizer x problem x seed grids).",
    no_args_is_help=True,
    add_completion=False,
)

_STORAGE = typer.Option(
    None, "--storage", help="SQLAlchemy URL (default: the study file's; or $POLYOPT_STORAGE)"
)
_QUIET = typer.Option(False, "--quiet", "-q", help="no progress bars")
_WORKERS = typer.Option(1, "--workers", "-w", help="worker processes on this machine")
_EXECUTOR = typer.Option("local", "--executor", "-e", help="local | process | ray")
_RAY = typer.Option(None, "--ray-address", help="Ray cluster address (default: a local ray.init())")


def _fail(exc: Exception) -> typer.Exit:
    typer.secho(f"error: {exc}", fg="red", err=True)
    return typer.Exit(1)


def _resolve(study: str, storage: str | None) -> tuple[str, str, Path | None]:
    """``(storage URL, study name, report folder)`` for a study file, a SQLite file or a name."""
    from polyopt.study.definition import load_study

    path = Path(study)
    if path.suffix == ".toml":
        s = load_study(path)
        url = storage or s.storage_url
        return url, s.name, s.output_dir / "report"
    if path.suffix in (".sqlite", ".db") and path.is_file():
        from polyopt.study.storage import Storage

        url = f"sqlite:///{path.resolve()}"
        names = Storage(url).study_names()
        if len(names) != 1:
            raise PolyoptError(
                f"{path} holds {len(names)} studies ({', '.join(names)}); pass --storage {url} "
                "and the study's name"
            )
        return url, names[0], path.resolve().parent / "report"
    url = storage or os.environ.get("POLYOPT_STORAGE")
    if not url:
        raise PolyoptError(
            f"{study!r} is neither a .toml study file nor a .sqlite database; for a study name, "
            "pass --storage URL (or set POLYOPT_STORAGE)"
        )
    return url, study, None


def _load(study: str, storage: str | None):
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


@app.command()
def run(
    study_file: Path = typer.Argument(..., help="the study file (TOML)"),
    storage: str | None = _STORAGE,
    workers: int = _WORKERS,
    executor: str = _EXECUTOR,
    ray_address: str | None = _RAY,
    quiet: bool = _QUIET,
    report: bool = typer.Option(True, help="write the report at the end"),
) -> None:
    """Run every run of a study not yet done (joining workers already on it); print the report's path last."""
    from polyopt.study.executors import run_study

    try:
        path = run_study(
            _load(str(study_file), storage),
            executor=executor,
            workers=workers,
            ray_address=ray_address,
            quiet=quiet,
            report=report,
        )
    except PolyoptError as exc:
        raise _fail(exc) from exc
    if path is not None:
        typer.echo(str(path))


@app.command()
def resume(
    study_file: str = typer.Argument(..., help="study file, SQLite file, or name (with --storage)"),
    storage: str | None = _STORAGE,
    workers: int = _WORKERS,
    executor: str = _EXECUTOR,
    ray_address: str | None = _RAY,
    quiet: bool = _QUIET,
) -> None:
    """Resume a study: failed runs and runs whose worker died (stale lease) continue from their last
    checkpoint; pending runs start. Prints the report's path last."""
    from polyopt.study.executors import run_study

    try:
        path = run_study(
            _load(study_file, storage),
            executor=executor,
            workers=workers,
            ray_address=ray_address,
            quiet=quiet,
            resume=True,
        )
    except PolyoptError as exc:
        raise _fail(exc) from exc
    typer.echo(str(path))


@app.command()
def validate(study_file: Path = typer.Argument(..., help="the study file (TOML)")) -> None:
    """Check a study file (names, config keys, optimizer/problem pairings) without running anything."""
    from polyopt.study.definition import load_study

    try:
        s = load_study(study_file)
        s.validate()
    except PolyoptError as exc:
        raise _fail(exc) from exc
    typer.echo(f"{s!r}: {len(s.runs())} runs, valid")


@app.command()
def status(
    study: str = typer.Argument(..., help="study file, SQLite file, or name"),
    storage: str | None = _STORAGE,
    runs: bool = typer.Option(False, "--runs", help="list every run"),
) -> None:
    """Show the study's runs by state (and each run with --runs)."""
    from rich.console import Console
    from rich.table import Table

    from polyopt.study.storage import Storage

    try:
        url, name, _ = _resolve(study, storage)
        st = Storage(url)
        sid = st.study_id(name)
        counts, records = st.counts(sid), st.runs(sid)
    except PolyoptError as exc:
        raise _fail(exc) from exc
    console = Console()
    table = Table(title=f"study {name}", caption=url, title_justify="left", caption_justify="left")
    for col in ("optimizer", *counts, "evaluations"):
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
        detail = Table("run", "status", "attempts", "evaluations", "wall time", "lease")
        for r in records:
            detail.add_row(
                r.key,
                r.status,
                str(r.attempts),
                f"{r.n_evaluations:,}",
                f"{r.wall_time:.1f} s",
                r.lease_owner or "",
            )
        console.print(detail)


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
