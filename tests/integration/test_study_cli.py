"""`polyopt study ...` as a user types it: validate, run (report path last), status, report, resume, delete;
exit codes (0 all done, 1 a run failed or is unfinished, 2 bad input) and one line per failed run."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from sqlalchemy import update
from typer.testing import CliRunner

from polyopt.study import load_study
from polyopt.study import schema as s
from polyopt.study.cli import app
from polyopt.study.storage import Storage

STUDY = """
[study]
name = "cli"
seeds = 2
budget = { evaluations = 40 }
max_attempts = 2

[metrics]
record = ["hv"]

[[optimizers]]
name = "random-search"
config = { batch_size = 8 }

[[problems]]
name = "zdt1"
options = { n_var = 3 }
"""

EXPLODING = '''
from polyopt_plugins.search.random import RandomSearch

class Exploding(RandomSearch):
    """Random search that raises on its third step with seed 1."""
    def step(self):
        if self.seed == 1 and self.n_steps == 2:
            raise RuntimeError("boom on step 3")
        return super().step()
'''

WIDE = {"COLUMNS": "200"}  # rich folds a table's cells to the terminal's width


def test_run_status_report_resume_delete(tmp_path: Path) -> None:
    study_file = tmp_path / "cli.toml"
    study_file.write_text(STUDY)
    runner = CliRunner()

    out = runner.invoke(app, ["validate", str(study_file)])
    assert out.exit_code == 0 and "2 runs, valid" in out.output

    out = runner.invoke(app, ["run", str(study_file), "--quiet"])
    assert out.exit_code == 0, out.output
    report = Path(out.output.strip().splitlines()[-1])
    assert report == tmp_path / "cli.polyopt" / "report" / "index.html" and report.is_file()

    out = runner.invoke(app, ["status", str(study_file), "--runs"], env=WIDE)
    assert out.exit_code == 0 and "random-search/zdt1/1" in out.output
    assert "done" in out.output

    db = tmp_path / "cli.polyopt" / "study.sqlite"
    out = runner.invoke(app, ["report", str(db), "--out", str(tmp_path / "again")])
    assert out.exit_code == 0 and (tmp_path / "again" / "index.html").is_file()

    out = runner.invoke(
        app, ["resume", str(study_file), "--quiet"]
    )  # nothing left: just the report
    assert out.exit_code == 0 and out.output.strip().endswith("index.html")

    out = runner.invoke(app, ["delete", str(study_file)], input="n\n")
    assert out.exit_code == 1 and Storage(f"sqlite:///{db}").study_names() == ["cli"]
    out = runner.invoke(app, ["delete", str(db)], input="y\n")
    assert out.exit_code == 0, out.output
    assert (
        "delete study 'cli' (2 runs, 2 done)" in out.output and "deleted study 'cli'" in out.output
    )
    assert Storage(f"sqlite:///{db}").study_names() == []
    out = runner.invoke(app, ["delete", str(study_file), "--yes"])
    assert out.exit_code == 2 and "no study named 'cli'" in out.output


def test_failed_runs_exit_1_with_one_line_each_and_say_how_to_retry(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "exploding.py").write_text(EXPLODING)
    monkeypatch.syspath_prepend(str(tmp_path))
    study_file = tmp_path / "cli.toml"
    study_file.write_text(STUDY.replace('"random-search"', '"exploding:Exploding"'))
    runner = CliRunner()

    out = runner.invoke(app, ["run", str(study_file), "--quiet"])
    assert out.exit_code == 1, out.output
    lines = out.output.strip().splitlines()
    assert "Traceback" not in out.output
    assert lines[0] == "failed: exploding:Exploding/zdt1/1: RuntimeError: boom on step 3"
    assert lines[1] == f"1 of 2 runs failed; retry them with: polyopt study resume {study_file}"
    assert lines[2].endswith("index.html") and len(lines) == 3  # the report of what is there

    out = runner.invoke(app, ["status", str(study_file), "--runs"], env=WIDE)
    assert out.exit_code == 0 and "RuntimeError: boom on step 3" in out.output

    out = runner.invoke(app, ["resume", str(study_file), "--quiet"])  # it fails again
    assert out.exit_code == 1 and "retrying 1 run (exploding:Exploding/zdt1/1)" in out.output
    assert "failed: exploding:Exploding/zdt1/1: RuntimeError: boom on step 3" in out.output


def test_bad_input_exits_2_with_one_line(tmp_path: Path) -> None:
    study_file = tmp_path / "bad.toml"
    study_file.write_text(STUDY.replace('"random-search"', '"random-serch"'))
    runner = CliRunner()
    out = runner.invoke(app, ["run", str(study_file), "--quiet"])
    assert out.exit_code == 2 and "Did you mean 'random-search'" in out.output
    # validation refused it before anything was stored
    assert not (tmp_path / "cli.polyopt").exists()

    good = tmp_path / "good.toml"
    good.write_text(STUDY)
    cases = [
        (["status", "nosuchstudy"], "--storage"),
        (["status", str(tmp_path / "missing.sqlite")], "does not exist"),
        (["run", str(tmp_path / "missing.toml")], "does not exist"),
        (["run", str(good), "--executor", "proces"], "Did you mean 'process'"),
        (["run", str(good), "--workers", "0"], "workers=0"),
        (["run", str(good), "--storage", "mysql://u:pw@h/db"], "expected a sqlite"),
        (["resume", "cli", "--storage", f"sqlite:///{tmp_path / 'x.sqlite'}"], "no study named"),
        (["run"], "Missing argument"),
        (["run", str(good), "--no-such-option"], "No such option"),
    ]
    for args, message in cases:
        out = runner.invoke(app, args)
        assert out.exit_code == 2, (args, out.output)
        assert message in out.output and "Traceback" not in out.output, (args, out.output)
        assert "u:pw@" not in out.output


def test_an_unreachable_database_is_one_line_with_the_password_masked(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("polyopt.study.storage.FIRST_CONNECT_SECONDS", 0.2)
    url = "postgresql+psycopg://polyopt:s3cret@127.0.0.1:9/polyopt_test"  # port 9: nothing listens
    out = CliRunner().invoke(app, ["status", "anything", "--storage", url])
    assert out.exit_code == 1, out.output
    assert "polyopt:***@127.0.0.1:9" in out.output and "s3cret" not in out.output
    assert len(out.output.strip().splitlines()) == 1


@pytest.mark.postgres
def test_status_masks_the_password_of_a_postgres_storage(tmp_path: Path) -> None:
    base = os.environ.get("POLYOPT_TEST_POSTGRES_URL")
    if not base:
        pytest.skip("POLYOPT_TEST_POSTGRES_URL is not set")
    from sqlalchemy.engine import make_url

    from polyopt.study.pgschema import drop_schema, schema_url

    password = make_url(base).password
    url = schema_url(base, "test_cli_mask")
    try:
        study_file = tmp_path / "cli.toml"
        study_file.write_text(STUDY)
        runner = CliRunner()
        out = runner.invoke(app, ["run", str(study_file), "--storage", url, "--quiet"])
        assert out.exit_code == 0, out.output
        out = runner.invoke(app, ["status", "cli", "--storage", url])
        assert out.exit_code == 0 and ":***@" in out.output
        out = runner.invoke(app, ["status", "nope", "--storage", url])
        assert out.exit_code == 2 and "no study named 'nope'" in out.output
        for text in (out.output,):
            assert f":{password}@" not in text
    finally:
        drop_schema(base, "test_cli_mask")


def test_runs_leased_by_live_workers_elsewhere_are_named_and_left_unfinished(
    tmp_path: Path,
) -> None:
    study_file = tmp_path / "cli.toml"
    study_file.write_text(STUDY)
    study = load_study(study_file)
    storage = Storage(study.storage_url)
    sid = storage.add_study(study)
    held = storage.claim(sid, "otherhost:41:abcd", stale_after=60)
    with storage.engine.begin() as conn:  # a worker on another machine holds it, with a fresh lease
        conn.execute(update(s.runs).where(s.runs.c.id == held.id).values(lease_host="otherhost"))

    out = CliRunner().invoke(
        app, ["resume", str(study_file), "--quiet", "--no-wait", "--no-report"]
    )
    assert out.exit_code == 1, out.output
    lines = out.output.strip().splitlines()
    assert lines[0].startswith(
        f"1 run ({held.key}) leased by live workers (otherhost:41:abcd): left to them (--no-wait)"
    )
    assert lines[1].startswith(f"unfinished: {held.key}: leased by otherhost:41:abcd (heartbeat")
    assert lines[2] == (
        f"1 of 2 runs are unfinished; continue with: polyopt study resume {study_file}"
    )
    assert storage.run(held.id).status == "running"  # left alone
    assert [r.status for r in storage.runs(sid)].count("done") == 1
