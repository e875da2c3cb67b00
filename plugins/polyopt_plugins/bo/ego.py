"""EGO: Efficient Global Optimization with any single-objective acquisition component.

The default, ``log-ei``, is analytic LogEI for one point at a time (constrained LogEI with constraints, the
probability of feasibility while nothing feasible is known) and qLogNEI for batches (``batch_size > 1``) or
while points are pending. ``acquisition="qlognei"`` uses qLogNEI always, ``"ucb"`` the upper confidence bound,
``"thompson"`` pathwise Thompson sampling, ``"qkg"`` the one-shot knowledge gradient, ``"qmes"`` / ``"gibbon"`` max-value
entropy search and ``"qjes"`` joint entropy search (:mod:`polyopt_plugins.bo.information`); a plugin's own ``acquisition`` component works the same way.

An objective that declares a ``fidelity`` gets multi-fidelity, cost-aware BO instead
(:mod:`polyopt_plugins.bo.multifidelity`): a multi-fidelity GP, the cost-weighted multi-fidelity knowledge
gradient (``fixed_cost``, ``fidelity_cost``), and results among the target-fidelity points.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from botorch.models import SingleTaskGP
from botorch.optim import optimize_acqf
from torch import Tensor

from polyopt import Evaluation, Result
from polyopt.components import AcquisitionOptions, TrainingData
from polyopt.errors import ConfigError
from polyopt.spaces import Box
from polyopt_plugins.bo.acqopt import optimize_acquisition
from polyopt_plugins.bo.base import BayesOptimizer, BOConfig
from polyopt_plugins.bo.multifidelity import (
    cost_aware_kg,
    declared_fidelity,
    fit_multi_fidelity_gp,
    target_posterior_mean,
)

__all__ = ["EGO", "EGOConfig", "load_acquisition"]


@dataclass
class EGOConfig(BOConfig):
    acquisition: str = "log-ei"
    """Name of a registered ``acquisition`` component: log-ei, qlognei, constrained-log-ei, ucb, thompson, ..."""
    acquisition_options: dict[str, Any] | None = None
    """Options for a plugin's acquisition component, passed as ``AcquisitionOptions.extra``."""
    beta: float = 4.0
    """UCB's exploration weight (``mean + sqrt(beta) * std``)."""
    fixed_cost: float = 5.0
    """Multi-fidelity objectives: the cost of an evaluation at the lowest fidelity (BoTorch's tutorial's 5)."""
    fidelity_cost: float = 1.0
    """Multi-fidelity objectives: the cost added from the lowest to the target fidelity (linear in between)."""
    num_fantasies: int = 16
    """Multi-fidelity objectives: fantasies of the cost-aware knowledge gradient."""
    target_every: int = 3
    """Multi-fidelity objectives: while fewer than 1 in ``target_every`` points are at the target fidelity, ask
    the posterior mean's maximizer there instead of the knowledge gradient's choice (results come from there)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.beta >= 0:
            raise ValueError(f"beta={self.beta}; expected a non-negative number")
        if self.target_every < 1:
            raise ValueError(f"target_every={self.target_every}; expected at least 1")
        if not (self.fixed_cost > 0 and self.fidelity_cost >= 0 and self.num_fantasies >= 1):
            raise ValueError(
                f"fixed_cost={self.fixed_cost}, fidelity_cost={self.fidelity_cost}, num_fantasies="
                f"{self.num_fantasies}; expected a positive fixed cost, a non-negative fidelity cost and "
                "at least one fantasy"
            )


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
        self.fidelity = declared_fidelity(self.problem)
        if self.fidelity is not None and (
            self.problem.n_constraints or self.config.model != "polyopt"
        ):
            raise ConfigError(
                "a multi-fidelity objective runs with ego's multi-fidelity GP and cost-aware knowledge "
                f"gradient, without constraints (the problem has {self.problem.n_constraints}) or "
                f"another model (model={self.config.model!r})"
            )
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

    def fit_model(self, data: TrainingData) -> SingleTaskGP:
        if self.fidelity is None:
            return super().fit_model(data)
        start = time.perf_counter()
        model = fit_multi_fidelity_gp(data, self.fidelity, self.config.fit_maxiter)
        self.last_timing["fit_seconds"] = time.perf_counter() - start
        return model  # a SingleTaskGP subclass

    def propose(self, n: int, model: SingleTaskGP, data: TrainingData) -> Tensor:
        if self.fidelity is not None:
            cfg = self.config
            asked = torch.cat([self.x_all, self.pending])
            exact = int(self.fidelity.at_target(asked).sum())
            if n == 1 and exact * cfg.target_every < asked.shape[0]:
                return self._recommend(model, data)
            acqf = cost_aware_kg(
                model,
                data,
                self.fidelity,
                fixed_cost=cfg.fixed_cost,
                fidelity_cost=cfg.fidelity_cost,
                num_fantasies=cfg.num_fantasies,
            )
            x, self.last_method = optimize_acquisition(acqf, self.problem.space, n, self.settings)
            return x.to(device=self.device, dtype=self.dtype)

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

    def _recommend(self, model: SingleTaskGP, data: TrainingData) -> Tensor:
        """``1 x d``: the posterior mean's maximizer at the target fidelity (a point to evaluate exactly)."""
        assert self.fidelity is not None
        e = data.X.shape[-1]
        mean = target_posterior_mean(model, self.fidelity, e)
        others = [j for j in range(e) if j != self.fidelity.column]
        bounds = torch.stack([torch.zeros(e - 1), torch.ones(e - 1)]).to(data.X)
        z, _ = optimize_acqf(
            mean,
            bounds=bounds,
            q=1,
            num_restarts=self.settings.num_restarts,
            raw_samples=self.settings.raw_samples,
            options={"maxiter": self.settings.maxiter},
        )
        full = torch.full((1, e), self.fidelity.target_unit).to(data.X)
        full[:, others] = z.detach()
        x = self.problem.space.decode(full)
        x[:, self.fidelity.column] = (
            self.fidelity.target
        )  # exactly the target, not a round trip of it
        self.last_method = "posterior_mean_at_target"
        return x.to(device=self.device, dtype=self.dtype)

    def result(self) -> Result:
        """The best point(s); for a multi-fidelity objective, among the points evaluated at the target."""
        if self.fidelity is None:
            return super().result()
        at = self.fidelity.at_target(self.x_all)
        ev = self.evaluations()
        failed = ev.failed_mask | ~at  # a cheaper evaluation is not a result
        return self.make_result(self.x_all, Evaluation(f=ev.f, g=ev.g, failed=failed))

    def step_metrics(self, x: Tensor, evaluation: Evaluation) -> dict[str, float]:
        metrics = super().step_metrics(x, evaluation)
        if self.fidelity is not None:
            space = self.problem.space
            assert isinstance(space, Box)  # declared_fidelity checked it
            cost = self.fidelity.cost(
                self.x_all, self.config.fixed_cost, self.config.fidelity_cost, space
            )
            metrics["cost"] = float(cost.sum())
            metrics["fidelity"] = float(x[:, self.fidelity.column].mean())
        return metrics
