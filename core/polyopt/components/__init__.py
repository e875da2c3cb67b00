"""The public protocols and data types of polyopt's component kinds.

A component is a piece a plugin adds without writing a whole optimizer: a variation ``operator`` or a
``survival`` for the evolutionary algorithms, an ``acquisition`` for Bayesian optimization, an ``advantage``
estimator, ``policy_loss``, ``kl_estimator`` or ``reward`` for the policy-gradient trainers, a ``metric``.
Each kind is declared by the family that owns it (``registry.add_kind(kind, protocol, doc)`` in its register
hook) and its protocol and data types live here, so a third-party plugin imports only ``polyopt`` and
``polyopt.components``. Conformance classes for every kind are in :mod:`polyopt.testing`.

| kind | protocol | what it receives |
|---|---|---|
| ``operator`` | :class:`OperatorFactory` -> :class:`Crossover` / :class:`Mutation` | a Space, options |
| ``survival`` | :class:`Survival` -> :class:`Survivors` | objectives, violations, a generator |
| ``acquisition`` | :class:`AcquisitionBuilder` | a BoTorch model, :class:`TrainingData`, :class:`AcquisitionOptions` |
| ``advantage`` | :class:`AdvantageEstimator` | a :class:`Rollout`, :class:`AdvantageParams` |
| ``policy_loss`` | :class:`PolicyLoss` | log-probabilities, advantages, a mask, :class:`LossParams` |
| ``kl_estimator`` | :class:`KLEstimator` | log-probabilities of the policy and the reference |
| ``reward`` | :class:`RewardFunction` | prompts, completions, task fields |
| ``preference_loss`` | :class:`PreferenceLoss` | a :class:`PreferenceBatch`, :class:`PreferenceParams` |
| ``reward_aggregation`` | :class:`RewardAggregation` | ``n x K`` reward-model scores, :class:`AggregationParams` |
| ``reward_weighting`` | :class:`RewardWeighting` | a :class:`WeightingContext` (rewards, front, state, policy gradients) |
| ``metric`` | :class:`Metric` | objective values and a reference point, front or weights |
| ``local_search`` | :class:`LocalSearchFactory` -> :class:`LocalSearch` | a problem exposing a structure, options |
| ``advantage_shaping`` | :class:`AdvantageShaping` | advantages and a :class:`StepContext` (entropy, state) |
| ``clip_range`` | :class:`ClipRange` | a :class:`ClipContext` (ratios, entropy, old log-probabilities) |
| ``replay`` | factory -> :class:`ReplayBuffer` | :class:`ScoredGroups` |
| ``prompt_sampler`` | factory -> :class:`PromptSampler` | a text task, :class:`SampledGroups` |
| ``guidance`` | factory -> :class:`Guidance` | a :class:`GroupOutcome` |
| ``turn_advantage`` | :class:`TurnAdvantage` | a :class:`TurnBatch` of a :class:`MultiTurnTask` |

Options reach a component through its owner's config: ``mutation="acme.gauss"`` with
``mutation_options={"sigma": 0.3}``, ``advantage="acme.centered"`` with ``advantage_options={...}``,
``acquisition="acme.pm"`` with ``acquisition_options={...}``.
"""

from __future__ import annotations

from polyopt.components._bayes import AcquisitionBuilder, AcquisitionOptions, TrainingData
from polyopt.components._combinatorial import STRUCTURES, LocalSearch, LocalSearchFactory
from polyopt.components._evolution import (
    Crossover,
    Mutation,
    Operator,
    OperatorFactory,
    Survival,
    Survivors,
)
from polyopt.components._llm_axes import (
    AdvantageShaping,
    ClipContext,
    ClipRange,
    GroupOutcome,
    Guidance,
    GuidancePlan,
    MultiTurnTask,
    PromptSampler,
    ReplayBuffer,
    SampledGroups,
    ScoredGroups,
    StepContext,
    TurnAdvantage,
    TurnBatch,
    TurnOutcome,
)
from polyopt.components._metric import METRIC_INPUTS, Metric, metric_input
from polyopt.components._policy_gradient import (
    REQUIREMENTS,
    AdvantageEstimator,
    AdvantageParams,
    KLEstimator,
    LossParams,
    PolicyLoss,
    RewardFunction,
    Rollout,
    TaskBatch,
    TextTask,
    requires,
)
from polyopt.components._preference import (
    PREFERENCE_REQUIREMENTS,
    AggregationParams,
    PreferenceBatch,
    PreferenceLoss,
    PreferenceModel,
    PreferencePairs,
    PreferenceParams,
    PreferenceProblem,
    RewardAggregation,
    preference_needs,
)
from polyopt.components._reward_weighting import RewardWeighting, WeightingContext

__all__ = [
    "METRIC_INPUTS",
    "PREFERENCE_REQUIREMENTS",
    "REQUIREMENTS",
    "STRUCTURES",
    "AcquisitionBuilder",
    "AcquisitionOptions",
    "AdvantageEstimator",
    "AdvantageParams",
    "AdvantageShaping",
    "AggregationParams",
    "ClipContext",
    "ClipRange",
    "Crossover",
    "GroupOutcome",
    "Guidance",
    "GuidancePlan",
    "KLEstimator",
    "LocalSearch",
    "LocalSearchFactory",
    "LossParams",
    "Metric",
    "MultiTurnTask",
    "Mutation",
    "Operator",
    "OperatorFactory",
    "PolicyLoss",
    "PreferenceBatch",
    "PreferenceLoss",
    "PreferenceModel",
    "PreferencePairs",
    "PreferenceParams",
    "PreferenceProblem",
    "PromptSampler",
    "ReplayBuffer",
    "RewardAggregation",
    "RewardFunction",
    "RewardWeighting",
    "Rollout",
    "SampledGroups",
    "ScoredGroups",
    "StepContext",
    "Survival",
    "Survivors",
    "TaskBatch",
    "TextTask",
    "TrainingData",
    "TurnAdvantage",
    "TurnBatch",
    "TurnOutcome",
    "WeightingContext",
    "metric_input",
    "preference_needs",
    "requires",
]
