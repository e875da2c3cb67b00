"""The shared MORL evaluation protocol: weights, batched preference evaluation, front indicators."""

from __future__ import annotations

import pytest
import torch

from polyopt.errors import ConfigError
from polyopt_envs.deep_sea_treasure import DeepSeaTreasure
from polyopt_envs.fruit_tree import FruitTree
from polyopt_plugins.morl.protocol import (
    REFERENCE_POINTS,
    equally_spaced_weights,
    evaluate_preferences,
    evaluation_ceiling,
    front_metrics,
    maximum_utility_loss,
    random_weights,
    reference_point,
)

_CELLS = [(1, 0), (2, 1), (3, 2), (4, 3), (4, 4), (4, 5), (7, 6), (7, 7), (9, 8), (10, 9)]


def _oracle(gamma: float):
    """The optimal policy for each linear preference: the shortest path to its best treasure."""
    front = DeepSeaTreasure().pareto_front(gamma)
    cells = torch.tensor(_CELLS, dtype=torch.float32)

    def act(obs: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        target = cells[(w @ front.T).argmax(1)]  # n x 2 (row, column)
        right = obs[:, 1] < target[:, 1]
        return torch.where(right, 3, 1)  # right along the surface, then down

    return act


def test_weights_spread_over_the_simplex() -> None:
    w2 = equally_spaced_weights(2, 100)
    assert w2.shape == (100, 2) and torch.allclose(w2.sum(1), torch.ones(100, dtype=w2.dtype))
    assert equally_spaced_weights(3, 100).shape[0] == 105  # Das-Dennis count closest to 100
    r = random_weights(3, 50, torch.Generator().manual_seed(0), torch.device("cpu"))
    assert bool((r >= 0).all()) and torch.allclose(r.sum(1), torch.ones(50))


def test_batched_evaluation_of_the_optimal_policy_returns_the_front() -> None:
    gamma = 0.99
    env = DeepSeaTreasure(num_envs=1)
    weights = equally_spaced_weights(2, 100)
    ev = evaluate_preferences(_oracle(gamma), env, weights, episodes=3, gamma=gamma, seed=0)
    front = env.pareto_front(gamma).double()
    assert ev["discounted"].shape == (100, 2)
    found = torch.unique(ev["discounted"].round(decimals=4), dim=0)
    torch.testing.assert_close(found, torch.unique(front.round(decimals=4), dim=0))
    undiscounted = torch.unique(ev["returns"], dim=0)
    torch.testing.assert_close(undiscounted, env.pareto_front(1.0).double())
    assert int(ev["env_steps"]) >= 100 * 3 * 1  # K x E sub-environments stepped together


def test_front_metrics_of_the_true_front() -> None:
    front = DeepSeaTreasure().pareto_front(0.99)
    m = front_metrics(front, REFERENCE_POINTS["deep-sea-treasure"].point, front)
    assert m["hypervolume"] == pytest.approx(360.4009, abs=1e-3)
    assert m["cardinality"] == 10 and m["igd"] == pytest.approx(0.0, abs=1e-6)
    assert m["mul"] == pytest.approx(0.0, abs=1e-6)
    partial = front_metrics(front[:9], (0.0, -25.0), front)
    assert partial["hypervolume"] < m["hypervolume"] and partial["mul"] > 0
    assert partial["eum"] <= m["eum"]


def test_maximum_utility_loss_is_the_worst_weights_gap() -> None:
    known = torch.tensor([[1.0, 0.0], [0.0, 1.0]])
    ours = torch.tensor([[1.0, 0.0]])
    w = torch.tensor([[1.0, 0.0], [0.0, 1.0], [0.5, 0.5]], dtype=torch.float64)
    assert maximum_utility_loss(ours, known, w) == pytest.approx(1.0)


def test_reference_points_name_their_source() -> None:
    ref = reference_point(DeepSeaTreasure())
    assert ref.point == (0.0, -25.0) and ref.gamma == 0.99 and "Felten" in ref.source
    with pytest.raises(
        ConfigError, match="no reference point is registered for environment 'nope'"
    ):
        reference_point("nope")


def test_evaluation_ceiling_of_fruit_tree_needs_more_than_100_weights() -> None:
    """Six objectives: the 126 Das-Dennis weights reach 50 of the 64 fruits (85.8 % of the HV), 1287 all."""
    front = FruitTree(depth=6).pareto_front(0.99).double()
    ref = REFERENCE_POINTS["fruit-tree-6"].point
    full = front_metrics(front, ref)["hypervolume"]
    few = evaluation_ceiling(front, equally_spaced_weights(6, 100))
    assert few.shape == (50, 6)
    assert front_metrics(few, ref)["hypervolume"] / full == pytest.approx(0.858, abs=1e-3)
    every = evaluation_ceiling(front, equally_spaced_weights(6, 1287))
    assert every.shape == (64, 6)
    # two objectives: the 100 weights reach every Deep Sea Treasure point
    dst = DeepSeaTreasure().pareto_front(0.99)
    assert evaluation_ceiling(dst, equally_spaced_weights(2, 100)).shape == (10, 2)
    with pytest.raises(ConfigError, match="expected K x m"):
        evaluation_ceiling(front, torch.ones(3, 2))
