"""CartPole (Barto, Sutton and Anderson 1983) as Gymnasium's ``CartPole-v1``, batched in torch.

A pole is hinged to a cart on a frictionless track; actions push the cart left (0) or right (1) with a force
of 10 N. The reward is 1 for every step, the terminating one included. An episode terminates when the pole
leans more than 12 degrees or the cart leaves ``[-2.4, 2.4]``, and is truncated after ``max_steps`` (500) steps.

The dynamics are Gymnasium's ``CartPoleEnv`` (explicit Euler, ``tau = 0.02``) computed in float64 as there,
observations returned in float32; ``tests/unit/envs/test_cartpole.py`` checks them step for step against
Gymnasium on seeded trajectories. Initial states are uniform in ``[-0.05, 0.05]^4``, drawn from the generator
seeded by ``reset(seed)`` (not NumPy's, so a seed gives other starts than Gymnasium's).

Auto-reset is next-step, as in :mod:`polyopt.environment`: the step after an episode ends ignores the action of
that sub-environment and returns its new start observation with reward 0, marked in ``info["autoreset"]``.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from polyopt.environment import Environment, Step
from polyopt.spaces import Box, Integer
from polyopt_envs._common import check_int

__all__ = ["CartPole"]

_GRAVITY = 9.8
_MASS_CART = 1.0
_MASS_POLE = 0.1
_TOTAL_MASS = _MASS_CART + _MASS_POLE
_HALF_LENGTH = 0.5
_POLE_MOMENT = _MASS_POLE * _HALF_LENGTH
_FORCE = 10.0
_TAU = 0.02
_THETA_LIMIT = 12 * 2 * math.pi / 360
_X_LIMIT = 2.4


class CartPole(Environment):
    """``num_envs`` cart-poles stepped together.

    Args:
        num_envs: number of sub-environments, ``>= 1``.
        device: where observations, rewards and state live.
        max_steps: episode length limit (truncation), ``>= 1``; 500 as in ``CartPole-v1``.

    Attributes:
        state: ``num_envs x 4`` float64 ``(x, x_dot, theta, theta_dot)``.
    """

    name = "cartpole"
    reward_dim = 1

    def __init__(
        self, num_envs: int = 1, *, device: torch.device | str = "cpu", max_steps: int = 500
    ) -> None:
        self.num_envs = check_int("num_envs", num_envs, 1)
        self.max_steps = check_int("max_steps", max_steps, 1)
        self.device = torch.device(device)
        high = [2 * _X_LIMIT, 3.4e38, 2 * _THETA_LIMIT, 3.4e38]
        self.observation_space = Box([-h for h in high], high)
        self.action_space = Integer(0, 1)
        self._generator = torch.Generator(device=self.device)
        self.state = torch.zeros(num_envs, 4, dtype=torch.float64, device=self.device)
        self._t = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self._ended = torch.zeros(num_envs, dtype=torch.bool, device=self.device)

    def _starts(self) -> Tensor:
        u = torch.rand(
            self.num_envs, 4, generator=self._generator, dtype=torch.float64, device=self.device
        )
        return u * 0.1 - 0.05  # uniform in [-0.05, 0.05)

    def reset(self, seed: int | None = None) -> Tensor:
        """Start every cart-pole near upright; returns ``num_envs x 4`` float32 observations."""
        if seed is not None:
            self._generator.manual_seed(seed)
        self.state = self._starts()
        self._t.zero_()
        self._ended.zero_()
        return self.state.to(torch.float32)

    def step(self, action: Tensor) -> Step:
        """Push each cart; ``action`` is ``num_envs`` (or ``num_envs x 1``) integers in {0, 1}."""
        action = action.reshape(self.num_envs).to(self.device)
        x, x_dot, theta, theta_dot = self.state.unbind(1)
        force = torch.where(action > 0, _FORCE, -_FORCE).to(torch.float64)
        cos, sin = torch.cos(theta), torch.sin(theta)
        temp = (force + _POLE_MOMENT * theta_dot.square() * sin) / _TOTAL_MASS
        theta_acc = (_GRAVITY * sin - cos * temp) / (
            _HALF_LENGTH * (4.0 / 3.0 - _MASS_POLE * cos.square() / _TOTAL_MASS)
        )
        x_acc = temp - _POLE_MOMENT * theta_acc * cos / _TOTAL_MASS
        moved = torch.stack(
            [
                x + _TAU * x_dot,
                x_dot + _TAU * x_acc,
                theta + _TAU * theta_dot,
                theta_dot + _TAU * theta_acc,
            ],
            dim=1,
        )  # num_envs x 4
        reset = self._ended  # these sub-environments restart instead of moving
        self.state = torch.where(reset.unsqueeze(1), self._starts(), moved)
        self._t = torch.where(reset, torch.zeros_like(self._t), self._t + 1)
        x, theta = self.state[:, 0], self.state[:, 2]
        fell = (x < -_X_LIMIT) | (x > _X_LIMIT) | (theta < -_THETA_LIMIT) | (theta > _THETA_LIMIT)
        terminated = fell & ~reset
        truncated = (self._t >= self.max_steps) & ~reset
        self._ended = terminated | truncated
        reward = (~reset).to(torch.float32).unsqueeze(1)  # 1 per step, 0 on the reset step
        return Step(
            obs=self.state.to(torch.float32),
            reward=reward,
            terminated=terminated,
            truncated=truncated,
            info={"autoreset": reset.clone()},
        )

    def state_dict(self) -> dict[str, Any]:
        """Cart-pole states, step counters, which episodes just ended, and the start generator."""
        return {
            "state": self.state.clone(),
            "t": self._t.clone(),
            "ended": self._ended.clone(),
            "generator": self._generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.state = state["state"].to(self.device)
        self._t = state["t"].to(self.device)
        self._ended = state["ended"].to(self.device)
        self._generator.set_state(state["generator"].cpu())
