"""Every Python block on the documentation site runs, not only the executed tutorials' code cells.

The site build (``make docs``) executes ``docs/tutorials/*.py`` and ``docs/guide/*.py``; the blocks written by
hand are checked here: the ```` ```python ```` blocks of every Markdown page under ``docs/`` and of the prose
cells of the executed scripts, and the ``polyopt ...`` lines of the Markdown pages' ```` ```bash ```` blocks.
A page's blocks run in order, as a reader would paste them, in one namespace in a process of their own, in a
fresh folder holding a copy of ``examples/``.

Two markers, an HTML comment on the line before a block (invisible on the site), change that:

- ``<!-- docs-code: needs MODULE[, MODULE] -->``: the block needs an optional package. The page's blocks with
  this marker run on their own (after nothing else), in order, skipped when a module is not installed.
- ``<!-- docs-code: not run (REASON) -->``: the block cannot run in CI at all (a GPU, a server on another
  machine). Rare: each needs a reason and the whole site has at most ``MAX_NOT_RUN`` of them.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
EXECUTED = ("tutorials", "guide")  # docs/hooks/polyopt_docs.py runs the *.py pages of these folders
MAX_NOT_RUN = 4
TIMEOUT = 600  # one page; every page's blocks use small budgets
_FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[a-zA-Z]*)")
_MARK = re.compile(r"^\s*<!--\s*docs-code:\s*(?P<what>.*?)\s*-->\s*$")


@dataclass
class Block:
    kind: str
    """``python``, or ``shell`` for one ``polyopt ...`` line of a bash block."""
    source: str
    line: int
    """Where the block starts in its page (1-based)."""
    marker: str = ""


def _blocks_of_markdown(text: str) -> list[Block]:
    """The python and bash blocks of Markdown ``text``, each with the marker on the line before it."""
    blocks: list[Block] = []
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        match = _FENCE.match(lines[index])
        if not match:
            index += 1
            continue
        indent, lang = match["indent"], match["lang"]
        end = index + 1
        while end < len(lines) and lines[end].strip() != "```":
            end += 1
        body = "\n".join(line[len(indent) :] for line in lines[index + 1 : end])
        previous = lines[index - 1] if index > 0 else ""
        mark = _MARK.match(previous)
        marker = mark["what"] if mark else ""
        start = index + 2
        if lang == "python":
            blocks.append(Block("python", body + "\n", start, marker))
        elif lang == "bash":
            for number, line in enumerate(body.splitlines()):
                command = line.split("#", 1)[0].strip()
                if command.startswith("polyopt "):
                    blocks.append(Block("shell", command, start + number, marker))
        index = end + 1
    return blocks


def _prose_of_script(path: Path) -> str:
    """A percent-format script with its prose cells as Markdown and every other line blank, so that line
    numbers stay the script's own."""
    out = []
    prose = False
    for line in path.read_text().splitlines():
        if line.startswith("# %%"):
            prose = "[markdown]" in line
            out.append("")
        else:
            out.append(re.sub(r"^# ?", "", line) if prose else "")
    return "\n".join(out)


def page_blocks(path: Path) -> list[Block]:
    """Every block of one page that this test checks. Executed scripts: only the python blocks of their
    prose (their code cells run at build time; their shell lines document commands, not run here)."""
    if path.suffix == ".md":
        return _blocks_of_markdown(path.read_text())
    return [b for b in _blocks_of_markdown(_prose_of_script(path)) if b.kind == "python"]


def _pages() -> list[Path]:
    pages = sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.parts)
    scripts = [p for folder in EXECUTED for p in sorted((DOCS / folder).glob("*.py"))]
    return pages + scripts


def _needs(marker: str) -> list[str]:
    if not marker.startswith("needs "):
        return []
    return [name.strip() for name in marker[len("needs ") :].split(",") if name.strip()]


def _cases() -> list[object]:
    cases: list[object] = []
    for page in _pages():
        blocks = page_blocks(page)
        name = str(page.relative_to(ROOT))
        plain = [b for b in blocks if not b.marker]
        if plain:
            cases.append(pytest.param(page, (), id=name))
        for needs in sorted({tuple(_needs(b.marker)) for b in blocks if _needs(b.marker)}):
            cases.append(pytest.param(page, needs, id=f"{name}[{','.join(needs)}]"))
    return cases


RUNNER = r"""
import json, shlex, subprocess, sys, time
blocks = json.loads(open(sys.argv[1]).read())
namespace = {"__name__": "__main__"}
for block in blocks:
    where = f"{block['page']}:{block['line']}"
    print(f"--- {where}", flush=True)
    started = time.perf_counter()
    if block["kind"] == "python":
        # blank lines first, so that a traceback names the page's own line numbers
        code = compile("\n" * (block["line"] - 1) + block["source"], block["page"], "exec")
        exec(code, namespace)
    else:
        args = shlex.split(block["source"])
        proc = subprocess.run([sys.argv[2], *args[1:]], capture_output=True, text=True)
        print(proc.stdout)
        if proc.returncode != 0 or not proc.stdout.strip():
            sys.exit(f"{where}: `{block['source']}` exited {proc.returncode}, printed "
                     f"{len(proc.stdout)} characters:\n{proc.stderr[-3000:]}")
    print(f"--- {where}: {time.perf_counter() - started:.1f} s", flush=True)
"""


@pytest.mark.slow
@pytest.mark.parametrize(("page", "needs"), _cases())
def test_page_code_runs(page: Path, needs: tuple[str, ...], tmp_path: Path) -> None:
    missing = [name for name in needs if importlib.util.find_spec(name) is None]
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (the page's blocks marked `needs` use it)")
    blocks = [
        b
        for b in page_blocks(page)
        if tuple(_needs(b.marker)) == needs and not b.marker.startswith("not run")
    ]
    work = tmp_path / "work"
    shutil.copytree(
        ROOT / "examples",
        work / "examples",
        ignore=shutil.ignore_patterns("*.polyopt", "__pycache__"),
    )
    spec = [{**b.__dict__, "page": str(page)} for b in blocks]
    (tmp_path / "blocks.json").write_text(json.dumps(spec))
    (tmp_path / "runner.py").write_text(RUNNER)
    polyopt_cli = str(Path(sys.executable).parent / "polyopt")
    env = {
        **os.environ,
        "MPLBACKEND": "Agg",
        "PYTHONWARNINGS": "error::UserWarning:polyopt.plugins",  # a broken builtin fails loudly
    }
    proc = subprocess.run(
        [sys.executable, str(tmp_path / "runner.py"), str(tmp_path / "blocks.json"), polyopt_cli],
        cwd=work,
        env=env,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    print(proc.stdout[-4000:])  # each block's seconds (pytest -rP shows them)
    assert proc.returncode == 0, f"{proc.stdout[-2000:]}\n{proc.stderr[-4000:]}"


def test_blocks_not_run_are_rare_and_say_why() -> None:
    not_run = [
        (page, block)
        for page in _pages()
        for block in page_blocks(page)
        if block.marker.startswith("not run")
    ]
    assert len(not_run) <= MAX_NOT_RUN, [f"{p.name}:{b.line}" for p, b in not_run]
    for page, block in not_run:
        reason = re.fullmatch(r"not run \((?P<why>.{12,})\)", block.marker)
        assert reason, f"{page.name}:{block.line}: say why it cannot run: not run (REASON)"
    unknown = [
        f"{page.name}:{block.line}: {block.marker}"
        for page in _pages()
        for block in page_blocks(page)
        if block.marker and not (block.marker.startswith(("not run", "needs ")))
    ]
    assert not unknown, unknown


def test_the_extractor_reads_fences_markers_and_prose_cells(tmp_path: Path) -> None:
    text = (
        "Text\n\n```python\nx = 1\n```\n\n<!-- docs-code: needs trl -->\n```python\nimport trl\n```\n"
        "```bash\npolyopt list optimizers   # names\npip install x\n```\n```toml\na = 1\n```\n"
    )
    blocks = _blocks_of_markdown(text)
    assert [(b.kind, b.line, b.marker) for b in blocks] == [
        ("python", 4, ""),
        ("python", 9, "needs trl"),
        ("shell", 12, ""),
    ]
    assert blocks[2].source == "polyopt list optimizers"
    script = tmp_path / "page.py"
    script.write_text("# %% [markdown]\n# # T\n#\n# ```python\n# y = 2\n# ```\n\n# %%\nz = 3\n")
    (block,) = page_blocks(script)
    assert (block.source, block.line) == ("y = 2\n", 5)
    assert script.read_text().splitlines()[block.line - 1] == "# y = 2"


DOCTEST_RUNNER = r"""
import doctest, importlib, sys
flags = doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE
failed = 0
for name in sys.argv[1:]:
    result = doctest.testmod(importlib.import_module(name), optionflags=flags, verbose=False)
    print(f"{name}: {result.attempted} examples, {result.failed} failed", flush=True)
    failed += result.failed
sys.exit(1 if failed else 0)
"""


def _modules_with_examples() -> list[str]:
    modules = []
    for root in ("core", "plugins", "envs"):
        for path in sorted((ROOT / root).rglob("*.py")):
            if ">>> " in path.read_text():
                parts = path.relative_to(ROOT / root).with_suffix("").parts
                modules.append(".".join(parts[:-1] if parts[-1] == "__init__" else parts))
    return modules


@pytest.mark.slow
def test_docstring_examples_run(tmp_path: Path) -> None:
    """The examples in docstrings (the API and registry references show them as code blocks) run as doctests,
    all modules in one process."""
    modules = _modules_with_examples()
    assert "polyopt" in modules and "polyopt.spaces" in modules, modules
    proc = subprocess.run(
        [sys.executable, "-c", DOCTEST_RUNNER, *modules],
        cwd=tmp_path,
        env={**os.environ, "MPLBACKEND": "Agg"},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )
    assert proc.returncode == 0, f"{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}"
    assert proc.stdout.count(" examples, 0 failed") == len(modules), proc.stdout
    assert ": 0 examples" not in proc.stdout, proc.stdout  # each module's examples were found
