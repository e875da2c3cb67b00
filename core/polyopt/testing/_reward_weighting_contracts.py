"""Conformance class of the ``reward_weighting`` kind.

Example (in a plugin's tests)::

    from polyopt.testing import RewardWeightingContract

    class TestSpreadWeighting(RewardWeightingContract):
        reward_weighting = "acme.spread"
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

import polyopt
from polyopt.components import WeightingContext

__all__ = ["RewardWeightingContract", "small_weighting_context"]


def small_weighting_context(
    n_groups: int = 4, k: int = 4, m: int = 2, steps: int = 5, *, seed: int = 0
) -> WeightingContext:
    """Rewards of ``n_groups`` groups of ``k`` completions on ``m`` rewards (reward 0 in [0, 1], the others on a
    larger scale; one group with no spread), ``steps`` earlier mean reward vectors, unequal base weights, and
    policy gradients of a linear model of the log-probabilities (``log pi(y_i) = J[i] . theta``, ``J`` a fixed
    random ``n x 16`` Jacobian; ``"head"`` takes its last 4 parameters)."""
    gen = torch.Generator().manual_seed(seed)
    rewards = torch.rand(n_groups * k, m, generator=gen)
    rewards[:, 1:] *= 10.0
    rewards[:k] = rewards[0]  # a group with no spread on any reward
    history = torch.rand(steps, m, generator=gen) * rewards.max(0).values
    base = torch.arange(1, m + 1, dtype=torch.float32)
    jacobian = torch.randn(n_groups * k, 16, generator=gen)

    def policy_gradients(coef: Tensor, scope: str = "trainable") -> Tensor:
        if coef.dim() != 2 or coef.shape[0] != jacobian.shape[0]:
            raise ValueError(
                f"coef of shape {tuple(coef.shape)}; expected ({jacobian.shape[0]}, c)"
            )
        if scope not in ("trainable", "head"):
            raise ValueError(f"scope={scope!r}; expected 'trainable' or 'head'")
        j = jacobian if scope == "trainable" else jacobian[:, -4:]
        return coef.T.to(j.dtype) @ j / coef.shape[0]  # (c, P)

    return WeightingContext(
        rewards=rewards,
        n_groups=n_groups,
        weights=base.clone(),
        base=base,
        history=history,
        policy_gradients=policy_gradients,
    )


class RewardWeightingContract:
    """A reward weighting: ``m`` finite non-negative weights summing to the static weights' sum; the same
    context and state give the same weights; its inputs are left unchanged and its state holds tensors only;
    a few steps in a row (state carried) stay valid, also from an empty history. The contexts offer policy
    gradients (of a linear model), so a gradient-based weighting runs here too."""

    reward_weighting: Any
    options: ClassVar[dict[str, Any]] = {}

    def weighting(self) -> Any:
        name = self.reward_weighting
        return polyopt.registry().get("reward_weighting", name) if isinstance(name, str) else name

    def context(self, **kwargs: Any) -> WeightingContext:
        ctx = small_weighting_context(**kwargs)
        ctx.options = dict(self.options)
        return ctx

    def check(self, ctx: WeightingContext, w: Tensor) -> None:
        m = ctx.rewards.shape[1]
        assert isinstance(w, Tensor) and w.shape == (m,), w
        assert bool(torch.isfinite(w).all()) and bool((w >= 0).all()), w
        assert torch.allclose(w.sum(), ctx.base.sum(), rtol=1e-4), (w, ctx.base)

    def test_weights_keep_the_static_sum(self) -> None:
        for m in (2, 3):
            ctx = self.context(m=m)
            self.check(ctx, self.weighting()(ctx))

    def test_deterministic_and_leaves_its_inputs_alone(self) -> None:
        a, b = self.context(), self.context()
        before = [a.rewards.clone(), a.weights.clone(), a.base.clone(), a.history.clone()]
        wa, wb = self.weighting()(a), self.weighting()(b)
        assert torch.equal(wa, wb)
        after = [a.rewards, a.weights, a.base, a.history]
        assert all(torch.equal(x, y) for x, y in zip(before, after)), "it changed its input"
        assert all(isinstance(v, Tensor) for v in a.state.values()), a.state

    def test_steps_in_a_row_from_an_empty_history(self) -> None:
        ctx = self.context(steps=0)
        for step in range(4):
            ctx = WeightingContext(
                rewards=self.context(seed=step).rewards,
                n_groups=ctx.n_groups,
                weights=self.weighting()(ctx),
                base=ctx.base,
                history=torch.cat([ctx.history, ctx.rewards.mean(0, keepdim=True)]),
                state=ctx.state,
                options=ctx.options,
                policy_gradients=self.context(seed=step).policy_gradients,
            )
            self.check(ctx, ctx.weights)
