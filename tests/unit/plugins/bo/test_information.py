"""Knowledge gradient and entropy searches as EGO acquisitions: they find a bowl's minimum, build batches,
refuse what they cannot do, and KG's one-shot candidates come out as q points."""

from __future__ import annotations

import pytest
import torch
from bo_helpers import SMALL, bowl_2d, run_steps
from botorch.acquisition import OneShotAcquisitionFunction

import polyopt
from polyopt import Categorical, Product
from polyopt.components import AcquisitionOptions
from polyopt.errors import ConfigError
from polyopt.testing import small_gp, small_training_data
from polyopt_plugins.bo.ego import EGO
from polyopt_plugins.bo.information import GreedyBatch, gibbon, qkg

FAST = {**SMALL, "acquisition_options": {"num_fantasies": 4, "candidates": 200, "num_optima": 4}}


@pytest.mark.parametrize("acquisition", ["qkg", "qmes", "gibbon", "qjes"])
def test_finds_the_bowl_minimum(acquisition: str) -> None:
    opt = EGO(bowl_2d(), seed=0, n_initial=4, acquisition=acquisition, **FAST)
    run_steps(opt, 9)
    f = opt.f_all[:, 0]
    assert opt.result().f_best < float(f[:4].min())
    assert opt.result().f_best < 0.1, f


@pytest.mark.parametrize("acquisition", ["qkg", "gibbon"])
def test_batches_are_distinct_points_of_the_space(acquisition: str) -> None:
    opt = EGO(bowl_2d(), seed=2, n_initial=4, batch_size=3, acquisition=acquisition, **FAST)
    run_steps(opt, 4)
    x = opt.ask()
    assert x.shape == (3, 2)
    assert bool(((x >= -1) & (x <= 1)).all())
    assert torch.cdist(x, x).add(torch.eye(3)).min() > 1e-4, x


def test_greedy_batch_value_is_the_sum_of_conditioned_values() -> None:
    data = small_training_data()
    torch.manual_seed(0)
    acqf = gibbon(small_gp(data), data, AcquisitionOptions(extra={"candidates": 50}))
    assert isinstance(acqf, GreedyBatch)
    x = torch.rand(1, 2, 2, dtype=torch.float64)
    with torch.no_grad():
        joint = acqf(x)
        first = acqf(x[:, :1])
        acqf.set_X_pending(x[0, :1])
        second = acqf(x[:, 1:])
        acqf.set_X_pending(None)
    torch.testing.assert_close(joint, first + second)


def test_kg_is_one_shot_over_its_fantasies() -> None:
    data = small_training_data()
    acqf = qkg(small_gp(data), data, AcquisitionOptions(q=2, extra={"num_fantasies": 5}))
    assert isinstance(acqf, OneShotAcquisitionFunction)
    assert acqf.get_augmented_q_batch_size(2) == 7


def test_refusals() -> None:
    space = Product({"x": polyopt.Box([0.0], [1.0]), "c": Categorical(["a", "b"])})

    @polyopt.objective(space=space)
    def mixed(x: torch.Tensor) -> torch.Tensor:
        return x[:, 0]

    with pytest.raises(ConfigError, match="continuous spaces only"):
        EGO(mixed, seed=0, acquisition="qkg")
    with pytest.raises(ConfigError, match="num_fantasies=0"):
        qkg(
            small_gp(small_training_data()),
            small_training_data(),
            AcquisitionOptions(extra={"num_fantasies": 0}),
        )
