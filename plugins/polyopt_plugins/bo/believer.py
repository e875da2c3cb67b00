"""Kriging believer: condition a fitted model on pending points at their posterior mean.

Acquisition functions that cannot integrate over pending points (CONFIG's optimistic bounds, the greedy steps of
AEGiS) read this model instead: its variance collapses at the pending points, so they are not suggested again.
"""

from __future__ import annotations

import torch
from botorch.models import SingleTaskGP
from torch import Tensor

from polyopt.components import TrainingData
from polyopt_plugins.bo.surrogate import hyperparameters, new_model

__all__ = ["believer_model"]


def believer_model(
    model: SingleTaskGP, data: TrainingData, pending: Tensor | None, kind: str
) -> SingleTaskGP:
    """Return ``model`` refitted-free on ``data`` plus ``pending`` (``p x e``) at their posterior means.

    ``kind`` is the GP prior ``model`` was built with (``BOConfig.model``), so the copy has the same structure.

    The hyperparameters are copied, not refitted, so this costs one Cholesky factorization.
    """
    if pending is None or pending.shape[0] == 0:
        return model
    with torch.no_grad():
        mean = model.posterior(pending).mean  # p x k
    X, Y = torch.cat([data.X, pending]), torch.cat([data.Y, mean])
    new = new_model(TrainingData(X, Y, data.n_objectives, data.n_constraints), kind)
    state = hyperparameters(model)
    if state.keys() != hyperparameters(new).keys():
        raise RuntimeError(
            f"the believer model of kind {kind!r} does not have the fitted model's hyperparameters "
            f"{sorted(state)}"
        )
    new.load_state_dict(
        state, strict=False
    )  # everything but the (recomputed) outcome standardization
    new.eval()
    return new
