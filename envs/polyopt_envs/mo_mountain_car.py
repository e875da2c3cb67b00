"""Multi-objective Mountain Car (MO-Gymnasium's ``mo-mountaincar-v0``), batched in torch.

Gymnasium's MountainCar (Moore 1990) dynamics in float64: an under-powered car in a valley pushes left (0),
not at all (1) or right (2) and must reach the flag at position 0.5. Rewards are vectors: a time penalty of -1
per step (0 on the step that reaches the goal), -1 for each reverse push and -1 for each forward push; options
give MO-Gymnasium's variants (a speed objective ``15 |velocity|``, the two push penalties merged or removed).
Episodes start at a position uniform in ``[-0.6, -0.4)`` (drawn from the generator seeded by ``reset(seed)``)
with zero velocity and are truncated after 200 steps. Checked step for step against MO-Gymnasium in
tests/unit/envs/test_mo_gymnasium_parity.py. No Pareto front is known.
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.environment import Step
from polyopt.errors import ConfigError
from polyopt.spaces import Box, Integer
from polyopt_envs._episodic import EpisodicEnv

__all__ = ["MOMountainCar"]

_MIN_POSITION = -1.2
_MAX_POSITION = 0.6
_MAX_SPEED = 0.07
_GOAL = 0.5
_FORCE = 0.001
_GRAVITY = 0.0025


class MOMountainCar(EpisodicEnv):
    """``num_envs`` mountain cars stepped together.

    Args:
        num_envs: number of sub-environments, ``>= 1``.
        device: where observations, rewards and state live.
        max_steps: episode length limit (truncation), ``>= 1``; 200 as in MO-Gymnasium.
        add_speed_objective: add ``15 |velocity|`` as a last objective.
        remove_move_penalty: drop the two push penalties.
        merge_move_penalty: one penalty for any push instead of two.
    """

    name = "mo-mountaincar"
    _state_names = ("state",)

    def __init__(
        self,
        num_envs: int = 1,
        *,
        device: torch.device | str = "cpu",
        max_steps: int = 200,
        add_speed_objective: bool = False,
        remove_move_penalty: bool = False,
        merge_move_penalty: bool = False,
    ) -> None:
        super().__init__(num_envs, device, max_steps)
        if remove_move_penalty and merge_move_penalty:
            raise ConfigError(
                "remove_move_penalty=True with merge_move_penalty=True; expected at most one of them"
            )
        self.add_speed_objective = bool(add_speed_objective)
        self.remove_move_penalty = bool(remove_move_penalty)
        self.merge_move_penalty = bool(merge_move_penalty)
        names = ["time"]
        if merge_move_penalty:
            names.append("push")
        elif not remove_move_penalty:
            names += ["reverse", "forward"]
        if add_speed_objective:
            names.append("speed")
        self.reward_names = tuple(names)
        self.reward_dim = len(names)
        self.observation_space = Box([_MIN_POSITION, -_MAX_SPEED], [_MAX_POSITION, _MAX_SPEED])
        self.action_space = Integer(0, 2)
        #: ``num_envs x 2`` float64 ``(position, velocity)``
        self.state = torch.zeros(num_envs, 2, dtype=torch.float64, device=self.device)

        self._reward_table = self._action_rewards()

    def _action_rewards(self) -> Tensor:
        """The reward columns that depend on the action, termination and auto-reset only (all but speed),
        written as the rules state them for every case, ``20 x k`` float32: row ``(clamp(action, -1, 3) + 1)
        + 5 terminated + 10 restarting`` (-1 and 3 stand for every action below 0 and above 2)."""
        action = torch.arange(-1, 4, device=self.device).repeat(4)
        terminated = torch.arange(20, device=self.device) % 10 >= 5
        running = torch.arange(20, device=self.device) < 10
        columns = [terminated.to(torch.float32) - 1.0]  # -1 per step, 0 on reaching the goal
        if self.merge_move_penalty:
            columns.append(-(action != 1).to(torch.float32))
        elif not self.remove_move_penalty:
            columns += [-(action == 0).to(torch.float32), -(action == 2).to(torch.float32)]
        return torch.stack(columns, dim=1) * running.unsqueeze(1)  # a restarting row's reward is 0

    def _restart(self, mask: Tensor) -> None:
        start = torch.empty(self.num_envs, dtype=torch.float64, device=self.device)
        start.uniform_(-0.6, -0.4, generator=self._generator)
        fresh = torch.stack([start, torch.zeros_like(start)], dim=1)
        self.state = torch.where(mask.unsqueeze(1), fresh, self.state)

    def _move(self, action: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        """Gymnasium's physics: the moved ``(position, velocity)`` and whether the goal is reached."""
        position, velocity = self.state.unbind(1)
        push = (action - 1).to(torch.float64) * _FORCE
        velocity = velocity + (push + torch.cos(3 * position) * -_GRAVITY)
        velocity = velocity.clamp(-_MAX_SPEED, _MAX_SPEED)
        position = (position + velocity).clamp(_MIN_POSITION, _MAX_POSITION)
        velocity.masked_fill_((position == _MIN_POSITION) & (velocity < 0), 0.0)
        return position, velocity, (position >= _GOAL) & (velocity >= 0)

    def _rewards(
        self, action: Tensor, terminated: Tensor, reset: Tensor, velocity: Tensor
    ) -> Tensor:
        """``num_envs x reward_dim`` rewards (zero where ``reset``): one lookup, plus the speed column."""
        key = torch.add(action.clamp(-1, 3), terminated, alpha=5)
        key = torch.add(key, reset, alpha=10).add_(1)
        reward = self._reward_table.index_select(0, key)
        if self.add_speed_objective:
            speed = (15 * velocity.abs()).to(torch.float32) * ~reset
            reward = torch.cat([reward, speed.unsqueeze(1)], dim=1)
        return reward

    def _transition(self, action: Tensor) -> tuple[Tensor, Tensor]:
        position, velocity, terminated = self._move(action)
        self.state = torch.stack([position, velocity], dim=1)
        return self._rewards(action, terminated, torch.zeros_like(terminated), velocity), terminated

    def step(self, action: Tensor) -> Step:
        """Apply ``action`` (``num_envs`` or ``num_envs x 1`` integers) to every car; the transition and the
        restart of the cars whose episode ended last step are fused (same arithmetic, draws and results as
        :meth:`EpisodicEnv.step` over :meth:`_transition` and :meth:`_restart`)."""
        action = action.reshape(self.num_envs).to(device=self.device, dtype=torch.long)
        reset = self._ended  # these cars restart instead of moving
        position, velocity, terminated = self._move(action)
        reward = self._rewards(action, terminated, reset, velocity)
        terminated = terminated.masked_fill(reset, False)
        start = torch.empty(self.num_envs, dtype=torch.float64, device=self.device)
        start.uniform_(-0.6, -0.4, generator=self._generator)
        position = torch.where(reset, start, position)
        self.state = torch.stack([position, velocity.masked_fill_(reset, 0.0)], dim=1)
        truncated = self._tick(reset)
        self._ended = terminated | truncated
        return self._emit(reward, terminated, truncated, reset)

    def _observe(self) -> Tensor:
        """``num_envs x 2`` float32 ``(position, velocity)``."""
        return self.state.to(torch.float32)
