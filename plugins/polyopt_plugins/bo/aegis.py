"""AEGiS: asynchronous epsilon-greedy Bayesian optimisation.

De Ath, Everson, Fieldsend — "Asynchronous ε-Greedy Bayesian Optimisation" (UAI 2021). Each new point (a worker
became free) is, with probability ``1 - epsilon``, the maximizer of the posterior mean (exploitation); otherwise,
with equal odds, the maximizer of a Thompson sample path, or a random member of the Pareto set trading the
posterior mean against the posterior standard deviation (exploration).

The maximizers are taken over a candidate set (uniform points plus perturbations of the best point) decoded
into the space, so any Box/Integer/Categorical space works. Pending points: the model believes them at their
posterior mean (kriging believer), and every candidate closer than ``min_distance`` (encoded units) to an
evaluated, pending or already chosen point is excluded, so a pending point is never suggested again.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from botorch.models import SingleTaskGP
from botorch.sampling.pathwise import draw_matheron_paths
from torch import Tensor

from polyopt.components import TrainingData
from polyopt.pareto import non_dominated_mask
from polyopt_plugins.bo.base import BayesOptimizer, BOConfig
from polyopt_plugins.bo.believer import believer_model

__all__ = ["AEGiS", "AEGiSConfig"]


@dataclass
class AEGiSConfig(BOConfig):
    epsilon: float = 0.1
    """Probability of exploring (split evenly between Thompson sampling and the mean/std Pareto set)."""
    n_candidates: int = 2048
    """Candidate points per choice: half uniform, half perturbations of the best point."""
    perturbation: float = 0.05
    """Standard deviation (encoded units) of the perturbations of the best point."""
    min_distance: float = 1e-4
    """Candidates closer than this (encoded units, Euclidean) to known or pending points are excluded."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.epsilon <= 1:
            raise ValueError(f"epsilon={self.epsilon}; expected a probability in [0, 1]")
        if self.n_candidates < 2:
            raise ValueError(f"n_candidates={self.n_candidates}; expected at least 2")
        if not (self.perturbation > 0 and self.min_distance >= 0):
            raise ValueError(
                f"perturbation={self.perturbation}, min_distance={self.min_distance}; expected "
                "perturbation > 0 and min_distance >= 0"
            )


class AEGiS(BayesOptimizer):
    """Asynchronous epsilon-greedy BO for one unconstrained objective."""

    Config = AEGiSConfig
    max_objectives = 1
    supports_constraints = False

    def candidates(self, data: TrainingData) -> Tensor:
        """``c x e`` encoded candidates, each the encoding of a valid point."""
        space, cfg = self.problem.space, self.config
        e, half = space.encoded_dim, cfg.n_candidates // 2
        best = data.X[data.Y[:, 0].argmax()]
        uniform = torch.rand(cfg.n_candidates - half, e, dtype=data.X.dtype, device=data.X.device)
        local = best + cfg.perturbation * torch.randn(
            half, e, dtype=data.X.dtype, device=data.X.device
        )
        z = torch.cat([uniform, local.clamp(0.0, 1.0)])
        return space.encode(space.decode(z))

    def propose(self, n: int, model: SingleTaskGP, data: TrainingData) -> Tensor:
        chosen: list[Tensor] = []
        for _ in range(n):
            parts = [p for p in (data.pending, *chosen) if p is not None]
            pending = torch.cat(parts) if parts else None
            chosen.append(
                self._choose(believer_model(model, data, pending, self.config.model), data, pending)
            )
        z = torch.cat(chosen)
        self.last_method = "candidates"
        return self.problem.space.decode(z).to(device=self.device, dtype=self.dtype)

    def _choose(self, model: SingleTaskGP, data: TrainingData, pending: Tensor | None) -> Tensor:
        """One ``1 x e`` point: exploit with probability ``1 - epsilon``, else Thompson or Pareto."""
        z = self.candidates(data)
        known = data.X if pending is None else torch.cat([data.X, pending])
        allowed = torch.cdist(z, known).min(dim=1).values > self.config.min_distance  # c
        u = float(torch.rand(()))
        with torch.no_grad():
            if u < self.config.epsilon / 2:  # Thompson sampling
                score = draw_matheron_paths(model, sample_shape=torch.Size([1]))(z).reshape(-1)
            else:
                post = model.posterior(z)
                mean, std = post.mean[:, 0], post.variance[:, 0].clamp_min(0).sqrt()
                score = mean
                if u < self.config.epsilon:  # a random point of the mean/std Pareto set
                    front = non_dominated_mask(torch.stack([-mean, -std], dim=-1)) & allowed
                    score = torch.where(front, torch.rand_like(mean), torch.zeros_like(mean) - 1.0)
        score = torch.where(allowed, score, torch.full_like(score, -torch.inf))
        return z[score.argmax()].unsqueeze(0)
