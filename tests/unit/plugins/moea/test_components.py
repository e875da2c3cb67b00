"""Components through the algorithms' config: a third-party operator and survival, their options, and
clear errors for a component in the wrong slot."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
import torch
from torch import Tensor

import polyopt
from polyopt.components import Survivors
from polyopt.errors import ConfigError
from polyopt.objective import FunctionObjective
from polyopt.spaces import Binary, Box, Product
from polyopt.testing import OperatorContract, SurvivalContract


class Gauss:
    """A third-party mutation, written against the public protocol only."""

    role = "mutation"
    space_kinds = frozenset({"continuous"})

    def __init__(self, space: Box, *, sigma: float = 0.1, prob_var: float = 0.5) -> None:
        self.sigma = sigma
        self.prob_var = prob_var
        self.scale = sigma * (space.upper - space.lower)

    def __call__(self, x: Tensor, generator: torch.Generator) -> Tensor:
        noise = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        chosen = torch.rand(x.shape, generator=generator, dtype=x.dtype, device=x.device)
        return x + torch.where(chosen < self.prob_var, noise * self.scale.to(x), 0.0)


class WeightedSum:
    """A third-party survival: feasible points of least weighted objective sum, then the least violating."""

    def __init__(self, ref_dirs: Tensor, *, scale: float = 1.0) -> None:
        self.ref_dirs = ref_dirs
        self.scale = scale
        self.calls = 0

    def __call__(
        self, f: Tensor, violation: Tensor, n_survive: int, generator: torch.Generator
    ) -> Survivors:
        self.calls += 1
        score = (f * self.scale).sum(dim=1)
        by_score = torch.argsort(score, stable=True)
        order = by_score[torch.argsort(violation[by_score], stable=True)]
        index = order[:n_survive]
        rank = (violation[index] > 0).long()  # infeasible points rank behind every feasible one
        return Survivors(index, rank, torch.zeros(index.numel(), dtype=f.dtype, device=f.device))

    def state_dict(self) -> dict[str, Any]:
        return {"calls": self.calls}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.calls = int(state["calls"])


def _not_an_operator(space: Any) -> None:
    """Registered as an operator by mistake: no role, no space kinds."""


@pytest.fixture(autouse=True)
def _test_plugin() -> Iterator[None]:
    """Register the components above as plugin ``test`` would, and remove them afterwards."""
    reg = polyopt.registry()
    reg.add("operator", "test.gauss", Gauss, plugin="test")
    reg.add("operator", "test.not-an-operator", _not_an_operator, plugin="test")
    reg.add("survival", "test.weighted-sum", WeightedSum, plugin="test")
    yield
    reg.remove_plugin("test")


class TestGaussIsAnOperator(OperatorContract):
    operator = "test.gauss"
    options: ClassVar[dict[str, Any]] = {"sigma": 0.3}


class TestWeightedSumIsASurvival(SurvivalContract):
    survival = "test.weighted-sum"
    options: ClassVar[dict[str, Any]] = {"scale": 2.0}


def _zdt1() -> polyopt.Objective:
    return polyopt.make("objective", "zdt1", n_var=5)


def test_mutation_options_reach_a_third_party_operator_driving_nsga2() -> None:
    opt = polyopt.make(
        "optimizer",
        "nsga2",
        _zdt1(),
        seed=0,
        pop_size=12,
        mutation="test.gauss",
        mutation_options={"sigma": 0.3},
        mutation_prob_var=0.2,  # the algorithm's own setting, passed because Gauss takes prob_var
    )
    mutation = opt.variation.mutation
    assert isinstance(mutation, Gauss)
    assert mutation.sigma == 0.3 and mutation.prob_var == 0.2
    result = polyopt.run(opt, polyopt.Budget(evaluations=240))
    assert isinstance(result, polyopt.Result) and result.n_evaluations == 240
    assert bool(opt.problem.space.contains(result.x).all())


def test_an_option_the_operator_does_not_take_is_named_with_a_suggestion() -> None:
    with pytest.raises(ConfigError, match=r"'sigmaa' for mutation 'test.gauss'.*'sigma'"):
        polyopt.make(
            "optimizer", "nsga2", _zdt1(), mutation="test.gauss", mutation_options={"sigmaa": 1}
        )
    with pytest.raises(ConfigError, match=r"'etta' for crossover 'sbx'.*'eta'"):
        polyopt.make("optimizer", "nsga2", _zdt1(), crossover_options={"etta": 5})


def test_options_of_an_auto_operator_reach_the_default_operator() -> None:
    opt = polyopt.make("optimizer", "nsga2", _zdt1(), crossover_options={"prob_var": 0.7})
    assert (
        type(opt.variation.crossover).__name__ == "SBX" and opt.variation.crossover.prob_var == 0.7
    )


def test_a_named_operator_on_a_product_space_takes_its_parts_only() -> None:
    space = Product({"x": Box(0.0, 1.0, dim=3), "bits": Binary(4)})
    problem = FunctionObjective(
        lambda x: torch.stack([x.sum(1), (1 - x).sum(1)], dim=1), space, n_objectives=2
    )
    opt = polyopt.make(
        "optimizer", "nsga2", problem, mutation="test.gauss", mutation_options={"sigma": 0.05}
    )
    parts = opt.variation.mutation.parts
    assert isinstance(parts["x"], Gauss) and parts["x"].sigma == 0.05
    assert type(parts["bits"]).__name__ == "BitFlip"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        ({"crossover": "bit-flip"}, "'bit-flip' is a mutation, not a crossover"),
        ({"mutation": "sbx"}, "'sbx' is a crossover, not a mutation"),
        ({"crossover": "test.gauss"}, "'test.gauss' is a mutation, not a crossover"),
        ({"mutation": "nsga2"}, "'nsga2' is an optimizer, not an operator"),
        ({"crossover": "sbxx"}, "unknown operator 'sbxx'. Did you mean 'sbx'"),
        ({"mutation": "test.not-an-operator"}, "does not fit the operator protocol"),
        ({"survival": "sbx"}, "'sbx' is an operator, not a survival"),
        ({"survival": "rank-and-crowdin"}, "Did you mean 'rank-and-crowding'"),
        ({"survival_options": {"k": 3}}, "unknown option 'k' for survival of optimizer 'nsga2'"),
    ],
)
def test_a_component_in_the_wrong_slot_is_a_config_error(
    config: dict[str, Any], message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        polyopt.make("optimizer", "nsga2", _zdt1(), **config)
    assert message in str(caught.value)


def test_a_plugin_survival_drives_nsga2() -> None:
    opt = polyopt.make(
        "optimizer",
        "nsga2",
        _zdt1(),
        seed=0,
        pop_size=12,
        survival="test.weighted-sum",
        survival_options={"scale": 2.0},
    )
    assert isinstance(opt.survival, WeightedSum) and opt.survival.scale == 2.0
    assert opt.survival.ref_dirs is opt.ref_dirs  # passed because its constructor takes them
    polyopt.run(opt, polyopt.Budget(evaluations=120))
    assert opt.survival.calls == opt.n_generations == 10
    score = opt.population.f.sum(dim=1)  # survivors in the plugin's order: least weighted sum first
    assert bool((score[1:] >= score[:-1]).all())


@pytest.mark.parametrize("name", ["nsga3", "sms-emoa", "rvea", "dnsga2"])
def test_every_survival_based_algorithm_takes_a_registered_survival(name: str) -> None:
    opt = polyopt.make(
        "optimizer", name, _zdt1(), seed=0, pop_size=12, survival="test.weighted-sum"
    )
    polyopt.run(opt, polyopt.Budget(evaluations=60))
    initial = 1 if name == "rvea" else 0  # RVEA takes its initial sample as it is, as pymoo does
    assert isinstance(opt.survival, WeightedSum)
    assert opt.survival.calls == opt.n_generations - initial


def test_survival_options_with_auto_override_the_algorithms_own() -> None:
    opt = polyopt.make("optimizer", "sms-emoa", _zdt1(), survival_options={"n_samples": 50})
    assert opt.survival.n_samples == 50 and opt.survival.eps == opt.config.eps
