"""Study definitions: the grid, TOML parsing, and validation that refuses mistakes before anything runs."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pytest
import tomllib

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
    with pytest.raises(ConfigError, match="expected a subclass of Objective or Environment, or an"):
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
    assert len(study.seeds) == 4 and len(study.problems) == 3
    assert "qlognehvi" in [o.name for o in study.optimizers], (
        "the demo keeps a model-based optimizer"
    )


# ------------------------------------------------------------------------------ your own objective, by name

MODULE = """
import torch
import polyopt

@polyopt.objective(bounds=([0.0, 0.0], [1.0, 1.0]), n_objectives=2, ref_point=[1.1, 1.1])
def trade_off(x):
    return torch.stack([x[:, 0], 1.0 - x[:, 0].sqrt() + x[:, 1]], dim=-1)

class Shifted(polyopt.Objective):
    n_objectives = 2
    ref_point = [5.0, 5.0]

    def __init__(self, dim: int = 2, shift: float = 1.0):
        self.space = polyopt.Box([-2.0] * dim, [2.0] * dim)
        self.shift = shift

    def evaluate(self, x):
        return polyopt.Evaluation(
            f=torch.stack([(x**2).sum(-1), ((x - self.shift) ** 2).sum(-1)], dim=-1)
        )

def not_an_objective(x):
    return x
"""


def _own_study(tmp_path: Path, module: str, problems: str) -> Path:
    (tmp_path / f"{module}.py").write_text(MODULE)
    path = tmp_path / "own.toml"
    path.write_text(
        '[study]\nname = "own"\nseeds = 1\nbudget = { evaluations = 16 }\n'
        '[metrics]\nrecord = ["hv"]\n[[optimizers]]\nname = "random-search"\n' + problems
    )
    return path


def test_objectives_from_a_module_beside_the_study_file(tmp_path: Path) -> None:
    problems = (
        f'[[problems]]\nname = "{tmp_path.name}_mine:trade_off"\n'
        f'[[problems]]\nname = "{tmp_path.name}_mine:Shifted"\noptions = {{ dim = 3 }}\n'
    )
    path = _own_study(tmp_path, f"{tmp_path.name}_mine", problems)
    assert str(tmp_path) not in sys.path  # no PYTHONPATH: the study finds its own folder
    study = load_study(path)
    study.validate()
    from polyopt.study.definition import make_problem

    instance = make_problem(f"{tmp_path.name}_mine:trade_off", {})
    made = make_problem(f"{tmp_path.name}_mine:Shifted", {"dim": 3})
    assert instance.n_objectives == 2 and instance.ref_point == [1.1, 1.1]
    assert made.space.dim == 3
    assert Study.from_stored(study.to_dict()).runs() == study.runs()


def test_an_objective_instance_takes_no_options_and_other_callables_are_refused(
    tmp_path: Path,
) -> None:
    module = f"{tmp_path.name}_bad"
    problems = (
        f'[[problems]]\nname = "{module}:trade_off"\noptions = {{ n_var = 3 }}\n'
        f'[[problems]]\nname = "{module}:not_an_objective"\n'
        f'[[problems]]\nname = "{module}:Missing"\n'
    )
    study = load_study(_own_study(tmp_path, module, problems))
    with pytest.raises(ConfigError) as info:
        study.validate()
    text = str(info.value)
    assert "takes no options; got ['n_var']" in text
    assert "not_an_objective" in text and "@polyopt.objective" in text
    assert "has no attribute 'Missing'" in text


def test_a_module_name_taken_by_another_import_is_refused(tmp_path: Path) -> None:
    path = _own_study(tmp_path, "json", '[[problems]]\nname = "json:trade_off"\n')
    with pytest.raises(ConfigError, match="module 'json' is already imported from .*rename one"):
        load_study(path).validate()


# ---------------------------------------------------------------------------------------------- metrics


def test_every_registered_metric_is_accepted() -> None:
    from polyopt.plugins import registry

    names = registry().names("metric")
    assert {"hypervolume", "igd", "gd", "spacing", "cardinality", "expected-utility"} <= set(names)
    _study(metrics=[*names, "best"]).validate()


def test_a_metric_twice_under_two_names_is_refused() -> None:
    with pytest.raises(ConfigError, match="'hv' and 'hypervolume': the same metric twice"):
        _study(metrics=["hv", "hypervolume"])


def test_an_unknown_metric_is_refused_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match="unknown metric 'spaceing'. Did you mean 'spacing'"):
        _study(metrics=["spaceing"]).validate()


# ----------------------------------------------------------------------------------- the file reference


def test_the_committed_study_file_reference_is_the_generated_one() -> None:
    from polyopt.study.reference import study_file_markdown

    committed = Path(__file__).resolve().parents[4] / "docs" / "study-file.md"
    assert committed.read_text() == study_file_markdown(), (
        "docs/study-file.md is out of date: polyopt study schema > docs/study-file.md"
    )


def test_the_reference_example_sets_every_key_and_is_a_valid_study(tmp_path: Path) -> None:
    from polyopt.config import config_fields
    from polyopt.study.reference import EXAMPLE, SECTIONS

    path = tmp_path / "example.toml"
    path.write_text(EXAMPLE)
    load_study(path).validate()
    data = tomllib.loads(EXAMPLE)
    for heading, cls, _ in SECTIONS:
        section = heading.strip("[]")
        text = EXAMPLE.split(heading, 1)[1]
        for name, *_ in config_fields(cls):
            assert re.search(rf"^#? ?{name} = ", text, flags=re.M), (
                f"{heading} {name} not in EXAMPLE"
            )
        assert section in data
