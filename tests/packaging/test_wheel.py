"""The built wheel: its contents, its entry points, and that it works when installed into a fresh venv.

The wheel is built once per module (``python -m build --wheel --no-isolation``, hatchling from this venv) into a
temporary folder; nothing here modifies the development venv.
"""

from __future__ import annotations

import configparser
import os
import subprocess
import sys
import zipfile
from pathlib import Path, PurePosixPath

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = {
    "polyopt": ROOT / "core",
    "polyopt_plugins": ROOT / "plugins",
    "polyopt_envs": ROOT / "envs",
}


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "build",
            "--wheel",
            "--no-isolation",
            "--outdir",
            str(out),
            str(ROOT),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (path,) = out.glob("polyopt-*.whl")
    return path


def _names(wheel: Path) -> list[PurePosixPath]:
    with zipfile.ZipFile(wheel) as zf:
        return [PurePosixPath(n) for n in zf.namelist()]


def _entry_points(wheel: Path) -> configparser.ConfigParser:
    with zipfile.ZipFile(wheel) as zf:
        (name,) = [n for n in zf.namelist() if n.endswith(".dist-info/entry_points.txt")]
        text = zf.read(name).decode()
    parser = configparser.ConfigParser(delimiters=("=",))
    parser.optionxform = str  # entry-point names are case-sensitive
    parser.read_string(text)
    return parser


def test_the_wheel_holds_exactly_the_three_packages_each_typed(wheel: Path) -> None:
    names = _names(wheel)
    top = {n.parts[0] for n in names}
    dist_info = {t for t in top if t.endswith(".dist-info")}
    assert len(dist_info) == 1 and next(iter(dist_info)).startswith("polyopt-")
    assert top - dist_info == set(PACKAGES)
    for package in PACKAGES:
        assert PurePosixPath(package, "py.typed") in names, f"{package} lacks py.typed"
        assert PurePosixPath(package, "__init__.py") in names


def test_the_wheel_holds_every_module_of_the_tree(wheel: Path) -> None:
    names = set(_names(wheel))
    for package, root in PACKAGES.items():
        for path in (root / package).rglob("*.py"):
            rel = PurePosixPath(path.relative_to(root).as_posix())
            assert rel in names, f"{rel} is in the tree but not in the wheel"


def test_declared_plugins_match_the_plugin_modules_in_the_tree(wheel: Path) -> None:
    declared = dict(_entry_points(wheel)["polyopt"])
    modules = set(declared.values())
    in_tree = {
        ".".join(p.relative_to(ROOT / "plugins").with_suffix("").parts)
        for p in (ROOT / "plugins" / "polyopt_plugins").rglob("plugin.py")
    }
    in_tree |= {"polyopt_envs.plugin"}
    undeclared = in_tree - modules
    assert not undeclared, f"plugin modules that no entry point declares: {sorted(undeclared)}"
    names = set(_names(wheel))
    missing = {m for m in modules if PurePosixPath(*m.split(".")).with_suffix(".py") not in names}
    assert not missing, f"entry points whose module is not in the wheel: {sorted(missing)}"
    assert all(name.startswith("polyopt.") for name in declared), (
        "builtin plugin names carry the polyopt. prefix"
    )


def test_the_console_script_is_declared(wheel: Path) -> None:
    assert _entry_points(wheel)["console_scripts"]["polyopt"] == "polyopt.cli:main"
    assert PurePosixPath("polyopt/cli.py") in _names(wheel)
    assert PurePosixPath("polyopt/__main__.py") in _names(wheel)


def _dependencies_only(tmp: Path) -> Path:
    """A folder of links to the dev venv's installed packages, minus polyopt itself (for PYTHONPATH)."""
    site = next(Path(p) for p in sys.path if p.endswith("site-packages") and Path(p).is_dir())
    deps = tmp / "deps"
    deps.mkdir()
    for item in site.iterdir():
        lowered = item.name.lower()
        if (
            lowered.startswith(("polyopt", "_editable_impl_polyopt", "__editable__"))
            or item.suffix == ".pth"
        ):
            continue
        (deps / item.name).symlink_to(item)
    return deps


@pytest.mark.slow
def test_the_wheel_works_in_a_fresh_venv(wheel: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120
    )
    python = venv / "bin" / "python"
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "--disable-pip-version-check",
            "--python",
            str(python),
            "install",
            "-q",
            "--no-deps",
            "--no-index",
            str(wheel),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert install.returncode == 0, install.stderr
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("POLYOPT_", "PYTHON"))},
        "PYTHONPATH": str(_dependencies_only(tmp_path)),
        "COLUMNS": "200",
    }
    where = subprocess.run(
        [str(python), "-c", "import polyopt; print(polyopt.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert where.returncode == 0, where.stderr
    assert Path(where.stdout.strip()).is_relative_to(venv), (
        "polyopt must come from the installed wheel"
    )
    plugins = subprocess.run(
        [str(venv / "bin" / "polyopt"), "plugins"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert plugins.returncode == 0, plugins.stderr
    for name in ("polyopt.search", "polyopt.envs", "polyopt.core"):
        row = next(line for line in plugins.stdout.splitlines() if f" {name} " in line)
        assert "loaded" in row
