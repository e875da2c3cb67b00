"""``import polyopt`` and loading every plugin stay light: heavy libraries load only when a name is used."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

HEAVY = ("botorch", "pymoo", "transformers", "gymnasium", "ray")


def _heavy_after(code: str) -> list[str]:
    probe = f"import sys\n{code}\nprint([m for m in {HEAVY!r} if m in sys.modules])"
    proc = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", probe], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return ast.literal_eval(proc.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize(
    "code",
    [
        "import polyopt",
        "import polyopt\npolyopt.registry()",
        "import polyopt.plugins\nlist(polyopt.plugins.registry().entries())\npolyopt.plugins.plugin_infos()",
    ],
    ids=["import", "registry", "entries"],
)
def test_no_heavy_library_is_imported(code: str) -> None:
    assert _heavy_after(code) == []


def test_the_probe_sees_heavy_imports() -> None:
    """The check above can fail: importing a heavy library directly is seen."""
    assert _heavy_after("import pymoo") == ["pymoo"]


def test_public_submodules_load_on_first_attribute_access() -> None:
    code = (
        "import polyopt\nassert 'polyopt.metrics' not in sys.modules\n"
        "assert polyopt.metrics.hypervolume and polyopt.compose.run_objective and polyopt.pareto\n"
        "assert polyopt.study.Study is polyopt.Study"
    )
    assert _heavy_after(code) == []
    with pytest.raises(AttributeError, match="no attribute 'metricz'"):
        import polyopt

        polyopt.metricz  # noqa: B018
