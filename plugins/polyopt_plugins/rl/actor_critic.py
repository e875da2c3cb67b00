"""Actor-critic training on any :class:`~polyopt.Environment`: PPO (Schulman et al. 2017), and A2C as its special
case (one epoch over one minibatch: every ratio is 1 and the clipped loss is the plain policy gradient).

``step()`` = collect -> update:

1. collect ``rollout_steps`` steps of every sub-environment with the current stochastic policy (time-major
   buffers ``T x num_envs``), recording each finished episode's return vector and length;
2. advantages by GAE (:func:`polyopt.policy_gradient.generalized_advantage`, the code the language-model
   trainer's ``gae`` runs) for each reward component with a vector critic, scalarized by ``preference`` (with
   one reward the plain return; with several this is MO-PPO, the base of MORL/D and C-MORL);
3. ``update_epochs`` passes over the batch in ``num_minibatches`` shuffled minibatches: the registered
   ``policy_loss`` (default ``ppo-clip``, the llm family's component) minus an entropy bonus plus a (clipped)
   value loss, gradients clipped by norm, learning rate annealed linearly over the run's environment steps.

Next-step auto-reset (see :mod:`polyopt.environment`) puts each episode's final observation in the next slot,
so a truncated episode is bootstrapped from ``V(final state)``; the reset step that follows (action ignored) is
left out of the loss. ``n_env_steps`` counts every sub-environment step taken in training (reset steps too);
evaluation steps are counted apart in ``n_eval_env_steps``.

The result evaluates the policy on a copy of the environment: ``eval_episodes`` episodes with the most likely
actions, reporting the mean undiscounted return vector (``returns``), per-episode returns (discounted too) and the
training episode log in ``extras``.
"""

from __future__ import annotations

import copy
import math
from typing import Any

import torch
from torch import Tensor

import polyopt
from polyopt.components import LossParams
from polyopt.environment import Environment
from polyopt.errors import ConfigError
from polyopt.optimizer import Trainer
from polyopt.policy_gradient import clipped_value_loss, generalized_advantage
from polyopt.result import TrainerResult
from polyopt.spaces import Box, Integer
from polyopt_plugins.rl.config import A2CConfig, ActorCriticConfig
from polyopt_plugins.rl.evaluation import evaluate_policy
from polyopt_plugins.rl.networks import ActorCritic

__all__ = ["A2C", "A2CConfig", "ActorCriticConfig", "PPO"]


class PPO(Trainer):
    """Proximal policy optimization on a batched Environment with discrete or continuous actions."""

    Config = ActorCriticConfig

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super().compatibility(problem)
        if reason:
            return reason
        if not isinstance(problem.action_space, (Integer, Box)):
            return f"it needs an Integer or Box action space, got {type(problem.action_space).__name__}"
        if not isinstance(problem.observation_space, Box):  # Integer is a Box too
            return f"it needs a Box or Integer observation space, got {problem.observation_space!r}"
        return None

    def setup(self) -> None:
        cfg = self.config
        #: The environment trained on: the problem itself (a population trainer spawns a larger copy).
        self.env = env = self._training_env()
        self._check_config()
        self.loss_fn = polyopt.registry().get("policy_loss", cfg.policy_loss)
        self.reward_dim = int(env.reward_dim)
        self.preference = self._preference()
        self.obs_dim = env.observation_space.dim
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # initial weights follow the run seed
            net = self._make_net()
        self.net = net.to(device=self.device, dtype=self.dtype)
        params = list(self.net.parameters())
        if cfg.optimizer == "adam":
            self.opt: torch.optim.Optimizer = torch.optim.Adam(
                params, lr=cfg.learning_rate, eps=cfg.optimizer_eps
            )
        else:
            self.opt = torch.optim.RMSprop(
                params, lr=cfg.learning_rate, alpha=0.99, eps=cfg.optimizer_eps
            )
        try:
            self.eval_env = copy.deepcopy(self.problem) if cfg.eval_episodes else None
        except Exception as exc:  # an environment in other processes, say
            raise ConfigError(
                f"the environment {env.name or type(env).__name__!r} cannot be copied for evaluation "
                f"({type(exc).__name__}: {exc}); set eval_episodes=0"
            ) from exc
        n = env.num_envs
        self.n_eval_env_steps = 0
        self.episodes = torch.zeros(0, 2 + self.reward_dim, dtype=torch.float64)
        self.history = torch.zeros(0, self.reward_dim, dtype=torch.float64)
        self._obs = self._observe(env.reset(seed=self.seed))
        self._prev_done = torch.zeros(n, dtype=torch.bool, device=self.device)
        self._ep_return = torch.zeros(n, self.reward_dim, **self.like)
        self._ep_length = torch.zeros(n, dtype=torch.long, device=self.device)
        self._eval_cache: tuple[int, Any] | None = None

    def _training_env(self) -> Environment:
        return self.problem

    def _make_net(self) -> ActorCritic:
        cfg = self.config
        space = self.problem.action_space
        return ActorCritic(self.obs_dim, space, self.reward_dim, cfg.hidden_sizes, cfg.activation)

    def _check_config(self) -> None:
        cfg = self.config
        positive = ("rollout_steps", "num_minibatches", "update_epochs", "eval_max_steps")
        for name in positive:
            if getattr(cfg, name) < 1:
                raise ConfigError(f"{name}={getattr(cfg, name)}; expected an integer >= 1")
        for name in ("eval_episodes", "episode_log", "anneal_env_steps"):
            if getattr(cfg, name) < 0:
                raise ConfigError(f"{name}={getattr(cfg, name)}; expected an integer >= 0")
        if cfg.optimizer not in ("adam", "rmsprop"):
            raise ConfigError(f"optimizer={cfg.optimizer!r}; expected 'adam' or 'rmsprop'")
        if not (0.0 <= cfg.gamma <= 1.0 and 0.0 <= cfg.lam <= 1.0):
            raise ConfigError(f"gamma={cfg.gamma}, lam={cfg.lam}; expected values in [0, 1]")
        batch = cfg.rollout_steps * self.env.num_envs
        if cfg.num_minibatches > batch:
            raise ConfigError(
                f"num_minibatches={cfg.num_minibatches} exceeds the batch of {batch} steps "
                f"(rollout_steps x num_envs)"
            )

    def _preference(self) -> Tensor:
        pref = self.config.preference
        m = self.reward_dim
        if pref is None:
            return torch.full((m,), 1.0 / m, **self.like)
        if len(pref) != m:
            raise ConfigError(f"preference={pref}; expected {m} weights, one per reward component")
        return torch.tensor(pref, **self.like)

    def _observe(self, obs: Tensor) -> Tensor:
        """``num_envs x obs_dim`` observations on the trainer's device and dtype."""
        return obs.to(device=self.device, dtype=self.dtype).reshape(self.env.num_envs, -1)

    # -- collect -----------------------------------------------------------------------------------------------

    @torch.no_grad()
    def _collect(self) -> dict[str, Tensor]:
        steps, n, m = self.config.rollout_steps, self.env.num_envs, self.reward_dim
        like = self.like
        buf = {
            "obs": torch.empty(steps, n, self.obs_dim, **like),
            "action": torch.empty(steps, n, len(self.net.sizes), **like),
            "logp": torch.empty(steps, n, **like),
            "values": torch.empty(steps + 1, n, m, **like),
            "rewards": torch.empty(steps, n, m, **like),
            "terminated": torch.empty(steps, n, dtype=torch.bool, device=self.device),
            "done": torch.empty(steps, n, dtype=torch.bool, device=self.device),
            "valid": torch.empty(steps, n, dtype=torch.bool, device=self.device),
            "end_return": torch.empty(steps, n, m, **like),
            "end_length": torch.empty(steps, n, dtype=torch.long, device=self.device),
        }
        obs = self._obs
        for t in range(steps):
            buf["obs"][t] = obs
            action, logp = self.net.sample(obs, self.generator)
            buf["action"][t] = action
            buf["logp"][t] = logp
            buf["values"][t] = self.net.value(obs)
            step = self.env.step(self.net.to_env(action).to(self.env.device))
            self.n_env_steps += n
            reward = step.reward.to(**like).reshape(n, m)
            done = step.done.to(self.device)
            valid = ~self._prev_done  # False on the reset step after an episode ended
            buf["rewards"][t] = reward
            buf["terminated"][t] = step.terminated.to(self.device)
            buf["done"][t] = done
            buf["valid"][t] = valid
            self._ep_return += reward
            self._ep_length += valid.long()
            buf["end_return"][t] = self._ep_return
            buf["end_length"][t] = self._ep_length
            self._ep_return = torch.where(done.unsqueeze(1), 0.0, self._ep_return)
            self._ep_length = torch.where(done, 0, self._ep_length)
            self._prev_done = done
            obs = self._observe(step.obs)
        buf["values"][steps] = self.net.value(obs)
        self._obs = obs
        return buf

    def _log_episodes(self, buf: dict[str, Tensor], steps_before: int) -> int:
        """Append the episodes that ended in this rollout to :attr:`episodes`; return how many."""
        done = buf["done"]
        n = done.shape[1]
        t_idx = torch.arange(done.shape[0], device=self.device).unsqueeze(1).expand_as(done)
        at_step = steps_before + (t_idx[done] + 1) * n  # training env steps when each ended
        rows = torch.cat(
            [
                at_step.unsqueeze(1).double(),
                buf["end_length"][done].unsqueeze(1).double(),
                buf["end_return"][done].double(),
            ],
            dim=1,
        ).cpu()
        self.episodes = torch.cat([self.episodes, rows])[-self.config.episode_log :]
        return rows.shape[0]

    # -- update ------------------------------------------------------------------------------------------------

    def _learning_rate(self) -> float:
        cfg = self.config
        horizon = cfg.anneal_env_steps or self.env_step_limit or 0
        if not cfg.anneal_lr or horizon <= 0:
            return cfg.learning_rate
        return cfg.learning_rate * max(0.0, 1.0 - self.n_env_steps / horizon)

    def _update(self, buf: dict[str, Tensor]) -> dict[str, Tensor]:
        cfg = self.config
        adv_vec = generalized_advantage(
            buf["rewards"],
            buf["values"],
            cfg.gamma,
            cfg.lam,
            terminated=buf["terminated"],
            dones=buf["done"],
        )  # T x n x m
        targets = adv_vec + buf["values"][:-1]
        keep = buf["valid"].flatten().nonzero().squeeze(1)  # the reset steps carry no transition
        batch = {
            "obs": buf["obs"].flatten(0, 1)[keep],
            "action": buf["action"].flatten(0, 1)[keep],
            "logp": buf["logp"].flatten(0, 1)[keep],
            "values": buf["values"][:-1].flatten(0, 1)[keep],
            "targets": targets.flatten(0, 1)[keep],
            "adv": (adv_vec @ self.preference).flatten(0, 1)[keep],
        }
        size = keep.shape[0]
        per = math.ceil(size / cfg.num_minibatches)
        params = LossParams(
            cfg.clip_low, cfg.clip_high, cfg.dual_clip, options=dict(cfg.policy_loss_options or {})
        )
        totals: dict[str, Tensor] = {}
        count = 0
        for _ in range(cfg.update_epochs):
            order = torch.randperm(size, generator=self.generator, device=self.device)
            for rows in order.split(per):
                part = {k: v[rows] for k, v in batch.items()}
                stats = self._minibatch_step(part, params)
                for key, value in stats.items():
                    totals[key] = totals.get(key, 0.0) + value
                count += 1
        return {k: v / max(count, 1) for k, v in totals.items()}

    def _minibatch_step(self, mb: dict[str, Tensor], params: LossParams) -> dict[str, Tensor]:
        cfg = self.config
        logp, entropy = self.net.evaluate(mb["obs"], mb["action"])
        adv = mb["adv"]
        if cfg.normalize_advantages and adv.shape[0] > 1:
            adv = (adv - adv.mean()) / (adv.std() + 1e-8)
        ones = torch.ones_like(adv)
        policy_loss = self.loss_fn(logp, mb["logp"], adv, ones, params).mean()
        values = self.net.value(mb["obs"])
        value_loss = clipped_value_loss(values, mb["values"], mb["targets"], cfg.value_clip).mean()
        loss = policy_loss - cfg.ent_coef * entropy.mean() + cfg.vf_coef * value_loss
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), cfg.max_grad_norm)
        self.opt.step()
        with torch.no_grad():
            log_ratio = logp - mb["logp"]
            return {
                "policy_loss": policy_loss.detach(),
                "value_loss": value_loss.detach(),
                "entropy": entropy.mean().detach(),
                "approx_kl": ((log_ratio.exp() - 1) - log_ratio).mean(),
                "clip_fraction": ((log_ratio.exp() - 1).abs() > cfg.clip_low).float().mean(),
            }

    # -- the Optimizer contract --------------------------------------------------------------------------------

    def iterate(self) -> dict[str, float]:
        steps_before = self.n_env_steps
        lr = self._learning_rate()
        for group in self.opt.param_groups:
            group["lr"] = lr
        buf = self._collect()
        ended = self._log_episodes(buf, steps_before)
        stats = self._update(buf)
        recent = self.episodes[-ended:, 2:] if ended else None
        row = recent.mean(0) if recent is not None else torch.full((self.reward_dim,), math.nan)
        self.history = torch.cat([self.history, row.view(1, -1)])
        out = {k: float(v) for k, v in stats.items()}  # the one host sync of the step
        out.update(learning_rate=lr, episodes=float(ended), env_steps=float(self.n_env_steps))
        if recent is not None:
            out["episode_return"] = float(row @ self.preference.double().cpu())
            out["episode_length"] = float(self.episodes[-ended:, 1].mean())
            if self.reward_dim > 1:
                out.update({f"episode_return/r{j}": float(v) for j, v in enumerate(row)})
        return out

    def evaluation(self) -> dict[str, Tensor]:
        """Evaluate the current policy (cached per step): per-episode ``returns`` and ``discounted`` returns
        (``k x m``) and ``lengths`` (``k``)."""
        if self._eval_cache is not None and self._eval_cache[0] == self.n_steps:
            return self._eval_cache[1]
        assert self.eval_env is not None
        cfg = self.config
        out = evaluate_policy(
            self.net,
            self.eval_env,
            episodes=cfg.eval_episodes,
            gamma=cfg.gamma,
            seed=self.seed,
            deterministic=cfg.eval_deterministic,
            max_steps=cfg.eval_max_steps,
            observe=self._observe,
        )
        self.n_eval_env_steps += int(out["env_steps"])
        self._eval_cache = (self.n_steps, out)
        return out

    def result(self) -> TrainerResult:
        """The evaluated mean return vector of the current policy (``1 x m``, undiscounted), labelled with
        the step; ``extras`` hold the per-episode evaluation and the training episode log."""
        m = self.reward_dim
        names = list(getattr(self.problem, "reward_names", [])) or [f"r{j}" for j in range(m)]
        extras: dict[str, Any] = {"episodes": self.episodes.clone()}
        metrics: dict[str, float] = {}
        if self.config.eval_episodes:
            ev = self.evaluation()
            returns = ev["returns"].mean(0, keepdim=True)
            extras.update(
                eval_returns=ev["returns"],
                eval_discounted=ev["discounted"],
                eval_lengths=ev["lengths"],
            )
            scalar = ev["returns"] @ self.preference.cpu().to(ev["returns"].dtype)
            metrics.update(
                eval_return=float(scalar.mean()),
                eval_return_std=float(scalar.std()) if scalar.numel() > 1 else 0.0,
                eval_length=float(ev["lengths"].float().mean()),
            )
        else:
            recent = self.episodes[-10:, 2:]
            returns = recent.mean(0, keepdim=True) if recent.shape[0] else torch.zeros(1, m)
        extras["n_eval_env_steps"] = self.n_eval_env_steps
        metrics["n_eval_env_steps"] = float(self.n_eval_env_steps)
        metrics["train_episodes"] = float(self.episodes.shape[0])
        return self.make_result(
            self.net,
            returns.to(self.dtype),
            labels=torch.tensor([self.n_steps]),
            reward_names=names,
            history=self.history.clone(),
            metrics=metrics,
            extras=extras,
        )

    def get_state(self) -> dict[str, Any]:
        return {
            "net": self.net.state_dict(),
            "opt": self.opt.state_dict(),
            "env": self.env.state_dict(),
            "obs": self._obs,
            "prev_done": self._prev_done,
            "ep_return": self._ep_return,
            "ep_length": self._ep_length,
            "episodes": self.episodes,
            "history": self.history,
            "n_eval_env_steps": self.n_eval_env_steps,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.opt.load_state_dict(state["opt"])
        if state["env"] is not None:
            self.env.load_state_dict(state["env"])
            self._obs = state["obs"].to(self.device)
            self._prev_done = state["prev_done"].to(self.device)
            self._ep_return = state["ep_return"].to(self.device)
            self._ep_length = state["ep_length"].to(self.device)
        else:  # the environment cannot be saved: start new episodes, seeded by the step
            self._obs = self._observe(self.env.reset(seed=self.seed + self.n_steps))
        self.episodes = state["episodes"]
        self.history = state["history"]
        self.n_eval_env_steps = int(state["n_eval_env_steps"])
        self._eval_cache = None


class A2C(PPO):
    """Advantage actor-critic (Mnih et al. 2016, synchronous): :class:`PPO` with :class:`A2CConfig`."""

    Config = A2CConfig
