"""polyopt.compose.run_objective: a trainer's run as an Objective (issue 16, HPO of RL runs)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import torch

import polyopt
from polyopt.compose import run_objective
from polyopt.errors import ConfigError
from polyopt.spaces import Categorical, Integer

TINY = {  # an Envelope run of a fraction of a second
    "hidden_sizes": [8],
    "batch_size": 8,
    "learning_starts": 16,
    "target_update_every": 5,
    "eval_weights": 3,
    "eval_episodes": 1,
    "eval_max_steps": 60,
}


def _tuning(**changes: Any) -> Any:
    options: dict[str, Any] = {
        "space": {"learning_rate": (1e-4, 1e-2, "log"), "initial_epsilon": (0.01, 0.5)},
        "metrics": ["hypervolume", "eum", "wall_time"],
        "config": TINY,
        "problem_options": {"num_envs": 4},
    }
    options.update(changes)
    return run_objective("envelope", "deep-sea-treasure", {"env_steps": 120}, **options)


def test_a_point_is_a_config_and_its_values_the_runs_metrics() -> None:
    obj = _tuning(ref_point=[0.0, -20.0, 60.0])
    assert obj.n_objectives == 3
    assert obj.directions == ("maximize", "maximize", "minimize")
    assert obj.ref_point == [0.0, -20.0, 60.0]
    x = torch.tensor([[-3.0, 0.2], [-2.0, 0.05]], dtype=torch.float64)
    configs = obj.configs(x)
    assert configs[0]["learning_rate"] == pytest.approx(1e-3)
    assert configs[1]["initial_epsilon"] == pytest.approx(0.05)
    assert configs[0]["hidden_sizes"] == [8]
    ev = polyopt.evaluate(obj, x)
    assert ev.f.shape == (2, 3) and not bool(ev.failed_mask.any())
    assert bool((-ev.f[:, 0] >= 0).all()) and bool((ev.f[:, 2] > 0).all())  # HV >= 0, seconds > 0


def test_runs_are_seeded_by_the_point_so_order_and_resumes_do_not_matter() -> None:
    obj = _tuning(metrics=["hypervolume", "eum"])
    x = torch.tensor([[-3.0, 0.2], [-2.5, 0.4], [-2.0, 0.05]], dtype=torch.float64)
    first = obj.evaluate(x).f
    again = obj.evaluate(x.flip(0)).f.flip(0)
    assert torch.equal(first, again)
    seeds = obj.seeds(x)
    assert len({s[0] for s in seeds}) == 3  # different points, different runs
    assert seeds != _tuning(seed=1).seeds(x)  # the base seed moves them all


def test_an_optimizer_resumed_from_its_state_makes_the_same_evaluations() -> None:
    """What a study does after a worker died: load the last checkpoint and continue."""
    obj = _tuning(metrics=["hypervolume", "eum"])
    whole = polyopt.optimize("random-search", obj, budget=4, seed=3, batch_size=2)
    first = polyopt.make("optimizer", "random-search", obj, seed=3, batch_size=2)
    polyopt.run(first, polyopt.Budget(evaluations=2))
    state = first.state_dict()
    resumed = polyopt.make("optimizer", "random-search", obj, seed=3, batch_size=2)
    resumed.load_state_dict(state)
    out = polyopt.run(resumed, polyopt.Budget(evaluations=4))
    assert isinstance(out, polyopt.Result) and isinstance(whole, polyopt.Result)
    assert torch.equal(out.f, whole.f) and torch.equal(out.x, whole.x)


def test_integer_and_categorical_fields() -> None:
    obj = _tuning(
        space={"num_sample_w": (1, 4), "envelope": Categorical([True, False])},
        metrics=["hypervolume"],
    )
    assert isinstance(obj.space.parts["num_sample_w"], Integer)
    (config,) = obj.configs(torch.tensor([[3.0, 1.0]], dtype=torch.float64))
    assert config["num_sample_w"] == 3 and config["envelope"] is False


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"space": {"learning_rat": (1e-4, 1e-2)}}, "Did you mean 'learning_rate'"),
        ({"space": {"num_sample_w": (1.0, 4.0)}}, "num_sample_w is an int"),
        ({"space": {"learning_rate": (0.0, 1e-2, "log")}}, "log range needs low > 0"),
        ({"space": {"learning_rate": (1e-2, 1e-4)}}, "low < high"),
        ({"space": {"learning_rate": (1e-4, 1e-2, "ln")}}, "expected 'log'"),
        ({"space": {}}, "space={} is empty"),
        ({"space": {"batch_size": (8, 64)}, "config": {"batch_size": 16}}, "both space and"),
        ({"config": {"gama": 0.9}}, "config key 'gama' is not a config field"),
        ({"metrics": ["return_of_the_jedi"]}, "has no known direction"),
        ({"metrics": {"hypervolume": "up"}}, "direction 'up'"),
        ({"metrics": ["hypervolume"], "ref_point": [0.0, 1.0]}, "one per metric"),
        ({"repeats": 0}, "repeats=0"),
    ],
)
def test_clear_errors_when_the_run_objective_is_made(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("{", r"\{")):
        _tuning(**changes)


def test_a_metric_the_result_lacks_names_what_it_has() -> None:
    obj = _tuning(metrics={"hypervolum": "maximize"})
    with pytest.raises(ConfigError, match="'hypervolum' is not in the result.*'hypervolume'"):
        obj.evaluate(torch.tensor([[-3.0, 0.2]], dtype=torch.float64))


def test_search_optimizers_are_refused_as_trainers() -> None:
    with pytest.raises(ConfigError, match="not a Trainer"):
        run_objective("nsga2", "zdt1", 100, space={"pop_size": (10, 20)}, metrics=["wall_time"])


@dataclass
class _FlakyConfig:
    rate: float = 0.1
    """Above 0.5 the run raises, as a diverging run would."""


class _Flaky(polyopt.Trainer):
    """A trainer whose run fails for large rates: each step takes one environment step."""

    Config = _FlakyConfig

    def iterate(self) -> dict[str, float]:
        if self.config.rate > 0.5:
            raise FloatingPointError(f"loss is nan at rate {self.config.rate}")
        self.n_env_steps += 1
        return {}

    def result(self) -> polyopt.TrainerResult:
        returns = torch.full((1, self.problem.reward_dim), self.config.rate, **self.like)
        return self.make_result(None, returns, metrics={"score": self.config.rate})

    def get_state(self) -> dict[str, Any]:
        return {}

    def set_state(self, state: dict[str, Any]) -> None:
        pass


def test_a_run_that_raises_is_a_failed_evaluation_with_its_message() -> None:
    obj = run_objective(
        _Flaky,
        "deep-sea-treasure",
        {"steps": 2},
        space={"rate": (0.0, 1.0)},
        metrics={"score": "maximize"},
    )
    ev = polyopt.evaluate(obj, torch.tensor([[0.25], [0.75]], dtype=torch.float64))
    assert ev.failed_mask.tolist() == [False, True]
    assert ev.f[0, 0] == pytest.approx(-0.25)  # minimization form
    assert "loss is nan at rate 0.75" in ev.info["errors"][1]
