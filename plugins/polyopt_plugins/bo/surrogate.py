"""Training data and surrogate fitting shared by every BO optimizer.

Inputs are the space's continuous encoding (``space.encode``), which already lies in the unit cube, so the GP
sees normalized inputs without a separate ``Normalize`` transform. Outcomes are in BoTorch's *maximization*
form: the negated (minimization-form) objectives first, then the constraint values ``g`` unchanged (feasible
when ``g <= 0``, BoTorch's own constraint convention). Every outcome is standardized by ``Standardize``.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass

import torch
from botorch.exceptions import ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.outcome import Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood
from linear_operator.utils.errors import NotPSDError
from torch import Tensor

__all__ = ["TrainingData", "fit_surrogate", "hyperparameters", "valid_rows"]


@dataclass
class TrainingData:
    """What a surrogate is fitted on and what an acquisition function needs besides the model.

    Attributes:
        X: ``n x e`` encoded inputs of the valid (non-failed) evaluations, in the unit cube.
        Y: ``n x (m + c)`` outcomes: ``-f`` (maximization form) for the ``m`` objectives, then ``g``.
        n_objectives: ``m``.
        n_constraints: ``c``.
        pending: ``p x e`` encoded points asked but not told yet, or None.
    """

    X: Tensor
    Y: Tensor
    n_objectives: int
    n_constraints: int
    pending: Tensor | None = None

    @property
    def feasible(self) -> Tensor:
        """``n`` bool: rows whose constraints are all met."""
        return (self.Y[:, self.n_objectives:] <= 0).all(dim=-1)

    def best_feasible(self) -> Tensor | None:
        """The best (largest) maximization-form value of objective 0 among feasible rows; None if none."""
        ok = self.feasible
        if not bool(ok.any()):
            return None
        return self.Y[ok, 0].max()


def valid_rows(f: Tensor, g: Tensor | None, failed: Tensor) -> Tensor:
    """``n`` bool: rows a model may be fitted on (not failed, every value finite).

    Args:
        f: ``n x m`` objective values.
        g: ``n x c`` constraint values or None.
        failed: ``n`` bool failure marks.
    """
    ok = ~failed & torch.isfinite(f).all(dim=-1)
    if g is not None:
        ok &= torch.isfinite(g).all(dim=-1)
    return ok


def fit_surrogate(data: TrainingData, *, warm_start: dict[str, Tensor] | None = None,
                  maxiter: int = 200) -> tuple[SingleTaskGP, bool]:
    """Fit a GP with one independent output per outcome (a batched multi-output ``SingleTaskGP``).

    Every outcome shares the inputs (a failed row is dropped as a whole), so one batched model serves what a
    ``ModelListGP`` would, and fits all outcomes in one L-BFGS-B run.

    Args:
        data: the training data; ``data.X`` is ``n x e``, ``data.Y`` is ``n x k``.
        warm_start: hyperparameters of an earlier fit (``model.state_dict()`` without the training data) to
            start the optimizer from; ignored when their shapes no longer fit.
        maxiter: L-BFGS-B iterations at most.

    Returns:
        ``(model, fitted)``: the model in eval mode, and False when fitting failed (the model then keeps its
        prior hyperparameters, which are still a usable, if vague, surrogate).
    """
    model = _new_model(data)
    if warm_start is not None:
        _load_hyperparameters(model, warm_start)
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": maxiter}})
        fitted = True
    except (ModelFittingError, NotPSDError, RuntimeError, ValueError):
        model, fitted = _new_model(data), False
    model.eval()
    return model, fitted


def hyperparameters(model: SingleTaskGP) -> dict[str, Tensor]:
    """The fitted hyperparameters of ``model`` (no training data), for :func:`fit_surrogate`'s warm start."""
    return {k: v.detach().clone() for k, v in model.state_dict().items()
            if "outcome_transform" not in k and "input_transform" not in k}


def _new_model(data: TrainingData) -> SingleTaskGP:
    return SingleTaskGP(data.X, data.Y, outcome_transform=Standardize(m=data.Y.shape[-1]))


def _load_hyperparameters(model: SingleTaskGP, state: dict[str, Tensor]) -> None:
    own = model.state_dict()
    if all(k in own and own[k].shape == v.shape for k, v in state.items()):
        model.load_state_dict(state, strict=False)
