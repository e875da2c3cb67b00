"""What a rollout hands to the advantage estimators: one dataclass, filled only as far as they require.

Shapes: ``n`` completions in ``G`` groups of ``k`` (the completions of one prompt are contiguous, so a group is
a row of ``scores.view(G, k)``), ``T`` completion positions (right-padded; ``mask`` marks real tokens).
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import Tensor

__all__ = ["Rollout", "AdvantageParams", "REQUIREMENTS"]

#: What an estimator may ask for in its ``requires`` attribute, and what the trainer then computes.
REQUIREMENTS = frozenset({"groups", "greedy", "values", "old_logp", "ref_logp"})


@dataclass
class Rollout:
    """A scored batch of completions.

    Attributes:
        scores: ``n`` scalar rewards (the combined reward of each completion).
        token_rewards: ``n x T`` per-token rewards: the score on the last real token, minus the KL penalty on
            every token when the KL sits in the reward.
        mask: ``n x T`` float, 1 on real completion tokens.
        n_groups: ``G``; ``n`` is a multiple of it (``k`` completions per prompt).
        values: ``n x T`` critic values (estimators requiring ``"values"``).
        greedy_scores: ``n`` reward of the greedy completion of each row's prompt (``"greedy"``).
        old_logp: ``n x T`` log-probabilities under the sampling policy (``"old_logp"``).
        ref_logp: ``n x T`` log-probabilities under the reference policy (``"ref_logp"``).
    """

    scores: Tensor
    token_rewards: Tensor
    mask: Tensor
    n_groups: int
    values: Tensor | None = None
    greedy_scores: Tensor | None = None
    old_logp: Tensor | None = None
    ref_logp: Tensor | None = None

    def grouped(self) -> Tensor:
        """``G x k`` view of :attr:`scores`."""
        return self.scores.view(self.n_groups, -1)


@dataclass
class AdvantageParams:
    """Hyperparameters some estimators read (each ignores the rest)."""

    gamma: float = 1.0
    """Discount (GAE, REINFORCE++)."""
    lam: float = 0.95
    """GAE lambda."""
    eps: float = 1e-6
    """Added to standard deviations before dividing."""
    max_reward: float = 1.0
    """NGRPO's virtual sample reward (the best reward the task gives)."""
