"""Multi-fidelity, cost-aware BO: what EGO does for an objective that declares a fidelity.

An :class:`~polyopt.Objective` declares ``fidelity = (column, target)``: the column of its points (a Box column)
that sets how exactly (and how expensively) a point is evaluated, and the value at which the objective is the
one to optimize (usually the column's upper bound). EGO then

- fits BoTorch's ``SingleTaskMultiFidelityGP`` with that column as a data fidelity (a downsampling kernel
  links cheap and exact evaluations),
- proposes with BoTorch's ``qMultiFidelityKnowledgeGradient``: the knowledge gradient about the optimum *at the
  target fidelity* (candidates' look-ahead is projected there), divided by the evaluation's cost
  ``fixed_cost + fidelity_cost * s`` (``s`` the fidelity in the unit interval of its bounds) by
  ``InverseCostWeightedUtility``, so a cheap evaluation is chosen when it teaches enough per unit cost,
- asks, whenever fewer than ``1 / target_every`` of the points so far are at the target fidelity, the
  maximizer of the posterior mean at the target fidelity instead (the recommendation of BoTorch's
  multi-fidelity tutorial), so the run keeps producing exact evaluations,
- and reports as the result only the points evaluated at the target fidelity.
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.acquisition import PosteriorMean, qMultiFidelityKnowledgeGradient
from botorch.acquisition.cost_aware import InverseCostWeightedUtility
from botorch.acquisition.fixed_feature import FixedFeatureAcquisitionFunction
from botorch.acquisition.utils import project_to_target_fidelity
from botorch.exceptions import ModelFittingError
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskMultiFidelityGP
from botorch.models.cost import AffineFidelityCostModel
from botorch.models.transforms.outcome import Standardize
from gpytorch.mlls import ExactMarginalLogLikelihood
from torch import Tensor

from polyopt.components import TrainingData
from polyopt.errors import ConfigError
from polyopt.spaces import Box

__all__ = [
    "Fidelity",
    "declared_fidelity",
    "fit_multi_fidelity_gp",
    "cost_aware_kg",
    "target_posterior_mean",
]


class Fidelity:
    """A problem's declared fidelity, checked.

    Attributes:
        column: the fidelity column of the points (and of their encoding: the space is a Box).
        target: the target value in the user's units.
        target_unit: the target in the encoded unit interval.
    """

    def __init__(self, column: int, target: float, target_unit: float) -> None:
        self.column, self.target, self.target_unit = column, target, target_unit

    def at_target(self, x: Tensor) -> Tensor:
        """``n`` bool: rows of ``x`` (``n x d``) evaluated at the target fidelity."""
        return torch.isclose(x[:, self.column], x.new_tensor(self.target))

    def cost(self, x: Tensor, fixed_cost: float, fidelity_cost: float, space: Box) -> Tensor:
        """``n`` costs ``fixed_cost + fidelity_cost * s`` of the rows of ``x`` (``s`` encoded)."""
        s = space.encode(x)[:, self.column]
        return fixed_cost + fidelity_cost * s


def declared_fidelity(problem: Any) -> Fidelity | None:
    """The checked ``problem.fidelity``, or None when the problem declares none.

    Raises:
        ConfigError: a fidelity on a space that is not a Box, a column out of range, or a target outside the
            column's bounds.
    """
    declared = getattr(problem, "fidelity", None)
    if declared is None:
        return None
    space = problem.space
    if not isinstance(space, Box):
        raise ConfigError(
            f"fidelity={declared!r} on a {type(space).__name__} space; multi-fidelity BO needs a Box"
        )
    try:
        column, target = int(declared[0]), float(declared[1])
    except (TypeError, ValueError, IndexError):
        raise ConfigError(f"fidelity={declared!r}; expected (column, target value)") from None
    lower, upper = (
        (float(b) for b in space.bounds[:, column]) if 0 <= column < space.dim else (0, 0)
    )
    if not 0 <= column < space.dim or not lower <= target <= upper:
        raise ConfigError(
            f"fidelity={declared!r}; expected a column in [0, {space.dim}) and a target within its bounds"
        )
    return Fidelity(column, target, (target - lower) / (upper - lower))


def fit_multi_fidelity_gp(data: TrainingData, fidelity: Fidelity, maxiter: int) -> Any:
    """BoTorch's ``SingleTaskMultiFidelityGP`` on ``data`` (one outcome), the fidelity a data fidelity."""
    model = SingleTaskMultiFidelityGP(
        data.X,
        data.Y,
        data_fidelities=[fidelity.column],
        outcome_transform=Standardize(m=1),
    )
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    try:
        fit_gpytorch_mll(mll, optimizer_kwargs={"options": {"maxiter": maxiter}})
    except ModelFittingError:
        pass  # the prior hyperparameters still give a usable, vaguer model
    model.eval()
    return model


def cost_aware_kg(
    model: Any,
    data: TrainingData,
    fidelity: Fidelity,
    *,
    fixed_cost: float,
    fidelity_cost: float,
    num_fantasies: int,
) -> qMultiFidelityKnowledgeGradient:
    """qMFKG at the target fidelity, per unit of ``fixed_cost + fidelity_cost * s``."""
    target = {fidelity.column: fidelity.target_unit}
    cost_model = AffineFidelityCostModel(
        fidelity_weights={fidelity.column: fidelity_cost}, fixed_cost=fixed_cost
    )

    e = data.X.shape[-1]

    def project(X: Tensor) -> Tensor:
        return project_to_target_fidelity(X=X, target_fidelities=target, d=e)

    return qMultiFidelityKnowledgeGradient(
        model,
        num_fantasies=num_fantasies,
        current_value=_current_value(model, data, fidelity),
        cost_aware_utility=InverseCostWeightedUtility(cost_model=cost_model),
        project=project,
        X_pending=data.pending if data.pending is not None and data.pending.shape[0] else None,
    )


def target_posterior_mean(
    model: Any, fidelity: Fidelity, e: int
) -> FixedFeatureAcquisitionFunction:
    """The posterior mean at the target fidelity, a function of the ``e - 1`` other encoded columns."""
    return FixedFeatureAcquisitionFunction(
        PosteriorMean(model), d=e, columns=[fidelity.column], values=[fidelity.target_unit]
    )


def _current_value(model: Any, data: TrainingData, fidelity: Fidelity) -> Tensor:
    """The posterior mean's best value at the target fidelity over the observed inputs (a lower bound of its
    maximum: KG's improvements are measured from it)."""
    e = data.X.shape[-1]
    columns = [j for j in range(e) if j != fidelity.column]
    mean = target_posterior_mean(model, fidelity, e)
    with torch.no_grad():
        return mean(data.X[:, columns].unsqueeze(-2)).max()
