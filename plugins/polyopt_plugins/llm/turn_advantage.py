"""Turn-level advantages for multi-turn tasks: ``fn(turns, params) -> N`` (kind ``turn_advantage``).

The ``K`` episodes of a group start from the same state. ``episode-grpo`` credits every turn of an episode
with its group-normalized return; ``gigpo`` adds GiGPO's step-level term, which compares turns taken from the
same state (an *anchor state*) across the group's episodes by their discounted returns.
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.components import AdvantageParams, TurnBatch

__all__ = ["episode_grpo", "gigpo"]


def _normalized(values: Tensor, groups: Tensor, p: AdvantageParams) -> Tensor:
    """``(v - mean) / (std + eps)`` within each group id of ``groups`` (0 for a group of one)."""
    n_groups = int(groups.max()) + 1 if groups.numel() else 0
    count = torch.zeros(n_groups, dtype=values.dtype).index_add_(0, groups, torch.ones_like(values))
    mean = torch.zeros(n_groups, dtype=values.dtype).index_add_(0, groups, values) / count
    centered = values - mean[groups]
    var = torch.zeros(n_groups, dtype=values.dtype).index_add_(0, groups, centered**2)
    std = (var / (count - 1).clamp_min(1)).sqrt()
    scale = std[groups] + p.eps if p.options.get("std", True) else 1.0
    return torch.where(count[groups] > 1, centered / scale, 0.0)


def episode_grpo(turns: TurnBatch, p: AdvantageParams) -> Tensor:
    """GRPO over episodes: each episode's return normalized within its group of ``K``, on all of its turns
    (option ``std``: divide by the group's std, True)."""
    returns = turns.episode_returns()
    k = turns.n_episodes // turns.n_groups
    per_episode = _normalized(returns, torch.arange(turns.n_episodes) // k, p)
    return per_episode[turns.episode]


def gigpo(turns: TurnBatch, p: AdvantageParams) -> Tensor:
    """GiGPO (Feng et al. 2025, "Group-in-Group Policy Optimization for LLM Agent Training"): the episode-level
    advantage of :func:`episode_grpo` plus ``omega`` (option, 1) times a step-level one — each turn's
    discounted return (``gamma``) normalized among the turns of its group that acted from the same state."""
    omega = float(p.options.get("omega", 1.0))
    k = turns.n_episodes // turns.n_groups
    group = (turns.episode // k).tolist()
    anchors: dict[tuple[int, str], int] = {}
    ids = [anchors.setdefault((g, s), len(anchors)) for g, s in zip(group, turns.states)]
    step = _normalized(turns.returns(p.gamma), torch.tensor(ids, dtype=torch.long), p)
    return episode_grpo(turns, p) + omega * step
