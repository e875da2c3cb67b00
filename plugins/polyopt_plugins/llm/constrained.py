"""Reward thresholds as constraints with Lagrange multipliers (Constrained RLHF, Moskovitz et al. 2023; CGPO's
judges, Xu et al. 2024) on the policy-gradient trainer.

The problem is ``max E[sum_j w_j r_j]`` subject to ``E[r_j] >= tau_j`` for each reward with a threshold. Each
step trains on the Lagrangian reward ``sum_j (w_j + lambda_j) r_j - sum_j lambda_j tau_j`` and then takes one
projected dual step per constraint on the batch mean, ``lambda_j <- clip(lambda_j + eta (tau_j - mean r_j), 0,
lambda_max)``: a multiplier grows while its constraint is violated and decays back to 0 once it holds, so the
weights adapt to the constraints instead of being tuned by hand. The multipliers are part of the state (exact
resume) and logged as ``lambda/<reward>``; with ``multi_objective`` (the default here) the result is the reward
front. Everything else is the ``grpo`` trainer (a ReMax greedy baseline, if chosen, is scored with the static
weights).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt.components import Rollout
from polyopt.errors import ConfigError
from polyopt_plugins.llm.config import TrainerConfig
from polyopt_plugins.llm.reward_mix import combine
from polyopt_plugins.llm.sampler import Generation
from polyopt_plugins.llm.trainer import PolicyGradientTrainer

__all__ = ["ConstrainedConfig", "ConstrainedTrainer"]


@dataclass
class ConstrainedConfig(TrainerConfig):
    """GRPO's options plus the constraints."""

    reward_thresholds: list[float | None] | None = None
    """One entry per reward: the mean it must reach (a constraint), or None (objective only); None = no
    constraints (plain GRPO)."""
    multiplier_lr: float = 0.5
    """Dual step size eta of the multipliers."""
    multiplier_max: float = 100.0
    """Upper bound on each multiplier (keeps an unreachable threshold from swamping the objective)."""
    multi_objective: bool = True
    """Report the reward front (non-dominated steps by mean reward vector)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.multiplier_lr < 0 or self.multiplier_max < 0:
            raise ValueError(
                f"multiplier_lr={self.multiplier_lr}, multiplier_max={self.multiplier_max}; expected >= 0"
            )
        if self.reward_thresholds is not None and self.reward_normalization == "dynamic":
            raise ValueError(
                "reward_normalization='dynamic' with reward_thresholds; expected 'none' or 'per-reward' "
                "(the multipliers already rescale the rewards)"
            )


class ConstrainedTrainer(PolicyGradientTrainer):
    """GRPO on the Lagrangian of thresholded rewards, with adaptive multipliers."""

    Config = ConstrainedConfig

    def setup(self) -> None:
        super().setup()
        m = len(self.reward_fns)
        given = self.config.reward_thresholds or [None] * m
        if len(given) != m:
            raise ConfigError(
                f"reward_thresholds={given}; expected {m} entries (one per reward {list(self.reward_fns)}, "
                "None for no constraint)"
            )
        self.constrained = torch.tensor([t is not None for t in given], device=self.device)
        self.thresholds = torch.tensor(
            [0.0 if t is None else float(t) for t in given], device=self.device
        )
        self.multipliers = torch.zeros(m, device=self.device)

    def _collect(
        self, timer: dict[str, float], *, record: bool = True
    ) -> tuple[Tensor, Tensor, Generation, Tensor, Rollout]:
        ids, pmask, gen, raw, rollout = super()._collect(timer, record=False)
        cfg, fresh = self.config, self.fresh_rows
        lam = self.multipliers * self.constrained
        score, _ = combine(raw, self.weights + lam, cfg.reward_normalization, rollout.n_groups)
        score = score - (lam * self.thresholds).sum()
        length = rollout.mask.sum(-1).long()  # the score sits on each completion's last real token
        last = torch.nn.functional.one_hot((length - 1).clamp_min(0), rollout.mask.shape[1])
        last = last * (length > 0).unsqueeze(-1)
        rollout.token_rewards = (
            rollout.token_rewards + (score - rollout.scores).unsqueeze(-1) * last
        )
        rollout.scores = score
        if record:
            self._record(raw[:fresh], score[:fresh])
        step = cfg.multiplier_lr * (
            self.thresholds - raw[:fresh].mean(0)
        )  # dual ascent on the violation
        self.multipliers = torch.where(
            self.constrained,
            (self.multipliers + step).clamp(0.0, cfg.multiplier_max),
            self.multipliers,
        )
        return ids, pmask, gen, raw, rollout

    def iterate(self) -> dict[str, float]:
        out = super().iterate()
        values = self.multipliers.tolist()
        out.update({f"lambda/{name}": v for name, v in zip(self.reward_fns, values)})
        return out

    def get_state(self) -> dict[str, Any]:
        return {**super().get_state(), "multipliers": self.multipliers}

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        self.multipliers = state["multipliers"].to(self.device)
