"""The plugin template is the issue's measure of the public API: five kinds, each a short module that imports
only public polyopt names (``polyopt``, ``polyopt.components``, ``polyopt.testing``)."""

from __future__ import annotations

import ast
import io
import tokenize
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "examples" / "plugin-template" / "src" / "polyopt_hello"
TESTS = SRC.parents[1] / "tests"
PIECES = ["hill_climb.py", "bowl.py", "gauss.py", "centered.py", "mean.py"]
PUBLIC = {"polyopt", "polyopt.components", "polyopt.testing"}


def code_lines(path: Path) -> int:
    """Lines holding code, as cloc counts them: not blank, not only a comment, not documentation."""
    source = path.read_text()
    doc_lines: set[int] = set()  # docstrings, and the string after a config field that documents it
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            if isinstance(node.value.value, str):
                doc_lines.update(range(node.lineno, (node.end_lineno or node.lineno) + 1))
    code: set[int] = set()
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type not in (
            tokenize.COMMENT,
            tokenize.NL,
            tokenize.NEWLINE,
            tokenize.INDENT,
            tokenize.DEDENT,
            tokenize.ENDMARKER,
        ):
            code.update(range(tok.start[0], tok.end[0] + 1))
    return len(code - doc_lines)


@pytest.mark.parametrize("piece", PIECES)
def test_each_piece_is_at_most_30_lines_of_code(piece: str) -> None:
    assert code_lines(SRC / piece) <= 30, f"{piece}: {code_lines(SRC / piece)} lines of code"


@pytest.mark.parametrize("path", sorted(SRC.glob("*.py")) + sorted(TESTS.glob("*.py")), ids=str)
def test_the_template_imports_only_public_polyopt_names(path: Path) -> None:
    for node in ast.walk(ast.parse(path.read_text())):
        modules = []
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module]
        for module in modules:
            if module.split(".")[0] in ("polyopt", "polyopt_plugins", "polyopt_envs"):
                allowed = module in PUBLIC or module == "polyopt.errors"
                assert allowed, f"{path.name} imports {module}, which is not public API"
