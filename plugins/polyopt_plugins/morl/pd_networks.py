"""Networks and small pieces of PD-MORL (:mod:`polyopt_plugins.morl.pd_morl`): preference-conditioned MLPs
(observation and preference concatenated, as the authors), a tanh actor scaled to the action box, twin vector
critics, the angle term and Polyak averaging."""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["PreferenceActor", "TwinVectorCritic", "angle_degrees", "mlp", "soft_update"]


def mlp(sizes: list[int]) -> nn.Sequential:
    """Linear layers of the given widths with ReLU between them, Xavier-normal weights and zero biases."""
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        linear = nn.Linear(a, b)
        nn.init.xavier_normal_(linear.weight)  # the authors' initialization
        nn.init.zeros_(linear.bias)
        layers += [linear, nn.ReLU()]
    return nn.Sequential(*layers[:-1])


class PreferenceActor(nn.Module):
    """``pi(s, w)`` in the action box: a tanh output scaled to the bounds."""

    center: Tensor
    radius: Tensor

    def __init__(self, n_in: int, hidden: list[int], low: Tensor, high: Tensor) -> None:
        super().__init__()
        self.net = mlp([n_in, *hidden, low.numel()])
        self.register_buffer("center", (high + low) / 2)
        self.register_buffer("radius", (high - low) / 2)

    def forward(self, obs: Tensor, w: Tensor) -> Tensor:
        return self.center + self.radius * torch.tanh(self.net(torch.cat([obs, w], 1)))


class TwinVectorCritic(nn.Module):
    """Two vector critics ``Q_i(s, w, a)`` (``n x m`` each)."""

    def __init__(self, n_in: int, hidden: list[int], m: int) -> None:
        super().__init__()
        self.q1 = mlp([n_in, *hidden, m])
        self.q2 = mlp([n_in, *hidden, m])

    def forward(self, obs: Tensor, w: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        x = torch.cat([obs, w, action], 1)
        return self.q1(x), self.q2(x)


def angle_degrees(direction: Tensor, values: Tensor) -> Tensor:
    """``n`` angles in degrees between ``n x m`` directions and values (similarity clamped to [0, 0.9999])."""
    return torch.rad2deg(torch.acos(F.cosine_similarity(direction, values).clamp(0, 0.9999)))


def soft_update(net: nn.Module, target: nn.Module, tau: float) -> None:
    """Move ``target``'s parameters a fraction ``tau`` toward ``net``'s (Polyak averaging)."""
    with torch.no_grad():
        for p, t in zip(net.parameters(), target.parameters(), strict=True):
            t.lerp_(p, tau)
