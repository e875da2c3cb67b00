"""Resource Gathering (Barrett and Narayanan 2008): fetch gold and a gem past two enemies, batched in torch.

A 5 x 5 grid; the agent starts at home ``(4, 2)`` and moves up, down, left or right (actions 0-3; a move off
the grid leaves it in place). Gold lies at ``(0, 2)``, a gem at ``(1, 4)``, enemies at ``(1, 2)`` and
``(0, 3)``: on an enemy's cell the agent is killed with probability 0.1 (reward ``(-1, 0, 0)``, episode over).
Back home the episode ends with reward ``(0, gold, gem)``. Observations are ``(row, column, has_gold,
has_gem)``. Dynamics, rewards and the 100-step limit are MO-Gymnasium's ``resource-gathering-v0`` (checked step
for step in tests/unit/envs/test_mo_gymnasium_parity.py, with the kill draws shared); the kill draws come
from the generator seeded by ``reset(seed)``.

``pareto_front(gamma)`` is MO-Gymnasium's list of expected discounted returns of six policies, filtered to the
non-dominated ones (not a proven front: a run can beat it, see benchmarks/RESULTS.md).
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.spaces import Integer
from polyopt_envs._common import non_dominated
from polyopt_envs._episodic import EpisodicEnv

__all__ = ["ResourceGathering"]

_HOME = (4, 2)
_GOLD = (0, 2)
_GEM = (1, 4)
_ENEMIES = ((1, 2), (0, 3))
_MOVES = [[-1, 0], [1, 0], [0, -1], [0, 1]]  # up, down, left, right
_KILL = 0.1


class ResourceGathering(EpisodicEnv):
    """``num_envs`` resource gatherers stepped together.

    Args:
        num_envs: number of sub-environments, ``>= 1``.
        device: where observations, rewards and state live.
        max_steps: episode length limit (truncation), ``>= 1``; 100 as in MO-Gymnasium.
    """

    name = "resource-gathering"
    reward_dim = 3
    reward_names = ("enemy", "gold", "gem")
    _state_names = ("_pos", "_gold", "_gem")

    def __init__(
        self, num_envs: int = 1, *, device: torch.device | str = "cpu", max_steps: int = 100
    ) -> None:
        super().__init__(num_envs, device, max_steps)
        self.observation_space = Integer([0, 0, 0, 0], [4, 4, 1, 1])
        self.action_space = Integer(0, 3)
        self._moves = torch.tensor(_MOVES, dtype=torch.long, device=self.device)
        self._home = torch.tensor(_HOME, dtype=torch.long, device=self.device)
        self._pos = self._home.repeat(num_envs, 1)
        self._gold = torch.zeros(num_envs, dtype=torch.bool, device=self.device)
        self._gem = torch.zeros(num_envs, dtype=torch.bool, device=self.device)

    def _restart(self, mask: Tensor) -> None:
        self._pos = torch.where(mask.unsqueeze(1), self._home, self._pos)
        self._gold = self._gold & ~mask
        self._gem = self._gem & ~mask

    def _uniform(self) -> Tensor:
        """``num_envs`` uniform draws deciding the kills (one per sub-environment and step)."""
        return torch.rand(self.num_envs, generator=self._generator, device=self.device)

    def _at(self, cell: tuple[int, int]) -> Tensor:
        return (self._pos[:, 0] == cell[0]) & (self._pos[:, 1] == cell[1])

    def _transition(self, action: Tensor) -> tuple[Tensor, Tensor]:
        target = self._pos + self._moves[action.clamp(0, 3)]
        inside = ((target >= 0) & (target < 5)).all(dim=1)
        self._pos = torch.where(inside.unsqueeze(1), target, self._pos)
        u = self._uniform()
        self._gold = self._gold | self._at(_GOLD)
        self._gem = self._gem | self._at(_GEM)
        killed = (self._at(_ENEMIES[0]) | self._at(_ENEMIES[1])) & (u < _KILL)
        home = self._at(_HOME)
        reward = torch.stack(
            [-killed.float(), (home & self._gold).float(), (home & self._gem).float()], dim=1
        )
        return reward, killed | home

    def _observe(self) -> Tensor:
        """``num_envs x 4`` float32 ``(row, column, has_gold, has_gem)``."""
        flags = torch.stack([self._gold, self._gem], dim=1).long()
        return torch.cat([self._pos, flags], dim=1).to(torch.float32)

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
