"""Registers the multi-objective RL agents (targets lazy)."""

from __future__ import annotations

from polyopt import hookimpl
from polyopt.registry import Registry

_OPTIMIZERS = {
    "envelope": (
        "polyopt_plugins.morl.envelope:Envelope",
        "Envelope Q-learning: one preference-conditioned Q network, discrete actions, vector rewards",
    ),
    "morld": (
        "polyopt_plugins.morl.morld:MORLD",
        "MORL/D with MO-PPO: a population of weight-decomposed policies trained in one batched step, PSA "
        "weight adaptation, an archive of non-dominated policies; discrete or continuous actions",
    ),
    "c-morl": (
        "polyopt_plugins.morl.cmorl:CMORL",
        "C-MORL: parallel per-preference MO-PPO, then constrained (IPO) steps that extend the front from "
        "its sparsest policies; discrete or continuous actions",
    ),
    "pd-morl": (
        "polyopt_plugins.morl.pd_morl:PDMORL",
        "PD-MORL: one preference-conditioned network with preference-driven updates, discrete or "
        "continuous actions, vector rewards",
    ),
    "pareto-q": (
        "polyopt_plugins.morl.pareto_q:ParetoQ",
        "Pareto Q-learning: tabular sets of non-dominated Q vectors for every trade-off at once; discrete "
        "(Integer) observations and actions, vector rewards",
    ),
}


@hookimpl
def polyopt_register(registry: Registry) -> None:
    for name, (target, summary) in _OPTIMIZERS.items():
        registry.add("optimizer", name, target, summary=summary)
