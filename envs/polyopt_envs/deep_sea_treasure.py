"""Deep Sea Treasure (Vamplew et al. 2011): the classic two-objective gridworld, batched in torch.

A submarine starts at the top-left cell of an 11 x 11 grid (row, column) and moves up, down, left or right
(actions 0-3). The sea floor is impassable (a move into it, or off the grid, leaves the submarine in place).
Ten treasures sit on the floor's edge: 0.7, 8.2, 11.5, 14.0, 15.1, 16.1, 19.6, 20.3, 22.4 and 23.7 on the convex
map, 1, 2, 3, 5, 8, 16, 24, 50, 74 and 124 on the concave one (``concave=True``). Each step's reward is
``(treasure, -1)``: the treasure value on reaching it (0 otherwise) and a time penalty of one. Reaching a
treasure terminates the episode; ``max_steps`` truncates it. The maps, observations (integer ``(row, column)``),
rewards and the 100-step limit are MO-Gymnasium's ``deep-sea-treasure-v0`` and
``deep-sea-treasure-concave-v0``; tests/unit/envs/test_mo_gymnasium_parity.py checks them step for step.

Auto-reset is next-step (see :mod:`polyopt_envs._episodic`); a step is a few table lookups by cell and action
(:class:`~polyopt_envs._episodic.TabularEnv`). With ``slip > 0`` an action is replaced by a
uniformly random one with that probability, drawn from the generator seeded by ``reset(seed)`` (an addition;
MO-Gymnasium's version is deterministic).

The Pareto front is the ten ``(treasure, -steps)`` returns of the shortest paths: ``pareto_front(gamma)``
discounts them as MO-Gymnasium does (treasure by ``gamma^(steps-1)``, the penalty summed over the steps).
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.spaces import Integer
from polyopt_envs._episodic import TabularEnv, check_probability, discounted_sum

__all__ = ["ConcaveDeepSeaTreasure", "DeepSeaTreasure"]

_F = -10.0  # sea floor
_CONVEX: list[list[float]] = [
    [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [0.7, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [_F, 8.2, 0, 0, 0, 0, 0, 0, 0, 0, 0],
    [_F, _F, 11.5, 0, 0, 0, 0, 0, 0, 0, 0],
    [_F, _F, _F, 14.0, 15.1, 16.1, 0, 0, 0, 0, 0],
    [_F, _F, _F, _F, _F, _F, 0, 0, 0, 0, 0],
    [_F, _F, _F, _F, _F, _F, 0, 0, 0, 0, 0],
    [_F, _F, _F, _F, _F, _F, 19.6, 20.3, 0, 0, 0],
    [_F, _F, _F, _F, _F, _F, _F, _F, 0, 0, 0],
    [_F, _F, _F, _F, _F, _F, _F, _F, 22.4, 0, 0],
    [_F, _F, _F, _F, _F, _F, _F, _F, _F, 23.7, 0],
]
_CONCAVE_VALUES = {0.7: 1.0, 8.2: 2.0, 11.5: 3.0, 14.0: 5.0, 15.1: 8.0, 16.1: 16.0}
_CONCAVE_VALUES.update({19.6: 24.0, 20.3: 50.0, 22.4: 74.0, 23.7: 124.0})
_CONCAVE = [[_CONCAVE_VALUES.get(v, v) for v in row] for row in _CONVEX]
_STEPS = [1, 3, 5, 7, 8, 9, 13, 14, 17, 19]  # shortest path to each treasure, in treasure order
_MOVES = [[-1, 0], [1, 0], [0, -1], [0, 1]]  # up, down, left, right


class DeepSeaTreasure(TabularEnv):
    """``num_envs`` Deep Sea Treasure submarines stepped together.

    Args:
        num_envs: number of sub-environments, ``>= 1``.
        device: where observations, rewards and state live.
        max_steps: episode length limit (truncation), ``>= 1``; 100 as in MO-Gymnasium.
        slip: probability in ``[0, 1)`` that an action is replaced by a random one.
        concave: the concave map (treasures 1 ... 124) instead of the convex one.
    """

    name = "deep-sea-treasure"
    reward_dim = 2
    reward_directions = ("maximize", "maximize")
    reward_names = ("treasure", "time")

    def __init__(
        self,
        num_envs: int = 1,
        *,
        device: torch.device | str = "cpu",
        max_steps: int = 100,
        slip: float = 0.0,
        concave: bool = False,
    ) -> None:
        super().__init__(num_envs, device, max_steps)
        self.slip = check_probability("slip", slip)
        self.concave = bool(concave)
        if self.concave:
            self.name = "deep-sea-treasure-concave"
        self.observation_space = Integer([0, 0], [10, 10])
        self.action_space = Integer(0, 3)
        grid = _CONCAVE if self.concave else _CONVEX
        self._map = torch.tensor(grid, dtype=torch.float32, device=self.device)  # 11 x 11
        self._moves = torch.tensor(_MOVES, dtype=torch.long, device=self.device)  # 4 x 2
        cells = torch.arange(11, device=self.device)
        every_cell = torch.cartesian_prod(cells, cells)  # 121 x 2 (row, column); (0, 0) starts
        self._build_tables({"_pos": every_cell}, 0, 4, self._dynamics, self._observe_states)

    def _dynamics(
        self, state: dict[str, Tensor], action: Tensor, branch: Tensor
    ) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """The rules with coordinates (run once, to fill the lookup tables)."""
        pos = state["_pos"]
        target = pos + self._moves[action]  # n x 2
        inside = ((target >= 0) & (target <= 10)).all(dim=1)
        target = torch.where(inside.unsqueeze(1), target, pos)
        cell = self._map[target[:, 0], target[:, 1]]
        pos = torch.where((cell == _F).unsqueeze(1), pos, target)  # the floor blocks
        treasure = self._map[pos[:, 0], pos[:, 1]].clamp(min=0)
        reward = torch.stack([treasure, -torch.ones_like(treasure)], dim=1)
        return {"_pos": pos}, reward, treasure > 0

    @staticmethod
    def _observe_states(state: dict[str, Tensor]) -> Tensor:
        """``n x 2`` float32 ``(row, column)``."""
        return state["_pos"].to(torch.float32)

    def _transition(self, action: Tensor) -> tuple[Tensor, Tensor]:
        if self.slip > 0:
            u = torch.rand(self.num_envs, generator=self._generator, device=self.device)
            rnd = torch.randint(
                0, 4, (self.num_envs,), generator=self._generator, device=self.device
            )
            action = torch.where(u < self.slip, rnd, action)
        return super()._transition(action)

    def pareto_front(self, gamma: float = 1.0) -> Tensor:
        """The ten Pareto-optimal returns (``10 x 2``, float32, both maximized), discounted by ``gamma``: the
        treasure by ``gamma^(steps - 1)``, the time penalty summed over the steps (undiscounted: ``(treasure,
        -steps)``)."""
        grid = _CONCAVE if self.concave else _CONVEX
        treasures = sorted(v for row in grid for v in row if v > 0)
        rows = [
            [value * gamma ** (steps - 1), -discounted_sum(gamma, steps)]
            for value, steps in zip(treasures, _STEPS)
        ]
        return torch.tensor(rows, dtype=torch.float32, device=self.device)


def ConcaveDeepSeaTreasure(  # a constructor, named like the class it builds
    num_envs: int = 1,
    *,
    device: torch.device | str = "cpu",
    max_steps: int = 100,
    slip: float = 0.0,
) -> DeepSeaTreasure:
    """:class:`DeepSeaTreasure` on the concave map (MO-Gymnasium's ``deep-sea-treasure-concave-v0``)."""
    return DeepSeaTreasure(num_envs, device=device, max_steps=max_steps, slip=slip, concave=True)
