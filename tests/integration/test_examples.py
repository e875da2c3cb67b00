"""Every example in examples/ and every Python block in the README runs as a user would run it: scripts with
python, study files with the polyopt command (from a copy, so results land in a temporary folder), in a folder
that is not the repository and with no PYTHONPATH to the examples. The README's shell commands are `make`
targets, checked by a dry run."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p for p in (ROOT / "examples").glob("*.py"))
STUDIES = sorted((ROOT / "examples" / "studies").glob("*.toml"))
POLYOPT = str(Path(sys.executable).parent / "polyopt")


def _run(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONWARNINGS": "error::UserWarning:polyopt.plugins",
    }  # a broken builtin fails loudly
    return subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_example_script_runs(script: Path, tmp_path: Path) -> None:
    proc = _run([sys.executable, str(script)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.strip(), "an example should show the user something"


def test_readme_python_blocks_run(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, flags=re.S)
    runnable = [b for b in blocks if "import polyopt" in b]
    assert runnable, "the README should show a runnable Python example"
    for block in runnable:
        script = tmp_path / "readme_block.py"
        script.write_text(block)
        proc = _run([sys.executable, str(script)], tmp_path)
        assert proc.returncode == 0, f"README block failed:\n{block}\n{proc.stderr[-3000:]}"


@pytest.mark.parametrize("study", STUDIES, ids=lambda p: p.name)
def test_example_study_file_is_valid(study: Path, tmp_path: Path) -> None:
    proc = _run([POLYOPT, "study", "validate", str(study)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "runs, valid" in proc.stdout


def _copy_studies(tmp_path: Path) -> Path:
    """examples/studies copied into ``tmp_path`` (without stored results), as a user's own folder."""
    target = tmp_path / "examples" / "studies"
    shutil.copytree(
        ROOT / "examples" / "studies",
        target,
        ignore=shutil.ignore_patterns("*.polyopt", "__pycache__"),
    )
    return target


def test_the_quickstart_study_runs_at_a_small_scale(tmp_path: Path) -> None:
    """What `make demo` runs, shrunk (2 seeds, 300 and 10 evaluations), with 2 worker processes."""
    studies = _copy_studies(tmp_path)
    text = (studies / "quickstart.toml").read_text()
    for old, new in (
        ("seeds = 4", "seeds = 2"),
        ("evaluations = 5000", "evaluations = 300"),
        ("evaluations = 20", "evaluations = 10"),
        ("n_initial = 8", "n_initial = 6"),
    ):
        assert old in text, f"quickstart.toml no longer says {old!r}: update this test"
        text = text.replace(old, new)
    (studies / "quickstart.toml").write_text(text)
    proc = _run(
        [POLYOPT, "study", "run", "examples/studies/quickstart.toml", "--workers", "2", "--quiet"],
        tmp_path,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = Path(proc.stdout.strip().splitlines()[-1])
    data = json.loads((report.parent / "report.json").read_text())
    assert len(data["runs"]) == 36 and all(r["status"] == "done" for r in data["runs"])
    tables = data["problems"][0]["tables"]
    assert [t["budget"] for t in tables] == ["300 evaluations", "10 evaluations"]


def _readme_commands() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```bash\n(.*?)```", readme, flags=re.S)
    lines = [line.split("#", 1)[0].strip() for block in blocks for line in block.splitlines()]
    return [line for line in lines if line]


def test_readme_commands_are_the_makefile_targets_it_describes() -> None:
    """The README's set-up commands are `make demo`, `make test` and `make docs`, and a dry run of each
    (`make -n`: nothing is installed or run) shows what the README says they do: the quickstart study, the
    test suite and the strict site build. The rest of the README's former commands run from the tour page
    (tests/integration/test_docs_code.py)."""
    commands = _readme_commands()
    assert commands == ["make demo", "make test", "make docs"], commands
    expected = {
        "demo": "polyopt study run examples/studies/quickstart.toml",
        "test": "-m pytest",
        "docs": "mkdocs build --strict",
    }
    for target, shows in expected.items():
        proc = subprocess.run(
            ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert proc.returncode == 0, proc.stderr
        assert shows in proc.stdout, f"make -n {target}:\n{proc.stdout}"


def test_readme_links_to_pages_that_exist() -> None:
    readme = (ROOT / "README.md").read_text()
    links = [t for t in re.findall(r"\]\(([^)#]+)\)", readme) if "://" not in t]
    assert any(link.startswith("docs/") for link in links), "the README should link to the site"
    missing = [link for link in links if not (ROOT / link).exists()]
    assert not missing, missing
