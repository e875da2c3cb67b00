"""Run one tutorial script, cell by cell, and write what each cell printed and drew.

    python docs/hooks/run_tutorial.py TUTORIAL.py OUT_DIR

A tutorial is a Python script in the percent format Jupyter (through jupytext), VS Code and PyCharm open as a
notebook: ``# %%`` starts a code cell, ``# %% [markdown]`` a prose cell whose lines are Markdown behind ``# ``.
The cells run in order in one namespace, in the current directory (the site build gives each tutorial a fresh
temporary one), with matplotlib's Agg backend and one torch thread. Each code cell's standard output and
standard error are captured, the value of a last bare expression is shown as Jupyter shows it (but not a matplotlib object's repr), and every figure
left open is saved as a PNG and closed. ``OUT_DIR/cells.json`` lists the cells with their outputs and seconds.

A cell that raises prints the cell, its line and the traceback to stderr and the script exits with 1, so a
tutorial that stops working fails the site build (and CI).
"""

from __future__ import annotations

import ast
import contextlib
import io
import json
import os
import re
import sys
import time
import traceback
from pathlib import Path
from typing import Any

_MARKER = re.compile(r"^# %%(?P<rest>.*)$")


def split_cells(source: str) -> list[dict[str, Any]]:
    """``[{"kind": "code" | "markdown", "source": str, "line": first line number}]`` from a percent script;
    text before the first marker is a code cell (imports, a module docstring is dropped)."""
    cells: list[dict[str, Any]] = []
    kind, start = "code", 1
    lines: list[str] = []
    for number, line in enumerate(source.splitlines(), start=1):
        match = _MARKER.match(line)
        if match:
            cells.append({"kind": kind, "lines": lines, "line": start})
            kind = "markdown" if "[markdown]" in match.group("rest") else "code"
            lines, start = [], number + 1
        else:
            lines.append(line)
    cells.append({"kind": kind, "lines": lines, "line": start})
    out = []
    for cell in cells:
        if cell["kind"] == "markdown":
            text = "\n".join(re.sub(r"^# ?", "", line) for line in cell["lines"]).strip("\n")
        else:
            text = "\n".join(cell["lines"]).strip("\n")
        if text.strip():
            out.append({"kind": cell["kind"], "source": text, "line": cell["line"]})
    return out


def _run_code(source: str, filename: str, namespace: dict[str, Any]) -> None:
    """Execute a cell; a last bare expression's value is printed (``repr``) unless it is None or the cell
    ends with ``;`` (as Jupyter does)."""
    tree = ast.parse(source, filename=filename)
    last = tree.body[-1] if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    if source.rstrip().endswith(";"):
        last = None
    if last is not None:
        tree.body.pop()
    exec(compile(tree, filename, "exec"), namespace)
    if last is not None:
        value = eval(compile(ast.Expression(last.value), filename, "eval"), namespace)
        # a figure's artists (``ax.legend()``) are shown as the figure itself, not as their repr
        if value is not None and not type(value).__module__.startswith("matplotlib"):
            print(repr(value))


def run(script: Path, out_dir: Path) -> int:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import torch

    torch.set_num_threads(1)
    cells = split_cells(script.read_text())
    namespace: dict[str, Any] = {"__name__": "__main__", "__file__": str(script)}
    n_figures = 0
    for index, cell in enumerate(cells):
        if cell["kind"] != "code":
            continue
        # line numbers in tracebacks are the script's own
        padded = "\n" * (cell["line"] - 1) + cell["source"]
        stdout, stderr = io.StringIO(), io.StringIO()
        started = time.perf_counter()
        try:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                _run_code(padded, str(script), namespace)
        except BaseException:
            sys.stderr.write(
                f"{script.name}: the cell at line {cell['line']} failed\n"
                f"--- its output ---\n{stdout.getvalue()}{stderr.getvalue()}\n"
                f"--- traceback ---\n{traceback.format_exc()}"
            )
            return 1
        cell["seconds"] = time.perf_counter() - started
        cell["stdout"] = stdout.getvalue()
        cell["stderr"] = stderr.getvalue()
        cell["images"] = []
        for number in plt.get_fignums():
            n_figures += 1
            name = f"figure-{n_figures}.png"
            plt.figure(number).savefig(out_dir / name, dpi=96, bbox_inches="tight")
            cell["images"].append(name)
        plt.close("all")
        cells[index] = cell
    (out_dir / "cells.json").write_text(json.dumps(cells, indent=1))
    return 0


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit("usage: python run_tutorial.py TUTORIAL.py OUT_DIR")
    os.environ.setdefault("MPLBACKEND", "Agg")
    sys.exit(run(Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()))
