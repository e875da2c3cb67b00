"""C-MORL (Liu et al., ICLR 2025): Pareto initialization, then constrained policy optimization that extends
the front from selected policies.

1. **Pareto initialization.** ``pop_size`` MO-PPO policies, each with its own evenly spread preference weight,
   train in parallel (:mod:`polyopt_plugins.morl.population`: one batched environment, stacked networks) for
   ``init_env_steps`` environment steps; they are evaluated with the shared protocol and the non-dominated
   ones enter the archive (the paper's policy buffer).
2. **Pareto extension**, in rounds of ``extension_iters`` iterations. Each round selects the archived policies
   in the sparsest regions of the front (largest crowding distance; the extremes first) and, for each of them
   and each objective ``l``, puts a copy in a population slot that solves

   ``max J_l(pi)  s.t.  J_i(pi) >= J_i(pi_r) - (1 - beta) |J_i(pi_r)|  for every i != l``

   where ``pi_r`` is the selected policy, so the copy moves along the front from ``pi_r`` toward objective
   ``l`` into the gap next to it. The constrained step is the interior-point policy optimization the paper
   uses (IPO, Liu et al. 2020): PPO's clipped loss of objective ``l``'s advantages plus the log barrier
   ``-log(J_i_hat - c_i) / t`` of each constraint, with ``J_i_hat = J_i(old) + mean(ratio A_i) - mean(A_i)``
   (first-order in the policy change) and ``J_i(old)`` the vector critic's value of the start states. A
   violated constraint is pushed back up instead (its standardized surrogate is maximized). At the end of a
   round the slots are evaluated and enter the archive, and the next round selects again.

Every slot of both stages shares one gradient step. Differences from the paper: its extension runs each
constrained problem as a separate process and selects with a hypervolume-improvement or crowding heuristic
(crowding here); the constraint values are the critic's estimates, not Monte-Carlo returns.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt.components import LossParams
from polyopt.errors import ConfigError
from polyopt.pareto import crowding_distance
from polyopt_plugins.morl.population import PopulationConfig, PopulationPPO, spread_weights

__all__ = ["CMORL", "CMORLConfig"]

_INIT, _EXTEND = 0, 1


@dataclass
class CMORLConfig(PopulationConfig):
    """Options of :class:`CMORL` (PPO's options apply to every slot)."""

    init_env_steps: int = 0
    """Environment steps of the Pareto initialization (all slots together); 0 takes half the run's
    ``Budget(env_steps=...)``, or 20 iterations without one."""
    extension_iters: int = 10
    """Iterations of each extension round (the constrained steps of each selected policy)."""
    beta: float = 0.9
    """Constraint relaxation: every other objective keeps at least ``J - (1 - beta) |J|`` of the selected
    policy's value (the paper's beta). Where neighbouring front points differ by more than ``1 - beta`` in
    an objective the extension cannot reach them: on Deep Sea Treasure 0.9 keeps every policy in place and
    0.3 walks the front (benchmarks/RESULTS.md)."""
    barrier_t: float = 20.0
    """IPO's barrier parameter ``t``: the barrier ``-log(slack) / t`` sharpens as it grows."""


class CMORL(PopulationPPO):
    """C-MORL: parallel per-preference MO-PPO, then constrained extension of the front from its sparsest
    policies. Discrete or continuous actions, 2 or more objectives (``pop_size`` at least the number of
    objectives), environments that can spawn."""

    Config = CMORLConfig

    def setup(self) -> None:
        cfg = self.config
        m = self.problem.reward_dim
        if cfg.pop_size < m:
            raise ConfigError(
                f"pop_size={cfg.pop_size}; C-MORL extends each selected policy along every objective, so "
                f"it needs at least {m} (the number of objectives)"
            )
        for name in ("init_env_steps",):
            if getattr(cfg, name) < 0:
                raise ConfigError(f"{name}={getattr(cfg, name)}; expected an integer >= 0")
        if cfg.extension_iters < 1:
            raise ConfigError(f"extension_iters={cfg.extension_iters}; expected an integer >= 1")
        if not 0.0 <= cfg.beta <= 1.0:
            raise ConfigError(f"beta={cfg.beta}; expected a value in [0, 1]")
        if cfg.barrier_t <= 0:
            raise ConfigError(f"barrier_t={cfg.barrier_t}; expected a positive number")
        super().setup()
        self.weights = spread_weights(cfg.pop_size, m, self.generator).to(**self.like)
        # start states of the environment: the critic's values there estimate each slot's J
        starts = self.problem.spawn(cfg.pop_size * cfg.eval_episodes)
        self._starts = self._observe_rows(starts.reset(seed=self.seed + 2_000_003))
        starts.close()
        self.phase = _INIT
        self.round_start = 0  # n_steps when the current extension round began
        self.rounds = 0
        self.primary = torch.zeros(cfg.pop_size, dtype=torch.long, device=self.device)
        self.thresholds = torch.zeros(cfg.pop_size, m, **self.like)
        self._j_old = torch.zeros(cfg.pop_size, m, **self.like)

    def _observe_rows(self, obs: Tensor) -> Tensor:
        return obs.to(device=self.device, dtype=self.dtype).reshape(obs.shape[0], -1)

    def _init_steps(self) -> int:
        if self.config.init_env_steps:
            return self.config.init_env_steps
        if self.env_step_limit:
            return self.env_step_limit // 2
        return 20 * self.config.rollout_steps * self.env.num_envs

    @torch.no_grad()
    def start_values(self) -> Tensor:
        """The critic's values of the start states, per slot (``P x m``): its estimate of each ``J``."""
        p = self.config.pop_size
        return self.net.value(self._starts).view(p, -1, self.reward_dim).mean(1)

    # -- stages ------------------------------------------------------------------------------------------------

    def iterate(self) -> dict[str, float]:
        out: dict[str, float] = {}
        if self.phase == _INIT and self.n_env_steps >= self._init_steps():
            self._archive_slots(out)
            self.phase = _EXTEND
            self._select()
        elif (
            self.phase == _EXTEND and self.n_steps - self.round_start >= self.config.extension_iters
        ):
            self._archive_slots(out)
            self._select()
        out = {**super().iterate(), **out, "phase": float(self.phase), "rounds": float(self.rounds)}
        return out

    def _archive_slots(self, out: dict[str, float]) -> None:
        self.add_to_archive(self.evaluate_members())
        self.log_evaluation(out)

    def _select(self) -> None:
        """Start an extension round: copy the sparsest archived policies into the slots, one slot per
        (policy, objective), with constraints at the relaxed values of the other objectives."""
        cfg, m = self.config, self.reward_dim
        p = cfg.pop_size
        returns = self.archive["returns"]
        crowd = crowding_distance(-returns)
        order = torch.sort(-crowd, stable=True).indices  # sparsest (and extremes) first
        chosen = order[: math.ceil(p / m)]
        slots = torch.arange(p)
        parents = chosen[(slots // m) % chosen.numel()]
        names = [name for name, _ in self.net.named_parameters()]
        self.net.load(slots.to(self.device), {k: self.archive[k][parents] for k in names})
        self.reset_optimizer(slots.to(self.device))
        self.primary = (slots % m).to(self.device)
        self.weights = torch.nn.functional.one_hot(self.primary, m).to(**self.like)
        value = self.start_values()
        self.thresholds = value - (1.0 - cfg.beta) * value.abs()
        self.round_start = self.n_steps
        self.rounds += 1

    # -- the constrained objective -----------------------------------------------------------------------------

    def before_update(self, batch: dict[str, Tensor]) -> None:
        self._j_old = self.start_values()

    def policy_objective(
        self, logp: Tensor, mb: dict[str, Tensor], params: LossParams, count: Tensor
    ) -> Tensor:
        if self.phase == _INIT:
            return super().policy_objective(logp, mb, params, count)
        adv, mask = mb["adv"], mb["mask"]  # P x b x m, P x b
        p, b, m = adv.shape
        primary = adv.gather(-1, self.primary.view(p, 1, 1).expand(p, b, 1)).squeeze(-1)
        loss = self.clipped_loss(logp, mb, primary, params, count)  # P
        weight = mask.unsqueeze(-1) / count.view(p, 1, 1)
        ratio = (logp - mb["logp"]).exp().unsqueeze(-1)
        gain = (ratio * adv * weight).sum(1) - (adv * weight).sum(
            1
        )  # P x m: J(new) - J(old), first order
        slack = self._j_old + gain - self.thresholds
        mean = (adv * weight).sum(1, keepdim=True)
        std = (((adv - mean).square() * weight).sum(1)).sqrt() + 1e-8  # P x m
        barrier = torch.where(
            slack > 0, -torch.log(slack.clamp_min(1e-8)) / self.config.barrier_t, -gain / std
        )
        other = 1.0 - torch.nn.functional.one_hot(self.primary, m).to(barrier.dtype)
        return loss + (barrier * other).sum(-1)

    def get_state(self) -> dict[str, Any]:
        return {
            **super().get_state(),
            "phase": self.phase,
            "round_start": self.round_start,
            "rounds": self.rounds,
            "primary": self.primary,
            "thresholds": self.thresholds,
            "starts": self._starts,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.phase = int(state["phase"])
        self.round_start = int(state["round_start"])
        self.rounds = int(state["rounds"])
        self.primary = state["primary"].to(self.device)
        self.thresholds = state["thresholds"].to(self.device)
        self._starts = state["starts"].to(self.device)  # drawn at setup with the run's seed
