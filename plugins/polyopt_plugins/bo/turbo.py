"""TuRBO-1: Bayesian optimization in a trust region that follows the best point.

Eriksson, Pearce, Gardner, Turner, Poloczek — "Scalable Global Optimization via Local Bayesian Optimization"
(NeurIPS 2019). The region is a box in the encoded unit cube around the best point of the current restart, with
side ``length`` stretched per dimension by the GP's lengthscales (geometric mean 1). After a told batch that
improves the best value the counter of successes grows, otherwise that of failures; enough successes double the
length, enough failures halve it, and a length below ``length_min`` restarts from a fresh Sobol design (the
model then sees only the new restart's points; the result keeps every point).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from botorch.models import SingleTaskGP
from torch import Tensor

from polyopt import Evaluation
from polyopt.components import AcquisitionOptions, TrainingData
from polyopt_plugins.bo.acqopt import optimize_acquisition
from polyopt_plugins.bo.base import BayesOptimizer, BOConfig
from polyopt_plugins.bo.ego import load_acquisition
from polyopt_plugins.bo.surrogate import lengthscales, valid_rows

__all__ = ["TuRBO", "TuRBOConfig"]


@dataclass
class TuRBOConfig(BOConfig):
    acquisition: str = "thompson"
    """Acquisition maximized inside the trust region (pathwise Thompson sampling, as in the paper)."""
    acquisition_options: dict[str, Any] | None = None
    """Options for a plugin's acquisition component, passed as ``AcquisitionOptions.extra``."""
    length_init: float = 0.8
    """Initial side of the trust region (encoded unit cube)."""
    length_min: float = 0.5**7
    """A side below this restarts the search."""
    length_max: float = 1.6
    """Largest side."""
    success_tolerance: int = 3
    """Successive improving batches that double the side."""
    failure_tolerance: int | None = None
    """Successive non-improving batches that halve the side; None means ceil(max(4, d) / batch_size)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.length_min < self.length_init <= self.length_max:
            raise ValueError(
                f"length_min={self.length_min}, length_init={self.length_init}, length_max="
                f"{self.length_max}; expected 0 < length_min < length_init <= length_max"
            )
        if self.success_tolerance < 1 or (
            self.failure_tolerance is not None and self.failure_tolerance < 1
        ):
            raise ValueError(
                f"success_tolerance={self.success_tolerance}, failure_tolerance="
                f"{self.failure_tolerance}; expected at least 1"
            )


class TuRBO(BayesOptimizer):
    """TuRBO-1 for one objective on continuous spaces."""

    Config = TuRBOConfig
    max_objectives = 1
    supports_constraints = False
    space_kinds = frozenset({"continuous"})

    def setup_bo(self) -> None:
        self.acquisition = load_acquisition(
            self.config.acquisition, objectives="single", constraints=0, owner="turbo"
        )
        d, q = self.problem.space.dim, self.config.batch_size
        self.failure_tolerance = self.config.failure_tolerance or math.ceil(max(4.0, d) / q)
        self.length, self.successes, self.failures = self.config.length_init, 0, 0
        self.best = math.inf
        self.region_start = 0  # first row of the current restart
        self.restarts = 0

    def design_size(self) -> int:
        return self.x_all.shape[0] - self.region_start

    def fit_data(self) -> tuple[Tensor, Tensor, Tensor | None]:
        x, f, failed = (
            self.x_all[self.region_start :],
            self.f_all[self.region_start :],
            self.failed_all[self.region_start :],
        )
        ok = valid_rows(f, None, failed)
        return x[ok], f[ok], None

    def tell(self, x: Tensor, evaluation: Evaluation) -> None:
        super().tell(x, evaluation)
        f = evaluation.f[~evaluation.failed_mask & torch.isfinite(evaluation.f).all(dim=-1), 0]
        if f.numel() == 0 or self.design_size() < self.n_initial:
            self.best = min(self.best, float(f.min())) if f.numel() else self.best
            return
        batch_best = float(f.min())
        improved = batch_best < self.best - 1e-3 * abs(self.best)
        self.successes, self.failures = (
            (self.successes + 1, 0) if improved else (0, self.failures + 1)
        )
        self.best = min(self.best, batch_best)
        if self.successes >= self.config.success_tolerance:
            self.length, self.successes = min(2.0 * self.length, self.config.length_max), 0
        elif self.failures >= self.failure_tolerance:
            self.length, self.failures = self.length / 2.0, 0
        if self.length < self.config.length_min:  # restart: new design, new region
            self.length, self.best = self.config.length_init, math.inf
            self.region_start, self.restarts = self.x_all.shape[0], self.restarts + 1

    def region(self, model: SingleTaskGP, data: TrainingData) -> Tensor:
        """``2 x e`` trust region around the best point of the restart, stretched by the lengthscales."""
        center = data.X[data.Y[:, 0].argmax()]
        ls = lengthscales(model)[0]
        weights = ls / ls.log().mean().exp()
        half = weights * self.length / 2.0
        return torch.stack([(center - half).clamp(0.0, 1.0), (center + half).clamp(0.0, 1.0)])

    def propose(self, n: int, model: SingleTaskGP, data: TrainingData) -> Tensor:
        acqf = self.acquisition(
            model,
            data,
            AcquisitionOptions(
                q=n,
                mc_samples=self.config.mc_samples,
                extra=dict(self.config.acquisition_options or {}),
            ),
        )
        x, self.last_method = optimize_acquisition(
            acqf, self.problem.space, n, self.settings, bounds=self.region(model, data)
        )
        return x.to(device=self.device, dtype=self.dtype)

    def step_metrics(self, x: Tensor, evaluation: Evaluation) -> dict[str, float]:
        return {
            **super().step_metrics(x, evaluation),
            "length": self.length,
            "restarts": float(self.restarts),
        }

    def extra_state(self) -> dict[str, Any]:
        return {
            "length": self.length,
            "successes": self.successes,
            "failures": self.failures,
            "best": self.best,
            "region_start": self.region_start,
            "restarts": self.restarts,
        }

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.length, self.best = float(state["length"]), float(state["best"])
        self.successes, self.failures = int(state["successes"]), int(state["failures"])
        self.region_start, self.restarts = int(state["region_start"]), int(state["restarts"])
