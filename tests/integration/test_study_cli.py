"""`polyopt study ...` as a user types it: validate, run (report path last), status, report, resume."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from polyopt.study.cli import app

STUDY = """
[study]
name = "cli"
seeds = 2
budget = { evaluations = 40 }

[metrics]
record = ["hv"]

[[optimizers]]
name = "random-search"
config = { batch_size = 8 }

[[problems]]
name = "zdt1"
options = { n_var = 3 }
"""


def test_run_status_report_resume(tmp_path: Path) -> None:
    study_file = tmp_path / "cli.toml"
    study_file.write_text(STUDY)
    runner = CliRunner()

    out = runner.invoke(app, ["validate", str(study_file)])
    assert out.exit_code == 0 and "2 runs, valid" in out.output

    out = runner.invoke(app, ["run", str(study_file), "--quiet"])
    assert out.exit_code == 0, out.output
    report = Path(out.output.strip().splitlines()[-1])
    assert report == tmp_path / "cli.polyopt" / "report" / "index.html" and report.is_file()

    out = runner.invoke(app, ["status", str(study_file), "--runs"])
    assert out.exit_code == 0 and "random-search/zdt1/1" in out.output
    assert "done" in out.output

    db = tmp_path / "cli.polyopt" / "study.sqlite"
    out = runner.invoke(app, ["report", str(db), "--out", str(tmp_path / "again")])
    assert out.exit_code == 0 and (tmp_path / "again" / "index.html").is_file()

    out = runner.invoke(
        app, ["resume", str(study_file), "--quiet"]
    )  # nothing left: just the report
    assert out.exit_code == 0 and out.output.strip().endswith("index.html")


def test_mistakes_are_one_line_errors_with_suggestions(tmp_path: Path) -> None:
    study_file = tmp_path / "bad.toml"
    study_file.write_text(STUDY.replace('"random-search"', '"random-serch"'))
    out = CliRunner().invoke(app, ["run", str(study_file), "--quiet"])
    assert out.exit_code == 1 and "Did you mean 'random-search'" in out.output
    assert not (
        tmp_path / "cli.polyopt"
    ).exists()  # validation refused it before anything was stored
    out = CliRunner().invoke(app, ["status", "nosuchstudy"])
    assert out.exit_code == 1 and "--storage" in out.output
