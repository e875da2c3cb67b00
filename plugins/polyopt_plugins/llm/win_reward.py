"""Self-play win-rate rewards (DNO, Rosset et al. 2024; SPPO, Wu et al. 2024): each completion's reward is its
win rate against the other completions of the same prompt under a preference model, so the group policy-gradient
trainers (``grpo``, ``rloo``, ...) optimize a general — possibly intransitive — preference instead of a scalar
reward.

:class:`WinRate` wraps a :class:`~polyopt.components.PreferenceModel` (``P(a > b | x)``); ``WinRate.from_reward``
reads any ``reward`` (a reward model, a gold oracle) as Bradley-Terry, ``P = sigmoid((r(a) - r(b)) / T)``, or at
``T = 0`` as a hard comparison (1, 1/2 on a tie, 0). The completions of one prompt are the rows with the same
prompt string in the batch (the trainers keep a prompt's group together); a prompt with one completion gets 1/2.

The registered reward ``win-rate`` is the win rate under ``partial-credit`` (the text tasks' share of matching
characters), a known oracle; for your own judge, register an instance::

    polyopt.registry().add("reward", "acme.win-rate", WinRate.from_reward(my_reward_model, temperature=1.0))
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from polyopt.components import PreferenceModel, RewardFunction

__all__ = ["WinRate", "bradley_terry", "win_rate"]


def bradley_terry(reward: RewardFunction, temperature: float = 0.0) -> PreferenceModel:
    """A preference model from a pointwise reward: ``sigmoid((r(a) - r(b)) / T)``; ``T = 0``: hard, ties 1/2."""
    if temperature < 0:
        raise ValueError(f"temperature={temperature}; expected >= 0")

    def prefer(prompts: list[str], first: list[str], second: list[str], **fields: Any) -> Tensor:
        both = reward([*prompts, *prompts], [*first, *second], **_twice(fields)).float()
        diff = both[: len(prompts)] - both[len(prompts) :]
        if temperature == 0:
            return (diff > 0).float() + 0.5 * (diff == 0).float()
        return torch.sigmoid(diff / temperature)

    return prefer


def _twice(fields: dict[str, Any]) -> dict[str, Any]:
    return {k: [*v, *v] if isinstance(v, list) else v for k, v in fields.items()}


class WinRate:
    """A ``reward``: each completion's mean preference probability against the others of its prompt."""

    def __init__(self, prefer: PreferenceModel) -> None:
        self.prefer = prefer

    @classmethod
    def from_reward(cls, reward: RewardFunction, temperature: float = 0.0) -> WinRate:
        """The win rate under ``reward`` read as Bradley-Terry (see :func:`bradley_terry`)."""
        return cls(bradley_terry(reward, temperature))

    def __call__(self, prompts: list[str], completions: list[str], **fields: Any) -> Tensor:
        n = len(prompts)
        ids = {p: i for i, p in enumerate(dict.fromkeys(prompts))}
        group = torch.tensor([ids[p] for p in prompts])
        same = (group.unsqueeze(0) == group.unsqueeze(1)) & ~torch.eye(n, dtype=torch.bool)
        i, j = same.nonzero(as_tuple=True)  # every ordered pair of distinct rows of one prompt
        if i.numel() == 0:
            return torch.full((n,), 0.5)
        rows = {
            k: [v[a] for a in i.tolist()] if isinstance(v, list) else v for k, v in fields.items()
        }
        p = self.prefer(
            [prompts[a] for a in i.tolist()],
            [completions[a] for a in i.tolist()],
            [completions[b] for b in j.tolist()],
            **rows,
        ).float()
        wins = torch.zeros(n).index_add_(0, i, p)
        games = same.sum(1).float()
        return torch.where(games > 0, wins / games.clamp_min(1), torch.full((n,), 0.5))


def _partial_credit(prompts: list[str], completions: list[str], **fields: Any) -> Tensor:
    from polyopt_envs.text.rewards import partial_credit

    return partial_credit(prompts, completions, **fields)


#: the registered ``win-rate`` reward: win rate under ``partial-credit``, hard comparisons
win_rate = WinRate.from_reward(_partial_credit)
