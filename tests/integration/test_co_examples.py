"""The CPU toy recipe of the POMO policy runs as a user runs it, at a smoke budget, and its checkpoint
reloads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_pomo_toy_recipe_trains_saves_and_reloads(tmp_path: Path) -> None:
    checkpoint = tmp_path / "pomo.pt"
    script = ROOT / "examples" / "co" / "pomo_tsp_toy.py"
    args = ["--n", "8", "--steps", "2", "--eval", "3", "--checkpoint", str(checkpoint)]
    proc = subprocess.run(
        [sys.executable, str(script), *args],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "trained 2 steps" in proc.stdout and "reloaded" in proc.stdout
    assert "x8 augmented" in proc.stdout and checkpoint.is_file()
