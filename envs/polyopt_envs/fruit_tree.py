"""Fruit Tree (Yang et al. 2019): a full binary tree whose leaves hold six-nutrient fruits, batched in torch.

The agent starts at the root and goes left (0) or right (1) at every node; after ``depth`` steps it reaches a
leaf and receives its fruit's six values (zero reward before), which ends the episode. Observations are
``(row, position in row)``. Dynamics and fruit values are MO-Gymnasium's ``fruit-tree-v0`` (depth 5, 6 or 7;
checked step for step in tests/unit/envs/test_mo_gymnasium_parity.py); a step is a few table lookups by node
and action (:class:`~polyopt_envs._episodic.TabularEnv`). Every fruit is Pareto-optimal:
``pareto_front(gamma)`` is the fruits discounted by ``gamma^(depth - 1)``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.errors import ConfigError
from polyopt.spaces import Integer
from polyopt_envs._episodic import TabularEnv
from polyopt_envs._fruits import FRUITS

__all__ = ["FruitTree", "FruitTree7"]


class FruitTree(TabularEnv):
    """``num_envs`` walks down the fruit tree stepped together.

    Args:
        num_envs: number of sub-environments, ``>= 1``.
        device: where observations, rewards and state live.
        depth: 5, 6 or 7 (the tree has ``2^depth`` fruits).
    """

    reward_dim = 6
    reward_names = ("protein", "carbs", "fats", "vitamins", "minerals", "water")

    def __init__(
        self, num_envs: int = 1, *, device: torch.device | str = "cpu", depth: int = 6
    ) -> None:
        if depth not in FRUITS:
            raise ConfigError(f"depth={depth!r}; expected one of {sorted(FRUITS)}")
        super().__init__(num_envs, device, None)  # every episode ends after depth steps
        self.depth = depth
        self.name = f"fruit-tree-{depth}"
        self.observation_space = Integer([0, 0], [depth, 2**depth - 1])
        self.action_space = Integer(0, 1)
        self._fruits = torch.tensor(FRUITS[depth], dtype=torch.float32, device=self.device)
        nodes = [[row, pos] for row in range(depth + 1) for pos in range(2**row)]  # (0, 0) starts
        every = torch.tensor(nodes, dtype=torch.long, device=self.device)
        self._build_tables({"_node": every}, 0, 2, self._dynamics, self._observe_states)

    def _dynamics(
        self, state: dict[str, Tensor], action: Tensor, branch: Tensor
    ) -> tuple[dict[str, Tensor], Tensor, Tensor]:
        """The rules with (row, position) (run once, to fill the lookup tables)."""
        row = state["_node"][:, 0] + 1
        pos = state["_node"][:, 1] * 2 + action
        leaf = row == self.depth
        fruit = self._fruits[pos.clamp(max=2**self.depth - 1)]
        # a leaf not marked ended (a spawned copy stepped before its reset) has no children: it starts over
        node = torch.stack([row, pos], dim=1).masked_fill((row > self.depth).unsqueeze(1), 0)
        return {"_node": node}, fruit * leaf.unsqueeze(1), leaf

    @staticmethod
    def _observe_states(state: dict[str, Tensor]) -> Tensor:
        """``n x 2`` float32 ``(row, position in row)``."""
        return state["_node"].to(torch.float32)

    def pareto_front(self, gamma: float = 1.0) -> Tensor:
        """The ``2^depth x 6`` fruits, discounted by ``gamma^(depth - 1)`` (all Pareto-optimal)."""
        return self._fruits * gamma ** (self.depth - 1)


def FruitTree7(  # a constructor, named like the class it builds
    num_envs: int = 1, *, device: torch.device | str = "cpu"
) -> FruitTree:
    """:class:`FruitTree` of depth 7 (128 fruits)."""
    return FruitTree(num_envs, device=device, depth=7)
