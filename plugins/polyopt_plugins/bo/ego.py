"""EGO: Efficient Global Optimization with any single-objective acquisition component.

The default, ``log-ei``, is analytic LogEI for one point at a time (constrained LogEI with constraints, the
probability of feasibility while nothing feasible is known) and qLogNEI for batches (``batch_size > 1``) or
while points are pending. ``acquisition="qlognei"`` uses qLogNEI always, ``"ucb"`` the upper confidence bound,
``"thompson"`` pathwise Thompson sampling, ``"qkg"`` the one-shot knowledge gradient, ``"qmes"`` / ``"gibbon"`` max-value
entropy search and ``"qjes"`` joint entropy search (:mod:`polyopt_plugins.bo.information`); a plugin's own ``acquisition`` component works the same way.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from botorch.models import SingleTaskGP
from torch import Tensor

from polyopt.components import AcquisitionOptions, TrainingData
from polyopt.errors import ConfigError
from polyopt_plugins.bo.acqopt import optimize_acquisition
from polyopt_plugins.bo.base import BayesOptimizer, BOConfig

__all__ = ["EGO", "EGOConfig", "load_acquisition"]


@dataclass
class EGOConfig(BOConfig):
    acquisition: str = "log-ei"
    """Name of a registered ``acquisition`` component: log-ei, qlognei, constrained-log-ei, ucb, thompson, ..."""
    acquisition_options: dict[str, Any] | None = None
    """Options for a plugin's acquisition component, passed as ``AcquisitionOptions.extra``."""
    beta: float = 4.0
    """UCB's exploration weight (``mean + sqrt(beta) * std``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.beta >= 0:
            raise ValueError(f"beta={self.beta}; expected a non-negative number")


def load_acquisition(
    name: str, *, objectives: str, constraints: int, owner: str, continuous: bool = True
) -> Any:
    """Return the registered acquisition component ``name``, checked against the problem.

    Args:
        name: registry name.
        objectives: ``"single"`` or ``"multi"``: what the optimizer needs.
        constraints: the problem's number of constraints.
        owner: the optimizer's name, for messages.
        continuous: whether the problem's space is continuous (a ``continuous_only`` component needs one).

    Raises:
        ConfigError: unknown name (with suggestions), or a component that cannot handle the problem.
    """
    import polyopt
    from polyopt.errors import UnknownNameError

    try:
        build = polyopt.registry().get("acquisition", name)
    except UnknownNameError as exc:
        raise ConfigError(f"acquisition={name!r} for optimizer {owner!r}: {exc}") from None
    kind = getattr(build, "objectives", objectives)
    if kind != objectives:
        raise ConfigError(
            f"acquisition {name!r} is for {kind}-objective problems; optimizer {owner!r} needs a "
            f"{objectives}-objective one"
        )
    if not constraints and getattr(build, "requires_constraints", False):
        raise ConfigError(
            f"acquisition {name!r} needs a problem with constraints; this one has none"
        )
    if not continuous and getattr(build, "continuous_only", False):
        raise ConfigError(
            f"acquisition {name!r} optimizes over continuous spaces only; this problem's space has "
            "integer, binary or categorical columns"
        )
    if constraints and not getattr(build, "supports_constraints", True):
        raise ConfigError(
            f"acquisition {name!r} ignores constraints and the problem has {constraints}; use "
            "'log-ei' (constrained LogEI) or 'qlognei', or the 'config' optimizer"
        )
    return build


class EGO(BayesOptimizer):
    """Single-objective BO with a Sobol start and a registered acquisition function (default LogEI).

    Example:
        >>> import polyopt, torch
        >>> @polyopt.objective(bounds=([-1.0] * 2, [1.0] * 2))
        ... def bowl(x):
        ...     return (x ** 2).sum(dim=-1)
        >>> result = polyopt.optimize("ego", bowl, budget=8, seed=0, n_initial=4, num_restarts=2, raw_samples=32)
        >>> result.f_best < 0.5
        True
    """

    Config = EGOConfig
    max_objectives = 1
    supports_saas = True

    def setup_bo(self) -> None:
        self.acquisition = load_acquisition(
            self.config.acquisition,
            objectives="single",
            constraints=self.problem.n_constraints,
            owner=self.name or "ego",
            continuous=self.problem.space.is_continuous,
        )

    def acquisition_options(self, q: int) -> AcquisitionOptions:
        """The options handed to the acquisition component for ``q`` points."""
        cfg = self.config
        extra = dict(cfg.acquisition_options or {})
        return AcquisitionOptions(q=q, beta=cfg.beta, mc_samples=cfg.mc_samples, extra=extra)

    def propose(self, n: int, model: SingleTaskGP, data: TrainingData) -> Tensor:
        acqf = self.acquisition(model, data, self.acquisition_options(n))
        order = (
            data.Y[:, 0]
            .where(data.feasible, torch.full_like(data.Y[:, 0], -torch.inf))
            .argsort(descending=True)
        )
        x, self.last_method = optimize_acquisition(
            acqf, self.problem.space, n, self.settings, incumbents=data.X[order]
        )
        return x.to(device=self.device, dtype=self.dtype)
