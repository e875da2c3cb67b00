"""Look-ahead and information-theoretic acquisitions: the ``qkg``, ``qmes``, ``gibbon`` and ``qjes`` components.

All four are BoTorch's own classes; this module only chooses their inputs from the training data:

- ``qkg``: one-shot knowledge gradient (``qKnowledgeGradient``): the expected rise of the posterior mean's
  maximum after observing the candidates. It is a *one-shot* acquisition: it is maximized over
  ``b x (q + num_fantasies) x e`` points (the fantasy solutions ride along) and its ``q`` candidates are the first
  rows (``optimize_acqf`` does both), so it needs a continuous space.
- ``qmes``: max-value entropy search (``qMaxValueEntropy``): the information a point carries about the maximum
  value ``f*``, whose samples come from the posterior (Gumbel approximation) on a discretization of the cube;
  pending points are fantasized.
- ``gibbon``: GIBBON (``qLowerBoundMaxValueEntropy``), the lower bound of MES's information gain, whose pending
  points enter through a diversity term instead of fantasies (cheaper).

Both score one point given the pending ones, so batches are built greedily (:class:`GreedyBatch`): the ``i``-th
point is chosen with the first ``i - 1`` pending, as BoTorch's GIBBON tutorial builds them.
- ``qjes``: joint entropy search (``qJointEntropySearch``): the information about the pair ``(x*, f*)``, whose
  samples are maxima of pathwise posterior samples (``get_optimal_samples``).

Pending points are conditioned on through each class's ``X_pending``. None of them handles constraints.
Options (``acquisition_options``): ``num_fantasies`` (qkg, qmes), ``candidates`` (qmes, gibbon: size of the
discretization), ``num_mv_samples`` (qmes, gibbon), ``num_optima`` (qjes).
"""

from __future__ import annotations

from typing import Any

import torch
from botorch.acquisition import (
    AcquisitionFunction,
    qKnowledgeGradient,
    qLowerBoundMaxValueEntropy,
    qMaxValueEntropy,
)
from botorch.acquisition.joint_entropy_search import qJointEntropySearch
from botorch.acquisition.utils import get_optimal_samples
from botorch.models.model import Model
from torch import Tensor

from polyopt.components import AcquisitionOptions, TrainingData
from polyopt.errors import ConfigError

__all__ = ["GreedyBatch", "qkg", "qmes", "gibbon", "qjes", "candidate_set"]

_DEFAULTS: dict[str, int] = {
    # fewer fantasies than BoTorch's 64: the one-shot problem grows with them (e * (q + F) variables); not tuned
    # by a benchmark yet
    "num_fantasies": 16,
    "candidates": 1000,  # MES's discretization of the unit cube, plus the observed points
    "num_mv_samples": 10,  # BoTorch's default number of max-value samples
    "num_optima": 16,  # JES's optimum samples (BoTorch's tutorial uses 12-32)
}


def _option(options: AcquisitionOptions, key: str) -> int:
    value = options.extra.get(key, _DEFAULTS[key])
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ConfigError(f"acquisition option {key}={value!r}; expected a positive integer")
    return value


def _pending(data: TrainingData) -> Tensor | None:
    return data.pending if data.pending is not None and data.pending.shape[0] else None


def _single_output(name: str, data: TrainingData) -> None:
    if data.Y.shape[-1] != 1:
        raise ConfigError(
            f"acquisition {name!r} needs one objective and no constraints; the data has "
            f"{data.n_objectives} objective(s) and {data.n_constraints} constraint(s)"
        )


def candidate_set(data: TrainingData, n: int) -> Tensor:
    """``(n + k) x e``: ``n`` uniform points of the unit cube (torch's global generator, which the optimizers
    seed) and the ``k`` observed points, on which max values are sampled."""
    e = data.X.shape[-1]
    uniform = torch.rand(n, e, dtype=data.X.dtype, device=data.X.device)
    return torch.cat([uniform, data.X])


class GreedyBatch(AcquisitionFunction):
    """A one-point acquisition that conditions on pending points, scoring a batch as its greedy sum.

    ``value(x_1..x_q) = sum_i a(x_i | pending + x_1..x_{i-1})``: what sequential greedy optimization maximizes
    one point at a time (``optimize_acqf(sequential=True)`` sets the pending points itself, so only one-point
    calls happen while optimizing; batches are scored one candidate set at a time).

    Args:
        acqf: the one-point acquisition, with ``set_X_pending``.
    """

    def __init__(self, acqf: AcquisitionFunction) -> None:
        super().__init__(model=acqf.model)
        self.acqf = acqf
        self.X_pending: Tensor | None = acqf.X_pending  # type: ignore[assignment]

    def set_X_pending(self, X_pending: Tensor | None = None) -> None:
        """Pending points ``p x e`` (None for none), passed to the wrapped acquisition."""
        self.X_pending = X_pending
        self.acqf.set_X_pending(X_pending)

    def forward(self, X: Tensor) -> Tensor:
        """Score ``b x q x e`` candidate sets; returns ``b``."""
        if X.shape[-2] == 1:
            return self.acqf(X)
        base = self.X_pending
        values = []
        for batch in X.reshape(-1, *X.shape[-2:]):  # q x e
            total = X.new_zeros(())
            for i in range(batch.shape[0]):
                before = batch[:i]
                pending = before if base is None else torch.cat([base, before])
                self.acqf.set_X_pending(pending if pending.shape[0] else None)
                total = total + self.acqf(batch[i : i + 1].unsqueeze(0)).squeeze(0)
            values.append(total)
        self.acqf.set_X_pending(base)
        return torch.stack(values).reshape(X.shape[:-2])


def qkg(model: Model, data: TrainingData, options: AcquisitionOptions) -> AcquisitionFunction:
    """One-shot knowledge gradient on the posterior mean (``num_fantasies`` fantasy solutions per point)."""
    _single_output("qkg", data)
    return qKnowledgeGradient(
        model, num_fantasies=_option(options, "num_fantasies"), X_pending=_pending(data)
    )


def gibbon(model: Model, data: TrainingData, options: AcquisitionOptions) -> AcquisitionFunction:
    """GIBBON, the lower bound of max-value entropy search, for single points and batches."""
    _single_output("gibbon", data)
    return GreedyBatch(
        qLowerBoundMaxValueEntropy(
            model,
            candidate_set=candidate_set(data, _option(options, "candidates")),
            num_mv_samples=_option(options, "num_mv_samples"),
            X_pending=_pending(data),
        )
    )


def qmes(model: Model, data: TrainingData, options: AcquisitionOptions) -> AcquisitionFunction:
    """Max-value entropy search (pending points fantasized; batches built greedily)."""
    _single_output("qmes", data)
    return GreedyBatch(
        qMaxValueEntropy(
            model,
            candidate_set=candidate_set(data, _option(options, "candidates")),
            num_fantasies=_option(options, "num_fantasies"),
            num_mv_samples=_option(options, "num_mv_samples"),
            X_pending=_pending(data),
        )
    )


def qjes(model: Model, data: TrainingData, options: AcquisitionOptions) -> AcquisitionFunction:
    """Joint entropy search (lower-bound estimate) with ``num_optima`` sampled optima of the unit cube."""
    _single_output("qjes", data)
    e = data.X.shape[-1]
    bounds = torch.stack([torch.zeros(e), torch.ones(e)]).to(data.X)
    optimal_inputs, optimal_outputs = get_optimal_samples(
        model, bounds=bounds, num_optima=_option(options, "num_optima")
    )
    return qJointEntropySearch(
        model,
        optimal_inputs=optimal_inputs,
        optimal_outputs=optimal_outputs,
        X_pending=_pending(data),
        estimation_type="LB",
    )


def _mark(fn: Any, continuous_only: bool = False) -> None:
    fn.objectives = "single"
    fn.supports_constraints = False
    fn.continuous_only = continuous_only


_mark(qkg, continuous_only=True)
for _fn in (qmes, gibbon, qjes):
    _mark(_fn)
