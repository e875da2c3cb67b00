"""An acquisition for Bayesian optimization: pure exploitation, the posterior mean of the objective."""

from __future__ import annotations

from typing import Any

import torch
from botorch.acquisition import qSimpleRegret
from botorch.acquisition.objective import GenericMCObjective
from botorch.sampling import SobolQMCNormalSampler
from torch import Tensor

from polyopt.components import AcquisitionOptions, TrainingData


def _objective(samples: Tensor, X: Tensor | None = None) -> Tensor:
    return samples[..., 0]  # outcome 0 is the (maximization-form) objective


def mean(model: Any, data: TrainingData, options: AcquisitionOptions) -> Any:
    """Expected best posterior sample of the objective over ``q`` points (pending points included).

    Use it with ``ego``: ``acquisition="hello.mean"``.
    """
    sampler = SobolQMCNormalSampler(torch.Size([options.mc_samples]))
    objective = GenericMCObjective(_objective)
    return qSimpleRegret(model, sampler=sampler, objective=objective, X_pending=data.pending)


mean.supports_constraints = False  # type: ignore[attr-defined]  # read by optimizers before a run
