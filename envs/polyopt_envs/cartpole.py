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
        self._limits = torch.tensor(
            [_X_LIMIT, _THETA_LIMIT], dtype=torch.float64, device=self.device
        )

    def _starts(self) -> Tensor:
        start = torch.empty(self.num_envs, 4, dtype=torch.float64, device=self.device)
        return start.uniform_(-0.05, 0.05, generator=self._generator)

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
        action = action.reshape(self.num_envs).to(self.device, torch.float64)
        state = self.state
        x_dot, theta, theta_dot = state[:, 1], state[:, 2], state[:, 3]
        force = action.mul(2 * _FORCE).sub_(_FORCE)  # +10 N for action 1, -10 N for action 0
        cos, sin = torch.cos(theta), torch.sin(theta)
        temp = torch.add(force, theta_dot.square().mul_(sin), alpha=_POLE_MOMENT).div_(_TOTAL_MASS)
        theta_acc = torch.addcmul(sin * _GRAVITY, cos, temp, value=-1.0).div_(
            cos.square()
            .mul_(-_HALF_LENGTH * _MASS_POLE / _TOTAL_MASS)
            .add_(_HALF_LENGTH * 4.0 / 3.0)
        )
        x_acc = torch.addcmul(temp, theta_acc, cos, value=-_POLE_MOMENT / _TOTAL_MASS)
        rates = torch.stack([x_dot, x_acc, theta_dot, theta_acc], dim=1)  # num_envs x 4
        moved = torch.add(state, rates, alpha=_TAU)  # explicit Euler, as Gymnasium's default
        reset = self._ended  # these sub-environments restart instead of moving
        running = ~reset
        self.state = torch.where(reset.unsqueeze(1), self._starts(), moved)
        self._t = (self._t + 1).mul_(running)
        fell = (self.state[:, 0::2].abs() > self._limits).any(1)
        terminated = fell & running
        truncated = (self._t >= self.max_steps) & running
        self._ended = terminated | truncated
        return Step(
            obs=self.state.to(torch.float32),
            reward=running.to(torch.float32).unsqueeze(1),  # 1 per step, 0 on the reset step
            terminated=terminated,
            truncated=truncated,
            info={"autoreset": reset},
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
