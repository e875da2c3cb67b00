"""Study definitions: the grid, TOML parsing, and validation that refuses mistakes before anything runs."""

from __future__ import annotations

from pathlib import Path

import pytest

from polyopt import ConfigError, ObjectiveOptimizer, Trainer
from polyopt.study import Study, load_study


class PermutationOnly(ObjectiveOptimizer):
    """An optimizer that handles permutation spaces only (for the pairing check)."""

    space_kinds = frozenset({"permutation"})

    def iterate(self) -> dict[str, float]:
        return {}

    def result(self):  # pragma: no cover - never constructed
        raise NotImplementedError


class AgentOnly(Trainer):
    """An RL trainer: it needs an Environment."""

    def iterate(self) -> dict[str, float]:
        return {}

    def result(self):  # pragma: no cover - never constructed
        raise NotImplementedError


def _study(**kw):
    base = dict(optimizers=["random-search"], problems=["zdt1"], seeds=2, budget=64)
    return Study("t", **{**base, **kw})


def test_grid_is_optimizers_times_problems_times_seeds() -> None:
    s = _study(
        optimizers={"random-search": {"batch_size": 4}, "sobol-search": {}},
        problems=["zdt1", {"name": "sphere", "options": {"dim": 2}}],
        seeds=[3, 5],
    )
    keys = [r.key for r in s.runs()]
    assert len(keys) == 8 and len(set(keys)) == 8
    assert "sobol-search/sphere/5" in keys
    run = next(r for r in s.runs() if r.key == "random-search/zdt1/3")
    assert run.config == {"batch_size": 4} and run.seed == 3 and run.budget == {"evaluations": 64}


def test_budget_overrides_go_optimizer_then_problem_then_study() -> None:
    s = _study(
        optimizers=[{"name": "random-search", "budget": {"evaluations": 10}}, "sobol-search"],
        problems=["zdt1", {"name": "sphere", "budget": {"steps": 3}}],
    )
    budgets = {r.key.rsplit("/", 1)[0]: r.budget for r in s.runs()}
    assert budgets == {
        "random-search/zdt1": {"evaluations": 10},
        "random-search/sphere": {"evaluations": 10},
        "sobol-search/zdt1": {"evaluations": 64},
        "sobol-search/sphere": {"steps": 3},
    }
    with pytest.raises(ConfigError, match="optimizer 'random-search' budget"):
        _study(optimizers=[{"name": "random-search", "budget": {"evals": 3}}]).validate()


def test_unknown_optimizer_name_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="Did you mean 'random-search'"):
        _study(optimizers=["random-serch"]).validate()


def test_unknown_config_key_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="batch_sise.*Did you mean 'batch_size'"):
        _study(optimizers={"random-search": {"batch_sise": 4}}).validate()


def test_unknown_problem_option_is_refused() -> None:
    with pytest.raises(ConfigError, match="n_vars"):
        _study(problems=[{"name": "zdt1", "options": {"n_vars": 3}}]).validate()


def test_impossible_pairing_is_refused_with_the_reason() -> None:
    with pytest.raises(ConfigError, match="cannot run on problem 'zdt1'.*permutation"):
        _study(optimizers=[f"{__name__}:PermutationOnly"]).validate()


def test_an_rl_trainer_on_a_black_box_objective_is_refused() -> None:
    with pytest.raises(ConfigError, match="cannot run on problem 'zdt1'.*needs an Environment"):
        _study(optimizers=[f"{__name__}:AgentOnly"]).validate()


def test_imported_targets_must_be_optimizer_and_problem_classes() -> None:
    with pytest.raises(ConfigError, match="expected a subclass of Optimizer"):
        _study(optimizers=["os:system"]).validate()
    with pytest.raises(ConfigError, match="expected a subclass of Objective or Environment"):
        _study(problems=["shutil:rmtree"]).validate()


def test_every_mistake_is_reported_at_once() -> None:
    with pytest.raises(ConfigError) as info:
        _study(optimizers=["random-serch", "sobol-search"], problems=["zdt7"]).validate()
    assert "random-serch" in str(info.value) and "zdt7" in str(info.value)


def test_hypervolume_without_a_reference_point_is_refused() -> None:
    s = _study(problems=[{"name": "zdt1", "ref_point": [1.0, 1.0, 1.0]}], metrics=["hv"])
    with pytest.raises(ConfigError, match="ref_point has 3 values"):
        s.validate()


def test_duplicate_labels_and_bad_seeds_are_refused() -> None:
    with pytest.raises(ConfigError, match="label"):
        _study(optimizers=[{"name": "random-search"}, {"name": "random-search"}])
    with pytest.raises(ConfigError, match="seeds"):
        _study(seeds=[1, 1])


def test_toml_file_is_parsed_and_storage_goes_beside_it(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[study]\nname = "x"\nseeds = 2\nbudget = { evaluations = 32 }\n'
        '[metrics]\nrecord = ["hv"]\nevery = 3\n'
        '[[optimizers]]\nname = "random-search"\nconfig = { batch_size = 8 }\n'
        '[[problems]]\nname = "zdt1"\noptions = { n_var = 3 }\n'
    )
    s = load_study(path)
    s.validate()
    assert s.metrics.every == 3 and len(s.runs()) == 2
    assert s.storage_url == f"sqlite:///{tmp_path / 'x.polyopt' / 'study.sqlite'}"


def test_toml_typos_in_sections_and_keys_get_suggestions(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_text(
        '[study]\nname = "x"\nseed = 2\n[[optimizers]]\nname = "random-search"\n'
        '[[problems]]\nname = "zdt1"\n'
    )
    with pytest.raises(ConfigError, match="Did you mean 'seeds'"):
        load_study(path)
    path.write_text(
        '[study]\nname = "x"\n[metric]\n[[optimizers]]\nname = "random-search"\n'
        '[[problems]]\nname = "zdt1"\n'
    )
    with pytest.raises(ConfigError, match="Did you mean 'metrics'"):
        load_study(path)
    path.write_text(
        '[study]\nname = "x"\n[metrics]\nrecord = ["hvv"]\n[[optimizers]]\nname = "random-search"\n'
        '[[problems]]\nname = "zdt1"\n'
    )
    with pytest.raises(ConfigError, match="Did you mean 'hv'"):
        load_study(path)


def test_fingerprint_covers_recording_settings_not_lease_timings() -> None:
    assert _study().fingerprint() == _study(stale_after_seconds=120).fingerprint()
    assert _study().fingerprint() != _study(metrics=["igd"]).fingerprint()
    assert _study().fingerprint() != _study(checkpoint_every=3).fingerprint()


def test_stored_definition_round_trips() -> None:
    s = _study(
        optimizers={"random-search": {"batch_size": 4}}, metrics={"record": ["hv"], "every": 2}
    )
    again = Study.from_stored(s.to_dict())
    assert again.fingerprint() == s.fingerprint() and again.runs() == s.runs()


def test_quickstart_study_is_valid() -> None:
    root = Path(__file__).resolve().parents[4]
    study = load_study(root / "examples" / "studies" / "quickstart.toml")
    study.validate()
    assert len(study.seeds) == 3 and len(study.problems) == 3
