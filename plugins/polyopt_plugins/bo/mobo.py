"""Multi-objective BO: qLogNEHVI (2 to 4 objectives) and qLogNParEGO (any number), both with constraints.

The hypervolume reference point is the problem's ``ref_point`` when it declares one; otherwise it is inferred
from the observed (feasible, if any) values: the nadir pushed out by a tenth of the observed range (BoTorch's
``infer_reference_point``). ParEGO draws new scalarization weights for every point, so a batch spreads over the
front; qLogNEHVI optimizes a batch greedily, each point conditioned on the earlier ones and on pending points.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from botorch.models import SingleTaskGP
from botorch.utils.multi_objective.hypervolume import infer_reference_point
from torch import Tensor

from polyopt.components import AcquisitionOptions, TrainingData
from polyopt_plugins.bo.acqopt import optimize_acquisition
from polyopt_plugins.bo.acquisition import warm_up_hypervolume_kernel
from polyopt_plugins.bo.base import BayesOptimizer, BOConfig
from polyopt_plugins.bo.ego import load_acquisition

__all__ = ["MOBOConfig", "MultiObjectiveBO", "QLogNEHVI", "QLogNParEGO"]


@dataclass
class MOBOConfig(BOConfig):
    acquisition: str = ""
    """Registered multi-objective ``acquisition`` component; empty means the optimizer's own (qlognehvi or
    qlogparego)."""
    acquisition_options: dict[str, Any] | None = None
    """Options for a plugin's acquisition component, passed as ``AcquisitionOptions.extra``."""


class MultiObjectiveBO(BayesOptimizer):
    """Shared loop of the multi-objective BO optimizers; subclasses name their acquisition."""

    Config = MOBOConfig
    min_objectives = 2
    #: the default acquisition component
    default_acquisition = "qlognehvi"
    #: one acquisition (and weight draw) per point instead of one greedy batch
    per_point = False

    def setup_bo(self) -> None:
        name = self.config.acquisition or self.default_acquisition
        self.acquisition = load_acquisition(
            name,
            objectives="multi",
            constraints=self.problem.n_constraints,
            owner=self.name or type(self).__name__,
        )
        if (
            name == "qlognehvi"
        ):  # reported with the first step's metrics, outside every step's own timing
            self.last_timing["warmup_seconds"] = warm_up_hypervolume_kernel()

    def ref_point(self, data: TrainingData) -> Tensor:
        """``m`` reference point in maximization form."""
        m = self.problem.n_objectives
        if self.problem.ref_point is not None:
            ref = torch.as_tensor(self.problem.ref_point, dtype=data.Y.dtype, device=data.Y.device)
            return -ref * self.problem.signs.to(ref)
        y = data.Y[:, :m]
        feasible = data.feasible
        return infer_reference_point(y[feasible] if bool(feasible.any()) else y)

    def propose(self, n: int, model: SingleTaskGP, data: TrainingData) -> Tensor:
        options = AcquisitionOptions(
            q=1 if self.per_point else n,
            mc_samples=self.config.mc_samples,
            ref_point=self.ref_point(data),
            extra=dict(self.config.acquisition_options or {}),
        )
        if not self.per_point:
            x, self.last_method = optimize_acquisition(
                self.acquisition(model, data, options), self.problem.space, n, self.settings
            )
            return x.to(device=self.device, dtype=self.dtype)
        points: list[Tensor] = []
        for _ in range(n):
            chosen = self.problem.space.encode(torch.cat(points)) if points else None
            pending = [p for p in (data.pending, chosen) if p is not None]
            step = TrainingData(
                data.X,
                data.Y,
                data.n_objectives,
                data.n_constraints,
                torch.cat(pending) if pending else None,
            )
            x, self.last_method = optimize_acquisition(
                self.acquisition(model, step, options), self.problem.space, 1, self.settings
            )
            points.append(x.to(data.X))
        return torch.cat(points).to(device=self.device, dtype=self.dtype)


class QLogNEHVI(MultiObjectiveBO):
    """Multi-objective BO maximizing qLogNEHVI (2 to 4 objectives; the box decomposition grows fast above)."""

    max_objectives = 4
    default_acquisition = "qlognehvi"


class QLogNParEGO(MultiObjectiveBO):
    """Multi-objective BO with qLogNParEGO: random augmented Chebyshev scalarizations, any number of
    objectives."""

    default_acquisition = "qlogparego"
    per_point = True
