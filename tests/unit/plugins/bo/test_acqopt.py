"""The acquisition optimizer's handling of L-BFGS-B starts."""

from __future__ import annotations

import warnings

import torch
from botorch.acquisition import AcquisitionFunction
from botorch.models import SingleTaskGP
from botorch.optim import optimize_acqf
from torch import Tensor

from polyopt.spaces import Box
from polyopt_plugins.bo import acqopt
from polyopt_plugins.bo.acqopt import AcqOptSettings, optimize_acquisition


class _WrongGradientBowl(AcquisitionFunction):
    """``-|x - 0.3|^2``, whose gradient points the wrong way where ``x_0 > 0.7`` (line searches started there
    end abnormally); records the size of every call."""

    def __init__(self) -> None:
        torch.manual_seed(0)
        super().__init__(
            model=SingleTaskGP(
                torch.rand(3, 2, dtype=torch.float64), torch.rand(3, 1, dtype=torch.float64)
            )
        )
        self.calls: list[int] = []

    def forward(self, X: Tensor) -> Tensor:
        self.calls.append(X.shape[0])
        f = -((X - 0.3) ** 2).sum(dim=(-1, -2))
        tangent = f - f.detach()  # zero, carrying f's gradient
        return f.detach() + torch.where(X[..., 0, 0] > 0.7, -tangent, tangent)


def test_an_abnormal_start_does_not_throw_the_other_starts_away() -> None:
    settings = AcqOptSettings()
    plain = _WrongGradientBowl()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        optimize_acqf(
            plain,
            torch.tensor([[0.0, 0.0], [1.0, 1.0]], dtype=torch.float64),
            q=1,
            num_restarts=settings.num_restarts,
            raw_samples=settings.raw_samples,
        )
    raw = [n for n in plain.calls if n > settings.num_restarts]
    assert (
        sum(raw) == 2 * settings.raw_samples
    )  # BoTorch by itself started over with new raw samples

    acqf = _WrongGradientBowl()
    x, method = optimize_acquisition(acqf, Box(torch.zeros(2), torch.ones(2)), 1, settings)
    raw = [n for n in acqf.calls if n > settings.num_restarts]
    assert raw == [settings.raw_samples]  # scored once, in one call, and kept
    assert method == "optimize_acqf"
    assert torch.allclose(x, torch.tensor([[0.3, 0.3]], dtype=x.dtype), atol=1e-4)


def test_hypervolume_acquisitions_score_raw_samples_in_chunks_that_fit_the_budget() -> None:
    acqf = _WrongGradientBowl()
    acqf.cell_lower_bounds = torch.zeros(
        128, 33, 2
    )  # what qLogNEHVI keeps: MC samples x cells x objectives
    optimize_acquisition(acqf, Box(torch.zeros(2), torch.ones(2)), 1, AcqOptSettings())
    raw = [n for n in acqf.calls if n > 10]
    assert sum(raw) == 512
    assert max(raw) * acqf.cell_lower_bounds.numel() <= acqopt._RAW_ELEMENTS
    assert len(raw) == 5  # 124-point chunks, not one point at a time
