"""Deep Sea Treasure (Vamplew et al. 2011): the classic two-objective gridworld, batched in torch.

A submarine starts at the top-left cell of an 11 x 10 grid (row, column) and moves up, down, left or right
(actions 0-3). The sea floor is impassable (a move into it, or off the grid, leaves the submarine in place).
Ten treasures sit on the floor's edge with the standard values 0.7, 8.2, 11.5, 14.0, 15.1, 16.1, 19.6, 20.3,
22.4 and 23.7 (MO-Gymnasium's ``deep-sea-treasure-v0`` map). Each step's reward is ``(treasure, -1)``:
the treasure value on reaching it (0 otherwise) and a time penalty of one. Reaching a treasure terminates the
episode; ``max_steps`` truncates it.

Auto-reset (next-step, as in core ``polyopt.environment``): the step that ends an episode returns its final
observation (also in ``info["final_obs"]``) with ``terminated``/``truncated`` set; the next ``step`` resets that
sub-environment instead of moving it, returning the start observation, reward ``(0, 0)`` and
``info["autoreset"]`` True for it. With ``slip > 0`` an action is replaced by a uniformly random one with that
probability, drawn from the generator seeded by ``reset(seed)``.

The Pareto front of undiscounted returns (both maximized) is the ten ``(treasure, -steps)`` pairs of the
shortest paths: ``pareto_front()``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from polyopt.environment import Environment, Step
from polyopt.errors import ConfigError
from polyopt.spaces import Integer
from polyopt_envs._common import check_int

__all__ = ["DeepSeaTreasure"]

_F = -10.0  # sea floor
_MAP = [
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0.7, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [_F, 8.2, 0, 0, 0, 0, 0, 0, 0, 0],
    [_F, _F, 11.5, 0, 0, 0, 0, 0, 0, 0],
    [_F, _F, _F, 14.0, 15.1, 16.1, 0, 0, 0, 0],
    [_F, _F, _F, _F, _F, _F, 0, 0, 0, 0],
    [_F, _F, _F, _F, _F, _F, 0, 0, 0, 0],
    [_F, _F, _F, _F, _F, _F, 19.6, 20.3, 0, 0],
    [_F, _F, _F, _F, _F, _F, _F, _F, 0, 0],
    [_F, _F, _F, _F, _F, _F, _F, _F, 22.4, 0],
    [_F, _F, _F, _F, _F, _F, _F, _F, _F, 23.7],
]
_FRONT = [
    [0.7, -1],
    [8.2, -3],
    [11.5, -5],
    [14.0, -7],
    [15.1, -8],
    [16.1, -9],
    [19.6, -13],
    [20.3, -14],
    [22.4, -17],
    [23.7, -19],
]
_MOVES = [[-1, 0], [1, 0], [0, -1], [0, 1]]  # up, down, left, right


class DeepSeaTreasure(Environment):
    """``num_envs`` Deep Sea Treasure submarines stepped together.

    Args:
        num_envs: number of sub-environments, ``>= 1``.
        device: where observations, rewards and state live.
        max_steps: episode length limit (truncation), ``>= 1``.
        slip: probability in ``[0, 1)`` that an action is replaced by a random one.
    """

    name = "deep-sea-treasure"
    reward_dim = 2
    reward_directions = ("maximize", "maximize")

    def __init__(
        self,
        num_envs: int = 1,
        *,
        device: torch.device | str = "cpu",
        max_steps: int = 200,
        slip: float = 0.0,
    ) -> None:
        self.num_envs = check_int("num_envs", num_envs, 1)
        self.max_steps = check_int("max_steps", max_steps, 1)
        if not isinstance(slip, (int, float)) or not 0.0 <= slip < 1.0:
            raise ConfigError(f"slip={slip!r}; expected a probability in [0, 1)")
        self.slip, self.device = float(slip), torch.device(device)
        self.observation_space = Integer([0, 0], [10, 9])
        self.action_space = Integer(0, 3)
        self._map = torch.tensor(_MAP, dtype=torch.float32, device=self.device)  # 11 x 10
        self._moves = torch.tensor(_MOVES, dtype=torch.long, device=self.device)  # 4 x 2
        self._generator = torch.Generator(device=self.device)
        self._pos = torch.zeros(num_envs, 2, dtype=torch.long, device=self.device)
        self._t = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self._ended = torch.zeros(num_envs, dtype=torch.bool, device=self.device)

    def reset(self, seed: int | None = None) -> Tensor:
        """Put every submarine at the start; returns ``num_envs x 2`` float32 (row, column) observations."""
        if seed is not None:
            self._generator.manual_seed(seed)
        self._pos.zero_()
        self._t.zero_()
        self._ended.zero_()
        return self._pos.to(torch.float32)

    def step(self, action: Tensor) -> Step:
        """Move each submarine; ``action`` is ``num_envs`` (or ``num_envs x 1``) integers in 0..3."""
        action = action.reshape(self.num_envs).to(device=self.device, dtype=torch.long)
        if self.slip > 0:
            u = torch.rand(self.num_envs, generator=self._generator, device=self.device)
            rnd = torch.randint(
                0, 4, (self.num_envs,), generator=self._generator, device=self.device
            )
            action = torch.where(u < self.slip, rnd, action)
        target = self._pos + self._moves[action.clamp(0, 3)]  # num_envs x 2
        inside = (target >= 0).all(dim=1) & (target[:, 0] < 11) & (target[:, 1] < 10)
        target = torch.where(inside.unsqueeze(1), target, self._pos)
        cell = self._map[target[:, 0], target[:, 1]]
        target = torch.where(
            (cell == _F).unsqueeze(1), self._pos, target
        )  # the floor blocks the move
        cell = self._map[target[:, 0], target[:, 1]]
        reset = self._ended  # these sub-environments restart instead of moving
        self._pos = torch.where(reset.unsqueeze(1), torch.zeros_like(target), target)
        self._t = torch.where(reset, torch.zeros_like(self._t), self._t + 1)
        treasure = torch.where(reset, torch.zeros_like(cell), cell.clamp(min=0))
        penalty = torch.where(reset, torch.zeros_like(cell), -torch.ones_like(cell))
        terminated = (treasure > 0) & ~reset
        truncated = (self._t >= self.max_steps) & ~terminated & ~reset
        self._ended = terminated | truncated
        obs = self._pos.to(torch.float32)
        info = {"final_obs": obs.clone(), "autoreset": reset.clone()}
        return Step(
            obs=obs,
            reward=torch.stack([treasure, penalty], dim=1),
            terminated=terminated,
            truncated=truncated,
            info=info,
        )

    def state_dict(self) -> dict[str, Any]:
        """Positions, step counters, which episodes just ended, and the slip generator."""
        return {
            "pos": self._pos.clone(),
            "t": self._t.clone(),
            "ended": self._ended.clone(),
            "generator": self._generator.get_state(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._pos = state["pos"].to(self.device)
        self._t = state["t"].to(self.device)
        self._ended = state["ended"].to(self.device)
        self._generator.set_state(state["generator"].cpu())

    def pareto_front(self) -> Tensor:
        """The ten Pareto-optimal ``(treasure, -steps)`` returns (``10 x 2``, float32, both maximized)."""
        return torch.tensor(_FRONT, dtype=torch.float32, device=self.device)
