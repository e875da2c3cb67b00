"""Registers the Bayesian optimization family and its acquisition components (lazy targets: BoTorch loads on
first use)."""

from __future__ import annotations

from polyopt import hookimpl
from polyopt.registry import Registry

_OPTIMIZERS = {
    "ego": (
        "ego:EGO",
        "EGO: Sobol start, GP, LogEI (qLogNEI for batches/pending), UCB or Thompson; constraints",
    ),
    "config": (
        "config:CONFIG",
        "CONFIG: optimistic constrained BO that can declare a problem infeasible",
    ),
    "qlognehvi": (
        "mobo:QLogNEHVI",
        "multi-objective BO with qLogNEHVI (2 to 4 objectives), constraints",
    ),
    "qlogparego": (
        "mobo:QLogNParEGO",
        "multi-objective BO with qLogNParEGO (any number of objectives)",
    ),
    "turbo": (
        "turbo:TuRBO",
        "TuRBO-1 / TuRBO-m (n_regions): trust-region BO for high-dimensional problems",
    ),
    "aegis": (
        "aegis:AEGiS",
        "AEGiS: asynchronous epsilon-greedy BO; never re-suggests pending points",
    ),
}

_ACQUISITIONS = {
    "log-ei": (
        "log_ei",
        "LogEI; constrained LogEI with constraints; qLogNEI for batches or pending points",
    ),
    "constrained-log-ei": (
        "constrained_log_ei",
        "feasibility-weighted LogEI, probability of feasibility while nothing feasible is known",
    ),
    "probability-of-feasibility": (
        "probability_of_feasibility",
        "log probability that all constraints hold",
    ),
    "qlognei": ("qlognei", "batch noisy expected improvement (log form), with constraints"),
    "ucb": ("ucb", "upper confidence bound mean + sqrt(beta) * std (qUCB for batches)"),
    "thompson": ("thompson", "pathwise Thompson sampling"),
    "qkg": ("information:qkg", "one-shot knowledge gradient (continuous spaces)"),
    "qmes": ("information:qmes", "max-value entropy search (GIBBON for batches)"),
    "gibbon": ("information:gibbon", "GIBBON: lower-bound max-value entropy search, joint batches"),
    "qjes": ("information:qjes", "joint entropy search over sampled optima (x*, f*)"),
    "qlognehvi": (
        "qlognehvi",
        "noisy expected hypervolume improvement (log form), with constraints",
    ),
    "qlogparego": (
        "qlogparego",
        "ParEGO: qLogNEI on random Chebyshev scalarizations, with constraints",
    ),
}


@hookimpl
def polyopt_register(registry: Registry) -> None:
    from polyopt.components import AcquisitionBuilder
    from polyopt.components._bayes import check_acquisition

    registry.add_kind(
        "acquisition",
        AcquisitionBuilder,
        "builds a BoTorch acquisition function from a fitted model and the training data",
        check=check_acquisition,
    )
    for name, (target, summary) in _OPTIMIZERS.items():
        registry.add("optimizer", name, f"polyopt_plugins.bo.{target}", summary=summary)
    for name, (attr, summary) in _ACQUISITIONS.items():
        target = attr if ":" in attr else f"acquisition:{attr}"
        registry.add("acquisition", name, f"polyopt_plugins.bo.{target}", summary=summary)
