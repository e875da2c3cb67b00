"""MORL/D (Felten, Talbi and Danoy, JAIR 2024) with MO-PPO: multi-objective RL by decomposition.

A population of ``pop_size`` policies, each maximizing the weighted sum of the returns under its own
preference weight, is trained together (:mod:`polyopt_plugins.morl.population`: one environment of
``pop_size x num_envs`` sub-environments, stacked networks, one gradient step for all). Every ``adapt_every``
iterations the members are evaluated with the shared protocol, the non-dominated ones enter the archive, and
the weights adapt with Pareto simulated annealing's rule (PSA, Czyzak and Jaszkiewicz 1998, as MORL/D and
MORL-Baselines use it): for each member, the closest archived return vector (squared distance above 0.01) is
found, and the weight of every objective the member does at least as well on is multiplied by ``1 + delta``,
the others divided by it, then normalized to sum 1 - so members move away from their neighbours toward gaps.
Optionally (``transfer``), after the first evaluation each member starts from the parameters of the
neighbour (closest weight) that scores best under its own weight, MORL/D's policy transfer.

Differences from MORL-Baselines' MORL/D: it trains the members in turn (one member's SAC for
``exchange_every`` steps, then ``update_passes`` updates of the others from their replay buffers) where this
trains all at once on-policy; its Tchebycheff scalarization and shared replay buffers are not here (MO-PPO
scalarizes advantages, which is linear).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt.errors import ConfigError
from polyopt_plugins.morl.population import PopulationConfig, PopulationPPO, spread_weights
from polyopt_plugins.morl.protocol import random_weights

__all__ = ["MORLD", "MORLDConfig"]


@dataclass
class MORLDConfig(PopulationConfig):
    """Options of :class:`MORLD` (PPO's options apply to every member)."""

    adapt_every: int = 10
    """Iterations between evaluations (archive update and weight adaptation)."""
    weight_adaptation: str = "psa"
    """``"psa"`` (Pareto simulated annealing's rule) or ``"none"`` (fixed weights)."""
    psa_delta: float = 0.1
    """PSA's step: a weight is multiplied or divided by ``1 + delta`` (MORL-Baselines' 0.1)."""
    weight_init: str = "uniform"
    """``"uniform"``: evenly spread weights (Das-Dennis; a random subset when the lattice has more points);
    ``"random"``: absolute Gaussians, normalized."""
    transfer: bool = False
    """After the first evaluation, each member starts from its best-scoring neighbour's parameters."""


class MORLD(PopulationPPO):
    """MORL/D: weight-decomposed MO-PPO members trained together, an archive of non-dominated policies, PSA
    weight adaptation. Discrete or continuous actions, 2 or more objectives, environments that can spawn."""

    Config = MORLDConfig

    def setup(self) -> None:
        cfg = self.config
        if cfg.adapt_every < 1:
            raise ConfigError(f"adapt_every={cfg.adapt_every}; expected an integer >= 1")
        if cfg.weight_adaptation not in ("psa", "none"):
            raise ConfigError(
                f"weight_adaptation={cfg.weight_adaptation!r}; expected 'psa' or 'none'"
            )
        if cfg.weight_init not in ("uniform", "random"):
            raise ConfigError(f"weight_init={cfg.weight_init!r}; expected 'uniform' or 'random'")
        if cfg.psa_delta <= 0:
            raise ConfigError(f"psa_delta={cfg.psa_delta}; expected a positive number")
        super().setup()
        self.weights = self._initial_weights().to(**self.like)
        self.n_adaptations = 0

    def _initial_weights(self) -> Tensor:
        p, m = self.config.pop_size, self.reward_dim
        if self.config.weight_init == "random":
            return random_weights(m, p, self.generator, self.device)
        return spread_weights(p, m, self.generator)

    def iterate(self) -> dict[str, float]:
        out = super().iterate()
        if self.n_steps % self.config.adapt_every == self.config.adapt_every - 1:
            returns = self.evaluate_members()
            self.add_to_archive(returns)
            if self.config.transfer and self.n_adaptations == 0:
                self._transfer(returns)
            if self.config.weight_adaptation == "psa":
                self._adapt(returns)
            self.n_adaptations += 1
            self.log_evaluation(out)
        return out

    def _adapt(self, returns: Tensor) -> None:
        """PSA: move each weight away from the closest archived return vector (``returns``: ``P x m``)."""
        archived = self.archive["returns"]  # k x m
        dist = torch.cdist(returns, archived).square()  # P x k
        dist = torch.where(dist > 0.01, dist, torch.inf)
        closest = archived[dist.argmin(1)]  # P x m
        has = torch.isfinite(dist.min(1).values).unsqueeze(1)
        factor = torch.where(
            returns >= closest, 1 + self.config.psa_delta, 1 / (1 + self.config.psa_delta)
        )
        w = self.weights.double().cpu() * torch.where(has, factor, 1.0)
        self.weights = (w / w.sum(1, keepdim=True)).to(**self.like)

    def _transfer(self, returns: Tensor) -> None:
        """Each member takes the parameters of the member whose weight is closest to its own (itself
        included) and that scores best under its own weight, with fresh optimizer moments."""
        w = self.weights.double().cpu()
        near = torch.cdist(w, w)
        near.fill_diagonal_(-1.0)  # itself first
        neighbours = near.argsort(1)[:, :2]  # itself and its closest neighbour
        utility = (w.unsqueeze(1) * returns[neighbours]).sum(-1)  # P x 2
        source = neighbours[torch.arange(w.shape[0]), utility.argmax(1)]
        moved = (source != torch.arange(w.shape[0])).nonzero().squeeze(1)
        if moved.numel():
            params = self.net.snapshot(source[moved].to(self.device))
            self.net.load(moved.to(self.device), params)
            self.reset_optimizer(moved.to(self.device))

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "n_adaptations": self.n_adaptations}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.n_adaptations = int(state["n_adaptations"])
