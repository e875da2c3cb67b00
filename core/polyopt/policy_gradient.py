"""Policy-gradient maths shared by every trainer: generalized advantage estimation and the clipped surrogate.

The language-model trainer (``gae`` advantage, ``ppo-clip`` loss and its variants) and the actor-critic trainer
on environments (``actor-critic-ppo``, ``a2c``) both call these functions, so there is one copy of each formula.

Shapes are time-major: ``T`` steps, then any batch shape ``B...`` (``num_envs``, or ``num_envs x m`` for vector
rewards with a vector critic).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["clipped_surrogate", "clipped_value_loss", "generalized_advantage"]


def generalized_advantage(
    rewards: Tensor,
    values: Tensor,
    gamma: float,
    lam: float | Tensor,
    *,
    terminated: Tensor | None = None,
    dones: Tensor | None = None,
) -> Tensor:
    """Generalized advantage estimation (Schulman et al. 2016), time-major.

    ``delta_t = r_t + gamma (1 - terminated_t) V_{t+1} - V_t`` and
    ``A_t = delta_t + gamma lam (1 - done_t) A_{t+1}``: a terminal state is not bootstrapped, and the
    recursion stops at every episode end (a truncated episode is bootstrapped from ``V`` of its final state,
    which next-step auto-reset puts at ``values[t + 1]``).

    Args:
        rewards: ``T x B...`` rewards.
        values: ``(T + 1) x B...`` critic values of the states ``s_0 .. s_T`` (``s_T`` bootstraps the last step).
        gamma: discount.
        lam: GAE lambda (1 gives Monte-Carlo returns minus ``V``, 0 one-step TD errors); a tensor
            broadcastable to ``B...`` gives each sequence its own (length-adaptive GAE).
        terminated: ``T x B`` (or ``T x B...``) bool or 0/1: ``s_{t+1}`` is terminal, ``V_{t+1}`` is not used.
            None: nothing terminates.
        dones: ``T x B`` episode ended at ``t`` (terminated or truncated); the recursion stops there.
            None: the same as ``terminated``.

    Returns:
        ``T x B...`` advantages (value targets are ``advantages + values[:-1]``).
    """
    steps = rewards.shape[0]
    if values.shape[0] != steps + 1 or values.shape[1:] != rewards.shape[1:]:
        raise ValueError(
            f"values has shape {tuple(values.shape)}; expected {(steps + 1, *rewards.shape[1:])} "
            f"(one more step than rewards {tuple(rewards.shape)})"
        )
    keep_value = _continues(terminated, rewards)
    keep_trace = keep_value if dones is None else _continues(dones, rewards)
    delta = rewards + gamma * keep_value * values[1:] - values[:-1]
    advantages = torch.empty_like(delta)
    running = torch.zeros_like(delta[0])
    for t in range(steps - 1, -1, -1):
        running = delta[t] + gamma * lam * keep_trace[t] * running
        advantages[t] = running
    return advantages


def _continues(flags: Tensor | None, like: Tensor) -> Tensor:
    """``1 - flags`` as ``like``'s dtype, with trailing dimensions added to broadcast against ``like``."""
    if flags is None:
        return torch.ones(
            like.shape[0], *([1] * (like.dim() - 1)), dtype=like.dtype, device=like.device
        )
    out = 1.0 - flags.to(like.dtype)
    while out.dim() < like.dim():
        out = out.unsqueeze(-1)
    return out


def clipped_surrogate(
    ratio: Tensor, adv: Tensor, clip_low: float | Tensor, clip_high: float | Tensor
) -> Tensor:
    """PPO's pessimistic clipped objective as a loss: ``-min(r A, clip(r, 1 - low, 1 + high) A)``.

    Args:
        ratio: importance ratios ``pi / pi_old`` (any shape; carries the gradient).
        adv: advantages, broadcastable to ``ratio``.
        clip_low: the ratio is clipped below at ``1 - clip_low`` (a float, or a tensor broadcastable to
            ``ratio`` for per-element ranges).
        clip_high: and above at ``1 + clip_high`` (equal to ``clip_low`` for symmetric PPO).

    Returns:
        The elementwise loss, ``ratio``'s shape.
    """
    if isinstance(clip_low, Tensor) or isinstance(
        clip_high, Tensor
    ):  # clamp takes two numbers or two tensors
        low = torch.as_tensor(1 - clip_low, dtype=ratio.dtype, device=ratio.device)
        high = torch.as_tensor(1 + clip_high, dtype=ratio.dtype, device=ratio.device)
        return -torch.minimum(ratio * adv, ratio.clamp(low, high) * adv)
    return -torch.minimum(ratio * adv, ratio.clamp(1 - clip_low, 1 + clip_high) * adv)


def clipped_value_loss(
    values: Tensor, old_values: Tensor, targets: Tensor, clip: float | None
) -> Tensor:
    """Elementwise ``0.5 (V - target)^2``, or with ``clip`` PPO's pessimistic clipped value loss
    ``0.5 max((V - target)^2, (V_old + clip(V - V_old, -clip, clip) - target)^2)`` (as in baselines' ppo2 and
    CleanRL).

    Args:
        values: new critic values (carry the gradient).
        old_values: the values at collection time, ``values``' shape.
        targets: value targets, ``values``' shape.
        clip: the clipping range, or None for the plain squared error.
    """
    unclipped = (values - targets) ** 2
    if clip is None:
        return 0.5 * unclipped
    moved = old_values + (values - old_values).clamp(-clip, clip)
    return 0.5 * torch.maximum(unclipped, (moved - targets) ** 2)
