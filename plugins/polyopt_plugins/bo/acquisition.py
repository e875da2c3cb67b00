"""Acquisition functions: the ``acquisition`` registry components.

A component is a callable ``(model, data, options) -> AcquisitionFunction`` (BoTorch maximizes it), so a plugin
adds one with ``registry.add("acquisition", "acme.my-acq", "acme.module:build")``. ``data`` is a
:class:`~polyopt_plugins.bo.surrogate.TrainingData` (outcomes in maximization form: ``-f`` then ``g``), and
``options`` an :class:`AcquisitionOptions`. A component whose function is analytic (one point, no pending
points) hands over to its Monte Carlo counterpart when ``options.q > 1`` or points are pending, so every
component can be asked for a batch while other points are being evaluated. A component that cannot handle
constraints sets ``supports_constraints = False`` on itself; optimizers check it before a run. The builtin
analytic ones are BoTorch's, computing posterior moments with :mod:`polyopt_plugins.bo.moments`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.acquisition.logei import qLogNoisyExpectedImprovement, qLogProbabilityOfFeasibility
from botorch.acquisition.monte_carlo import qUpperConfidenceBound
from botorch.acquisition.multi_objective.logei import qLogNoisyExpectedHypervolumeImprovement
from botorch.acquisition.multi_objective.objective import IdentityMCMultiOutputObjective
from botorch.acquisition.multi_objective.parego import qLogNParEGO
from botorch.acquisition.objective import GenericMCObjective
from botorch.acquisition.thompson_sampling import PathwiseThompsonSampling
from botorch.models.model import Model
from botorch.sampling.normal import SobolQMCNormalSampler
from torch import Tensor

from polyopt.components import AcquisitionOptions, TrainingData
from polyopt.errors import ConfigError
from polyopt_plugins.bo import _botorch
from polyopt_plugins.bo.moments import FastLogConstrainedEI, FastLogEI, FastLogPoF, FastUCB

__all__ = [
    "log_ei",
    "constrained_log_ei",
    "probability_of_feasibility",
    "qlognei",
    "ucb",
    "thompson",
    "qlognehvi",
    "qlogparego",
    "warm_up_hypervolume_kernel",
]


def _batched(data: TrainingData, options: AcquisitionOptions) -> bool:
    return options.q > 1 or (data.pending is not None and data.pending.shape[0] > 0)


def _constraint_indices(data: TrainingData) -> dict[int, tuple[float | None, float | None]]:
    m = data.n_objectives
    return {m + j: (None, 0.0) for j in range(data.n_constraints)}


def _mc_constraints(data: TrainingData) -> list[Callable[[Tensor], Tensor]] | None:
    """Callables ``samples (... x k) -> ...`` that are <= 0 where a constraint is met (BoTorch's convention)."""
    if not data.n_constraints:
        return None
    return [_Column(data.n_objectives + j) for j in range(data.n_constraints)]


class _Column:
    """``samples -> samples[..., i]`` (a named callable instead of a lambda, for readable reprs)."""

    def __init__(self, index: int) -> None:
        self.index = index

    def __call__(self, samples: Tensor, X: Tensor | None = None) -> Tensor:
        return samples[..., self.index]


def _sampler(options: AcquisitionOptions) -> SobolQMCNormalSampler:
    # No seed: the caller seeds torch's global generator from the optimizer's generator before building.
    return SobolQMCNormalSampler(torch.Size([options.mc_samples]))


def _pending(data: TrainingData) -> Tensor | None:
    return data.pending if data.pending is not None and data.pending.shape[0] else None


def log_ei(model: Model, data: TrainingData, options: AcquisitionOptions) -> AcquisitionFunction:
    """LogEI on one objective; constrained LogEI with constraints; qLogNEI for batches or pending points."""
    if data.n_constraints:
        return constrained_log_ei(model, data, options)
    if _batched(data, options):
        return qlognei(model, data, options)
    return FastLogEI(model, best_f=data.Y[:, 0].max())


def constrained_log_ei(
    model: Model, data: TrainingData, options: AcquisitionOptions
) -> AcquisitionFunction:
    """Feasibility-weighted LogEI (LogEI + log probability of feasibility); while no observed point is
    feasible, the log probability of feasibility alone. qLogNEI with constraints for batches or pending points.
    """
    best = data.best_feasible()
    if best is None:
        return probability_of_feasibility(model, data, options)
    if _batched(data, options):
        return qlognei(model, data, options)
    if not data.n_constraints:
        return FastLogEI(model, best_f=best)
    return FastLogConstrainedEI(
        model, best_f=best, objective_index=0, constraints=_constraint_indices(data)
    )


def probability_of_feasibility(
    model: Model, data: TrainingData, options: AcquisitionOptions
) -> AcquisitionFunction:
    """Log probability that every constraint is met (the MC version for batches or pending points)."""
    if not data.n_constraints:
        raise ConfigError(
            "acquisition 'probability-of-feasibility' needs a problem with constraints; "
            "this one has none"
        )
    if _batched(data, options):
        constraints = _mc_constraints(data)
        assert constraints is not None  # the problem has constraints (checked above)
        return qLogProbabilityOfFeasibility(
            model,
            constraints=constraints,
            sampler=_sampler(options),
            X_pending=_pending(data),
        )
    return FastLogPoF(model, constraints=_constraint_indices(data))


def qlognei(model: Model, data: TrainingData, options: AcquisitionOptions) -> AcquisitionFunction:
    """qLogNEI (batch noisy expected improvement, log form) on objective 0, with constraints if any."""
    objective = GenericMCObjective(_Column(0)) if data.Y.shape[-1] > 1 else None
    return qLogNoisyExpectedImprovement(
        model,
        X_baseline=data.X,
        sampler=_sampler(options),
        objective=objective,
        constraints=_mc_constraints(data),
        X_pending=_pending(data),
        prune_baseline=True,
    )


def ucb(model: Model, data: TrainingData, options: AcquisitionOptions) -> AcquisitionFunction:
    """Upper confidence bound ``mean + sqrt(beta) * std`` (qUCB for batches or pending points)."""
    if _batched(data, options):
        return qUpperConfidenceBound(
            model, beta=options.beta, sampler=_sampler(options), X_pending=_pending(data)
        )
    return FastUCB(model, beta=options.beta)


def thompson(model: Model, data: TrainingData, options: AcquisitionOptions) -> AcquisitionFunction:
    """Thompson sampling: ``q`` posterior sample paths (pathwise/Matheron), one maximized per point.

    Pending points need no special care: every ask draws fresh paths.
    """
    return PathwiseThompsonSampling(model)


def qlognehvi(model: Model, data: TrainingData, options: AcquisitionOptions) -> AcquisitionFunction:
    """qLogNEHVI (noisy expected hypervolume improvement, log form) over the ``m`` objectives."""
    if options.ref_point is None:
        raise ConfigError("acquisition 'qlognehvi' needs a reference point (options.ref_point)")
    outcomes = list(range(data.n_objectives))
    return qLogNoisyExpectedHypervolumeImprovement(
        model,
        ref_point=options.ref_point,
        X_baseline=data.X,
        sampler=_sampler(options),
        objective=IdentityMCMultiOutputObjective(outcomes=outcomes),
        constraints=_mc_constraints(data),
        X_pending=_pending(data),
        prune_baseline=True,
    )


def warm_up_hypervolume_kernel() -> float:
    """Load BoTorch's fused C++ kernel for log hypervolume improvement, which BoTorch compiles the first time a
    process on this machine builds qLogNEHVI (then caches), so that one-time cost falls outside the timed steps;
    returns the seconds it took. Without a C++ compiler BoTorch warns once and uses its Python path."""
    start = time.perf_counter()
    _botorch.load_fused_hypervolume_kernel()
    return time.perf_counter() - start


def qlogparego(
    model: Model, data: TrainingData, options: AcquisitionOptions
) -> AcquisitionFunction:
    """qLogNParEGO: qLogNEI on a random augmented Chebyshev scalarization (any number of objectives)."""
    outcomes = list(range(data.n_objectives))
    return qLogNParEGO(
        model,
        X_baseline=data.X,
        scalarization_weights=options.weights,
        sampler=_sampler(options),
        objective=IdentityMCMultiOutputObjective(outcomes=outcomes),
        constraints=_mc_constraints(data),
        X_pending=_pending(data),
        prune_baseline=True,
    )


ucb.supports_constraints = False  # type: ignore[attr-defined]
thompson.supports_constraints = False  # type: ignore[attr-defined]
probability_of_feasibility.requires_constraints = True  # type: ignore[attr-defined]
for _fn, _kind in (
    (log_ei, "single"),
    (constrained_log_ei, "single"),
    (probability_of_feasibility, "single"),
    (qlognei, "single"),
    (ucb, "single"),
    (thompson, "single"),
    (qlognehvi, "multi"),
    (qlogparego, "multi"),
):
    _fn.objectives = _kind  # type: ignore[attr-defined]
