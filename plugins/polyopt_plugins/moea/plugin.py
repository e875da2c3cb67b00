"""Registers the evolutionary multi-objective family: algorithms, operators and survivals."""

from __future__ import annotations

from polyopt import hookimpl
from polyopt.registry import Registry

_PKG = "polyopt_plugins.moea"

_OPTIMIZERS = {
    "nsga2": ("nsga2:NSGA2", "NSGA-II: rank and crowding, pymoo defaults; any space, constraints"),
    "nsga3": ("nsga3:NSGA3", "NSGA-III: reference-direction niching (Das-Dennis or Riesz energy)"),
    "moead": ("moead:MOEAD", "MOEA/D, batched: every subproblem updated at once per generation"),
    "moead-sequential": (
        "moead:SequentialMOEAD",
        "MOEA/D as Zhang & Li 2007: one subproblem at a time",
    ),
    "sms-emoa": ("sms_emoa:SMSEMOA", "SMS-EMOA: least hypervolume contribution removed"),
    "rvea": ("rvea:RVEA", "RVEA: angle-penalized distance with adaptive reference vectors"),
    "hype": (
        "hype:HypE",
        "HypE: Monte Carlo hypervolume fitness for many objectives, tensorized",
    ),
    "dnsga2": (
        "dnsga2:DNSGA2",
        "NSGA-II whose population starts at 4 and doubles every tau evaluations",
    ),
}

_SURVIVALS = {
    "rank-and-crowding": (
        "survival:RankAndCrowdingSurvival",
        "NSGA-II fronts then crowding distance",
    ),
    "reference-direction": (
        "niching:ReferenceDirectionSurvival",
        "NSGA-III normalization and niching",
    ),
    "hv-contribution": (
        "survival:HVContributionSurvival",
        "SMS-EMOA least hypervolume contribution",
    ),
    "apd": ("survival:APDSurvival", "RVEA angle-penalized distance"),
    "hype": ("hype:HypESurvival", "HypE least Monte Carlo hypervolume fitness"),
}


@hookimpl
def polyopt_register(registry: Registry) -> None:
    from polyopt.components import OperatorFactory, Survival
    from polyopt.components._evolution import check_operator, check_survival
    from polyopt_plugins.moea.variation import OPERATORS  # a plain table (torch only)

    registry.add_kind(
        "operator",
        OperatorFactory,
        "a crossover or mutation for the evolutionary algorithms, built as cls(space, **options)",
        check=check_operator,
    )
    registry.add_kind(
        "survival",
        Survival,
        "how an evolutionary algorithm picks the next population from parents and children",
        check=check_survival,
    )
    for name, (target, summary) in _OPTIMIZERS.items():
        registry.add("optimizer", name, f"{_PKG}.{target}", summary=summary)
    for name, (target, summary) in OPERATORS.items():
        registry.add("operator", name, f"{_PKG}.{target}", summary=summary)
    for name, (target, summary) in _SURVIVALS.items():
        registry.add("survival", name, f"{_PKG}.{target}", summary=summary)
