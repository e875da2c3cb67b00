"""The registry: names by kind, lazy targets, collisions and "did you mean" suggestions."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from polyopt.errors import ConfigError, PluginCollisionError, PluginError, UnknownNameError
from polyopt.registry import CORE_KINDS, Registry


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
    assert kinds == sorted(
        kinds, key=list(reg.kinds()).index
    )  # grouped by kind, in declaration order


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
    reg.add_kind("policy_loss", object, "a loss")
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
    reg.set_source("acme", "acme-polyopt 0.2", builtin=False)
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


# ---- kinds declared by families, prefixes, and what an unknown name is instead ------------------------------


def test_core_declares_only_its_four_kinds() -> None:
    assert (
        Registry().kinds()
        == list(CORE_KINDS)
        == ["optimizer", "objective", "environment", "metric"]
    )


def test_a_family_declares_its_kind_once() -> None:
    r = Registry()
    r.set_source("polyopt.llm", "polyopt 0.1")
    r.add_kind("advantage", object, "turns rollouts into advantages")
    r.add_kind("advantage", object, "again")  # the same plugin declaring again changes nothing
    assert r.kind("advantage").plugin == "polyopt.llm"
    r.set_source("acme", "acme-polyopt 0.2", builtin=False)
    with pytest.raises(
        PluginCollisionError, match="'advantage' is declared twice.*'polyopt.llm'.*'acme'"
    ):
        r.add_kind("advantage", int, "mine")
    with pytest.raises(ConfigError, match="malformed"):
        r.add_kind("Policy-Loss", object, "bad name")


def test_entries_of_a_kind_declared_later_wait_for_it_while_loading() -> None:
    r = Registry()
    r.begin_loading()
    r.set_source("acme", "acme-polyopt 0.2", builtin=False)
    r.add("advantage", "acme.centered", "math:fabs")  # its family's plugin has not run yet
    r.add("widget", "acme.gizmo", "math:fabs")  # no plugin ever declares "widget"
    r.set_source("polyopt.llm", "polyopt 0.1")
    r.add_kind("advantage", object, "advantages")
    failed = r.finish_loading()
    assert (
        "advantage",
        "acme.centered",
    ) not in r  # acme failed as a whole: one of its kinds is unknown
    assert "unknown registry kind 'widget'" in failed["acme"]
    with pytest.raises(UnknownNameError, match="unknown registry kind"):
        r.add("widget", "x", "math:fabs")  # after loading, at once


def test_third_party_names_must_carry_their_plugins_prefix() -> None:
    r = Registry()
    r.set_source("acme", "acme-polyopt 0.2", builtin=False)
    with pytest.raises(ConfigError, match="lacks the plugin's prefix.*'acme.hill-climb'"):
        r.add("optimizer", "hill-climb", "x:y")
    r.add("optimizer", "acme.hill-climb", "x:y")
    r.set_source("polyopt.moea", "polyopt 0.1")
    r.add("optimizer", "nsga2", "x:y")  # builtins need no prefix


def test_a_name_of_another_kind_says_what_it_is() -> None:
    r = Registry()
    r.add_kind("policy_loss", object, "losses")
    r.add_kind("advantage", object, "advantages")
    r.add("policy_loss", "ppo-clip", "math:fabs")
    with pytest.raises(UnknownNameError, match="'ppo-clip' is a policy loss, not an advantage"):
        r.get("advantage", "ppo-clip")


def test_a_name_from_a_failed_plugin_says_that_plugin_failed() -> None:
    r = Registry()
    r.failed_plugins["acme"] = "import failed: SystemExit: 3"
    with pytest.raises(UnknownNameError, match="plugin 'acme', which failed to load.*SystemExit"):
        r.get("optimizer", "acme.hill-climb")


def test_a_target_that_does_not_fit_its_kind_is_refused_with_why() -> None:
    r = Registry()
    r.add("optimizer", "not-an-optimizer", "math:fabs", plugin="acme", distribution="acme 1")
    r.add("metric", "no-args", lambda: 0.0)
    with pytest.raises(
        ConfigError, match="does not fit the optimizer protocol.*subclass of polyopt"
    ):
        r.get("optimizer", "not-an-optimizer")
    with pytest.raises(ConfigError, match="metric 'no-args'.*objective values first"):
        r.get("metric", "no-args")


def test_name_of_finds_a_class_without_importing_other_entries() -> None:
    from polyopt_plugins.search.random import RandomSearch

    r = Registry()
    r.add("optimizer", "ghost", "no_such_module_xyz:Ghost")
    r.add("optimizer", "random-search", "polyopt_plugins.search.random:RandomSearch")
    assert r.name_of("optimizer", RandomSearch) == "random-search"
    assert r.name_of("optimizer", int) is None
