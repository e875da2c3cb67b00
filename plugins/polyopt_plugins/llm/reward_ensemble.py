"""Reward-model ensembles against over-optimization (Coste et al. 2023) and their aggregations (kind
``reward_aggregation``): ``aggregate(scores: n x K, params) -> n``.

- ``mean``: the members' mean.
- ``worst-case`` (WCO): the lowest member score — a completion is only as good as its harshest judge.
- ``uncertainty-weighted`` (UWO): ``mean - lambda * var`` over members; disagreement, which grows off the data the
  members saw, is penalized.

:class:`RewardEnsemble` is itself a ``reward`` component (``ensemble(prompts, completions) -> n``);
:func:`train_ensemble` trains its members with consecutive seeds on the same pairs.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn

import polyopt
from polyopt.components import AggregationParams
from polyopt.result import TrainerResult
from polyopt_plugins.llm.reward_model import RewardModel

__all__ = ["RewardEnsemble", "mean", "train_ensemble", "uncertainty_weighted", "worst_case"]


def mean(scores: Tensor, p: AggregationParams) -> Tensor:
    """The members' mean reward."""
    return scores.mean(-1)


def worst_case(scores: Tensor, p: AggregationParams) -> Tensor:
    """WCO: the lowest member reward."""
    return scores.min(-1).values


def uncertainty_weighted(scores: Tensor, p: AggregationParams) -> Tensor:
    """UWO: the mean minus ``uncertainty_coef`` times the members' variance."""
    return scores.mean(-1) - p.uncertainty_coef * scores.var(-1, unbiased=False)


class RewardEnsemble(nn.Module):
    """Several reward models read as one reward.

    Args:
        members: the reward models (standardized, so their scores share a scale).
        aggregation: a registered ``reward_aggregation`` (``mean``, ``worst-case``, ``uncertainty-weighted``).
        params: its hyperparameters (UWO's ``uncertainty_coef``).
    """

    def __init__(
        self,
        members: list[RewardModel],
        aggregation: str = "mean",
        params: AggregationParams | None = None,
    ) -> None:
        super().__init__()
        if not members:
            raise ValueError("an ensemble needs at least one member")
        self.members = nn.ModuleList(members)
        self.aggregation = aggregation
        self.aggregate = polyopt.registry().get("reward_aggregation", aggregation)
        self.params = params or AggregationParams()

    def scores(self, prompts: list[str], completions: list[str]) -> Tensor:
        """``n x K`` member rewards."""
        return torch.stack([m(prompts, completions) for m in self.members], dim=-1)

    @torch.no_grad()
    def forward(self, prompts: list[str], completions: list[str], **_: Any) -> Tensor:
        """``n`` aggregated rewards: the ``reward`` component protocol."""
        return self.aggregate(self.scores(prompts, completions), self.params)


def train_ensemble(
    problem: Any,
    k: int,
    *,
    steps: int,
    seed: int = 0,
    aggregation: str = "mean",
    params: AggregationParams | None = None,
    **config: Any,
) -> RewardEnsemble:
    """Train ``k`` reward models (``reward-model``, seeds ``seed .. seed + k - 1``) for ``steps`` steps each on
    ``problem``'s pairs; ``config`` goes to each trainer."""
    members = []
    for i in range(k):
        result = polyopt.optimize(
            "reward-model", problem, budget=polyopt.Budget(steps=steps), seed=seed + i, **config
        )
        assert isinstance(result, TrainerResult)
        members.append(result.policy)
    return RewardEnsemble(members, aggregation, params)
