"""The ``reward_weighting`` kind: how the policy-gradient trainer's reward weights change during training.

The trainer combines ``m`` rewards into one with weights; ``static`` keeps the configured weights, a dynamic
weighting (hypervolume-guided, gradient-based, ...) returns new ones every step from the step's rewards, the
reward vectors of earlier steps and a state it keeps across steps; a gradient-based one may also ask the trainer
for policy gradients of the step's completions (``WeightingContext.policy_gradients``). Shapes: ``n`` completions
(groups of completions of one prompt contiguous), ``m`` rewards, ``s`` earlier steps, ``P`` policy parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from torch import Tensor

__all__ = ["RewardWeighting", "WeightingContext", "check_reward_weighting"]


@dataclass
class WeightingContext:
    """What a reward weighting sees at the start of a step, before the rewards are combined.

    Attributes:
        rewards: ``n x m`` this step's raw rewards (one column per reward function), groups contiguous.
        n_groups: prompt groups in ``rewards`` (``n`` is a multiple).
        weights: ``m`` the weights of the previous step.
        base: ``m`` the configured (static) weights; a dynamic weighting keeps their sum.
        history: ``s x m`` mean reward vectors of the earlier steps (the front is among them).
        state: tensors the weighting keeps across steps (saved with the trainer; exact resume).
        options: the trainer config's ``reward_weighting_options``.
        policy_gradients: ``policy_gradients(coef, scope="trainable") -> c x P``: for ``n x c`` coefficients of
            this step's completions, the gradients of ``sum_i coef[i, j] * log pi(y_i | x_i) / n`` (one per
            column ``j``) with respect to the policy's parameters, flattened: ``"trainable"`` every trainable
            one (the adapters under LoRA), ``"head"`` the output layer's weight only (a cheaper proxy). With
            ``coef`` a reward's advantages, row ``j`` is that reward's policy-gradient direction. Computed only
            when called (a forward pass and ``c`` backward passes); None where the trainer offers none.
    """

    rewards: Tensor
    n_groups: int
    weights: Tensor
    base: Tensor
    history: Tensor
    state: dict[str, Tensor] = field(default_factory=dict)
    options: dict[str, Any] = field(default_factory=dict)
    policy_gradients: Callable[..., Tensor] | None = None


@runtime_checkable
class RewardWeighting(Protocol):
    """``weighting(ctx) -> m`` non-negative weights summing to ``ctx.base.sum()`` (kind ``reward_weighting``).

    Example (a complete plugin: weight each reward by its share of the groups whose rewards vary)::

        def spread_weighting(ctx):
            g = ctx.rewards.view(ctx.n_groups, -1, ctx.rewards.shape[1])
            varies = (g.std(1) > 0).float().mean(0) + 1e-3  # (m,)
            w = ctx.base * varies
            return w * ctx.base.sum() / w.sum()
    """

    def __call__(self, ctx: WeightingContext) -> Tensor: ...


def check_reward_weighting(target: Any) -> str | None:
    """The ``reward_weighting`` kind's registry check."""
    return None if callable(target) else f"expected a callable weighting(ctx), got {target!r}"
