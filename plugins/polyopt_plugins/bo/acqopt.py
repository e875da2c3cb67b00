"""Acquisition optimization over continuous, integer, categorical and mixed spaces.

Continuous spaces are optimized in the encoded unit cube with ``optimize_acqf`` (multi-start L-BFGS-B from the
best of ``raw_samples`` quasi-random points); for analytic LogEI on the default GP the same starts and the same
batched L-BFGS-B get the value and gradient in closed form instead of through autograd. Spaces with Integer,
Binary or Categorical columns are optimized in the space's own point representation (integers as integers,
categories as indices) with BoTorch's ``optimize_acqf_mixed_alternating``: continuous L-BFGS-B steps with the
discrete columns fixed, alternating with discrete neighbourhood search — a discrete column is never a rounded
continuous optimum. The acquisition function, defined on encoded inputs, is wrapped by
:class:`PointSpaceAcquisition` so it reads points directly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from botorch.acquisition import AcquisitionFunction, OneShotAcquisitionFunction
from botorch.acquisition.monte_carlo import MCAcquisitionFunction
from botorch.acquisition.multi_objective.base import MultiObjectiveMCAcquisitionFunction
from botorch.optim import optimize_acqf, optimize_acqf_mixed_alternating
from botorch.optim.initializers import gen_batch_initial_conditions
from torch import Tensor

from polyopt.spaces import Box, Categorical, Integer, Product, Space
from polyopt_plugins.bo import _botorch
from polyopt_plugins.bo.information import GreedyBatch
from polyopt_plugins.bo.moments import FastLogEI, PosteriorMoments, log_ei_and_grad, matern52

__all__ = ["AcqOptSettings", "optimize_acquisition", "PointSpaceAcquisition", "column_kinds"]

#: Tensor elements a hypervolume acquisition may build per call (raw samples x its box-decomposition cells).
_RAW_ELEMENTS = 2**20

#: Discrete columns with up to this many values are searched exactly (BoTorch relaxes larger ones otherwise).
_MAX_DISCRETE_VALUES = 10**6


@dataclass
class AcqOptSettings:
    """How hard to optimize an acquisition function.

    Attributes:
        num_restarts: L-BFGS-B starts (batched: all starts run as one batch).
        raw_samples: quasi-random points scored to choose the starts.
        maxiter: L-BFGS-B iterations per start.
        incumbent_starts: starts placed next to the best observed points (continuous spaces, one point at a
            time), so the optimizer always refines around the incumbents as well as exploring.
    """

    num_restarts: int = 10
    raw_samples: int = 512
    maxiter: int = 200
    incumbent_starts: int = 0


def column_kinds(space: Space) -> tuple[list[int], dict[int, list[float]], dict[int, list[float]]]:
    """Split a space's point columns by kind.

    Returns:
        ``(continuous, discrete, categorical)``: continuous column indices; ``{column: allowed values}`` for
        Integer/Binary columns and for Categorical columns (choice indices).
    """
    parts = list(space.parts.values()) if isinstance(space, Product) else [space]
    continuous: list[int] = []
    discrete: dict[int, list[float]] = {}
    categorical: dict[int, list[float]] = {}
    col = 0
    for part in parts:
        lower, upper = part.bounds
        for j in range(part.dim):
            if isinstance(part, Categorical):
                categorical[col] = [float(i) for i in range(len(part.choices))]
            elif isinstance(part, Integer):
                discrete[col] = [float(v) for v in range(int(lower[j]), int(upper[j]) + 1)]
            elif isinstance(part, Box):
                continuous.append(col)
            else:
                raise TypeError(
                    f"BO cannot optimize over {part!r}; expected Box, Integer, Binary or Categorical"
                )
            col += 1
    return continuous, discrete, categorical


class PointSpaceAcquisition(AcquisitionFunction):
    """An acquisition function on encoded inputs, read on the space's points (``... x q x d``).

    Args:
        acqf: the acquisition function on encoded inputs (``... x q x e``).
        space: the space whose ``encode`` maps points to those inputs.
    """

    def __init__(self, acqf: AcquisitionFunction, space: Space) -> None:
        super().__init__(model=acqf.model)
        self.acqf, self.space = acqf, space
        self.X_pending: Tensor | None = None  # type: ignore[assignment]  # BoTorch sets None too

    def _encode(self, X: Tensor) -> Tensor:
        flat = self.space.encode(X.reshape(-1, X.shape[-1]))
        return flat.reshape(*X.shape[:-1], flat.shape[-1])

    def forward(self, X: Tensor) -> Tensor:
        """Score ``batch x q x d`` points; returns ``batch``."""
        return self.acqf(self._encode(X))

    def set_X_pending(self, X_pending: Tensor | None = None) -> None:
        """Pending points ``p x d`` (point representation), passed on encoded."""
        self.X_pending = X_pending
        if hasattr(self.acqf, "set_X_pending"):
            self.acqf.set_X_pending(None if X_pending is None else self._encode(X_pending))


def _sequential(acqf: AcquisitionFunction, q: int) -> bool:
    # Sequential greedy batches need an acquisition that conditions on pending points (the MC ones, and the
    # max-value entropy family, as BoTorch's GIBBON tutorial builds batches); Thompson sampling optimizes its q
    # sample paths jointly instead, and a one-shot acquisition (knowledge gradient) its q points with its
    # fantasy solutions.
    if q == 1 or isinstance(acqf, OneShotAcquisitionFunction):
        return False
    return isinstance(
        acqf, (MCAcquisitionFunction, MultiObjectiveMCAcquisitionFunction, GreedyBatch)
    )


def _starts(
    acqf: AcquisitionFunction, bounds: Tensor, settings: AcqOptSettings, incumbents: Tensor | None
) -> Tensor | None:
    """``r x 1 x e`` L-BFGS-B starts: BoTorch's choice from raw samples, plus incumbents jittered by 1e-3."""
    k = (
        0
        if incumbents is None
        else min(settings.incumbent_starts, incumbents.shape[0], settings.num_restarts - 1)
    )
    if k == 0 or incumbents is None:
        return None
    chosen = gen_batch_initial_conditions(
        acqf, bounds, q=1, num_restarts=settings.num_restarts - k, raw_samples=settings.raw_samples
    )
    near = incumbents[:k] + 1e-3 * torch.randn_like(incumbents[:k])
    near = torch.maximum(torch.minimum(near, bounds[1]), bounds[0]).unsqueeze(1)
    return torch.cat([chosen, near.to(chosen)])


def _closed_form_log_ei(acqf: AcquisitionFunction) -> PosteriorMoments | None:
    """The moments of a ``FastLogEI`` whose value and gradient :func:`log_ei_and_grad` computes, else None."""
    m = getattr(acqf, "moments", None)
    if (
        _botorch.batched_lbfgs_b() is not None
        and isinstance(acqf, FastLogEI)
        and m is not None
        and m.kernel is matern52
        and m.y_std.numel() == 1
        and getattr(acqf, "posterior_transform", None) is None
        and getattr(acqf, "X_pending", None) is None
    ):
        return m
    return None


def _optimize_log_ei(
    acqf: AcquisitionFunction,
    m: PosteriorMoments,
    bounds: Tensor,
    settings: AcqOptSettings,
    starts: Tensor | None,
) -> Tensor:
    """``1 x e`` maximizer of LogEI: BoTorch's starts and its batched L-BFGS-B (one independent run per start, at
    BoTorch's default tolerances), fed value and gradient in closed form (:func:`log_ei_and_grad`) instead of
    through autograd — what ``optimize_acqf`` does, in about half the time (Hartmann6, 50 proposals: 0.074 ->
    0.041 s each)."""
    lbfgsb = _botorch.batched_lbfgs_b()
    assert lbfgsb is not None  # _closed_form_log_ei returns None without it
    fmin_l_bfgs_b_batched, translate_bounds_for_lbfgsb = lbfgsb
    if starts is None:
        starts = gen_batch_initial_conditions(
            acqf,
            bounds,
            q=1,
            num_restarts=settings.num_restarts,
            raw_samples=settings.raw_samples,
            options={"init_batch_limit": settings.raw_samples},
        )
    dtype, device = bounds.dtype, bounds.device
    best_f: Tensor = acqf.best_f  # type: ignore[assignment]  # a LogEI's registered buffer
    maximize = bool(acqf.maximize)

    def negative(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        value, grad = log_ei_and_grad(
            m, torch.from_numpy(x).to(device=device, dtype=dtype), best_f, maximize
        )
        return -value.cpu().numpy(), -grad.cpu().numpy()

    box = translate_bounds_for_lbfgsb(
        lower_bounds=bounds[0].tolist(),
        upper_bounds=bounds[1].tolist(),
        num_features=bounds.shape[1],
        q=1,
    )
    x0 = starts.detach().reshape(starts.shape[0], -1).cpu().numpy()
    xs, fs, _ = fmin_l_bfgs_b_batched(
        negative, x0, bounds=box, maxiter=settings.maxiter
    )  # within the bounds
    best = int(np.nanargmin(fs)) if np.isfinite(fs).any() else 0
    return torch.from_numpy(xs[best : best + 1]).to(device=device, dtype=dtype)


def _raw_chunk(acqf: AcquisitionFunction, raw_samples: int) -> int:
    """Raw samples to score per call: all of them, unless the acquisition computes hypervolume improvement over
    a box decomposition per MC sample (``cell_lower_bounds``: MC samples x cells x objectives), whose
    ``raw x cells`` tensors then stay within ``_RAW_ELEMENTS``. After 45 BraninCurrin evaluations (128 x 33 x 2
    cells) scoring 512 points took 0.89 s in one call and 0.67 s in chunks of 128; with 8 x 2 cells (ZDT1,
    25 evaluations) one call was fastest, 0.20 s against 0.25 s in chunks of 128."""
    cells = getattr(acqf, "cell_lower_bounds", None)
    if not isinstance(cells, Tensor) or cells.numel() == 0:
        return raw_samples
    return max(1, min(raw_samples, _RAW_ELEMENTS // cells.numel()))


def optimize_acquisition(
    acqf: AcquisitionFunction,
    space: Space,
    q: int,
    settings: AcqOptSettings,
    *,
    bounds: Tensor | None = None,
    incumbents: Tensor | None = None,
) -> tuple[Tensor, str]:
    """Maximize ``acqf`` over ``space`` and return ``q`` new points.

    Args:
        acqf: acquisition function on encoded inputs (``... x q x e``).
        space: the problem's space.
        q: points to return.
        settings: restarts, raw samples, iterations.
        bounds: ``2 x e`` sub-box of the encoded unit cube to search (continuous spaces only; TuRBO's trust
            region); None searches the whole cube.

    Returns:
        ``(x, method)``: ``q x d`` valid points (float64 like the model), and the BoTorch optimizer used
        (``"optimize_acqf"``, ``"batched_lbfgs_b"`` for LogEI in closed form, or
        ``"optimize_acqf_mixed_alternating"``).
    """
    inputs: Any = getattr(acqf.model, "train_inputs", None)  # a GP's tuple of training inputs
    ref = inputs[0] if inputs is not None else None
    dtype = ref.dtype if ref is not None else torch.float64
    device = ref.device if ref is not None else torch.device("cpu")
    # All starts in one L-BFGS-B batch; raw samples scored in one call too (BoTorch would otherwise score them
    # in chunks of batch_limit: 52 model calls for 512 samples and 10 restarts, measured 0.4 s of a 1.1 s step),
    # except where that call's tensors outgrow the cache (:func:`_raw_chunk`).
    options: dict[str, bool | float | int | str] = {
        "maxiter": settings.maxiter,
        "batch_limit": settings.num_restarts,
        "init_batch_limit": _raw_chunk(acqf, settings.raw_samples),
    }
    if space.is_continuous:
        if bounds is None:
            bounds = torch.stack([torch.zeros(space.encoded_dim), torch.ones(space.encoded_dim)])
        bounds = bounds.to(device=device, dtype=dtype)
        starts = _starts(acqf, bounds, settings, incumbents) if q == 1 else None
        moments = _closed_form_log_ei(acqf) if q == 1 else None
        if moments is not None:
            return space.decode(
                _optimize_log_ei(acqf, moments, bounds, settings, starts)
            ), "batched_lbfgs_b"
        # No retry on an OptimizationWarning: BoTorch would throw away every optimized start and start over
        # when any one start's L-BFGS-B run ends abnormally, but the starts are independent runs and the others
        # are still good. In the case inspected the abnormal one was a start that ran into an observed point,
        # where the Cholesky update of the MC posterior needed jitter. On BraninCurrin (seeds 0-2) the restart
        # ran in 18-35 % of the qLogNEHVI iterations; over 10 seeds an iteration took 1.33 instead of 1.77 s
        # without it, at the same median hypervolume difference (-0.025 and -0.024; benchmarks/RESULTS.md).
        z, _ = optimize_acqf(
            acqf,
            bounds=bounds,
            q=q,
            num_restarts=settings.num_restarts,
            raw_samples=None if starts is not None else settings.raw_samples,
            options=options,
            sequential=_sequential(acqf, q),
            batch_initial_conditions=starts,
            **_botorch.optimize_acqf_options(),
        )
        return space.decode(z.detach()), "optimize_acqf"
    _, discrete, categorical = column_kinds(space)
    wrapped = PointSpaceAcquisition(acqf, space)
    x, _ = optimize_acqf_mixed_alternating(
        wrapped,
        bounds=space.bounds.to(device=device, dtype=dtype),
        discrete_dims=discrete or None,
        cat_dims=categorical or None,
        q=q,
        num_restarts=settings.num_restarts,
        raw_samples=settings.raw_samples,
        options={
            "maxiter_continuous": settings.maxiter,
            "max_discrete_values": _MAX_DISCRETE_VALUES,
        },
        sequential=True,
    )
    return space.repair(x.detach()), "optimize_acqf_mixed_alternating"
