"""Combining several rewards into the one training reward.

``combine(rewards n x m, weights m, mode, n_groups)``:

- ``none``: ``rewards @ weights``.
- ``per-reward`` (GDPO-style decoupled normalization): each reward normalized within its prompt group
  (``(r - mean_g) / (std_g + eps)``) before the weighted sum, so a reward with a large scale or little spread
  does not drown the others.
- ``dynamic``: weights divided by a running (EMA) estimate of each reward's batch standard deviation, so each
  reward moves the combined reward by a comparable amount as their scales drift during training.
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["MODES", "combine"]

MODES = ("none", "per-reward", "dynamic")


def combine(
    rewards: Tensor,
    weights: Tensor,
    mode: str,
    n_groups: int,
    scale: Tensor | None = None,
    *,
    momentum: float = 0.9,
    eps: float = 1e-6,
) -> tuple[Tensor, Tensor | None]:
    """Weighted combination of ``rewards`` (``n x m``, groups contiguous).

    Args:
        rewards: ``n x m`` one column per reward function.
        weights: ``m`` weights.
        mode: one of :data:`MODES`.
        n_groups: prompt groups in the batch (``n`` is a multiple).
        scale: ``m`` running std estimate (``dynamic`` only; None before the first batch).

    Returns:
        ``n`` combined rewards, and the updated ``scale`` (``dynamic``) or the one given.
    """
    if mode == "none":
        return rewards @ weights, scale
    if mode == "per-reward":
        g = rewards.view(n_groups, -1, rewards.shape[1])  # (G, k, m)
        normed = (g - g.mean(1, keepdim=True)) / (g.std(1, keepdim=True).nan_to_num(0.0) + eps)
        return normed.reshape_as(rewards) @ weights, scale
    if mode == "dynamic":
        std = rewards.std(0).nan_to_num(0.0) if rewards.shape[0] > 1 else torch.zeros_like(weights)
        scale = std if scale is None else momentum * scale + (1 - momentum) * std
        return rewards @ (weights / (scale + eps).clamp_min(1e-3)), scale
    raise ValueError(f"reward normalization {mode!r}; expected one of {', '.join(MODES)}")
