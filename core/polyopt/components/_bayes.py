"""Bayesian-optimization components: acquisition functions (kind ``acquisition``) and what they receive.

Nothing here imports BoTorch: the model and the returned acquisition function are BoTorch objects, typed
``Any`` so that plugins (and ``import polyopt``) stay light until a BO optimizer runs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from torch import Tensor

__all__ = ["AcquisitionBuilder", "AcquisitionOptions", "TrainingData"]


@dataclass
class TrainingData:
    """What a surrogate is fitted on and what an acquisition function needs besides the model.

    Attributes:
        X: ``n x e`` encoded inputs of the valid (non-failed) evaluations, in the unit cube.
        Y: ``n x (m + c)`` outcomes: ``-f`` (maximization form) for the ``m`` objectives, then ``g``
            (feasible where ``g <= 0``).
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
        return (self.Y[:, self.n_objectives :] <= 0).all(dim=-1)

    def best_feasible(self) -> Tensor | None:
        """The best (largest) maximization-form value of objective 0 among feasible rows; None if none."""
        ok = self.feasible
        if not bool(ok.any()):
            return None
        return self.Y[ok, 0].max()


@dataclass
class AcquisitionOptions:
    """Settings an acquisition component may use (each reads what it needs).

    Attributes:
        q: points optimized jointly.
        beta: UCB's exploration weight (the bound is ``mean + sqrt(beta) * std``).
        mc_samples: quasi-Monte Carlo samples of MC acquisition functions.
        ref_point: ``m`` hypervolume reference point in maximization form (multi-objective).
        weights: ``m`` scalarization weights (ParEGO); None draws them at random.
        extra: the optimizer config's ``acquisition_options``, for a plugin's own settings.
    """

    q: int = 1
    beta: float = 4.0
    mc_samples: int = 128
    ref_point: Tensor | None = None
    weights: Tensor | None = None
    extra: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class AcquisitionBuilder(Protocol):
    """What an ``acquisition`` entry is: ``builder(model, data, options) -> AcquisitionFunction``.

    The returned BoTorch ``AcquisitionFunction`` is maximized over ``b x q x e`` points in the unit cube; one
    whose value is analytic (one point, no pending points) should hand over to a Monte Carlo counterpart when
    ``options.q > 1`` or ``data.pending`` holds points. A one-shot acquisition (BoTorch's
    ``OneShotAcquisitionFunction``, e.g. the knowledge gradient) is scored on
    ``b x get_augmented_q_batch_size(q) x e`` points instead, and its ``q`` candidates are extracted by
    ``extract_candidates``. Optional attributes on the builder: ``objectives`` (``"single"`` or ``"multi"``,
    default ``"single"``), ``supports_constraints`` (default True), ``requires_constraints`` (default False)
    and ``continuous_only`` (default False: the acquisition can be optimized over integer and categorical
    columns too), which optimizers check before a run.

    Example (a complete plugin acquisition)::

        from botorch.acquisition import PosteriorMean

        def posterior_mean(model, data, options):
            return PosteriorMean(model)
    """

    def __call__(self, model: Any, data: TrainingData, options: AcquisitionOptions) -> Any: ...


def check_acquisition(target: Any) -> str | None:
    """Why ``target`` is not an acquisition builder, or None (the ``acquisition`` kind's registry check)."""
    if not callable(target):
        return f"expected a callable builder(model, data, options), got {target!r}"
    if getattr(target, "objectives", "single") not in ("single", "multi"):
        return f"objectives={target.objectives!r}; expected 'single' or 'multi'"
    return None
