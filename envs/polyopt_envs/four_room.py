"""Four Room (Barreto et al. 2017, as discretized in MO-Gymnasium): collect shapes, then reach the goal.

A 13 x 13 gridworld of four rooms joined by passages. The agent starts in the lower-left corner and moves
left, up, right or down (actions 0-3; walls and the border leave it in place). Twelve items of three kinds lie
around; the first visit to an item pays 1 on its kind's objective, and reaching the goal (top-right) pays
``(1, 1, 1)`` and ends the episode. Observations are ``(row, column, collected_1, ..., collected_12)``, items
numbered column by column. Dynamics, rewards and the 200-step limit are MO-Gymnasium's ``four-room-v0``
(checked step for step in tests/unit/envs/test_mo_gymnasium_parity.py). No Pareto front is known.

A step is a few table lookups by cell, action and "item already held" (:class:`~polyopt_envs._episodic.
TabularEnv`), with the collected items kept as the bits of one integer per sub-environment.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from polyopt.spaces import Integer
from polyopt_envs._episodic import TabularEnv

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


class FourRoom(TabularEnv):
    """``num_envs`` four-room agents stepped together.

    Args:
        num_envs: number of sub-environments, ``>= 1``.
        device: where observations, rewards and state live.
        max_steps: episode length limit (truncation), ``>= 1``; 200 as in MO-Gymnasium.
    """

    name = "four-room"
    reward_dim = 3
    reward_names = ("blue-squares", "green-triangles", "red-circles")
    _state_names = ("_s", "_bits")

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
        cells = torch.arange(13, device=self.device)
        every_cell = torch.cartesian_prod(cells, cells)  # 169 x 2 (row, column)
        start_id = start[0] * 13 + start[1]
        self._build_tables(
            {"_pos": every_cell}, start_id, 4, self._dynamics, self._observe_states, branches=2
        )
        items = torch.arange(self.n_items, device=self.device)
        cell_bit = torch.where(self._index >= 0, 1 << self._index.clamp(min=0), 0).flatten()
        self._tab_bit = cell_bit.index_select(0, self._tab_next // 4)  # the item reached, as a bit
        every_set = torch.arange(2**self.n_items, device=self.device)
        self._bit_obs = ((every_set.unsqueeze(1) >> items) & 1).to(torch.float32)  # bits -> flags
        self._item_bits = 1 << items
        self._bits = torch.zeros(
            num_envs, dtype=torch.long, device=self.device
        )  # collected, as bits

    def _dynamics(
        self, state: dict[str, Tensor], action: Tensor, branch: Tensor
    ) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """The rules with coordinates (run once, to fill the lookup tables); ``branch`` 1: the item on the
        cell reached (if any) was collected before."""
        pos = state["_pos"]
        target = pos + self._moves[action]
        inside = ((target >= 0) & (target < 13)).all(dim=1)
        target = torch.where(inside.unsqueeze(1), target, pos)
        kind = self._kinds[target[:, 0], target[:, 1]]
        pos = torch.where((kind == _WALL).unsqueeze(1), pos, target)
        kind = self._kinds[pos[:, 0], pos[:, 1]]
        first = (self._index[pos[:, 0], pos[:, 1]] >= 0) & (branch == 0)  # a first visit to an item
        goal = kind == _GOAL
        one_hot = torch.nn.functional.one_hot((kind - 1).clamp(0, 2), 3).to(torch.float32)
        reward = torch.where(goal.unsqueeze(1), 1.0, one_hot * first.unsqueeze(1))
        return {"_pos": pos}, reward, goal

    @staticmethod
    def _observe_states(state: dict[str, Tensor]) -> Tensor:
        """``n x 2`` float32 ``(row, column)``."""
        return state["_pos"].to(torch.float32)

    def _branch(self, index: Tensor) -> Tensor:
        """Collect the item reached (a restarting row first drops its items); branch 1 if it was held."""
        bits = self._bits.masked_fill_(self._ended, 0)  # in place: _bits is this env's own tensor
        collected = bits | self._tab_bit.index_select(0, index)
        self._bits = collected
        return torch.add(index, collected == bits, alpha=self._branch_stride)

    def _restart(self, mask: Tensor) -> None:
        super()._restart(mask)
        self._bits = self._bits.masked_fill(mask, 0)

    def _observe(self) -> Tensor:
        """``num_envs x 14`` float32 ``(row, column, collected items)``."""
        obs = torch.empty(self.num_envs, 2 + self.n_items, device=self.device)
        pos = obs[:, :2].view(torch.int64).squeeze(1)  # the table keeps (row, column) as one int64
        torch.index_select(self._tab_obs.table, 0, self._s, out=pos)
        torch.index_select(self._bit_obs, 0, self._bits, out=obs[:, 2:])
        return obs

    def state_dict(self) -> dict[str, Any]:
        """The state (``_pos``, ``_collected`` as ``num_envs x n_items`` bool), counters and generator."""
        state = super().state_dict()
        state["_collected"] = self._bit_obs.index_select(0, self._bits).bool()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        collected = state["_collected"].to(self.device).long()
        self._bits = (collected * self._item_bits).sum(dim=1)
