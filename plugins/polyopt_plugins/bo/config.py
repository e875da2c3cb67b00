"""CONFIG: constrained efficient global optimization with optimistic (lower confidence) bounds.

Xu, Jiang, Cui, Jones — "Constrained Efficient Global Optimization of Expensive Black-box Functions" (ICML 2023).
Each step solves ``min LCB_f(x) s.t. LCB_g(x) <= 0`` over the space (lower bounds are ``mean - sqrt(beta) * std``).
When even the optimistic feasible set is empty — no point's lower bound on every constraint is <= 0 — the problem
is declared infeasible with high confidence; the Result then has ``infeasible_declared=True`` and the next point
asked is the one with the least optimistic violation.

In BoTorch's maximization form the objective's optimistic bound is the UCB of ``-f``. The constrained
subproblem is solved in two stages: minimize the optimistic violation (proving the optimistic set non-empty),
then maximize the optimistic objective minus a large penalty on the optimistic violation.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.models import SingleTaskGP
from botorch.posteriors import GPyTorchPosterior
from botorch.utils.transforms import t_batch_mode_transform
from torch import Tensor

from polyopt.components import TrainingData
from polyopt_plugins.bo.acqopt import optimize_acquisition
from polyopt_plugins.bo.base import BayesOptimizer, BOConfig
from polyopt_plugins.bo.believer import believer_model

__all__ = ["CONFIG", "CONFIGConfig", "OptimisticConstrained"]


@dataclass
class CONFIGConfig(BOConfig):
    beta: float = 4.0
    """Confidence width: bounds are ``mean -/+ sqrt(beta) * std``."""
    penalty: float = 1000.0
    """Weight of the (standardized) optimistic violation against the (standardized) optimistic objective."""
    tolerance: float = 1e-6
    """An optimistic violation above this (in standardized units) everywhere declares the problem infeasible."""

    def __post_init__(self) -> None:
        super().__post_init__()
        for key in ("beta", "penalty", "tolerance"):
            if not getattr(self, key) > 0:
                raise ValueError(f"{key}={getattr(self, key)}; expected a positive number")


class OptimisticConstrained(AcquisitionFunction):
    """``objective_weight * UCB(-f) / scale_f - penalty * sum(relu(LCB(g) / scale_g))`` at single points.

    Args:
        model: GP over ``1 + c`` outcomes (``-f`` then ``g``).
        beta: confidence width.
        scale: ``1 + c`` outcome scales (standard deviations of the training outcomes).
        objective_weight: 1 to trade objective against violation, 0 to minimize the violation alone.
        penalty: weight of the violation.
    """

    def __init__(
        self,
        model: SingleTaskGP,
        beta: float,
        scale: Tensor,
        objective_weight: float,
        penalty: float,
    ) -> None:
        super().__init__(model=model)
        self.beta, self.scale = beta, scale
        self.objective_weight, self.penalty = objective_weight, penalty

    def bounds(self, X: Tensor) -> tuple[Tensor, Tensor]:
        """``(ucb_objective: batch, violation: batch)`` at ``batch x 1 x e`` points (standardized units)."""
        post: GPyTorchPosterior = self.model.posterior(X)  # type: ignore[assignment]  # a GP's posterior
        mean = post.mean.squeeze(-2)  # batch x k
        std = post.variance.clamp_min(1e-12).sqrt().squeeze(-2)
        width = self.beta**0.5 * std
        ucb_f = (mean[..., 0] + width[..., 0]) / self.scale[0]
        violation = ((mean[..., 1:] - width[..., 1:]) / self.scale[1:]).clamp_min(0).sum(dim=-1)
        return ucb_f, violation

    @t_batch_mode_transform(expected_q=1)  # type: ignore[arg-type]  # typed for the base class's self
    def forward(self, X: Tensor) -> Tensor:
        ucb_f, violation = self.bounds(X)
        return self.objective_weight * ucb_f - self.penalty * violation


class CONFIG(BayesOptimizer):
    """CONFIG for one objective and any number of constraints; can declare a problem infeasible."""

    Config = CONFIGConfig
    max_objectives = 1

    def setup_bo(self) -> None:
        self._declared = False

    def infeasible_declared(self) -> bool:
        return self._declared

    def propose(self, n: int, model: SingleTaskGP, data: TrainingData) -> Tensor:
        scale = (
            data.Y.std(dim=0).nan_to_num(1.0).clamp_min(1e-9)
            if data.Y.shape[0] > 1
            else torch.ones(data.Y.shape[-1], dtype=data.Y.dtype, device=data.Y.device)
        )
        points: list[Tensor] = []
        for i in range(n):
            pending = (
                data.pending
                if not points
                else torch.cat(
                    [
                        p
                        for p in (data.pending, self.problem.space.encode(torch.cat(points)))
                        if p is not None
                    ]
                )
            )
            believed = believer_model(model, data, pending, self.config.model)
            x, declared = self._solve(believed, data, scale)
            if i == 0:  # a feasible observation refutes any declaration
                self._declared = declared and not bool(data.feasible.any())
            points.append(x)
        return torch.cat(points).to(device=self.device, dtype=self.dtype)

    def _solve(self, model: SingleTaskGP, data: TrainingData, scale: Tensor) -> tuple[Tensor, bool]:
        """One CONFIG subproblem: returns ``(1 x d point, optimistic feasible set is empty)``."""
        space, cfg = self.problem.space, self.config
        if not data.n_constraints:
            acqf = OptimisticConstrained(model, cfg.beta, scale, 1.0, 0.0)
            x, self.last_method = optimize_acquisition(acqf, space, 1, self.settings)
            return x, False
        feasibility = OptimisticConstrained(model, cfg.beta, scale, 0.0, 1.0)
        x_least, self.last_method = optimize_acquisition(feasibility, space, 1, self.settings)
        least = self._violation(feasibility, x_least)
        if least > cfg.tolerance:
            return x_least, True
        acqf = OptimisticConstrained(model, cfg.beta, scale, 1.0, cfg.penalty)
        x, _ = optimize_acquisition(acqf, space, 1, self.settings)
        return (x if self._violation(feasibility, x) <= cfg.tolerance else x_least), False

    def _violation(self, acqf: OptimisticConstrained, x: Tensor) -> float:
        with torch.no_grad():
            z = self.problem.space.encode(x.to(acqf.scale)).unsqueeze(-2)  # 1 x 1 x e
            return float(acqf.bounds(z)[1].max())

    def extra_state(self) -> dict[str, Any]:
        return {"declared": self._declared}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self._declared = bool(state["declared"])
