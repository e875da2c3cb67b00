"""Resource Gathering (Barrett and Narayanan 2008): fetch gold and a gem past two enemies, batched in torch.

A 5 x 5 grid; the agent starts at home ``(4, 2)`` and moves up, down, left or right (actions 0-3; a move off
the grid leaves it in place). Gold lies at ``(0, 2)``, a gem at ``(1, 4)``, enemies at ``(1, 2)`` and
``(0, 3)``: on an enemy's cell the agent is killed with probability 0.1 (reward ``(-1, 0, 0)``, episode over).
Back home the episode ends with reward ``(0, gold, gem)``. Observations are ``(row, column, has_gold,
has_gem)``. Dynamics, rewards and the 100-step limit are MO-Gymnasium's ``resource-gathering-v0`` (checked step
for step in tests/unit/envs/test_mo_gymnasium_parity.py, with the kill draws shared); the kill draws come
from the generator seeded by ``reset(seed)``. A step is a few table lookups by state, action and kill draw
(:class:`~polyopt_envs._episodic.TabularEnv`).

``pareto_front(gamma)`` is MO-Gymnasium's list of expected discounted returns of six policies, filtered to the
non-dominated ones (not a proven front: a run can beat it, see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.spaces import Integer
from polyopt_envs._common import non_dominated
from polyopt_envs._episodic import TabularEnv

__all__ = ["ResourceGathering"]

_HOME = (4, 2)
_GOLD = (0, 2)
_GEM = (1, 4)
_ENEMIES = ((1, 2), (0, 3))
_MOVES = [[-1, 0], [1, 0], [0, -1], [0, 1]]  # up, down, left, right
_KILL = 0.1


class ResourceGathering(TabularEnv):
    """``num_envs`` resource gatherers stepped together.

    Args:
        num_envs: number of sub-environments, ``>= 1``.
        device: where observations, rewards and state live.
        max_steps: episode length limit (truncation), ``>= 1``; 100 as in MO-Gymnasium.
    """

    name = "resource-gathering"
    reward_dim = 3
    reward_names = ("enemy", "gold", "gem")

    def __init__(
        self, num_envs: int = 1, *, device: torch.device | str = "cpu", max_steps: int = 100
    ) -> None:
        super().__init__(num_envs, device, max_steps)
        self.observation_space = Integer([0, 0, 0, 0], [4, 4, 1, 1])
        self.action_space = Integer(0, 3)
        self._moves = torch.tensor(_MOVES, dtype=torch.long, device=self.device)
        cells, flags = torch.arange(5, device=self.device), torch.arange(2, device=self.device)
        every = torch.cartesian_prod(cells, cells, flags, flags)  # 100 x 4 (row, column, gold, gem)
        states = {"_pos": every[:, :2], "_gold": every[:, 2].bool(), "_gem": every[:, 3].bool()}
        start = (_HOME[0] * 5 + _HOME[1]) * 4  # home, empty-handed
        self._build_tables(states, start, 4, self._dynamics, self._observe_states, branches=2)

    def _uniform(self) -> Tensor:
        """``num_envs`` uniform draws deciding the kills (one per sub-environment and step)."""
        return torch.rand(self.num_envs, generator=self._generator, device=self.device)

    def _branch(self, index: Tensor) -> Tensor:
        """Branch 1 (killed if on an enemy's cell) where the step's draw is below the kill probability."""
        return torch.add(index, self._uniform() < _KILL, alpha=self._branch_stride)

    @staticmethod
    def _at(pos: Tensor, cell: tuple[int, int]) -> Tensor:
        return (pos[:, 0] == cell[0]) & (pos[:, 1] == cell[1])

    def _dynamics(
        self, state: dict[str, Tensor], action: Tensor, branch: Tensor
    ) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """The rules with coordinates (run once, to fill the lookup tables); ``branch`` 1: a kill draw."""
        pos = state["_pos"]
        target = pos + self._moves[action]
        inside = ((target >= 0) & (target < 5)).all(dim=1)
        pos = torch.where(inside.unsqueeze(1), target, pos)
        gold = state["_gold"] | self._at(pos, _GOLD)
        gem = state["_gem"] | self._at(pos, _GEM)
        killed = (self._at(pos, _ENEMIES[0]) | self._at(pos, _ENEMIES[1])) & (branch == 1)
        home = self._at(pos, _HOME)
        reward = torch.stack([-killed.float(), (home & gold).float(), (home & gem).float()], dim=1)
        return {"_pos": pos, "_gold": gold, "_gem": gem}, reward, killed | home

    @staticmethod
    def _observe_states(state: dict[str, Tensor]) -> Tensor:
        """``n x 4`` float32 ``(row, column, has_gold, has_gem)``."""
        flags = torch.stack([state["_gold"], state["_gem"]], dim=1).long()
        return torch.cat([state["_pos"], flags], dim=1).to(torch.float32)

    def pareto_front(self, gamma: float = 1.0) -> Tensor:
        """The non-dominated expected discounted returns of MO-Gymnasium's six reference policies (``k x 3``).

        Each row is a policy's probability-weighted return: a kill (-1 on the enemy objective) on the way, or
        gold and/or gem brought home, discounted by ``gamma^(step - 1)`` of the step it happens.
        """
        g, survive = gamma, 1.0 - _KILL
        enemy, gold, gem, both = [-1.0, 0, 0], [0, 1.0, 0], [0, 0, 1.0], [0, 1.0, 1.0]

        def mix(*parts: tuple[float, list[float], int]) -> list[float]:
            return [sum(p * v[j] * g**k for p, v, k in parts) for j in range(3)]

        rows = [
            mix((1.0, gem, 10)),
            mix((survive**2, both, 12), (_KILL, enemy, 7), (survive * _KILL, enemy, 9)),
            mix((survive**2, gold, 8), (_KILL, enemy, 3), (survive * _KILL, enemy, 5)),
            mix((survive, both, 14), (_KILL, enemy, 7)),
            mix((1.0, gold, 12)),
            mix((survive, gold, 10), (_KILL, enemy, 7)),
        ]
        front = torch.tensor(rows, dtype=torch.float64)
        return non_dominated(-front).neg().to(torch.float32).to(self.device)
