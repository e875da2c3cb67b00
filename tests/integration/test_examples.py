"""Every example in examples/ and every Python block in the README runs as a user would run it."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPTS = sorted(p for p in (ROOT / "examples").glob("*.py"))


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
