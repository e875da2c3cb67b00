"""The documentation site's own machinery (docs/hooks), without building it: CI builds the whole site in strict
mode after the tests (`make docs` in .ci/run), which runs every tutorial; these tests check in seconds what a
strict build would only report at its end, or not at all."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HOOKS = ROOT / "docs" / "hooks"

pytest.importorskip("mkdocs", reason="the docs extra is not installed (pip install -e '.[docs]')")
yaml = pytest.importorskip("yaml")
sys.path.insert(0, str(HOOKS))
import polyopt_docs  # noqa: E402  (docs/hooks is not a package)
import run_tutorial  # noqa: E402


def _nav_pages(node: object) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, list):
        return [page for item in node for page in _nav_pages(item)]
    if isinstance(node, dict):
        return [page for value in node.values() for page in _nav_pages(value)]
    return []


def test_every_executed_page_is_in_the_navigation() -> None:
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    nav = set(_nav_pages(config["nav"]))
    scripts = polyopt_docs._all_tutorials()
    assert {s.stem for s in scripts} >= {"first_run", "study", "grpo", "plugin", "failures"}
    missing = [polyopt_docs._page_path(s, ".md") for s in scripts]
    missing = [page for page in missing if page not in nav]
    assert not missing, f"executed pages not in mkdocs.yml's nav: {missing}"


def test_split_cells_reads_the_percent_format() -> None:
    source = "# %% [markdown]\n# # Title\n#\n# Prose.\n\n# %%\nx = 1\nx + 1\n\n# %%\n\n"
    cells = run_tutorial.split_cells(source)
    assert [c["kind"] for c in cells] == ["markdown", "code"]
    assert cells[0]["source"] == "# Title\n\nProse."
    assert cells[1] == {"kind": "code", "source": "x = 1\nx + 1", "line": 7}


def test_a_tutorial_that_raises_fails_with_its_line(tmp_path: Path) -> None:
    script = tmp_path / "broken.py"
    script.write_text(
        "# %%\nvalue = 41\nvalue + 1\n\n# %%\nprint('before')\nraise ValueError('no')\n"
    )
    out = tmp_path / "out"
    out.mkdir()
    proc = subprocess.run(
        [sys.executable, str(HOOKS / "run_tutorial.py"), str(script), str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 1
    assert "the cell at line 6 failed" in proc.stderr
    assert "ValueError: no" in proc.stderr and "before" in proc.stderr
    assert not (out / "cells.json").exists()
    script.write_text("# %%\nvalue = 41\nvalue + 1\n")
    proc = subprocess.run(
        [sys.executable, str(HOOKS / "run_tutorial.py"), str(script), str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    (cell,) = json.loads((out / "cells.json").read_text())
    assert cell["stdout"] == "42\n"


def test_the_results_page_lists_every_section_of_results_md() -> None:
    text = (ROOT / "benchmarks" / "RESULTS.md").read_text()
    page = polyopt_docs.results_md(text)
    sections = [line[3:].strip() for line in text.splitlines() if line.startswith("## ")]
    assert sections
    table = page.split("\n\n", 1)[0]
    for title in sections:
        assert f"[{polyopt_docs._cell(title)}](#results-" in table, title
        assert f"\n### {title} {{ #results-" in page, title
    # the file's own title is dropped and headings go one level down; a code block's "# " comments stay
    outside = page.split("```")[::2]
    assert not any(line.startswith("# ") for part in outside for line in part.splitlines())
