"""PD-MORL (Basaklar, Gumussoy and Ogras, ICLR 2023): one preference-conditioned network trained with
preference-driven updates, for discrete actions (a double DQN) and continuous actions (TD3).

``step()`` = collect -> update, on ``num_envs`` sub-environments at once:

1. each sub-environment draws its episode's preference from its own slice of an evenly spread grid (the paper
   gives each of its worker processes a slice of the preference space), acts epsilon-greedily
   (``argmax_a w . Q(s, a, w)``) or with Gaussian noise on the actor's action, and stores the transition;
2. ``gradient_updates`` updates on ``batch_size`` transitions, each relabelled with a random preference with
   probability ``her_preferences / (her_preferences + 1)`` (the paper's hindsight replay stores every
   transition once with its own preference and ``her_preferences`` times with random ones; relabelling when
   sampling draws the same mixture without the copies). The preference ``w`` of a row is mapped to the
   direction ``w_p`` its solution should have by the interpolator (:mod:`polyopt_plugins.morl.interpolation`)
   and the cosine similarity ``S_c(w_p, Q)`` drives the update:

   - discrete: the target's action is ``argmax_a' S_c(w_p, Q'(s', a', w)) * w . Q'(s', a', w)`` (clamped to
     [0, 0.9999]; the target network ``Q'`` both picks and values it, as in the authors' code), the loss the
     smooth L1 loss of the vector Q;
   - continuous: TD3 with twin vector critics (the target takes the critic with the lower ``w . Q``), the critic
     loss adds the angle ``arccos S_c(w_p, Q)`` in degrees for both critics, and the delayed actor loss is
     ``-w . Q1 + actor_angle_coef * angle``.

Directions are measured from ``value_offset`` (by default the negated hypervolume reference point, a point every
return dominates: the authors shift Deep Sea Treasure's time objective by +19 for the same reason; they multiply
the similarity by the unshifted ``w . Q``, which reverses the preference between actions when that is negative,
so here both factors use the shifted values). Key solutions come from the environment's known front when it has
one (as the authors do on Deep Sea Treasure and Fruit Tree) or from evaluating the agent at the key preferences
every ``key_update_every`` environment steps, keeping each key's best utility (their continuous setting); those
evaluation steps count as training steps. The result evaluates the greedy policy with the shared protocol.

Opt-in, off by default: ``select_best`` makes the network of the best periodic evaluation the run's policy (the
greedy front can churn late in training), ``lr_decay_steps`` anneals the learning rates. On Deep Sea Treasure
``n_step=5`` with both finds the whole front on seeds 0-4 (benchmarks/RESULTS.md).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from polyopt.errors import ConfigError
from polyopt.result import TrainerResult
from polyopt.spaces import Box, Integer, Space
from polyopt_plugins.morl.agent import EvaluationConfig, PreferenceAgent
from polyopt_plugins.morl.interpolation import PreferenceInterpolator, key_preferences
from polyopt_plugins.morl.pd_networks import (
    PreferenceActor,
    TwinVectorCritic,
    angle_degrees,
    mlp,
    soft_update,
)
from polyopt_plugins.morl.protocol import (
    equally_spaced_weights,
    evaluate_preferences,
    random_weights,
)

__all__ = ["PDMORL", "PDMORLConfig"]


@dataclass
class PDMORLConfig(EvaluationConfig):
    """Options of :class:`PDMORL` (defaults: the authors' Deep Sea Treasure settings unless said)."""

    learning_rate: float = 3e-4
    """Adam's learning rate of the Q network or the critics."""
    actor_learning_rate: float = 3e-4
    """Adam's learning rate of the actor (continuous actions)."""
    lr_decay_steps: int = 0
    """Environment steps, from ``learning_starts`` on, over which both learning rates fall linearly to
    ``lr_final_fraction`` of their values and then stay (0 = constant rates)."""
    lr_final_fraction: float = 0.1
    """The fraction of the learning rates left after ``lr_decay_steps``."""
    hidden_sizes: list[int] = field(default_factory=lambda: [256, 256, 256, 256])
    """Hidden widths (the authors' DST network: an input layer and three hidden layers of 256)."""
    batch_size: int = 32
    """Transitions per update."""
    gradient_updates: int = 1
    """Updates per step (a step moves every sub-environment once)."""
    buffer_size: int = 100_000
    """Replay capacity in transitions."""
    learning_starts: int = 64
    """Environment steps of uniformly random actions before the first update."""
    gamma: float = 0.99
    """Discount."""
    n_step: int = 1
    """Steps of the stored returns: a transition's target is ``sum_k gamma^k r_k + gamma^n Q(s_n, ...)`` over
    the next ``n`` steps of its episode (fewer at the episode's end), uncorrected for the exploratory actions
    among them (as Rainbow's n-step DQN)."""
    tau: float = 0.005
    """Polyak rate of the target networks."""
    her_preferences: int = 3
    """Random preferences per stored transition in the paper's hindsight replay (``weight_num``)."""
    train_weights: int = 101
    """Size of the evenly spread preference grid the sub-environments draw from (step 0.01 for two objectives,
    as the authors)."""
    initial_epsilon: float = 0.8
    """Exploration rate of discrete actions when learning starts."""
    final_epsilon: float = 0.05
    """Exploration rate after the decay."""
    epsilon_decay_steps: int = 75_000
    """Environment steps of the linear decay (the authors: 0.8 -> 0.05 over 75,000 steps of each worker)."""
    exploration_noise: float = 0.1
    """Continuous actions: Gaussian exploration noise, as a fraction of half the action range."""
    policy_noise: float = 0.2
    """Continuous actions: target policy smoothing noise (fraction of half the range)."""
    noise_clip: float = 0.5
    """Continuous actions: clip of the smoothing noise (fraction of half the range)."""
    policy_delay: int = 10
    """Continuous actions: critic updates per actor and target update (the authors' MuJoCo setting)."""
    actor_angle_coef: float = 10.0
    """Continuous actions: weight of the angle term (degrees) in the actor loss; the authors' value, set
    against MuJoCo returns in the hundreds: with returns near 1 the angle drowns the TD error (0.1 works)."""
    critic_angle_coef: float = 1.0
    """Continuous actions: weight of the angle term (degrees) in the critic loss (the authors' value; 0.01
    with returns near 1, where at 1 the critic's values point along ``w_p`` whatever the action)."""
    max_grad_norm: float = 100.0
    """Gradient-norm clip of every network (the authors' TD3 value; 0 = off)."""
    key_solutions: str = "auto"
    """``front``: the known front solves the keys; ``online``: evaluations of the agent do (each key keeps its
    best utility; a key evaluated early pulls its neighbours' updates toward that first solution, which is why
    the authors precompute MuJoCo keys with single-preference agents: pass those as ``key_values``);
    ``auto``: ``key_values`` when given, else the front when the environment has one, else online (which
    starts from ``key_values`` when given)."""
    key_values: list[list[float]] | None = None
    """Known solutions of the ``m + 1`` key preferences (the corners, then the centre), discounted returns."""
    key_update_every: int = 5_000
    """``online``: environment steps between evaluations of the key preferences."""
    key_episodes: int = 1
    """``online``: episodes per key preference and evaluation."""
    value_offset: list[float] | None = None
    """Origin of the directions in value space; None negates the reference point."""
    select_best: bool = False
    """Keep a copy of the network (Q or actor) at the ``eval_every`` evaluation with the highest hypervolume
    (ties: the later); :meth:`PDMORL.result` evaluates the final network too and makes the copy the run's
    policy when its hypervolume is higher (``greedy`` then acts with it until training resumes; the result's
    ``extras["selected_step"]`` says which step's network it is). The policy is selected on training-time
    evaluations by the protocol's metric: say so when quoting its numbers. Needs ``eval_every`` > 0."""


class PDMORL(PreferenceAgent):
    """PD-MORL on a batched Environment with vector rewards and one discrete action dimension (double DQN) or
    a Box of continuous actions (TD3)."""

    Config = PDMORLConfig

    @classmethod
    def action_reason(cls, space: Space) -> str | None:
        discrete = isinstance(space, Integer) and space.dim == 1
        if not (discrete or isinstance(space, Box)):
            return f"it handles one discrete action dimension or a Box of continuous actions, got {space!r}"
        return None

    def setup(self) -> None:
        cfg, env = self.config, self.problem
        self.check_counts(
            "batch_size", "gradient_updates", "buffer_size", "train_weights", "eval_weights"
        )
        if cfg.lr_decay_steps < 0 or not 0 <= cfg.lr_final_fraction <= 1:
            raise ConfigError(
                f"lr_decay_steps={cfg.lr_decay_steps}, lr_final_fraction={cfg.lr_final_fraction}; "
                "expected an integer >= 0 and a fraction in [0, 1]"
            )
        if cfg.key_solutions not in ("auto", "front", "online"):
            raise ConfigError(
                f"key_solutions={cfg.key_solutions!r}; expected 'auto', 'front' or 'online'"
            )
        n, m = env.num_envs, env.reward_dim
        for name in ("ref_point", "value_offset"):
            value = getattr(cfg, name)
            if value is not None and len(value) != m:
                raise ConfigError(f"{name}={value}; expected {m} values")
        self.ref = self.ref_point()
        offset = cfg.value_offset if cfg.value_offset is not None else [-r for r in self.ref]
        self.offset = torch.tensor(offset, **self.like)
        self.discrete = isinstance(env.action_space, Integer)
        low, high = env.action_space.bounds.to(**self.like)
        self.action_low = low
        self.action_high = high
        self.action_radius = (high - low) / 2
        self.action_dim = 1 if self.discrete else low.numel()
        self.n_actions = int(high[0] - low[0]) + 1 if self.discrete else 0
        obs_dim = env.observation_space.dim
        hidden = list(cfg.hidden_sizes)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # initial weights follow the run seed
            if self.discrete:
                self.q: nn.Module = mlp([obs_dim + m, *hidden, self.n_actions * m])
                self.actor: PreferenceActor | None = None
            else:
                self.q = TwinVectorCritic(obs_dim + m + self.action_dim, hidden, m)
                self.actor = PreferenceActor(obs_dim + m, hidden, low.cpu(), high.cpu())
        self.q = self.q.to(**self.like)
        self.q_target = copy.deepcopy(self.q).requires_grad_(False)
        self.q_opt = torch.optim.Adam(self.q.parameters(), lr=cfg.learning_rate, fused=True)
        if self.actor is not None:
            self.actor = self.actor.to(**self.like)
            self.actor_target = copy.deepcopy(self.actor).requires_grad_(False)
            self.actor_opt = torch.optim.Adam(
                self.actor.parameters(), lr=cfg.actor_learning_rate, fused=True
            )
        size = cfg.buffer_size
        action_dtype = torch.long if self.discrete else self.dtype
        self.buffer = {
            "obs": torch.zeros(size, obs_dim, **self.like),
            "action": torch.zeros(size, self.action_dim, dtype=action_dtype, device=self.device),
            "reward": torch.zeros(size, m, **self.like),
            "next_obs": torch.zeros(size, obs_dim, **self.like),
            "discount": torch.zeros(size, **self.like),
            "w": torch.zeros(size, m, **self.like),
        }
        self.buffer_count = 0
        self.n_updates = 0
        # each sub-environment's slice [start, start + size) of the preference grid
        self.grid = equally_spaced_weights(m, cfg.train_weights).to(**self.like)
        k = self.grid.shape[0]
        starts = torch.arange(n) * k // n
        ends = torch.maximum(torch.arange(1, n + 1) * k // n, starts + 1)
        self._slice_start = (starts % k).to(self.device)
        self._slice_size = (ends - starts).clamp_max(k).to(self.device)
        self._setup_keys()
        self._last_key_update = 0
        self.init_selection()
        self.start_episodes(self._draw_preferences())

    def _setup_keys(self) -> None:
        cfg, env = self.config, self.problem
        m = env.reward_dim
        self.keys = key_preferences(m)
        known: Tensor | None = None
        if cfg.key_values is not None:
            known = torch.tensor(cfg.key_values, dtype=torch.float64)
            if known.shape != (m + 1, m):
                raise ConfigError(
                    f"key_values={cfg.key_values}; expected {m + 1} rows (the corners, then the centre) "
                    f"of {m} values"
                )
        elif cfg.key_solutions != "online":
            front = env.pareto_front(cfg.gamma)
            if front is not None:  # each key's best point of the front
                values = front.to(torch.float64).cpu()
                known = values[(self.keys @ values.T).argmax(1)]
        if cfg.key_solutions == "front" and known is None:
            raise ConfigError(
                f"key_solutions='front' but {env.name!r} has no known Pareto front and no key_values "
                "were given"
            )
        self.keys_online = cfg.key_solutions == "online" or known is None
        # until evaluated, a key's solution points along the key itself
        self.key_values = torch.full_like(self.keys, float("nan")) if known is None else known
        solutions = torch.where(
            self.key_values.isnan(), self.keys, self.key_values + self.offset.double().cpu()
        )
        self.interp = PreferenceInterpolator(self.keys, solutions)

    def _draw_preferences(self) -> Tensor:
        u = torch.rand(self.problem.num_envs, generator=self.generator, device=self.device)
        index = self._slice_start + (u * self._slice_size).long().clamp_max(self._slice_size - 1)
        return self.grid[index]

    # -- acting ------------------------------------------------------------------------------------------------

    def _q_values(self, net: nn.Module, obs: Tensor, w: Tensor) -> Tensor:
        """``n x actions x m`` (discrete)."""
        return net(torch.cat([obs, w], 1)).view(-1, self.n_actions, self.problem.reward_dim)

    @torch.no_grad()
    def greedy(self, obs: Tensor, w: Tensor) -> Tensor:
        """The policy's actions (in the action space's values) for ``n x d`` observations and ``n x m``
        preferences: ``argmax_a w . Q(s, a, w)``, or the actor's action (``n x k``)."""
        obs = obs.to(device=self.device, dtype=self.dtype)
        w = w.to(device=self.device, dtype=self.dtype)
        net = self.acting_network()
        if self.actor is None:
            scores = torch.einsum("nam,nm->na", self._q_values(net, obs, w), w)
            return scores.argmax(1) + self.action_low.long()
        return net(obs, w)

    def policy_network(self) -> nn.Module:
        """The network the policy acts with: the Q network or the actor."""
        return self.q if self.actor is None else self.actor

    @torch.no_grad()
    def _explore(self) -> tuple[Tensor, Tensor]:
        """Actions to send (env values) and to store (discrete: indices ``n x 1``)."""
        cfg, n = self.config, self.problem.num_envs
        warmup = self.n_env_steps < cfg.learning_starts
        if self.actor is None:
            random_action = torch.randint(
                0, self.n_actions, (n,), generator=self.generator, device=self.device
            )
            u = torch.rand(n, generator=self.generator, device=self.device)
            done = max(0, self.n_env_steps - cfg.learning_starts) / max(1, cfg.epsilon_decay_steps)
            eps = cfg.initial_epsilon + (cfg.final_epsilon - cfg.initial_epsilon) * min(1.0, done)
            eps = 1.0 if warmup else eps
            greedy = self.greedy(self._obs, self._w) - self.action_low.long()
            index = torch.where(u < eps, random_action, greedy)
            return index + self.action_low.long(), index.unsqueeze(1)
        low, high = self.action_low, self.action_high
        if warmup:
            u = torch.rand(n, self.action_dim, generator=self.generator, **self.like)
            action = low + u * (high - low)
        else:
            noise = torch.randn(n, self.action_dim, generator=self.generator, **self.like)
            action = (
                self.greedy(self._obs, self._w) + cfg.exploration_noise * self.action_radius * noise
            )
            action = torch.maximum(torch.minimum(action, high), low)
        return action, action

    @torch.no_grad()
    def _collect(self) -> None:
        env = self.problem
        n, m = env.num_envs, env.reward_dim
        sent, stored = self._explore()
        step = env.step(sent.to(env.device))
        self.n_env_steps += n
        next_obs = self._observe(step.obs)
        rows = {
            "obs": self._obs,
            "action": stored,
            "reward": step.reward.to(**self.like).reshape(n, m),
            "next_obs": next_obs,
            "terminated": step.terminated.to(**self.like),
            "w": self._w,
        }
        self.store(rows, step.done)
        self.advance(step, next_obs, self._draw_preferences())

    # -- update ------------------------------------------------------------------------------------------------

    def _sample(self) -> dict[str, Tensor]:
        cfg, m = self.config, self.problem.reward_dim
        filled = min(self.buffer_count, cfg.buffer_size)
        idx = torch.randint(
            0, filled, (cfg.batch_size,), generator=self.generator, device=self.device
        )
        batch = {key: value[idx] for key, value in self.buffer.items()}
        relabel = torch.rand(cfg.batch_size, generator=self.generator, device=self.device)
        fresh = random_weights(m, cfg.batch_size, self.generator, self.device).to(self.dtype)
        keep_own = relabel < 1.0 / (cfg.her_preferences + 1)
        batch["w"] = torch.where(keep_own.unsqueeze(1), batch["w"], fresh)
        batch["w_p"] = self.interp(batch["w"])
        return batch

    def _update_discrete(self, b: dict[str, Tensor]) -> dict[str, float]:
        cfg = self.config
        rows = torch.arange(cfg.batch_size, device=self.device)
        with torch.no_grad():
            q_next = self._q_values(self.q_target, b["next_obs"], b["w"])  # b x actions x m
            shifted = q_next + self.offset
            similarity = F.cosine_similarity(b["w_p"].unsqueeze(1), shifted, dim=2).clamp(0, 0.9999)
            score = similarity * torch.einsum("bam,bm->ba", shifted, b["w"])
            bootstrap = q_next[rows, score.argmax(1)]
            y = b["reward"] + b["discount"].unsqueeze(1) * bootstrap
        q = self._q_values(self.q, b["obs"], b["w"])[rows, b["action"].squeeze(1)]
        loss = F.smooth_l1_loss(q, y)
        self._descend(self.q_opt, self.q, loss)
        soft_update(self.q, self.q_target, cfg.tau)
        return {"critic_loss": float(loss.detach())}

    def _update_continuous(self, b: dict[str, Tensor]) -> dict[str, float]:
        cfg = self.config
        critic, actor = self.q, self.actor
        assert isinstance(critic, TwinVectorCritic) and actor is not None
        low, high = self.action_low, self.action_high
        with torch.no_grad():
            noise = torch.randn(b["action"].shape, generator=self.generator, **self.like)
            noise = (noise * cfg.policy_noise).clamp(-cfg.noise_clip, cfg.noise_clip)
            next_action = self.actor_target(b["next_obs"], b["w"]) + noise * self.action_radius
            next_action = torch.maximum(torch.minimum(next_action, high), low)
            t1, t2 = self.q_target(b["next_obs"], b["w"], next_action)
            lower = ((t1 * b["w"]).sum(1) <= (t2 * b["w"]).sum(1)).unsqueeze(1)
            y = b["reward"] + b["discount"].unsqueeze(1) * torch.where(lower, t1, t2)
        q1, q2 = critic(b["obs"], b["w"], b["action"])
        angle = angle_degrees(b["w_p"], q1 + self.offset) + angle_degrees(
            b["w_p"], q2 + self.offset
        )
        critic_loss = F.smooth_l1_loss(q1, y) + F.smooth_l1_loss(q2, y)
        critic_loss = critic_loss + cfg.critic_angle_coef * angle.mean()
        self._descend(self.q_opt, critic, critic_loss)
        out = {"critic_loss": float(critic_loss.detach())}
        if self.n_updates % cfg.policy_delay == 0:
            q_pi = critic.q1(torch.cat([b["obs"], b["w"], actor(b["obs"], b["w"])], 1))
            actor_angle = angle_degrees(b["w_p"], q_pi + self.offset)
            actor_loss = -(q_pi * b["w"]).sum(1).mean() + cfg.actor_angle_coef * actor_angle.mean()
            self._descend(self.actor_opt, actor, actor_loss)
            soft_update(critic, self.q_target, cfg.tau)
            soft_update(actor, self.actor_target, cfg.tau)
            out["actor_loss"] = float(actor_loss.detach())
        return out

    def _descend(self, opt: torch.optim.Optimizer, net: nn.Module, loss: Tensor) -> None:
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if self.config.max_grad_norm > 0:
            nn.utils.clip_grad_norm_(net.parameters(), self.config.max_grad_norm)
        opt.step()

    # -- key solutions -----------------------------------------------------------------------------------------

    def _update_keys(self) -> None:
        """``online``: evaluate the key preferences; keep each key's best utility; refit the interpolator."""
        cfg = self.config
        ev = evaluate_preferences(
            self.greedy, self.problem, self.keys, episodes=cfg.key_episodes, gamma=cfg.gamma,
            seed=self.seed + 7_919 + self.n_steps, max_steps=cfg.eval_max_steps,
        )  # fmt: skip
        self.n_env_steps += int(ev["env_steps"])
        new = ev["discounted"]
        old_utility = (self.keys * self.key_values).sum(1).nan_to_num(nan=-float("inf"))
        better = (self.keys * new).sum(1) > old_utility
        self.key_values = torch.where(better.unsqueeze(1), new, self.key_values)
        solutions = torch.where(
            self.key_values.isnan(), self.keys, self.key_values + self.offset.double().cpu()
        )
        self.interp = PreferenceInterpolator(self.keys, solutions)

    # -- the Optimizer contract --------------------------------------------------------------------------------

    def _anneal_learning_rates(self) -> None:
        cfg = self.config
        done = min(1.0, (self.n_env_steps - cfg.learning_starts) / cfg.lr_decay_steps)
        scale = 1.0 - (1.0 - cfg.lr_final_fraction) * done
        opts = [(self.q_opt, cfg.learning_rate)]
        if self.actor is not None:
            opts.append((self.actor_opt, cfg.actor_learning_rate))
        for opt, lr in opts:
            for group in opt.param_groups:
                group["lr"] = lr * scale

    def iterate(self) -> dict[str, float]:
        cfg = self.config
        self._selected = None  # training acts with (and evaluates) the network itself
        self._collect()
        out: dict[str, float] = {"env_steps": float(self.n_env_steps)}
        if self.n_env_steps >= cfg.learning_starts and self.buffer_count > 0:
            if cfg.lr_decay_steps:
                self._anneal_learning_rates()
            logs = []
            for _ in range(cfg.gradient_updates):
                batch = self._sample()
                update = self._update_discrete if self.actor is None else self._update_continuous
                logs.append(update(batch))
                self.n_updates += 1
            out.update({k: sum(d[k] for d in logs if k in d) / len(logs) for k in logs[-1]})
        due = self.n_env_steps - self._last_key_update >= cfg.key_update_every
        if self.keys_online and self.n_env_steps >= cfg.learning_starts and due:
            self._last_key_update = self.n_env_steps
            self._update_keys()
        self.log_evaluation(out)
        return out

    def result(self) -> TrainerResult:
        """The evaluated front over the evaluation preferences (``labels`` index them); ``policy`` is the Q
        network or the actor (act with :meth:`greedy`)."""
        policy, extras = self.select_policy()
        return self.front_result(policy, key_values=self.key_values.clone(), **extras)

    def _modules(self) -> dict[str, Any]:
        parts: dict[str, Any] = {"q": self.q, "q_target": self.q_target, "q_opt": self.q_opt}
        if self.actor is not None:
            parts.update(actor=self.actor, actor_target=self.actor_target, actor_opt=self.actor_opt)
        return parts

    def get_state(self) -> dict[str, Any]:
        return {
            **self.episode_state(),
            **{name: part.state_dict() for name, part in self._modules().items()},
            "n_updates": self.n_updates,
            "key_values": self.key_values,
            "last_key_update": self._last_key_update,
            **self.selection_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        for name, part in self._modules().items():
            part.load_state_dict(state[name])
        self.load_episode_state(state)
        self.n_updates = int(state["n_updates"])
        self.key_values = state["key_values"].to(torch.float64)
        solutions = torch.where(
            self.key_values.isnan(), self.keys, self.key_values + self.offset.double().cpu()
        )
        self.interp = PreferenceInterpolator(self.keys, solutions)
        self._last_key_update = int(state["last_key_update"])
        self.load_selection_state(state)
