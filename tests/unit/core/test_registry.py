"""The registry: names by kind, lazy targets, collisions and "did you mean" suggestions."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from polyopt.errors import ConfigError, PluginCollisionError, PluginError, UnknownNameError
from polyopt.registry import KINDS, Registry


@pytest.fixture
def reg() -> Registry:
    r = Registry()
    r.add(
        "optimizer", "random-search", "polyopt_plugins.search.random:RandomSearch", summary="random"
    )
    r.add(
        "optimizer",
        "nsga2",
        "polyopt_plugins.search.random:RandomSearch",
        plugin="moea",
        distribution="polyopt",
    )
    r.add("objective", "sphere", "polyopt_envs.basic:Sphere")
    return r


@pytest.fixture
def module_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A folder on sys.path for throwaway modules, removed from sys.modules afterwards."""
    monkeypatch.syspath_prepend(str(tmp_path))
    yield tmp_path
    for path in tmp_path.glob("*.py"):
        sys.modules.pop(path.stem, None)


def test_names_and_entries_are_sorted(reg: Registry) -> None:
    reg.add("optimizer", "cma-es", "x:y")
    assert reg.names("optimizer") == ["cma-es", "nsga2", "random-search"]
    assert [e.name for e in reg.entries("optimizer")] == ["cma-es", "nsga2", "random-search"]
    kinds = [e.kind for e in reg.entries()]
    assert kinds == sorted(kinds, key=KINDS.index)  # all entries: grouped by kind in KINDS order


@pytest.mark.parametrize("name", ["NSGA2", "nsga_2", "my opt", "-lead", "trail-", "acme..x", ""])
def test_malformed_names_are_refused_with_the_name(name: str) -> None:
    with pytest.raises(ConfigError, match="malformed") as err:
        Registry().add("optimizer", name, "x:y")
    assert repr(name) in str(err.value)


def test_prefixed_third_party_names_are_accepted() -> None:
    r = Registry()
    r.add("optimizer", "acme.hill-climb", "x:y")
    assert ("optimizer", "acme.hill-climb") in r


def test_unknown_kind_suggests_the_right_one(reg: Registry) -> None:
    with pytest.raises(UnknownNameError, match="Did you mean 'optimizer'"):
        reg.names("optimzer")
    with pytest.raises(UnknownNameError, match="Did you mean 'policy_loss'"):
        reg.add("policy_los", "x", "a:b")


def test_unknown_name_suggests_close_names_without_quoting_the_message(reg: Registry) -> None:
    with pytest.raises(UnknownNameError) as err:
        reg.entry("optimizer", "random-serch")
    message = str(err.value)
    assert message.startswith("unknown optimizer 'random-serch'.")  # not KeyError's quoted repr
    assert "Did you mean 'random-search'?" in message
    assert "nsga2" in message  # short lists are spelled out


def test_adding_a_name_twice_names_both_sources(reg: Registry) -> None:
    with pytest.raises(PluginCollisionError) as err:
        reg.add("optimizer", "nsga2", "other:NSGA2", plugin="acme", distribution="acme-polyopt 0.2")
    message = str(err.value)
    assert "'moea' (polyopt)" in message and "'acme' (acme-polyopt 0.2)" in message
    assert reg.entry("optimizer", "nsga2").plugin == "moea"  # the first registration stands


def test_the_same_name_in_different_kinds_is_allowed(reg: Registry) -> None:
    reg.add("metric", "sphere", "math:fabs")
    assert reg.get("metric", "sphere") is not reg.get("objective", "sphere")


def test_entries_record_the_current_plugin(reg: Registry) -> None:
    reg.current_plugin = ("acme", "acme-polyopt 0.2")
    reg.add("objective", "acme.bowl", "polyopt_envs.basic:Sphere")
    entry = reg.entry("objective", "acme.bowl")
    assert (entry.plugin, entry.distribution) == ("acme", "acme-polyopt 0.2")


def test_targets_are_imported_on_first_use_only(module_dir: Path) -> None:
    (module_dir / "reg_lazy_target.py").write_text(
        "LOADS = []\nLOADS.append(1)\nclass Outer:\n    class Inner:\n        pass\n"
    )
    r = Registry()
    r.add("objective", "lazy", "reg_lazy_target:Outer.Inner")
    assert "reg_lazy_target" not in sys.modules
    first = r.get("objective", "lazy")
    assert first.__qualname__ == "Outer.Inner"
    assert r.get("objective", "lazy") is first
    assert sys.modules["reg_lazy_target"].LOADS == [1]


def test_a_target_that_cannot_be_imported_says_which_entry_and_plugin() -> None:
    r = Registry()
    r.add(
        "optimizer",
        "ghost",
        "no_such_module_xyz:Ghost",
        plugin="acme",
        distribution="acme-polyopt 0.2",
    )
    r.add("optimizer", "typo", "polyopt_plugins.search.random:RandomSerch")
    with pytest.raises(
        PluginError, match="optimizer 'ghost' .plugin 'acme', acme-polyopt 0.2.*no_such_module_xyz"
    ):
        r.get("optimizer", "ghost")
    with pytest.raises(PluginError, match="RandomSerch"):
        r.get("optimizer", "typo")


def test_objects_can_be_registered_directly() -> None:
    def score(x: float) -> float:
        return x

    r = Registry()
    r.add("metric", "score", score)
    assert r.get("metric", "score") is score


@dataclass
class _Bowl:
    dim: int = 2
    center: float = 0.0


def test_create_passes_options_and_refuses_unknown_ones_with_a_suggestion() -> None:
    r = Registry()
    r.add("objective", "bowl", _Bowl)
    assert r.create("objective", "bowl", dim=5) == _Bowl(dim=5)
    with pytest.raises(ConfigError, match="unknown option 'centre'.*Did you mean 'center'"):
        r.create("objective", "bowl", centre=1.0)


def test_create_lets_optimizers_validate_their_own_config(reg: Registry) -> None:
    problem = reg.create("objective", "sphere", dim=2)
    opt = reg.create("optimizer", "random-search", problem, seed=0, batch_size=3)
    assert opt.config.batch_size == 3
    with pytest.raises(
        ConfigError, match="unknown config key 'batch_sise'.*Did you mean 'batch_size'"
    ):
        reg.create("optimizer", "random-search", problem, batch_sise=3)


def test_remove_plugin_drops_only_its_entries(reg: Registry) -> None:
    reg.add("metric", "moea-score", "math:fabs", plugin="moea")
    reg.remove_plugin("moea")
    assert ("optimizer", "nsga2") not in reg and ("metric", "moea-score") not in reg
    assert ("optimizer", "random-search") in reg
