"""Four Room (Barreto et al. 2017, as discretized in MO-Gymnasium): collect shapes, then reach the goal.

A 13 x 13 gridworld of four rooms joined by passages. The agent starts in the lower-left corner and moves
left, up, right or down (actions 0-3; walls and the border leave it in place). Twelve items of three kinds lie
around; the first visit to an item pays 1 on its kind's objective, and reaching the goal (top-right) pays
``(1, 1, 1)`` and ends the episode. Observations are ``(row, column, collected_1, ..., collected_12)``, items
numbered column by column. Dynamics, rewards and the 200-step limit are MO-Gymnasium's ``four-room-v0``
(checked step for step in tests/unit/envs/test_mo_gymnasium_parity.py). No Pareto front is known.
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.spaces import Integer
from polyopt_envs._episodic import EpisodicEnv

__all__ = ["FourRoom"]

_MAZE = [
    "1    2X     G",
    "      X      ",
    "      1      ",
    "             ",
    "      X      ",
    "2    3X      ",
    "XX3 XXXXX 1XX",
    "      X2    3",
    "      X      ",
    "             ",
    "      2      ",
    "      X      ",
    "_     X3    1",
]
_MOVES = [[0, -1], [-1, 0], [0, 1], [1, 0]]  # left, up, right, down
_WALL = -1
_GOAL = 4


def _layout() -> tuple[list[list[int]], list[list[int]], tuple[int, int]]:
    """The cell kinds (0 free, -1 wall, 1-3 an item's kind, 4 the goal), each item's index (column by column,
    as MO-Gymnasium numbers them; -1 elsewhere) and the start cell."""
    size = len(_MAZE)
    kinds = [[0] * size for _ in range(size)]
    index = [[-1] * size for _ in range(size)]
    start = (0, 0)
    count = 0
    for c in range(size):
        for r in range(size):
            char = _MAZE[r][c]
            if char == "X":
                kinds[r][c] = _WALL
            elif char == "G":
                kinds[r][c] = _GOAL
            elif char == "_":
                start = (r, c)
            elif char in "123":
                kinds[r][c] = int(char)
                index[r][c] = count
                count += 1
    return kinds, index, start


class FourRoom(EpisodicEnv):
    """``num_envs`` four-room agents stepped together.

    Args:
        num_envs: number of sub-environments, ``>= 1``.
        device: where observations, rewards and state live.
        max_steps: episode length limit (truncation), ``>= 1``; 200 as in MO-Gymnasium.
    """

    name = "four-room"
    reward_dim = 3
    reward_names = ("blue-squares", "green-triangles", "red-circles")
    _state_names = ("_pos", "_collected")

    def __init__(
        self, num_envs: int = 1, *, device: torch.device | str = "cpu", max_steps: int = 200
    ) -> None:
        super().__init__(num_envs, device, max_steps)
        kinds, index, start = _layout()
        self._kinds = torch.tensor(kinds, dtype=torch.long, device=self.device)
        self._index = torch.tensor(index, dtype=torch.long, device=self.device)
        self.n_items = int((self._index >= 0).sum())
        self.observation_space = Integer([0] * (2 + self.n_items), [12, 12] + [1] * self.n_items)
        self.action_space = Integer(0, 3)
        self._moves = torch.tensor(_MOVES, dtype=torch.long, device=self.device)
        self._start = torch.tensor(start, dtype=torch.long, device=self.device)
        self._pos = self._start.repeat(num_envs, 1)
        self._collected = torch.zeros(num_envs, self.n_items, dtype=torch.bool, device=self.device)

    def _restart(self, mask: Tensor) -> None:
        self._pos = torch.where(mask.unsqueeze(1), self._start, self._pos)
        self._collected = self._collected & ~mask.unsqueeze(1)

    def _transition(self, action: Tensor) -> tuple[Tensor, Tensor]:
        target = self._pos + self._moves[action.clamp(0, 3)]
        inside = ((target >= 0) & (target < 13)).all(dim=1)
        target = torch.where(inside.unsqueeze(1), target, self._pos)
        kind = self._kinds[target[:, 0], target[:, 1]]
        self._pos = torch.where((kind == _WALL).unsqueeze(1), self._pos, target)
        kind = self._kinds[self._pos[:, 0], self._pos[:, 1]]
        item = self._index[self._pos[:, 0], self._pos[:, 1]]  # -1 off items
        on_item = item >= 0
        hit = torch.nn.functional.one_hot(item.clamp(min=0), self.n_items).bool()
        hit &= on_item.unsqueeze(1)  # num_envs x n_items: the item under the agent
        first = (hit & ~self._collected).any(1)
        self._collected = self._collected | hit
        goal = kind == _GOAL
        one_hot = torch.nn.functional.one_hot((kind - 1).clamp(0, 2), 3).to(torch.float32)
        reward = torch.where(goal.unsqueeze(1), 1.0, one_hot * first.unsqueeze(1))
        return reward, goal

    def _observe(self) -> Tensor:
        """``num_envs x 14`` float32 ``(row, column, collected items)``."""
        return torch.cat([self._pos, self._collected.long()], dim=1).to(torch.float32)
