"""Pareto Q-learning (Van Moffaert and Nowe, JMLR 2014): tabular sets of non-dominated Q vectors, learned for
every trade-off at once, on environments with finitely many discrete states and actions.

For each state ``s`` and action ``a`` the agent keeps the visit count, the average immediate reward vector
``R(s, a)``, the fraction of visits that ended the episode ``p(s, a)`` and ``ND(s, a)``: the non-dominated
vectors of the successor state's Q-sets, ``ND(U_a' Q(s', a'))``, taken when ``(s, a)`` was last left to a
non-terminal state. Its Q-set is

    ``Q(s, a) = R(s, a) + gamma (1 - p(s, a)) ND(s, a)``.

``step()`` = collect -> update, on ``num_envs`` sub-environments at once: each acts epsilon-greedily for a
preference ``w`` drawn per episode (greedy: ``argmax_a max_{q in Q(s, a)} w . q``, ties broken at random),
then the ``num_envs`` transitions update their tables in one batched Pareto filter.

Termination is handled as an expected value (``p(s, a)``): a transition that ends the episode with some
probability (Resource Gathering's kills) bootstraps only its surviving share. MORL-Baselines' ``PQL`` instead
bootstraps every transition from the state it observed next, so on Resource Gathering a kill is followed by
the enemy cell's future and its Q-sets overestimate risky paths. The successor set is the last non-terminal
one observed, as in the paper: exact where transitions are deterministic up to termination (Deep Sea
Treasure, Resource Gathering, Fruit Tree), an approximation otherwise.

The shared evaluation protocol (:mod:`polyopt_plugins.morl.protocol`) runs the greedy policy of each
evaluation preference; it reaches the supported points of the learned front (those on its convex hull). The
result's ``extras["learned_front"]`` is the agent's own estimate: the non-dominated Q vectors of the start
state (what MORL-Baselines' ``PQL`` reports).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from polyopt.errors import ConfigError
from polyopt.result import TrainerResult
from polyopt.spaces import Integer, Space
from polyopt_plugins.morl.agent import EvaluationConfig, PreferenceAgent
from polyopt_plugins.morl.protocol import random_weights

__all__ = ["ParetoQ", "ParetoQConfig", "ParetoQTable", "pareto_filter"]


@dataclass
class ParetoQConfig(EvaluationConfig):
    """Options of :class:`ParetoQ`."""

    gamma: float = 0.99
    """Discount."""
    initial_epsilon: float = 1.0
    """Exploration rate at the start (MORL-Baselines' ``PQL`` default)."""
    final_epsilon: float = 0.1
    """Exploration rate after the decay (MORL-Baselines' default)."""
    epsilon_decay_steps: int = 100_000
    """Environment steps over which epsilon decays linearly (MORL-Baselines' default)."""
    max_set_size: int = 32
    """Most vectors kept per set ``ND(s, a)``; a larger non-dominated set keeps the vectors with the largest
    sum of objectives (the step metric ``set_overflows`` counts how often)."""
    max_states: int = 1_000_000
    """Largest number of discrete states accepted (the tables hold ``states x actions x max_set_size``
    vectors)."""


def pareto_filter(values: Tensor, valid: Tensor, keep: int) -> tuple[Tensor, Tensor, Tensor]:
    """The non-dominated distinct rows of each batch of candidate vectors, at most ``keep`` of them.

    Args:
        values: ``b x c x m`` candidates (maximized).
        valid: ``b x c`` which candidates exist.
        keep: rows returned per batch.

    Returns:
        ``(b x keep x m vectors, b x keep mask, b overflow flags)``: the kept vectors first (those with the
        largest sum of objectives when more than ``keep`` are non-dominated), the flags where some were cut.
    """
    # the existing candidates first (in their order), the columns no batch uses dropped: sets are mostly small
    order = valid.to(torch.int8).argsort(dim=1, descending=True, stable=True)
    used = max(int(valid.sum(1).max()), 1) if valid.numel() else 1
    order = order[:, :used]
    values = values.gather(1, order.unsqueeze(2).expand(-1, -1, values.shape[2]))
    valid = valid.gather(1, order)
    tol = 64 * torch.finfo(values.dtype).eps * (1 + values.abs().amax(2, keepdim=True))  # b x c x 1
    a, b = values.unsqueeze(2), values.unsqueeze(1)  # candidate i against j: b x c x c x m
    slack = tol.unsqueeze(2)
    geq = (b >= a - slack).all(3)  # j at least i everywhere (within tolerance)
    better = (b > a + slack).any(3)  # j clearly above i somewhere
    c = values.shape[1]
    earlier = torch.ones(c, c, dtype=torch.bool, device=values.device).tril(-1)  # [i, j]: j < i
    # i is covered when an existing j dominates it, or equals it (within tolerance) and comes first
    covered = geq & (better | earlier) & valid.unsqueeze(1)
    front = valid & ~covered.any(2)
    score = torch.where(front, values.sum(2), -math.inf)
    top = score.topk(min(keep, c), dim=1).indices
    vectors = values.gather(1, top.unsqueeze(2).expand(-1, -1, values.shape[2]))
    mask = front.gather(1, top)
    if c < keep:  # pad to ``keep`` rows
        pad = keep - c
        vectors = torch.cat(
            [vectors, vectors.new_zeros(vectors.shape[0], pad, vectors.shape[2])], 1
        )
        mask = torch.cat([mask, mask.new_zeros(mask.shape[0], pad)], 1)
    vectors = torch.where(mask.unsqueeze(2), vectors, 0.0)
    return vectors, mask, front.sum(1) > keep


class ParetoQTable(nn.Module):
    """The learned tables (buffers) and the greedy policy ``forward(obs, w) -> actions``."""

    lower: Tensor
    strides: Tensor
    count: Tensor
    ended: Tensor
    reward_sum: Tensor
    nd: Tensor
    mask: Tensor

    def __init__(
        self,
        lower: Tensor,
        sizes: Tensor,
        n_actions: int,
        m: int,
        keep: int,
        gamma: float,
        dtype: torch.dtype,
        device: torch.device,
    ) -> None:
        super().__init__()
        n_states = int(sizes.prod())
        strides = torch.ones_like(sizes)
        for i in range(sizes.numel() - 2, -1, -1):
            strides[i] = strides[i + 1] * sizes[i + 1]
        self.register_buffer("lower", lower.to(torch.long))
        self.register_buffer("strides", strides.to(torch.long))
        self.register_buffer("count", torch.zeros(n_states, n_actions, dtype=dtype, device=device))
        self.register_buffer("ended", torch.zeros(n_states, n_actions, dtype=dtype, device=device))
        self.register_buffer(
            "reward_sum", torch.zeros(n_states, n_actions, m, dtype=dtype, device=device)
        )
        self.register_buffer(
            "nd", torch.zeros(n_states, n_actions, keep, m, dtype=dtype, device=device)
        )
        mask = torch.zeros(n_states, n_actions, keep, dtype=torch.bool, device=device)
        mask[:, :, 0] = True  # every set starts as the zero vector
        self.register_buffer("mask", mask)
        self.gamma = gamma

    def index(self, obs: Tensor) -> Tensor:
        """Flat state indices of ``n x d`` integer-valued observations."""
        cells = obs.reshape(obs.shape[0], self.lower.numel()).round().to(torch.long) - self.lower
        return (cells * self.strides).sum(1)

    def q_sets(self, states: Tensor) -> tuple[Tensor, Tensor]:
        """``(n x actions x keep x m Q vectors, n x actions x keep mask)`` of flat ``states``."""
        count = self.count[states].clamp(min=1)
        mean = self.reward_sum[states] / count.unsqueeze(2)
        alive = self.gamma * (1 - self.ended[states] / count)
        q = mean.unsqueeze(2) + alive.unsqueeze(2).unsqueeze(3) * self.nd[states]
        return q, self.mask[states]

    def scores(self, obs: Tensor, w: Tensor) -> Tensor:
        """``n x actions``: ``max_{q in Q(s, a)} w . q``."""
        q, mask = self.q_sets(self.index(obs))
        values = torch.einsum("nakm,nm->nak", q, w.to(q.dtype))
        return values.masked_fill(~mask, -math.inf).amax(2)

    @torch.no_grad()
    def forward(self, obs: Tensor, w: Tensor) -> Tensor:
        """Greedy action indices (from 0) for ``n x d`` observations and ``n x m`` preferences."""
        return self.scores(obs, w).argmax(1)


class ParetoQ(PreferenceAgent):
    """Pareto Q-learning on a batched Environment with discrete states, one discrete action dimension and
    vector rewards."""

    Config = ParetoQConfig

    @classmethod
    def action_reason(cls, space: Space) -> str | None:
        if not isinstance(space, Integer) or space.dim != 1:
            return f"it handles one discrete action dimension (an Integer space), got {space!r}"
        return None

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super().compatibility(problem)
        if reason:
            return reason
        space = problem.observation_space
        if not isinstance(space, Integer):
            return (
                f"it is tabular: it needs a finite discrete (Integer) observation space, got {space!r}; "
                "use envelope or pd-morl for continuous observations"
            )
        return None

    def setup(self) -> None:
        cfg, env = self.config, self.problem
        self.check_counts("max_set_size", "max_states", "eval_weights")
        if not 0 < cfg.gamma <= 1:
            raise ConfigError(f"gamma={cfg.gamma}; expected 0 < gamma <= 1")
        if cfg.ref_point is not None and len(cfg.ref_point) != env.reward_dim:
            raise ConfigError(f"ref_point={cfg.ref_point}; expected {env.reward_dim} values")
        space = env.observation_space
        assert isinstance(space, Integer)  # compatibility() refused the rest
        lower, upper = space.lower.to(torch.long), space.upper.to(torch.long)
        sizes = upper - lower + 1
        n_states = math.prod(sizes.tolist())
        if n_states > cfg.max_states:
            raise ConfigError(
                f"the observation space has {n_states} discrete states, above max_states={cfg.max_states}; "
                "raise max_states or use envelope or pd-morl"
            )
        low, high = env.action_space.bounds[:, 0].tolist()
        self.action_low = int(low)
        self.n_actions = int(high - low) + 1
        self.table = ParetoQTable(
            lower,
            sizes,
            self.n_actions,
            env.reward_dim,
            cfg.max_set_size,
            cfg.gamma,
            self.dtype,
            self.device,
        ).to(self.device)
        self.buffer = {}  # no replay: the tables are the memory
        self.buffer_count = 0
        self.n_overflows = 0
        self.start_episodes(random_weights(env.reward_dim, env.num_envs, self.generator,
                                           self.device).to(self.dtype))  # fmt: skip
        self.start_state = int(self.table.index(self._obs[:1])[0])

    def _start_windows(self) -> None:  # no n-step windows: transitions update the tables at once
        self._window = {}
        self._window_len = torch.zeros(self.problem.num_envs, dtype=torch.long, device=self.device)

    def epsilon(self) -> float:
        cfg = self.config
        if cfg.epsilon_decay_steps <= 0:
            return cfg.final_epsilon
        done = min(1.0, self.n_env_steps / cfg.epsilon_decay_steps)
        return cfg.initial_epsilon + (cfg.final_epsilon - cfg.initial_epsilon) * done

    def greedy(self, obs: Tensor, w: Tensor) -> Tensor:
        """``n`` greedy actions (in the action space's values): ``argmax_a max_{q in Q(s, a)} w . q``."""
        obs = obs.to(device=self.device, dtype=self.dtype)
        return self.table(obs, w.to(device=self.device, dtype=self.dtype)) + self.action_low

    @torch.no_grad()
    def _collect(self) -> None:
        env = self.problem
        n, m = env.num_envs, env.reward_dim
        random_action = torch.randint(
            0, self.n_actions, (n,), generator=self.generator, device=self.device
        )
        explore = torch.rand(n, generator=self.generator, device=self.device) < self.epsilon()
        scores = self.table.scores(self._obs, self._w)
        ties = torch.rand(
            scores.shape, generator=self.generator, device=self.device, dtype=self.dtype
        )
        best = scores.amax(1, keepdim=True)
        greedy = torch.where(scores >= best, ties, -1.0).argmax(1)  # a random one of the best
        action = torch.where(explore, random_action, greedy)
        step = env.step((action + self.action_low).to(env.device))
        self.n_env_steps += n
        next_obs = self._observe(step.obs)
        valid = ~self._prev_done  # the reset step after an episode's end carries no transition
        self._learn(self._obs[valid], action[valid], step.reward.to(**self.like).reshape(n, m)[valid],
                    next_obs[valid], step.terminated.to(self.device)[valid])  # fmt: skip
        fresh = random_weights(m, n, self.generator, self.device).to(self.dtype)
        self.advance(step, next_obs, fresh)  # a new preference per episode

    def _learn(
        self, obs: Tensor, action: Tensor, reward: Tensor, next_obs: Tensor, ended: Tensor
    ) -> None:
        """Update the tables with one batch of transitions (at most one per sub-environment)."""
        t = self.table
        s = t.index(obs)
        t.count.index_put_((s, action), torch.ones_like(s, dtype=t.count.dtype), accumulate=True)
        t.ended.index_put_((s, action), ended.to(t.ended.dtype), accumulate=True)
        t.reward_sum.index_put_((s, action), reward, accumulate=True)
        go = ~ended
        if not bool(go.any()):
            return
        s, action, s_next = s[go], action[go], t.index(next_obs[go])
        flat = s * self.n_actions + action
        last = torch.zeros(t.count.numel(), dtype=torch.long, device=self.device)
        order = torch.arange(flat.numel(), device=self.device)
        last.scatter_reduce_(0, flat, order, "amax")  # the last sub-environment per (s, a) wins
        pick = last[flat] == order
        q, mask = t.q_sets(s_next[pick])  # k x actions x keep x m
        k, keep = q.shape[0], self.config.max_set_size
        nd, nd_mask, cut = pareto_filter(q.reshape(k, -1, q.shape[3]), mask.reshape(k, -1), keep)
        t.nd[s[pick], action[pick]] = nd
        t.mask[s[pick], action[pick]] = nd_mask
        self.n_overflows += int(cut.sum())

    def learned_front(self) -> Tensor:
        """The non-dominated Q vectors of the start state (the agent's own estimate of the front)."""
        q, mask = self.table.q_sets(torch.tensor([self.start_state], device=self.device))
        nd, nd_mask, _ = pareto_filter(q.reshape(1, -1, q.shape[3]), mask.reshape(1, -1),
                                       q.shape[1] * q.shape[2])  # fmt: skip
        return nd[0][nd_mask[0]]

    # -- the Optimizer contract --------------------------------------------------------------------------------

    def iterate(self) -> dict[str, float]:
        self._collect()
        out: dict[str, float] = {
            "env_steps": float(self.n_env_steps),
            "epsilon": self.epsilon(),
            "visited_pairs": float((self.table.count > 0).sum()),
            "set_overflows": float(self.n_overflows),
        }
        self.log_evaluation(out)
        return out

    def result(self) -> TrainerResult:
        """The evaluated front over the evaluation preferences (``labels`` index
        :func:`~polyopt_plugins.morl.protocol.equally_spaced_weights`); ``policy`` is the
        :class:`ParetoQTable` (act with :meth:`greedy`); ``extras["learned_front"]`` the start state's
        non-dominated Q vectors."""
        return self.front_result(self.table, learned_front=self.learned_front())

    def get_state(self) -> dict[str, Any]:
        return {
            **self.episode_state(),
            "table": self.table.state_dict(),
            "overflows": self.n_overflows,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.table.load_state_dict(state["table"])
        self.load_episode_state(state)
        self.n_overflows = int(state["overflows"])
