"""Policy evaluation on a batched environment: whole episodes, undiscounted and discounted return vectors.

Every sub-environment runs the same number of episodes (``ceil(episodes / num_envs)``), so short episodes are
not over-represented, as they would be if the first ``episodes`` to finish were taken.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from polyopt.environment import Environment
from polyopt_plugins.rl.networks import ActorCritic

__all__ = ["evaluate_policy"]


@torch.no_grad()
def evaluate_policy(
    net: ActorCritic,
    env: Environment,
    *,
    episodes: int,
    gamma: float,
    seed: int,
    deterministic: bool = True,
    max_steps: int = 10_000,
    observe: Callable[[Tensor], Tensor] | None = None,
) -> dict[str, Tensor]:
    """Run ``net`` on ``env`` (reset with ``seed``) for at least ``episodes`` episodes.

    Args:
        net: the policy.
        env: a batched environment the evaluation may reset and step (not the training one).
        episodes: episodes wanted; each sub-environment runs ``ceil(episodes / num_envs)``.
        gamma: discount of the ``discounted`` returns.
        seed: resets the environment and seeds sampling (with ``deterministic=False``).
        deterministic: take the most likely actions.
        max_steps: an episode still running after this many steps is cut and counted as it stands.
        observe: maps the environment's observations to the network's input (default: flatten to float).

    Returns:
        ``returns`` and ``discounted`` (``k x m`` float64, on the CPU), ``lengths`` (``k``), and ``env_steps``
        (a 0-d tensor: sub-environment steps taken), with ``k = num_envs * ceil(episodes / num_envs)``.
    """
    n, m = env.num_envs, env.reward_dim
    dtype = next(net.parameters()).dtype
    device = next(net.parameters()).device
    observe = observe or (lambda o: o.to(device=device, dtype=dtype).reshape(n, -1))
    per_env = math.ceil(episodes / n)
    generator = torch.Generator(device=device).manual_seed(seed + 1)
    obs = observe(env.reset(seed=seed + 1_000_003))
    ret = torch.zeros(n, m, dtype=torch.float64, device=device)
    disc = torch.zeros_like(ret)
    scale = torch.ones(n, 1, dtype=torch.float64, device=device)
    length = torch.zeros(n, dtype=torch.long, device=device)
    finished = torch.zeros(n, dtype=torch.long, device=device)
    prev_done = torch.zeros(n, dtype=torch.bool, device=device)
    rows: list[Tensor] = []
    steps = 0
    while bool((finished < per_env).any()):
        action = net.act(obs) if deterministic else net.sample(obs, generator)[0]
        step = env.step(net.to_env(action).to(env.device))
        steps += n
        reward = step.reward.to(device=device, dtype=torch.float64).reshape(n, m)
        live = ~prev_done & (finished < per_env)  # a reset step, or a sub-environment already done
        ret += reward * live.unsqueeze(1)
        disc += scale * reward * live.unsqueeze(1)
        scale = torch.where(live.unsqueeze(1), scale * gamma, scale)
        length += live.long()
        ended = live & (step.done.to(device) | (length >= max_steps))
        if bool(ended.any()):
            rows.append(torch.cat([ret[ended], disc[ended], length[ended, None].double()], dim=1))
            ret[ended] = 0.0
            disc[ended] = 0.0
            scale[ended] = 1.0
            length[ended] = 0
            finished += ended.long()
        prev_done = step.done.to(device)  # a cut episode runs on, counted as a new one
        obs = observe(step.obs)
    table = torch.cat(rows).cpu() if rows else torch.zeros(0, 2 * m + 1, dtype=torch.float64)
    return {
        "returns": table[:, :m],
        "discounted": table[:, m : 2 * m],
        "lengths": table[:, 2 * m].long(),
        "env_steps": torch.tensor(steps),
    }
