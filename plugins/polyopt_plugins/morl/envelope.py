"""Envelope Q-learning (Yang, Sun and Narasimhan 2019): one preference-conditioned network ``Q(s, a, w)`` with
a vector output, trained toward the envelope of the front over sampled preferences.

``step()`` = collect -> update, on ``num_envs`` sub-environments at once:

1. every sub-environment acts epsilon-greedily for its own preference ``w`` (``argmax_a w . Q(s, a, w)``),
   drawn at the start of each of its episodes (absolute Gaussian, normalized); transitions go to a replay
   buffer on the device (the reset step after an episode's end carries no transition and is not stored);
2. ``gradient_updates`` updates, each on ``batch_size`` transitions paired with ``num_sample_w`` sampled
   preferences: the target is ``r + gamma Q_target(s', a*, w*)`` with ``(a*, w*) = argmax_{a, w'} w . Q(s', a,
   w')`` (the envelope), the loss the mean squared error of the vector Q (blended with the scalarized error by
   the homotopy weight); the target network is copied every ``target_update_every`` gradient updates (or
   moved by ``tau``).

With ``num_envs`` copies a step takes ``num_envs`` environment steps and makes ``gradient_updates`` updates, so
the replay ratio is ``gradient_updates * batch_size / num_envs`` (MORL-Baselines steps one environment and
makes one update of 32 or 256 per step). The result evaluates the greedy policy with the shared protocol
(:mod:`polyopt_plugins.morl.protocol`): ``eval_weights`` preferences x ``eval_episodes``, discounted returns,
the Pareto filter, HV against the environment's registered reference point, EUM, sparsity, cardinality, IGD
and MUL against the known front.
"""

from __future__ import annotations

import copy
import itertools
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from polyopt.errors import ConfigError
from polyopt.result import TrainerResult
from polyopt.spaces import Integer, Space
from polyopt_plugins.morl.agent import EvaluationConfig, PreferenceAgent
from polyopt_plugins.morl.encoding import EncodedQ, observation_encoder
from polyopt_plugins.morl.protocol import random_weights

__all__ = ["Envelope", "EnvelopeConfig"]


@dataclass
class EnvelopeConfig(EvaluationConfig):
    """Options of :class:`Envelope`."""

    learning_rate: float = 3e-4
    """Adam's learning rate (MORL-Baselines' default)."""
    hidden_sizes: list[int] = field(default_factory=lambda: [256, 256, 256, 256])
    """Hidden widths of the Q network (MORL-Baselines' default)."""
    observation_encoding: str = "raw"
    """How the Q network sees observations: ``raw`` (as they are) or ``one_hot`` (every value of every
    dimension of an Integer observation space its own input, :mod:`polyopt_plugins.morl.encoding`). On Fruit
    Tree, whose ``(row, position)`` leaves 64 fruits on one input axis, ``one_hot`` is what lets the network
    tell the leaves apart (benchmarks/RESULTS.md); replay and ``greedy`` still take raw observations."""
    batch_size: int = 256
    """Transitions per update (each paired with ``num_sample_w`` preferences; MORL-Baselines' default)."""
    gradient_updates: int = 1
    """Updates per step (a step moves every sub-environment once)."""
    buffer_size: int = 100_000
    """Replay capacity in transitions."""
    per: bool = False
    """Prioritized replay as MORL-Baselines' Envelope (its default): transitions are drawn in proportion to
    ``(|w . TD error| + p_max)^per_alpha`` (``w`` the first sampled preference), new ones enter at the largest
    priority so far ``p_max``; no importance weights, as there."""
    per_alpha: float = 0.6
    """Exponent of the priorities."""
    learning_starts: int = 100
    """Environment steps of uniformly random actions before the first update."""
    gamma: float = 0.99
    """Discount."""
    n_step: int = 1
    """Steps of the stored returns: a transition's target is ``sum_k gamma^k r_k + gamma^n Q(s_n, ...)`` over
    the next ``n`` steps of its episode (fewer at the episode's end), uncorrected for the exploratory actions
    among them (as Rainbow's n-step DQN)."""
    initial_epsilon: float = 0.01
    """Exploration rate when learning starts (MORL-Baselines' default; on Deep Sea Treasure a decay from 1.0
    to 0.05 over 10^4 steps collapsed every preference onto the nearest treasure in four runs, while 0.01
    found 6 of the 10 front points in 2 x 10^4 steps: benchmarks/RESULTS.md)."""
    final_epsilon: float = 0.01
    """Exploration rate after the decay."""
    epsilon_decay_steps: int = 10_000
    """Environment steps over which epsilon decays linearly after ``learning_starts``."""
    explore_repeat: float = 0.0
    """Temporally extended exploration (ez-greedy, Dabney, Ostrovski and Barreto 2021) when above 0: a
    sub-environment that explores (probability epsilon, drawn only while it is not already exploring) repeats
    one random action for a duration ``d`` drawn with probability proportional to ``d^-explore_repeat`` over
    ``1 ... explore_max_repeat`` steps (2 is the paper's exponent), or until its episode ends. Repeated moves
    reach states that one-step dithering almost never does (on Deep Sea Treasure the treasures far from the
    greedy paths: benchmarks/RESULTS.md). 0 keeps one-step epsilon-greedy actions."""
    explore_max_repeat: int = 100
    """Longest repeat of an exploratory action (with ``explore_repeat > 0``)."""
    num_sample_w: int = 4
    """Preferences sampled per update for the envelope target."""
    envelope: bool = True
    """Envelope target; False gives a preference-conditioned double DQN target."""
    initial_homotopy: float = 0.0
    """Weight of the scalarized loss ``(w . Q - w . y)^2`` at the start (the rest is the vector loss)."""
    final_homotopy: float = 0.0
    """Its weight after ``homotopy_decay_steps`` (the paper anneals 0 -> 1)."""
    homotopy_decay_steps: int = 0
    """Environment steps over which the homotopy weight moves (0: it stays at ``initial_homotopy``)."""
    target_update_every: int = 200
    """Gradient updates between hard copies to the target network (with ``tau = 1``). MORL-Baselines counts
    environment steps, which is the same at its one update per step; counting updates keeps the target as
    stale as there when many sub-environments share one update (counted in environment steps, 16 copies
    refreshed it every 12 updates and every Deep Sea Treasure preference collapsed onto the nearest
    treasure)."""
    tau: float = 1.0
    """Polyak rate of the target network when below 1 (then updated every step)."""
    max_grad_norm: float = 0.0
    """Clip the gradient norm (0 = off)."""
    select_best: bool = False
    """Keep a copy of the Q network at the ``eval_every`` evaluation with the highest hypervolume (ties: the
    later); :meth:`Envelope.result` evaluates the final network too and makes the copy the run's policy when
    its hypervolume is higher (``greedy`` then acts with it until training resumes; the result's
    ``extras["selected_step"]`` says which step's network it is), as PD-MORL's ``select_best``. The policy is
    selected on training-time evaluations by the protocol's metric: say so when quoting its numbers. Needs
    ``eval_every`` > 0."""


class _QNet(nn.Module):
    """``Q(s, a, w)``: observations and preferences in, ``actions x objectives`` values out."""

    def __init__(self, obs_dim: int, n_actions: int, m: int, hidden: list[int]) -> None:
        super().__init__()
        sizes = [obs_dim + m, *hidden]
        layers: list[nn.Module] = []
        for a, b in itertools.pairwise(sizes):
            layers += [nn.Linear(a, b), nn.ReLU()]
        layers.append(nn.Linear(sizes[-1], n_actions * m))
        for layer in layers:  # orthogonal weights, zero biases (MORL-Baselines' initialization)
            if isinstance(layer, nn.Linear):
                nn.init.orthogonal_(layer.weight)
                nn.init.zeros_(layer.bias)
        self.net = nn.Sequential(*layers)
        self.n_actions = n_actions
        self.m = m

    def forward(self, obs: Tensor, w: Tensor) -> Tensor:
        """``n x actions x m`` for ``n x d`` observations and ``n x m`` preferences."""
        return self.net(torch.cat([obs, w], dim=1)).view(-1, self.n_actions, self.m)


class Envelope(PreferenceAgent):
    """Envelope Q-learning on a batched Environment with one discrete action dimension and vector rewards."""

    Config = EnvelopeConfig

    @classmethod
    def action_reason(cls, space: Space) -> str | None:
        if not isinstance(space, Integer) or space.dim != 1:
            return f"it handles one discrete action dimension (an Integer space), got {space!r}"
        return None

    def setup(self) -> None:
        cfg, env = self.config, self.problem
        self.check_counts(
            "batch_size", "gradient_updates", "buffer_size", "num_sample_w", "eval_weights"
        )
        if cfg.ref_point is not None and len(cfg.ref_point) != env.reward_dim:
            raise ConfigError(f"ref_point={cfg.ref_point}; expected {env.reward_dim} values")
        n, m = env.num_envs, env.reward_dim
        low, high = env.action_space.bounds[:, 0].tolist()
        self.action_low = int(low)
        self.n_actions = int(high - low) + 1
        self.obs_dim = env.observation_space.dim
        encoder = observation_encoder(cfg.observation_encoding, env.observation_space)
        n_in = self.obs_dim if encoder is None else encoder.out_dim
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # initial weights follow the run seed
            net = _QNet(n_in, self.n_actions, m, list(cfg.hidden_sizes))
        q: nn.Module = net if encoder is None else EncodedQ(encoder, net)
        self.q = q.to(device=self.device, dtype=self.dtype)
        self.target = copy.deepcopy(self.q).requires_grad_(False)
        self.opt = torch.optim.Adam(self.q.parameters(), lr=cfg.learning_rate)
        size = cfg.buffer_size
        self.buffer = {
            "obs": torch.zeros(size, self.obs_dim, **self.like),
            "action": torch.zeros(size, dtype=torch.long, device=self.device),
            "reward": torch.zeros(size, m, **self.like),
            "next_obs": torch.zeros(size, self.obs_dim, **self.like),
            "discount": torch.zeros(size, **self.like),
        }
        self.buffer_count = 0  # transitions ever stored (the ring position is this modulo the size)
        self.priority = torch.zeros(size, dtype=torch.float64, device=self.device)
        self.max_priority = 1e-5  # MORL-Baselines' starting priority, raised to the largest seen
        self.n_updates = 0
        if cfg.explore_repeat < 0:
            raise ConfigError(f"explore_repeat={cfg.explore_repeat}; expected a number >= 0")
        self.check_counts("explore_max_repeat")
        self.init_selection()
        durations = torch.arange(1, cfg.explore_max_repeat + 1, dtype=torch.float64)
        self._repeat_p = durations.pow(-cfg.explore_repeat).to(self.device)  # the zeta distribution
        self._repeat_left = torch.zeros(n, dtype=torch.long, device=self.device)
        self._repeat_action = torch.zeros(n, dtype=torch.long, device=self.device)
        self.start_episodes(random_weights(m, n, self.generator, self.device).to(self.dtype))

    def _linear(self, start: float, end: float, steps: int) -> float:
        """A value moving linearly from ``start`` to ``end`` over ``steps`` env steps after learning starts."""
        if steps <= 0:
            return start
        done = max(0, self.n_env_steps - self.config.learning_starts)
        return start + (end - start) * min(1.0, done / steps)

    # -- collect -----------------------------------------------------------------------------------------------

    @torch.no_grad()
    def greedy(self, obs: Tensor, w: Tensor) -> Tensor:
        """``n`` greedy actions (in the action space's values) for ``n x d`` observations and ``n x m``
        preferences: ``argmax_a w . Q(s, a, w)``."""
        obs = obs.to(device=self.device, dtype=self.dtype)
        w = w.to(device=self.device, dtype=self.dtype)
        net = self.acting_network()
        scores = torch.einsum("nam,nm->na", net(obs, w), w)
        return scores.argmax(1) + self.action_low

    @torch.no_grad()
    def _collect(self) -> None:
        cfg, env = self.config, self.problem
        n, m = env.num_envs, env.reward_dim
        random_action = torch.randint(
            0, self.n_actions, (n,), generator=self.generator, device=self.device
        )
        explore = torch.rand(n, generator=self.generator, device=self.device)
        epsilon = (
            1.0
            if self.n_env_steps < cfg.learning_starts
            else self._linear(cfg.initial_epsilon, cfg.final_epsilon, cfg.epsilon_decay_steps)
        )
        greedy = self.greedy(self._obs, self._w) - self.action_low
        if cfg.explore_repeat > 0:
            random_action = self._repeat_exploration(explore < epsilon, random_action)
            action = torch.where(self._repeat_left > 0, random_action, greedy)
            self._repeat_left = (self._repeat_left - 1).clamp_min(0)
        else:
            action = torch.where(explore < epsilon, random_action, greedy)
        step = env.step((action + self.action_low).to(env.device))
        self.n_env_steps += n
        next_obs = self._observe(step.obs)
        rows = {
            "obs": self._obs,
            "action": action,
            "reward": step.reward.to(**self.like).reshape(n, m),
            "next_obs": next_obs,
            "terminated": step.terminated.to(device=self.device, dtype=self.dtype),
        }
        self.priority[self.store(rows, step.done)] = self.max_priority
        if cfg.explore_repeat > 0:  # a repeat ends with its episode
            self._repeat_left = torch.where(step.done.to(self.device), 0, self._repeat_left)
        fresh = random_weights(m, n, self.generator, self.device).to(self.dtype)
        self.advance(step, next_obs, fresh)  # a new preference per episode

    def _repeat_exploration(self, start: Tensor, random_action: Tensor) -> Tensor:
        """The exploratory actions of the repeats: sub-environments not repeating and with ``start`` set
        begin one (``random_action`` for a zeta-distributed duration); the others keep theirs."""
        begin = start & (self._repeat_left == 0)
        duration = 1 + torch.multinomial(
            self._repeat_p, begin.shape[0], replacement=True, generator=self.generator
        )
        self._repeat_left = torch.where(begin, duration, self._repeat_left)
        self._repeat_action = torch.where(begin, random_action, self._repeat_action)
        return self._repeat_action

    # -- update ------------------------------------------------------------------------------------------------

    def _target(self, next_obs: Tensor, sampled: Tensor) -> Tensor:
        """``(k b) x m`` bootstrap values of the ``b`` next observations (``b x d``) for each of the ``k``
        sampled preferences (``k x m``), preference-major: row ``j b + i`` is observation ``i`` under
        preference ``j``. The envelope runs the networks on the ``b k`` pairs of observation and preference
        ``w'`` once and scores them for every ``w`` (the pairs do not depend on ``w``)."""
        b, k = next_obs.shape[0], sampled.shape[0]
        rows = torch.arange(k * b, device=self.device)
        if not self.config.envelope:  # double DQN conditioned on w
            obs, w = next_obs.repeat(k, 1), sampled.repeat_interleave(b, 0)
            action = torch.einsum("nam,nm->na", self.q(obs, w), w).argmax(1)
            return self.target(obs, w)[rows, action]
        obs_k = next_obs.repeat_interleave(k, 0)  # (b k) x d: every observation with every w'
        w_k = sampled.repeat(b, 1)  # (b k) x m
        q = self.q(obs_k, w_k).view(b, k, self.n_actions, -1)
        scores = torch.einsum("blam,jm->jbla", q, sampled)  # w_j . Q(s'_i, a, w'_l)
        best_a = scores.max(3)  # over actions: k x b x k
        best_w = best_a.values.argmax(2)  # the envelope's preference for each (w_j, s'_i)
        action = best_a.indices.gather(2, best_w.unsqueeze(2)).squeeze(2)
        target = self.target(obs_k, w_k).view(b, k, self.n_actions, -1)
        obs_i = torch.arange(b, device=self.device).expand(k, b)
        return target[obs_i, best_w, action].reshape(k * b, -1)

    def _update(self) -> dict[str, float]:
        cfg = self.config
        filled = min(self.buffer_count, cfg.buffer_size)
        losses = []
        homotopy = self._linear(cfg.initial_homotopy, cfg.final_homotopy, cfg.homotopy_decay_steps)
        for _ in range(cfg.gradient_updates):
            idx = (
                torch.multinomial(
                    self.priority[:filled], cfg.batch_size, True, generator=self.generator
                )
                if cfg.per
                else torch.randint(
                    0, filled, (cfg.batch_size,), generator=self.generator, device=self.device
                )
            )
            sampled = random_weights(
                self.problem.reward_dim, cfg.num_sample_w, self.generator, self.device
            ).to(self.dtype)
            k = cfg.num_sample_w
            w = sampled.repeat_interleave(cfg.batch_size, 0)  # (k b) x m, each batch with each w
            batch = {key: value[idx].repeat(k, *([1] * (value.dim() - 1))) for key, value in
                     self.buffer.items()}  # fmt: skip
            with torch.no_grad():
                bootstrap = self._target(self.buffer["next_obs"][idx], sampled)
                y = batch["reward"] + batch["discount"].unsqueeze(1) * bootstrap
            q = self.q(batch["obs"], w)[torch.arange(w.shape[0]), batch["action"]]  # (k b) x m
            loss = (q - y).square().mean()
            if homotopy > 0:
                scalar = ((q - y) * w).sum(1).square().mean()
                loss = (1 - homotopy) * loss + homotopy * scalar
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.max_grad_norm > 0:
                nn.utils.clip_grad_norm_(self.q.parameters(), cfg.max_grad_norm)
            self.opt.step()
            self.n_updates += 1
            self._sync_target()
            if cfg.per:  # the rows of the first sampled preference, as MORL-Baselines
                first = slice(0, cfg.batch_size)
                td = (q[first] - y[first]).detach()
                priority = (
                    (td * w[first]).sum(1).abs().double() + self.max_priority
                ) ** cfg.per_alpha
                self.max_priority = max(self.max_priority, float(priority.max()))
                self.priority[idx] = priority
            losses.append(loss.detach())
        return {"critic_loss": float(torch.stack(losses).mean()), "homotopy": homotopy}

    def _sync_target(self) -> None:
        """After each update: move the target network by ``tau``, or copy it every ``target_update_every``."""
        cfg = self.config
        if cfg.tau < 1.0:
            with torch.no_grad():
                for p, t in zip(self.q.parameters(), self.target.parameters(), strict=True):
                    t.lerp_(p, cfg.tau)
        elif self.n_updates % cfg.target_update_every == 0:
            self.target.load_state_dict(self.q.state_dict())

    # -- the Optimizer contract --------------------------------------------------------------------------------

    def policy_network(self) -> nn.Module:
        return self.q

    def iterate(self) -> dict[str, float]:
        cfg = self.config
        self._selected = None  # training acts with (and evaluates) the network itself
        self._collect()
        out: dict[str, float] = {"env_steps": float(self.n_env_steps)}
        if self.n_env_steps >= cfg.learning_starts and self.buffer_count > 0:
            out.update(self._update())
        self.log_evaluation(out)
        return out

    def result(self) -> TrainerResult:
        """The evaluated front over the evaluation preferences (``labels`` index
        :func:`~polyopt_plugins.morl.protocol.equally_spaced_weights`); ``policy`` is the Q network (act with
        :meth:`greedy`); ``metrics`` the protocol's indicators."""
        policy, extras = self.select_policy()
        return self.front_result(policy, **extras)

    def get_state(self) -> dict[str, Any]:
        return {
            **self.episode_state(),
            "q": self.q.state_dict(),
            "target": self.target.state_dict(),
            "opt": self.opt.state_dict(),
            "priority": self.priority,
            "max_priority": self.max_priority,
            "n_updates": self.n_updates,
            "repeat_left": self._repeat_left,
            "repeat_action": self._repeat_action,
            **self.selection_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.q.load_state_dict(state["q"])
        self.target.load_state_dict(state["target"])
        self.opt.load_state_dict(state["opt"])
        self.load_episode_state(state)
        self.priority = state["priority"].to(self.device)
        self.max_priority = float(state["max_priority"])
        self.n_updates = int(state["n_updates"])
        self._repeat_left = state["repeat_left"].to(self.device)
        self._repeat_action = state["repeat_action"].to(self.device)
        self.load_selection_state(state)
