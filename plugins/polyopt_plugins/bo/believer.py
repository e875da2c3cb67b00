"""Kriging believer: condition a fitted model on pending points at their posterior mean.

Acquisition functions that cannot integrate over pending points (CONFIG's optimistic bounds, the greedy steps of
AEGiS) read this model instead: its variance collapses at the pending points, so they are not suggested again.
"""

from __future__ import annotations

import torch
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from torch import Tensor

from polyopt_plugins.bo.surrogate import TrainingData, hyperparameters

__all__ = ["believer_model"]


def believer_model(model: SingleTaskGP, data: TrainingData, pending: Tensor | None) -> SingleTaskGP:
    """Return ``model`` refitted-free on ``data`` plus ``pending`` (``p x e``) at their posterior means.

    The hyperparameters are copied, not refitted, so this costs one Cholesky factorization.
    """
    if pending is None or pending.shape[0] == 0:
        return model
    with torch.no_grad():
        mean = model.posterior(pending).mean  # p x k
    X, Y = torch.cat([data.X, pending]), torch.cat([data.Y, mean])
    new = SingleTaskGP(X, Y, outcome_transform=Standardize(m=Y.shape[-1]))
    new.load_state_dict(hyperparameters(model), strict=False)
    new.eval()
    return new
