"""Conformance test kit: pytest classes that plugins subclass in their own tests.

Example (in a plugin's ``tests/test_contract.py``)::

    from polyopt.testing import AdvantageContract, ObjectiveContract, OptimizerContract

    class TestHillClimb(OptimizerContract):
        optimizer = "acme.hill-climb"          # a registered name or the class itself

    class TestBowl(ObjectiveContract):
        objective = "acme.bowl"                # a registered name, a class, or a zero-argument factory

    class TestCentered(AdvantageContract):
        advantage = "acme.centered"

An optimizer contract runs on :func:`contract_problem`'s small problem and config; override
``make_problem(self) -> (problem, config)`` to choose another. :data:`CONTRACTS` maps every kind polyopt's
families declare to its conformance class; polyopt's own tests run each over every registered name.
"""

from __future__ import annotations

from polyopt.testing._co_contracts import LocalSearchContract
from polyopt.testing._fixtures import (
    SMALL_CONFIG,
    contract_problem,
    small_gp,
    small_rollout,
    small_training_data,
)
from polyopt.testing._llm_axes_contracts import (
    AdvantageShapingContract,
    ClipRangeContract,
    GuidanceContract,
    PromptSamplerContract,
    ReplayContract,
    TurnAdvantageContract,
    small_scored_groups,
    small_turn_batch,
)
from polyopt.testing._preference_contracts import (
    PreferenceLossContract,
    RewardAggregationContract,
    small_preference_batch,
)
from polyopt.testing._reward_weighting_contracts import (
    RewardWeightingContract,
    small_weighting_context,
)
from polyopt.testing.components import (
    AcquisitionContract,
    AdvantageContract,
    KLEstimatorContract,
    MetricContract,
    OperatorContract,
    PolicyLossContract,
    RewardContract,
    SurvivalContract,
)
from polyopt.testing.contracts import EnvironmentContract, ObjectiveContract, OptimizerContract

#: The conformance class of each kind (the attribute a subclass sets is the kind's name).
CONTRACTS: dict[str, type] = {
    "optimizer": OptimizerContract,
    "objective": ObjectiveContract,
    "environment": EnvironmentContract,
    "metric": MetricContract,
    "operator": OperatorContract,
    "survival": SurvivalContract,
    "acquisition": AcquisitionContract,
    "advantage": AdvantageContract,
    "policy_loss": PolicyLossContract,
    "kl_estimator": KLEstimatorContract,
    "reward": RewardContract,
    "preference_loss": PreferenceLossContract,
    "reward_aggregation": RewardAggregationContract,
    "reward_weighting": RewardWeightingContract,
    "local_search": LocalSearchContract,
    "advantage_shaping": AdvantageShapingContract,
    "clip_range": ClipRangeContract,
    "replay": ReplayContract,
    "prompt_sampler": PromptSamplerContract,
    "guidance": GuidanceContract,
    "turn_advantage": TurnAdvantageContract,
}

__all__ = [
    "CONTRACTS",
    "SMALL_CONFIG",
    "AcquisitionContract",
    "AdvantageContract",
    "AdvantageShapingContract",
    "ClipRangeContract",
    "EnvironmentContract",
    "GuidanceContract",
    "KLEstimatorContract",
    "LocalSearchContract",
    "MetricContract",
    "ObjectiveContract",
    "OperatorContract",
    "OptimizerContract",
    "PolicyLossContract",
    "PreferenceLossContract",
    "PromptSamplerContract",
    "ReplayContract",
    "RewardAggregationContract",
    "RewardContract",
    "RewardWeightingContract",
    "SurvivalContract",
    "TurnAdvantageContract",
    "contract_problem",
    "small_gp",
    "small_preference_batch",
    "small_rollout",
    "small_scored_groups",
    "small_training_data",
    "small_turn_batch",
    "small_weighting_context",
]
