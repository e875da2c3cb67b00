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
from polyopt.errors import PluginCollisionError, PluginError

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
    mine = [n for n in reg.names("objective") if n.endswith(".bowl")]
    assert mine == ["alpha.bowl", "zeta.bowl"]
    assert all(i.status == "loaded" for i in _infos(infos, "alpha", "zeta"))


def test_two_distributions_claiming_one_plugin_name_is_an_error_naming_both(
    fake_dist: FakeDist,
) -> None:
    fake_dist("acme-one", {"acme": "acme_one"}, {"acme_one": _register()})
    fake_dist("acme-two", {"acme": "acme_two"}, {"acme_two": _register()})
    with pytest.raises(PluginCollisionError, match="acme") as err:
        plugins.load_plugins()
    assert "acme-one" in str(err.value) and "acme-two" in str(err.value)


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


def test_two_plugins_registering_one_name_is_an_error_naming_both(fake_dist: FakeDist) -> None:
    add = "'optimizer', 'shared.opt', 'polyopt_plugins.search.random:RandomSearch'"
    fake_dist("first-dist", {"first": "first_mod"}, {"first_mod": _register(add)})
    fake_dist("second-dist", {"second": "second_mod"}, {"second_mod": _register(add)})
    with pytest.raises(PluginCollisionError, match="shared.opt") as err:
        plugins.load_plugins()
    message = str(err.value)
    assert "'first'" in message and "first-dist 1.0" in message
    assert "'second'" in message and "second-dist 1.0" in message


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
    with pytest.raises(PluginError, match="'ohter'.*Did you mean 'other'"):
        plugins.load_plugins()


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
