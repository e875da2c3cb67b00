"""A hostile plugin installed next to polyopt: its entry point's import raises SystemExit, and a second one's
registration does. A study still runs to the end in the parent and in every worker process; the plugin is
reported, not fatal."""

from __future__ import annotations

from pathlib import Path

from faultkit import (
    Backend,
    assert_exact,
    finish,
    no_traceback,
    polyopt,
    reference,
    study_toml,
)

from polyopt.study.storage import Storage


def _install_hostile_plugin(root: Path) -> None:
    """A throwaway distribution (a dist-info folder on PYTHONPATH) with two entry points in group polyopt."""
    info = root / "hostile_plugin-6.6.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: hostile-plugin\nVersion: 6.6\n")
    (info / "entry_points.txt").write_text(
        "[polyopt]\nhostile-import = hostile_import\nhostile-register = hostile_register\n"
    )
    (root / "hostile_import.py").write_text("raise SystemExit(3)\n")
    (root / "hostile_register.py").write_text(
        "from polyopt import hookimpl\n\n\n@hookimpl\ndef polyopt_register(registry):\n"
        "    raise SystemExit(4)\n"
    )


def test_a_plugin_raising_systemexit_does_not_stop_a_study(
    backend: Backend, tmp_path: Path
) -> None:
    plugins = tmp_path / "site"
    _install_hostile_plugin(plugins)
    text = study_toml("hostile", backend.url, seeds=1, delay=0.0)
    ref = reference(tmp_path, text)
    path = tmp_path / "hostile.toml"
    path.write_text(text)

    code, _out, err = finish(
        polyopt("run", str(path), "--workers", "2", "--quiet", "--no-report", extra_path=plugins)
    )
    assert code == 0, err
    no_traceback(err)
    assert "hostile-import" in err and "SystemExit" in err  # reported, by name
    storage = Storage(backend.url)
    assert_exact(storage, "hostile", ref)
    storage.close()
