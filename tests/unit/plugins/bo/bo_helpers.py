"""Small problems and settings shared by the BO tests."""

from __future__ import annotations

import torch

import polyopt

SMALL = {
    "num_restarts": 2,
    "raw_samples": 16,
    "mc_samples": 16,
    "acq_maxiter": 15,
    "fit_maxiter": 60,
}


def bowl_2d() -> polyopt.Objective:
    """A shifted quadratic bowl on [-1, 1]^2 with its minimum 0 at (0.3, -0.2)."""

    @polyopt.objective(bounds=([-1.0, -1.0], [1.0, 1.0]), name="bowl")
    def bowl(x: torch.Tensor) -> torch.Tensor:
        return ((x - torch.tensor([0.3, -0.2], dtype=x.dtype)) ** 2).sum(dim=-1)

    return bowl


def run_steps(opt: polyopt.AskTellOptimizer, evaluations: int) -> None:
    opt.evaluation_limit = evaluations
    while opt.n_evaluations < evaluations:
        opt.step()
