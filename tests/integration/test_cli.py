"""The ``polyopt`` command line, run as a user runs it, at tiny budgets.

Most commands run in-process through typer's CliRunner; what depends on the installed script, the process
(tracebacks, exit codes, imported modules) or the environment (installing a plugin) runs in a subprocess.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

import polyopt
from polyopt import cli
from polyopt.errors import ConfigError

ROOT = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent
TEMPLATE = ROOT / "examples" / "plugin-template"
HEAVY = ("botorch", "pymoo", "transformers", "gymnasium", "ray")


@pytest.fixture
def invoke(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(cli._out, "width", 200)  # wide tables: no wrapped names
    monkeypatch.setattr(cli._err, "width", 200)
    runner = CliRunner()

    def run(*args: str) -> object:
        return runner.invoke(cli.app, list(args), catch_exceptions=False)

    return run


def _error_lines(stderr: str) -> list[str]:
    return [
        line for line in stderr.splitlines() if line.strip() and not line.startswith("warning:")
    ]


def _shell(*args: str, cwd: Path = ROOT, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(
        list(args), cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout
    )


# ------------------------------------------------------------------------------------------- in-process


def test_plugins_lists_the_builtins_with_their_status(invoke) -> None:
    result = invoke("plugins")
    assert result.exit_code == 0
    row = next(line for line in result.stdout.splitlines() if "polyopt.search" in line)
    assert "polyopt" in row and "loaded" in row


@pytest.mark.parametrize("kind", ["optimizers", "optimizer", "OPTIMIZERS"])
def test_list_accepts_singular_and_plural_kinds(invoke, kind: str) -> None:
    result = invoke("list", kind)
    assert result.exit_code == 0
    assert "random-search" in result.stdout and "uniform random sampling" in result.stdout
    assert "zdt1" not in result.stdout


def test_list_all_shows_every_kind_that_has_names(invoke) -> None:
    result = invoke("list")
    assert result.exit_code == 0
    for expected in ("optimizers", "random-search", "objectives", "zdt1", "metrics", "hypervolume"):
        assert expected in result.stdout


def test_list_with_a_typo_suggests_the_kind(invoke) -> None:
    result = invoke("list", "optimzers")
    assert result.exit_code == 2
    assert _error_lines(result.stderr) == [
        next(line for line in result.stderr.splitlines() if line.startswith("error:"))
    ]
    assert "Did you mean 'optimizers'?" in result.stderr


def test_info_on_an_optimizer_shows_its_config_fields(invoke) -> None:
    result = invoke("info", "random-search")
    assert result.exit_code == 0
    out = result.stdout
    assert "random-search (optimizer)" in out and "polyopt.search" in out
    assert "Uniform random search" in out  # the docstring
    row = next(line for line in out.splitlines() if "batch_size" in line)
    assert "int" in row and "16" in row and "Points asked per step." in row


def test_info_on_an_objective_shows_its_definition(invoke) -> None:
    result = invoke("info", "zdt1")
    assert result.exit_code == 0
    out = result.stdout
    assert "zdt1 (objective)" in out and "objectives: 2" in out and "constraints: 0" in out
    assert "n_var" in out and "ref point: (1.1, 1.1)" in out and "continuous, 30 dimensions" in out


def test_info_with_a_typo_suggests_the_name(invoke) -> None:
    result = invoke("info", "randm-search")
    assert result.exit_code == 2
    assert "error: unknown name 'randm-search'. Did you mean 'random-search'?" in result.stderr


def test_optimize_with_config_and_problem_options_as_json(invoke) -> None:
    args = (
        "optimize",
        "-o",
        "random-search",
        "-p",
        "sphere",
        "--budget",
        "12",
        "--seed",
        "3",
        "--set",
        "batch_size=4",
        "--problem-set",
        "dim=2",
        "--json",
    )
    first, second = invoke(*args), invoke(*args)
    assert first.exit_code == 0, first.stderr
    data = json.loads(first.stdout)
    assert (data["n_evaluations"], data["n_steps"], data["seed"]) == (12, 3, 3)
    assert len(data["x"][0]) == 2 and data["f_best"] == pytest.approx(
        sum(v * v for v in data["x"][0])
    )
    assert json.loads(second.stdout)["x"] == data["x"]  # same seed, same result


def test_optimize_a_multi_objective_problem_prints_the_front_and_its_hypervolume(invoke) -> None:
    result = invoke(
        "optimize",
        "-o",
        "sobol-search",
        "-p",
        "zdt1",
        "-P",
        "n_var=2",
        "--budget",
        "64",
        "--seed",
        "0",
    )
    assert result.exit_code == 0, result.stderr
    assert "non-dominated points in 2 objectives" in result.stdout
    hv_line = next(line for line in result.stdout.splitlines() if line.startswith("hypervolume = "))
    assert 0.0 < float(hv_line.split()[2]) < 1.21  # inside the reference box (1.1, 1.1)


def test_set_takes_several_pairs_separated_by_commas(invoke) -> None:
    args = ("optimize", "-o", "nsga2", "-p", "dtlz2", "--budget", "40", "--seed", "1", "--json")
    one = invoke(*args, "--set", "pop_size=8,crossover_prob=0.5", "-P", "n_var=4,n_obj=3")
    split = invoke(
        *args, "-s", "pop_size=8", "-s", "crossover_prob=0.5", "-P", "n_var=4", "-P", "n_obj=3"
    )
    assert one.exit_code == split.exit_code == 0, one.stderr + split.stderr
    assert json.loads(one.stdout)["f"] == json.loads(split.stdout)["f"]
    assert len(json.loads(one.stdout)["x"][0]) == 4 and len(json.loads(one.stdout)["f"][0]) == 3
    assert cli._pairs(["weights=[1, 2],name='a,b'", "k=v"], "--set") == {
        "weights": "[1, 2]",
        "name": "'a,b'",
        "k": "v",
    }


def _commands(group: object, prefix: tuple[str, ...] = ()) -> list[tuple[tuple[str, ...], object]]:
    import click

    out = []
    for name, command in getattr(group, "commands", {}).items():
        out.append(((*prefix, name), command))
        if isinstance(command, click.Group):
            out += _commands(command, (*prefix, name))
    return out


def test_help_shows_flags_as_flags_and_the_json_flag_works_as_shown(invoke) -> None:
    from polyopt.study.cli import app as study_app

    top = typer.main.get_command(cli.app)
    study = typer.main.get_command(study_app)
    commands = [(("polyopt", *path), c) for path, c in _commands(top)]
    commands += [(("polyopt", "study", *path), c) for path, c in _commands(study)]
    for path, command in commands:
        with command.make_context(" ".join(path), ["--help"], resilient_parsing=True) as ctx:
            text = command.get_help(ctx)
        assert "<bool>" not in text, f"{' '.join(path)} --help shows a flag as taking a value"
    help_text = invoke("optimize", "--help").stdout
    line = next(line for line in help_text.splitlines() if "--json" in line)
    assert line.split() == ["--json", "Print", "the", "result", "as", "JSON."]
    result = invoke("optimize", "-o", "random-search", "-p", "sphere", "--budget", "4", "--json")
    assert result.exit_code == 0 and json.loads(result.stdout)["n_evaluations"] == 4


def test_optimize_shows_progress_on_stderr_unless_quiet(invoke) -> None:
    args = ("optimize", "-o", "random-search", "-p", "sphere", "--budget-seconds", "2.5")
    shown = invoke(*args, "--set", "batch_size=1")
    assert shown.exit_code == 0
    assert "random-search on sphere: " in shown.stderr and "%" in shown.stderr
    quiet = invoke(*args, "--quiet")
    assert quiet.exit_code == 0 and "random-search on sphere: " not in quiet.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("--set", "batch_sise=4"),
            "unknown config key 'batch_sise' for optimizer 'random-search'. Did you mean "
            "'batch_size'",
        ),
        (("--set", "batch_size"), "--set 'batch_size'; expected key=value"),
        (("--set", "batch_size=many"), "config key 'batch_size'"),
        (("--problem-set", "dimm=2"), "unknown option 'dimm'"),
    ],
)
def test_optimize_rejects_bad_options_in_one_line(
    invoke, args: tuple[str, ...], message: str
) -> None:
    result = invoke("optimize", "-o", "random-search", "-p", "sphere", "--budget", "8", *args)
    assert result.exit_code == 2
    (line,) = _error_lines(result.stderr)
    assert line.startswith("error: ") and message in line


def test_optimize_with_unknown_names_suggests_them(invoke) -> None:
    bad_optimizer = invoke("optimize", "-o", "random-serch", "-p", "sphere", "--budget", "8")
    assert bad_optimizer.exit_code == 2 and "Did you mean 'random-search'?" in bad_optimizer.stderr
    bad_problem = invoke("optimize", "-o", "random-search", "-p", "sphre", "--budget", "8")
    assert bad_problem.exit_code == 2 and "Did you mean 'sphere'?" in bad_problem.stderr


def test_optimize_needs_a_budget(invoke) -> None:
    result = invoke("optimize", "-o", "random-search", "-p", "sphere")
    assert result.exit_code == 2 and "error: no budget" in result.stderr


def test_study_is_mounted_or_says_why_not(invoke) -> None:
    result = invoke("study", "--help")
    try:
        import polyopt.study.cli  # noqa: F401
    except ImportError:
        assert result.exit_code == 1
        assert "error: `polyopt study` is not available" in result.stderr
    else:
        assert result.exit_code == 0 and "Usage" in result.stdout


def test_study_passes_its_arguments_to_the_study_app(
    invoke, monkeypatch: pytest.MonkeyPatch
) -> None:
    study_app, seen = typer.Typer(), []

    @study_app.command("run")
    def run(path: str, workers: int = 1) -> None:
        seen.append((path, workers))

    @study_app.command("report")
    def report() -> None:
        raise ConfigError("no such study")

    monkeypatch.setitem(sys.modules, "polyopt.study.cli", types.SimpleNamespace(app=study_app))
    assert invoke("study", "run", "grid.toml", "--workers", "2").exit_code == 0
    assert seen == [("grid.toml", 2)]
    failed = invoke("study", "report")
    assert failed.exit_code == 2 and "error: no such study" in failed.stderr


# ------------------------------------------------------------------------------------------- subprocess


def test_the_installed_script_and_python_m_both_work() -> None:
    script = _shell(str(BIN / "polyopt"), "list", "objectives")
    module = _shell(sys.executable, "-m", "polyopt", "list", "objectives")
    assert script.returncode == module.returncode == 0, script.stderr + module.stderr
    assert "sphere" in script.stdout and script.stdout == module.stdout


def test_errors_are_one_line_and_debug_shows_the_traceback() -> None:
    args = (str(BIN / "polyopt"), "optimize", "-o", "random-serch", "-p", "sphere", "--budget", "4")
    plain = _shell(*args)
    assert plain.returncode == 2
    assert "Traceback" not in plain.stderr
    # the registry lists the names while there are at most 40 of them
    listing = plain.stderr.partition("Registered optimizer names: ")[2].strip()
    expected = "error: unknown optimizer 'random-serch'. Did you mean 'random-search'?"
    if len(polyopt.registry().names("optimizer")) <= 40:
        expected += " Registered optimizer names: " + listing
    else:
        assert not listing
    assert _error_lines(plain.stderr) == [expected]
    debug = _shell(args[0], "--debug", *args[1:])
    assert debug.returncode != 0
    assert (
        "Traceback (most recent call last)" in debug.stderr and "UnknownNameError" in debug.stderr
    )


def test_listing_and_plugins_do_not_import_heavy_libraries() -> None:
    code = (
        "import sys\nfrom polyopt.cli import app\n"
        "for args in (['plugins'], ['list'], ['info', 'sphere']):\n"
        "    try:\n        app(args, prog_name='polyopt')\n    except SystemExit as e:\n"
        "        assert e.code == 0, (args, e.code)\n"
        f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)\n"
    )
    proc = _shell(sys.executable, "-c", code)
    assert proc.returncode == 0, proc.stderr
    assert "HEAVY []" in proc.stderr


def test_a_broken_third_party_plugin_is_reported_and_the_cli_keeps_working(tmp_path: Path) -> None:
    info = tmp_path / "acme_broken-0.3.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: acme-broken\nVersion: 0.3\n")
    (info / "entry_points.txt").write_text("[polyopt]\nacme = acme_broken_plugin\n")
    (tmp_path / "acme_broken_plugin.py").write_text("import no_such_dependency_xyz\n")
    env = {**os.environ, "COLUMNS": "200", "PYTHONPATH": str(tmp_path)}
    run = {"env": env, "capture_output": True, "text": True, "timeout": 120}
    table = subprocess.run([str(BIN / "polyopt"), "plugins"], **run)
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if " acme " in line)
    assert (
        "acme-broken" in row
        and "0.3" in row
        and "failed" in row
        and "no_such_dependency_xyz" in row
    )
    listing = subprocess.run([str(BIN / "polyopt"), "list", "optimizers"], **run)
    assert listing.returncode == 0 and "random-search" in listing.stdout
    assert "warning: 1 plugin(s) failed to load: acme;" in listing.stderr


# ------------------------------------------------------------------------------------ the plugin template


def _installed(dist: str) -> bool:
    try:
        metadata.distribution(dist)
    except metadata.PackageNotFoundError:
        return False
    return True


@pytest.mark.slow
def test_the_plugin_template_installs_runs_and_passes_its_own_tests() -> None:
    """A third party's package works end to end; the venv is restored afterwards."""
    pip = (sys.executable, "-m", "pip", "--disable-pip-version-check", "-q")
    was_installed = _installed("polyopt-hello")
    if not was_installed:
        done = _shell(
            *pip, "install", "-e", str(TEMPLATE), "--no-deps", "--no-build-isolation", timeout=120
        )
        assert done.returncode == 0, done.stderr
    try:
        listing = _shell(str(BIN / "polyopt"), "plugins")
        row = next(line for line in listing.stdout.splitlines() if " hello " in line)
        assert "polyopt-hello" in row and "0.1.0" in row and "loaded" in row

        builtin_on_theirs = _shell(
            str(BIN / "polyopt"),
            "optimize",
            "-o",
            "random-search",
            "-p",
            "hello.bowl",
            "-P",
            "dim=2",
            "--budget",
            "16",
            "--seed",
            "0",
            "--json",
        )
        assert builtin_on_theirs.returncode == 0, builtin_on_theirs.stderr
        assert json.loads(builtin_on_theirs.stdout)["n_evaluations"] == 16

        theirs_on_builtin = _shell(
            str(BIN / "polyopt"),
            "optimize",
            "-o",
            "hello.hill-climb",
            "-p",
            "sphere",
            "--budget",
            "40",
            "--set",
            "batch_size=4",
            "--seed",
            "0",
            "--json",
        )
        assert theirs_on_builtin.returncode == 0, theirs_on_builtin.stderr
        data = json.loads(theirs_on_builtin.stdout)
        assert (data["optimizer"], data["n_evaluations"]) == ("hello.hill-climb", 40)

        own_tests = _shell(
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            cwd=TEMPLATE,
            timeout=180,
        )
        assert own_tests.returncode == 0, own_tests.stdout[-3000:]
        assert " passed" in own_tests.stdout
    finally:
        if not was_installed:
            _shell(*pip, "uninstall", "-y", "polyopt-hello")
    assert _installed("polyopt-hello") == was_installed
