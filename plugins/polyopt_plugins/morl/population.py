"""A population of MO-PPO policies trained together: the base of MORL/D and C-MORL.

The population's ``P`` policies step one environment of ``P x num_envs`` sub-environments (a
:meth:`~polyopt.Environment.spawn` of the problem; rows are member-major: member ``i`` owns rows
``i * num_envs .. (i + 1) * num_envs - 1``), and their actors and critics are one network with stacked
parameters (:class:`StackedMLP`: ``P x out x in`` weights, a batched matrix product per layer), so one
rollout step and one gradient step serve every member. Collection is PPO's own
(:class:`polyopt_plugins.rl.actor_critic.PPO`); advantages are its GAE
(:func:`polyopt.policy_gradient.generalized_advantage`) per reward component, the policy loss its registered
``policy_loss`` (``ppo-clip``). What differs: minibatches are drawn per member (each member's loss is the
mean over its own rows, the reset steps masked), gradients are clipped per member, and the policy objective
is a hook (:meth:`PopulationPPO.policy_objective`), by default MO-PPO's: each member's advantages scalarized
by its own preference weight (``P x m`` :attr:`PopulationPPO.weights`).

Members are evaluated with the shared protocol (:mod:`polyopt_plugins.morl.protocol`): ``eval_episodes``
episodes of each member's greedy policy, all in one batched copy, discounted return vectors. An archive keeps
the distinct non-dominated policies seen (parameter snapshots with their returns); the result is its front,
with HV against the registered reference point, EUM, sparsity, cardinality, IGD and MUL.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from polyopt.components import LossParams
from polyopt.environment import Environment
from polyopt.errors import ConfigError
from polyopt.pareto import crowding_distance, non_dominated_unique
from polyopt.policy_gradient import clipped_value_loss, generalized_advantage
from polyopt.refdirs import das_dennis, n_das_dennis
from polyopt.result import TrainerResult
from polyopt.spaces import Space
from polyopt_plugins.morl.protocol import evaluate_preferences, front_metrics, reference_point
from polyopt_plugins.rl.actor_critic import PPO
from polyopt_plugins.rl.config import ActorCriticConfig
from polyopt_plugins.rl.networks import ActorCritic

__all__ = [
    "PopulationActorCritic",
    "PopulationConfig",
    "PopulationPPO",
    "StackedMLP",
    "spread_weights",
]


class StackedMLP(nn.Module):
    """``P`` MLPs of one shape as one module: ``(P n) x d`` member-major rows in, ``(P n) x out`` out.

    Args:
        members: ``nn.Sequential`` stacks of ``Linear`` layers with one activation between each two.
    """

    def __init__(self, members: Sequence[nn.Module]) -> None:
        super().__init__()
        linears = [
            [layer for layer in m.children() if isinstance(layer, nn.Linear)] for m in members
        ]
        self.pop = len(members)
        self.weight = nn.ParameterList(
            nn.Parameter(torch.stack([ls[j].weight.detach() for ls in linears]))  # P x out x in
            for j in range(len(linears[0]))
        )
        self.bias = nn.ParameterList(
            nn.Parameter(torch.stack([ls[j].bias.detach() for ls in linears]))  # P x out
            for j in range(len(linears[0]))
        )
        self.activations = nn.ModuleList(
            layer for layer in members[0].children() if not isinstance(layer, nn.Linear)
        )

    def forward(self, x: Tensor) -> Tensor:
        h = x.reshape(self.pop, -1, x.shape[-1])  # P x n x d
        for j, (w, b) in enumerate(zip(self.weight, self.bias, strict=True)):
            h = torch.baddbmm(b.unsqueeze(1), h, w.transpose(1, 2))
            if j < len(self.activations):
                h = self.activations[j](h)
        return h.reshape(-1, h.shape[-1])


class PopulationActorCritic(ActorCritic):
    """``pop`` actor-critics (each initialized as :class:`ActorCritic`) with stacked parameters: every
    parameter has a leading ``pop`` dimension, and the methods of :class:`ActorCritic` take ``(pop n)``
    member-major rows."""

    def __init__(
        self,
        pop: int,
        obs_dim: int,
        action_space: Space,
        reward_dim: int,
        hidden_sizes: Sequence[int],
        activation: str,
    ) -> None:
        super().__init__(obs_dim, action_space, reward_dim, hidden_sizes, activation)
        self._args = (obs_dim, action_space, reward_dim, list(hidden_sizes), activation)
        members = [self] + [ActorCritic(*self._args) for _ in range(pop - 1)]
        self.pop = pop
        actor = StackedMLP([m.actor for m in members])
        critic = StackedMLP([m.critic for m in members])
        # the stacked modules take the members' places (ActorCritic only calls them)
        self.actor = actor  # type: ignore[assignment]
        self.critic = critic  # type: ignore[assignment]
        if self.log_std is not None:
            self.log_std = nn.Parameter(torch.zeros(pop, self.sizes[0]))

    def row_log_std(self, n: int) -> Tensor:
        assert self.log_std is not None
        return self.log_std.repeat_interleave(n // self.pop, 0)  # n x action_dim

    def member(self, params: dict[str, Tensor]) -> ActorCritic:
        """A plain :class:`ActorCritic` holding one member's parameters (``params``: a row of each of
        :meth:`snapshot`'s tensors)."""
        with torch.random.fork_rng(
            devices=[]
        ):  # its initialization is overwritten: leave the RNG alone
            net = ActorCritic(*self._args).to(self.low.device)
        with torch.no_grad():
            for mine, theirs in (("actor", net.actor), ("critic", net.critic)):
                layers = [layer for layer in theirs if isinstance(layer, nn.Linear)]
                for j, layer in enumerate(layers):
                    layer.weight.copy_(params[f"{mine}.weight.{j}"])
                    layer.bias.copy_(params[f"{mine}.bias.{j}"])
            if net.log_std is not None:
                net.log_std.copy_(params["log_std"])
        return net.to(self.low.dtype)

    def snapshot(self, rows: Tensor) -> dict[str, Tensor]:
        """Copies of the members ``rows`` (``k`` indices): each parameter as ``k x ...``."""
        return {name: p.detach()[rows].clone() for name, p in self.named_parameters()}

    @torch.no_grad()
    def load(self, rows: Tensor, params: dict[str, Tensor]) -> None:
        """Overwrite the members ``rows`` (``k`` indices) with ``params`` (``k x ...`` each)."""
        for name, p in self.named_parameters():
            p[rows] = params[name].to(p)


@dataclass
class PopulationConfig(ActorCriticConfig):
    """Options of a population of MO-PPO policies (PPO's options apply to every member)."""

    pop_size: int = 6
    """Policies trained together (MORL-Baselines' MORL/D default); each has ``num_envs`` sub-environments."""
    eval_episodes: int = 5
    """Episodes per policy in an evaluation (the protocol's E)."""
    eval_max_steps: int = 1_000
    """Per-episode step limit of an evaluation."""
    archive_size: int = 100
    """Most non-dominated policies kept (the most crowded leave first)."""
    ref_point: list[float] | None = None
    """HV reference point; None takes the environment's registered one."""


class PopulationPPO(PPO):
    """Base of the population trainers: ``pop_size`` MO-PPO members on one batched environment, an archive of
    non-dominated policies, the protocol's evaluation. Discrete or continuous actions, 2 or more objectives,
    on environments that can :meth:`~polyopt.Environment.spawn` copies."""

    Config = PopulationConfig
    net: PopulationActorCritic

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super().compatibility(problem)
        if reason:
            return reason
        if problem.reward_dim < 2:
            return f"it needs a vector reward (2 or more objectives), the environment has {problem.reward_dim}"
        if type(problem).spawn is Environment.spawn:
            return "it steps every member in one spawned copy, and this environment cannot spawn()"
        return None

    def setup(self) -> None:
        cfg = self.config
        for name in ("pop_size", "archive_size"):
            if getattr(cfg, name) < 1:
                raise ConfigError(f"{name}={getattr(cfg, name)}; expected an integer >= 1")
        m = self.problem.reward_dim
        if cfg.ref_point is not None and len(cfg.ref_point) != m:
            raise ConfigError(f"ref_point={cfg.ref_point}; expected {m} values")
        if cfg.ref_point is None:
            reference_point(self.problem)  # before training: raises when none is registered
        super().setup()
        self.eval_env = None  # the protocol spawns its own copies
        self.weights = torch.full((cfg.pop_size, m), 1.0 / m, **self.like)  # P x m preferences
        self.archive: dict[str, Tensor] = {
            "returns": torch.zeros(0, m, dtype=torch.float64),  # discounted, k x m
            "weights": torch.zeros(0, m, dtype=torch.float64),
            "env_step": torch.zeros(0, dtype=torch.long),
            **{k: v[:0].cpu() for k, v in self.net.snapshot(torch.arange(1)).items()},
        }
        self.eval_log = torch.zeros(0, 4, dtype=torch.float64)  # env step, HV, EUM, cardinality

    def _training_env(self) -> Environment:
        return self.problem.spawn(self.config.pop_size * self.problem.num_envs)

    def _make_net(self) -> PopulationActorCritic:
        cfg = self.config
        space = self.problem.action_space
        return PopulationActorCritic(
            cfg.pop_size, self.obs_dim, space, self.reward_dim, cfg.hidden_sizes, cfg.activation
        )

    def _check_config(self) -> None:
        if self.config.eval_episodes < 1:
            raise ConfigError(
                f"eval_episodes={self.config.eval_episodes}; expected an integer >= 1"
            )
        super()._check_config()

    # -- per-member update -------------------------------------------------------------------------------------

    def _by_member(self, x: Tensor) -> Tensor:
        """``T x (P n) x ...`` -> ``P x (T n) x ...``."""
        p = self.config.pop_size
        t, rows = x.shape[0], x.shape[1]
        x = x.reshape(t, p, rows // p, *x.shape[2:]).transpose(0, 1)
        return x.reshape(p, t * (rows // p), *x.shape[3:])

    def _update(self, buf: dict[str, Tensor]) -> dict[str, Tensor]:
        cfg = self.config
        adv = generalized_advantage(
            buf["rewards"],
            buf["values"],
            cfg.gamma,
            cfg.lam,
            terminated=buf["terminated"],
            dones=buf["done"],
        )  # T x (P n) x m
        batch = {
            "obs": buf["obs"],
            "action": buf["action"],
            "logp": buf["logp"],
            "values": buf["values"][:-1],
            "targets": adv + buf["values"][:-1],
            "adv": adv,
            "mask": buf["valid"].to(self.dtype),  # the reset steps carry no transition
        }
        batch = {k: self._by_member(v) for k, v in batch.items()}  # P x S x ...
        self.before_update(batch)
        p, size = batch["mask"].shape
        per = math.ceil(size / cfg.num_minibatches)
        params = LossParams(
            cfg.clip_low, cfg.clip_high, cfg.dual_clip, options=dict(cfg.policy_loss_options or {})
        )
        totals: dict[str, Tensor] = {}
        count = 0
        for _ in range(cfg.update_epochs):
            order = torch.rand(p, size, generator=self.generator, device=self.device).argsort(1)
            for cols in order.split(per, dim=1):
                mb = {k: _rows(v, cols) for k, v in batch.items()}
                for key, value in self._member_step(mb, params).items():
                    totals[key] = totals.get(key, 0.0) + value
                count += 1
        return {k: v / max(count, 1) for k, v in totals.items()}

    def before_update(self, batch: dict[str, Tensor]) -> None:
        """Called with the whole ``P x S`` batch before its minibatches (C-MORL reads its constraints here)."""

    def policy_objective(
        self, logp: Tensor, mb: dict[str, Tensor], params: LossParams, count: Tensor
    ) -> Tensor:
        """Each member's policy loss (``P``) from its minibatch (``P x b`` ``logp``; ``mb["adv"]`` is
        ``P x b x m``): MO-PPO's clipped loss of the advantages scalarized by the member's weight."""
        adv = (mb["adv"] * self.weights.unsqueeze(1)).sum(-1)  # P x b
        return self.clipped_loss(logp, mb, adv, params, count)

    def clipped_loss(
        self, logp: Tensor, mb: dict[str, Tensor], adv: Tensor, params: LossParams, count: Tensor
    ) -> Tensor:
        """The registered policy loss of ``P x b`` advantages (standardized per member over its unmasked
        rows when ``normalize_advantages``), averaged over each member's rows: ``P``."""
        mask = mb["mask"]
        if self.config.normalize_advantages:
            mean = (adv * mask).sum(1, keepdim=True) / count.unsqueeze(1)
            var = ((adv - mean).square() * mask).sum(1, keepdim=True) / count.unsqueeze(1)
            adv = (adv - mean) / (var.sqrt() + 1e-8)
        loss = self.loss_fn(logp, mb["logp"], adv, mask, params)
        return (loss * mask).sum(1) / count

    def _member_step(self, mb: dict[str, Tensor], params: LossParams) -> dict[str, Tensor]:
        cfg = self.config
        p, b = mb["mask"].shape
        mask = mb["mask"]
        count = mask.sum(1).clamp_min(1.0)  # P
        logp, entropy = self.net.evaluate(mb["obs"].flatten(0, 1), mb["action"].flatten(0, 1))
        logp = logp.view(p, b)
        policy_loss = self.policy_objective(logp, mb, params, count)  # P
        values = self.net.value(mb["obs"].flatten(0, 1)).view(p, b, -1)
        value_loss = clipped_value_loss(values, mb["values"], mb["targets"], cfg.value_clip)
        value_loss = (value_loss.mean(-1) * mask).sum(1) / count
        ent = (entropy.view(p, b) * mask).sum(1) / count
        loss = policy_loss - cfg.ent_coef * ent + cfg.vf_coef * value_loss  # P: one loss per member
        self.opt.zero_grad(set_to_none=True)
        loss.sum().backward()  # members share no parameter: each gets its own loss's gradient
        if cfg.max_grad_norm > 0:
            self._clip_per_member(cfg.max_grad_norm)
        self.opt.step()
        with torch.no_grad():
            log_ratio = logp - mb["logp"]
            return {
                "policy_loss": policy_loss.mean().detach(),
                "value_loss": value_loss.mean().detach(),
                "entropy": ent.mean().detach(),
                "approx_kl": (((log_ratio.exp() - 1) - log_ratio) * mask).sum() / count.sum(),
            }

    def _clip_per_member(self, max_norm: float) -> None:
        grads = [q.grad for q in self.net.parameters() if q.grad is not None]
        norm = torch.stack([g.flatten(1).square().sum(1) for g in grads]).sum(0).sqrt()  # P
        scale = (max_norm / (norm + 1e-6)).clamp(max=1.0)
        for g in grads:
            g.mul_(scale.view(-1, *([1] * (g.dim() - 1))))

    def reset_optimizer(self, rows: Tensor) -> None:
        """Zero the optimizer's moments of members ``rows`` (after their parameters were replaced)."""
        for q in self.net.parameters():
            for value in self.opt.state.get(q, {}).values():
                if isinstance(value, Tensor) and value.dim() > 0 and value.shape[0] == q.shape[0]:
                    value[rows] = 0.0

    # -- evaluation and archive --------------------------------------------------------------------------------

    @torch.no_grad()
    def evaluate_members(self) -> Tensor:
        """Discounted return vectors of every member's greedy policy (``P x m`` float64), ``eval_episodes``
        episodes each in one batched copy of the environment."""
        cfg = self.config
        net = self.net

        def act(
            obs: Tensor, w: Tensor
        ) -> Tensor:  # rows are member-major: weights repeat per episode
            return net.to_env(net.act(obs.to(device=self.device, dtype=self.dtype)))

        ev = evaluate_preferences(
            act,
            self.problem,
            self.weights,
            episodes=cfg.eval_episodes,
            gamma=cfg.gamma,
            seed=self.seed + 1_000_003,
            max_steps=cfg.eval_max_steps,
        )
        self.n_eval_env_steps += int(ev["env_steps"])
        return ev["discounted"]

    def add_to_archive(self, returns: Tensor, rows: Tensor | None = None) -> None:
        """Add members ``rows`` (default: all) with their evaluated ``returns`` (``k x m``); keep the distinct
        non-dominated policies, at most ``archive_size`` (dropping the most crowded)."""
        rows = torch.arange(self.config.pop_size) if rows is None else rows
        new = {
            "returns": returns.to(torch.float64).cpu(),
            "weights": self.weights[rows].to(torch.float64).cpu(),
            "env_step": torch.full((rows.numel(),), self.n_env_steps, dtype=torch.long),
            **{k: v.cpu() for k, v in self.net.snapshot(rows.to(self.device)).items()},
        }
        merged = {k: torch.cat([self.archive[k], new[k]]) for k in self.archive}
        keep = non_dominated_unique(-merged["returns"])
        while keep.numel() > self.config.archive_size:
            crowd = crowding_distance(-merged["returns"][keep])
            keep = torch.cat([keep[: crowd.argmin()], keep[crowd.argmin() + 1 :]])
        self.archive = {k: v[keep] for k, v in merged.items()}

    def front_of(self, returns: Tensor) -> dict[str, float]:
        """The protocol's indicators of ``k x m`` discounted returns."""
        cfg, env = self.config, self.problem
        ref = cfg.ref_point if cfg.ref_point is not None else reference_point(env).point
        return front_metrics(returns, tuple(ref), env.pareto_front(cfg.gamma))

    def log_evaluation(self, out: dict[str, float]) -> None:
        """Record the archive's indicators now in :attr:`eval_log` and ``out`` (``eval/...`` metrics)."""
        metrics = self.front_of(self.archive["returns"])
        row = [self.n_env_steps, metrics["hypervolume"], metrics["eum"], metrics["cardinality"]]
        self.eval_log = torch.cat([self.eval_log, torch.tensor([row], dtype=torch.float64)])
        out.update({f"eval/{k}": v for k, v in metrics.items()})

    def result(self) -> TrainerResult:
        """The front of the archive and of the current members (evaluated now, not stored): distinct
        non-dominated discounted return vectors; ``policy`` holds one :class:`ActorCritic` per row, ``labels``
        the environment step each was archived at (the current step for current members)."""
        if self._eval_cache is None or self._eval_cache[0] != self.n_steps:
            self._eval_cache = (self.n_steps, self.evaluate_members())
        current = self._eval_cache[1]
        snap = {
            k: v.cpu() for k, v in self.net.snapshot(torch.arange(self.config.pop_size)).items()
        }
        returns = torch.cat([self.archive["returns"], current])
        steps = torch.cat(
            [self.archive["env_step"], torch.full((current.shape[0],), self.n_env_steps)]
        )
        keep = non_dominated_unique(-returns)
        k = self.archive["returns"].shape[0]
        policies = []
        for i in keep.tolist():
            source = self.archive if i < k else snap
            j = i if i < k else i - k
            policies.append(self.net.member({name: v[j] for name, v in source.items()
                                             if name in snap}))  # fmt: skip
        m = self.reward_dim
        names = list(getattr(self.problem, "reward_names", [])) or [f"r{j}" for j in range(m)]
        metrics = {**self.front_of(returns[keep]), "n_eval_env_steps": float(self.n_eval_env_steps)}
        return self.make_result(
            policies,
            returns[keep].to(self.dtype),
            labels=steps[keep],
            reward_names=names,
            history=self.eval_log.clone(),
            metrics=metrics,
            extras={
                "member_returns": current,
                "member_weights": self.weights.cpu(),
                "archive_returns": self.archive["returns"].clone(),
                "n_eval_env_steps": self.n_eval_env_steps,
            },
        )

    def get_state(self) -> dict[str, Any]:
        return {
            **super().get_state(),
            "weights": self.weights,
            "archive": self.archive,
            "eval_log": self.eval_log,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.weights = state["weights"].to(self.device)
        self.archive = dict(state["archive"])
        self.eval_log = state["eval_log"]


def spread_weights(p: int, m: int, generator: torch.Generator) -> Tensor:
    """``p`` preference weights evenly spread over the ``m``-simplex (``p x m`` float64): the Das-Dennis
    lattice with the fewest partitions giving at least ``p`` points, a random subset of it (drawn from
    ``generator``) when it has more."""
    if p == 1:
        return torch.full((1, m), 1.0 / m, dtype=torch.float64)
    parts = 1
    while n_das_dennis(parts, m) < p:
        parts += 1
    lattice = das_dennis(parts, m)
    if lattice.shape[0] == p:
        return lattice
    pick = torch.randperm(lattice.shape[0], generator=generator, device=generator.device)[:p]
    return lattice[pick.cpu().sort().values]


def _rows(x: Tensor, cols: Tensor) -> Tensor:
    """``x[i, cols[i]]`` for each member ``i``: ``P x S x ...`` and ``P x b`` -> ``P x b x ...``."""
    index = cols.view(*cols.shape, *([1] * (x.dim() - 2))).expand(*cols.shape, *x.shape[2:])
    return x.gather(1, index)
