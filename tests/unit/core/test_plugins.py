"""Plugin discovery through entry points, with fake installed distributions.

Each test writes ``<name>-<version>.dist-info`` folders (METADATA + entry_points.txt) and plugin modules into a
temporary directory put on ``sys.path``: to ``importlib.metadata`` that is exactly an installed distribution,
and nothing is installed into the real environment. The fixture restores ``sys.path``, the imported modules and
polyopt's process-wide plugin state after each test.
"""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import polyopt
from polyopt import plugins

FakeDist = Callable[..., None]


@pytest.fixture
def fake_dist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeDist]:
    """``fake_dist(dist, entry_points={name: module}, modules={module: source}, version="1.0", where=None)``."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv("POLYOPT_PLUGINS", raising=False)
    monkeypatch.delenv("POLYOPT_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    created: list[str] = []

    def make(
        dist: str,
        entry_points: dict[str, str],
        modules: dict[str, str] | None = None,
        version: str = "1.0",
        where: Path | None = None,
    ) -> None:
        root = where or tmp_path
        if where is not None:
            monkeypatch.syspath_prepend(str(where))
        info = root / f"{dist.replace('-', '_')}-{version}.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
        lines = "".join(f"{name} = {module}\n" for name, module in entry_points.items())
        (info / "entry_points.txt").write_text(f"[polyopt]\n{lines}")
        for module, source in (modules or {}).items():
            (root / f"{module}.py").write_text(textwrap.dedent(source))
            created.append(module)

    plugins.reset()
    yield make
    plugins.reset()
    for module in created:
        sys.modules.pop(module, None)


def _register(*adds: str, prefix: str = "") -> str:
    """Source of a plugin module whose hook runs ``registry.add(...)`` for each argument string."""
    body = "\n".join(f"    registry.add({a})" for a in adds) or "    pass"
    return f"{prefix}\nfrom polyopt import hookimpl\n\n@hookimpl\ndef polyopt_register(registry):\n{body}\n"


def _infos(infos: list[plugins.PluginInfo], *names: str) -> list[plugins.PluginInfo]:
    return [i for i in infos if i.name in names]


def test_discovery_is_sorted_and_records_where_names_came_from(fake_dist: FakeDist) -> None:
    trace = "import plugin_trace\nplugin_trace.ORDER.append(__name__)"
    fake_dist(
        "zeta-plugin",
        {"zeta": "zeta_mod"},
        {
            "zeta_mod": _register(
                "'objective', 'zeta.bowl', 'polyopt_envs.basic:Sphere'", prefix=trace
            ),
            "plugin_trace": "ORDER = []",
        },
    )
    fake_dist(
        "alpha-plugin",
        {"alpha": "alpha_mod"},
        {
            "alpha_mod": _register(
                "'objective', 'alpha.bowl', 'polyopt_envs.basic:Sphere'", prefix=trace
            )
        },
        version="2.3",
    )
    reg, _, infos = plugins.load_plugins()
    assert [i.name for i in infos] == sorted(i.name for i in infos)
    assert sys.modules["plugin_trace"].ORDER == [
        "alpha_mod",
        "zeta_mod",
    ]  # loaded in name order too
    alpha = reg.entry("objective", "alpha.bowl")
    assert (alpha.plugin, alpha.distribution) == ("alpha", "alpha-plugin 2.3")
    mine = [n for n in reg.names("objective") if n.split(".")[0] in ("alpha", "zeta")]
    assert mine == ["alpha.bowl", "zeta.bowl"]
    assert all(i.status == "loaded" for i in _infos(infos, "alpha", "zeta"))


def test_two_distributions_claiming_one_plugin_name_reject_the_later_naming_both(
    fake_dist: FakeDist,
) -> None:
    fake_dist(
        "acme-one",
        {"acme": "acme_one"},
        {"acme_one": _register("'metric', 'acme.one', 'math:fabs'")},
    )
    fake_dist(
        "acme-two",
        {"acme": "acme_two"},
        {"acme_two": _register("'metric', 'acme.two', 'math:fabs'")},
    )
    with pytest.warns(UserWarning, match="claimed by two distributions"):
        reg, _, infos = plugins.load_plugins()
    loaded = [i for i in _infos(infos, "acme") if i.status == "loaded"]
    failed = [i for i in _infos(infos, "acme") if i.status == "failed"]
    assert [i.distribution for i in loaded] == ["acme-one"] and [
        i.distribution for i in failed
    ] == ["acme-two"]
    assert "acme-one" in failed[0].error and "acme-two" in failed[0].error
    assert ("metric", "acme.one") in reg and ("metric", "acme.two") not in reg
    assert ("optimizer", "nsga2") in reg  # everything else works


def test_the_same_distribution_seen_twice_on_sys_path_is_loaded_once(
    fake_dist: FakeDist, tmp_path: Path
) -> None:
    fake_dist(
        "acme", {"acme": "acme_mod"}, {"acme_mod": _register("'metric', 'acme.score', 'math:sqrt'")}
    )
    fake_dist("acme", {"acme": "acme_mod"}, where=tmp_path / "copy")
    reg, _, infos = plugins.load_plugins()
    assert len(_infos(infos, "acme")) == 1
    assert reg.get("metric", "acme.score") is __import__("math").sqrt


def test_a_name_registered_twice_rejects_the_later_plugin_naming_both(fake_dist: FakeDist) -> None:
    # prefixes keep distributions apart; plugin "acme" can still reach into "acme.extra"'s names
    fake_dist(
        "acme-dist",
        {"acme": "acme_mod"},
        {"acme_mod": _register("'metric', 'acme.extra.score', 'math:fabs'")},
    )
    extra = _register(
        "'metric', 'acme.extra.score', 'math:sqrt'", "'metric', 'acme.extra.own', 'math:sqrt'"
    )
    fake_dist("extra-dist", {"acme.extra": "extra_mod"}, {"extra_mod": extra})
    with pytest.warns(UserWarning, match="'acme.extra' from extra-dist 1.0 was not loaded"):
        reg, _, infos = plugins.load_plugins()
    (later,) = _infos(infos, "acme.extra")
    assert later.status == "failed"
    assert (
        "'acme' (acme-dist 1.0)" in later.error and "'acme.extra' (extra-dist 1.0)" in later.error
    )
    assert reg.get("metric", "acme.extra.score") is __import__("math").fabs  # the first one stands
    assert ("metric", "acme.extra.own") not in reg  # the later plugin's names are all rejected


def test_a_third_party_plugin_can_never_shadow_a_builtin(fake_dist: FakeDist) -> None:
    # "aaa" sorts before every "polyopt.*" entry point, but builtins always load first
    fake_dist(
        "aaa-dist", {"aaa": "aaa_mod"}, {"aaa_mod": _register("'optimizer', 'aaa.nsga2', 'x:y'")}
    )
    fake_dist("bbb-dist", {"bbb": "bbb_mod"}, {"bbb_mod": _register("'optimizer', 'nsga2', 'x:y'")})
    with pytest.warns(UserWarning, match="lacks the plugin's prefix"):
        reg, _, infos = plugins.load_plugins()
    assert reg.entry("optimizer", "nsga2").distribution.startswith("polyopt")
    assert {i.name: i.status for i in _infos(infos, "aaa", "bbb")} == {
        "aaa": "loaded",
        "bbb": "failed",
    }


@pytest.mark.parametrize(
    "hostile",
    [
        "raise SystemExit(3)",
        "raise KeyboardInterrupt",
        "import sys\nsys.exit('bye')",
        "raise ImportError('no module named torch_fancy')",
    ],
)
def test_a_hostile_plugin_import_is_reported_and_polyopt_keeps_working(
    fake_dist: FakeDist, hostile: str
) -> None:
    fake_dist("evil-dist", {"evil": "evil_mod"}, {"evil_mod": hostile + "\n"})
    with pytest.warns(UserWarning, match="'evil' from evil-dist 1.0 was not loaded"):
        reg, _, infos = plugins.load_plugins()
    (evil,) = _infos(infos, "evil")
    assert evil.status == "failed" and "import failed" in evil.error
    assert ("optimizer", "nsga2") in reg
    reg.failed_plugins.update({"evil": evil.error})
    with pytest.raises(polyopt.UnknownNameError, match="plugin 'evil', which failed to load"):
        reg.get("optimizer", "evil.optimizer")


def test_a_hostile_register_hook_is_reported_and_polyopt_keeps_working(fake_dist: FakeDist) -> None:
    source = _register("'metric', 'evil.one', 'math:fabs'") + "    raise SystemExit(1)\n"
    fake_dist("evil-dist", {"evil": "evil_mod"}, {"evil_mod": source})
    with pytest.warns(UserWarning, match="registration failed: SystemExit"):
        reg, pm, _ = plugins.load_plugins()
    assert ("metric", "evil.one") not in reg and pm.get_plugin("evil") is None
    assert polyopt.optimize  # and the process is still here


def test_an_observer_hook_that_raises_is_disabled_and_the_run_goes_on(fake_dist: FakeDist) -> None:
    source = """
    from polyopt import hookimpl

    @hookimpl
    def polyopt_register(registry):
        pass

    @hookimpl
    def polyopt_step_finished(optimizer, step, metrics):
        raise RuntimeError('tracker is down')
    """
    fake_dist("tracker-dist", {"tracker": "tracker_mod"}, {"tracker_mod": source})
    with pytest.warns(UserWarning, match="'tracker' was disabled.*tracker is down"):
        result = polyopt.optimize("random-search", "sphere", budget=6, seed=0)
    assert result.n_evaluations == 6
    assert {i.name: i.status for i in plugins.plugin_infos()}["tracker"] == "failed"


def test_a_plugin_using_a_kind_nobody_declares_fails_alone(fake_dist: FakeDist) -> None:
    fake_dist(
        "odd-dist", {"odd": "odd_mod"}, {"odd_mod": _register("'gizmo', 'odd.thing', 'math:fabs'")}
    )
    with pytest.warns(UserWarning, match="unknown registry kind 'gizmo'"):
        reg, _, infos = plugins.load_plugins()
    assert _infos(infos, "odd")[0].status == "failed"
    assert ("optimizer", "nsga2") in reg


def test_a_plugin_that_fails_to_import_is_reported_and_the_others_keep_working(
    fake_dist: FakeDist,
) -> None:
    fake_dist(
        "broken-dist",
        {"broken": "broken_mod"},
        {"broken_mod": "raise RuntimeError('database is down')\n"},
        version="0.4",
    )
    fake_dist(
        "good-dist",
        {"good": "good_mod"},
        {"good_mod": _register("'metric', 'good.score', 'math:fabs'")},
    )
    with pytest.warns(UserWarning, match="'broken' from broken-dist 0.4 was not loaded"):
        reg, _, infos = plugins.load_plugins()
    (broken,) = _infos(infos, "broken")
    assert (broken.distribution, broken.version, broken.status) == ("broken-dist", "0.4", "failed")
    assert "RuntimeError" in broken.error and "database is down" in broken.error
    (good,) = _infos(infos, "good")
    assert good.status == "loaded"
    assert ("metric", "good.score") in reg


def test_a_plugin_whose_hook_fails_leaves_no_half_registration(fake_dist: FakeDist) -> None:
    source = _register("'metric', 'half.one', 'math:fabs'", "'metric', 'Bad Name', 'math:fabs'")
    fake_dist("half-dist", {"half": "half_mod"}, {"half_mod": source})
    fake_dist(
        "good-dist",
        {"good": "good_mod"},
        {"good_mod": _register("'metric', 'good.score', 'math:fabs'")},
    )
    with pytest.warns(UserWarning, match="registration failed"):
        reg, pm, infos = plugins.load_plugins()
    (half,) = _infos(infos, "half")
    assert half.status == "failed" and "Bad Name" in half.error
    assert ("metric", "half.one") not in reg  # its first, valid name was rolled back
    assert ("metric", "good.score") in reg
    assert pm.get_plugin("half") is None


def test_disable_autoload_loads_only_the_builtins(
    fake_dist: FakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dist(
        "acme", {"acme": "acme_mod"}, {"acme_mod": _register("'metric', 'acme.score', 'math:fabs'")}
    )
    monkeypatch.setenv("POLYOPT_DISABLE_PLUGIN_AUTOLOAD", "1")
    reg, _, infos = plugins.load_plugins()
    (acme,) = _infos(infos, "acme")
    assert acme.status == "disabled"
    assert "acme_mod" not in sys.modules  # disabled means not even imported
    assert ("metric", "acme.score") not in reg
    assert ("optimizer", "random-search") in reg


def test_polyopt_plugins_selects_third_party_plugins(
    fake_dist: FakeDist, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_dist(
        "acme", {"acme": "acme_mod"}, {"acme_mod": _register("'metric', 'acme.score', 'math:fabs'")}
    )
    fake_dist(
        "other",
        {"other": "other_mod"},
        {"other_mod": _register("'metric', 'other.score', 'math:fabs'")},
    )
    monkeypatch.setenv("POLYOPT_PLUGINS", "acme")
    reg, _, infos = plugins.load_plugins()
    assert {i.name: i.status for i in _infos(infos, "acme", "other")} == {
        "acme": "loaded",
        "other": "disabled",
    }
    assert ("metric", "acme.score") in reg and ("metric", "other.score") not in reg
    assert ("objective", "sphere") in reg  # builtins always load

    monkeypatch.setenv("POLYOPT_PLUGINS", "acme,ohter")
    with pytest.warns(UserWarning, match="'ohter'.*Did you mean 'other'"):
        reg, _, infos = plugins.load_plugins()
    assert {i.name: i.status for i in _infos(infos, "acme", "ohter")} == {
        "acme": "loaded",
        "ohter": "failed",
    }


def test_registering_does_not_import_targets(fake_dist: FakeDist) -> None:
    fake_dist(
        "lazy",
        {"lazy": "lazy_plugin"},
        {
            "lazy_plugin": _register("'optimizer', 'lazy.heavy', 'lazy_heavy:Heavy'"),
            "lazy_heavy": "import polyopt_plugins.search.random as r\nHeavy = r.RandomSearch\n",
        },
    )
    reg, _, _ = plugins.load_plugins()
    assert "lazy_heavy" not in sys.modules
    assert reg.get("optimizer", "lazy.heavy").__name__ == "RandomSearch"
    assert "lazy_heavy" in sys.modules


def test_the_process_wide_registry_sees_plugins_installed_after_reset(fake_dist: FakeDist) -> None:
    before = polyopt.registry()
    assert ("metric", "late.score") not in before
    fake_dist(
        "late", {"late": "late_mod"}, {"late_mod": _register("'metric', 'late.score', 'math:fabs'")}
    )
    assert polyopt.registry() is before  # cached until reset
    plugins.reset()
    assert ("metric", "late.score") in polyopt.registry()
    assert any(i.name == "late" and i.status == "loaded" for i in plugins.plugin_infos())


def test_a_third_party_optimizer_runs_by_name(fake_dist: FakeDist) -> None:
    fake_dist(
        "acme",
        {"acme": "acme_mod"},
        {
            "acme_mod": _register(
                "'optimizer', 'acme.random', 'polyopt_plugins.search.random:RandomSearch', "
                "summary='random search under another name'"
            )
        },
    )
    result = polyopt.optimize("acme.random", "sphere", budget=20, seed=0)
    assert result.n_evaluations == 20 and result.f_best >= 0
    with pytest.raises(polyopt.UnknownNameError, match="Did you mean 'acme.random'"):
        polyopt.optimize("acme.randon", "sphere", budget=20)
