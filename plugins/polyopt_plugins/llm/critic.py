"""The learned value function PPO's GAE requires: a copy of the policy's network with a scalar head."""

from __future__ import annotations

import copy

from torch import Tensor, nn

from polyopt_plugins.llm.policy import Policy

__all__ = ["Critic"]


class Critic(nn.Module):
    """``V(prompt, completion prefix)`` from a separate copy of the policy network (as in PPO for LMs).

    Args:
        policy: the network to copy (its weights initialize the critic's body).
    """

    def __init__(self, policy: Policy) -> None:
        super().__init__()
        self.body = copy.deepcopy(policy)
        self.value_head = nn.Linear(policy.hidden_size, 1)
        nn.init.zeros_(self.value_head.weight)
        nn.init.zeros_(self.value_head.bias)

    def forward(
        self, prompt: Tensor, prompt_mask: Tensor, completion: Tensor, completion_mask: Tensor
    ) -> Tensor:
        """``n x L`` values of the states before each completion token (zero on padding)."""
        hidden = self.body.completion_hidden(
            prompt, prompt_mask, completion, completion_mask
        )  # (n, L, d)
        return self.value_head(hidden).squeeze(-1) * completion_mask
