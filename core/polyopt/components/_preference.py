"""Preference-learning components: the pair data trainers learn from, the ``preference_loss`` kind (DPO, IPO,
SimPO, KTO, ...) and the ``reward_aggregation`` kind (how an ensemble of reward models is combined).

Shapes: ``n`` pairs (or, for unpaired data, ``n`` rows each holding a chosen completion, a rejected one or
both), ``m`` preference dimensions, ``K`` ensemble members.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import torch
from torch import Tensor

__all__ = [
    "PREFERENCE_REQUIREMENTS",
    "AggregationParams",
    "PreferenceBatch",
    "PreferenceLoss",
    "PreferenceModel",
    "PreferencePairs",
    "PreferenceParams",
    "PreferenceProblem",
    "RewardAggregation",
    "preference_needs",
]

#: What a preference loss may ask for in its ``requires`` attribute; the trainer computes only those.
PREFERENCE_REQUIREMENTS = frozenset({"reference", "margins", "mismatched"})


@dataclass
class PreferencePairs:
    """Preference data: per row a prompt, the completion preferred (``chosen``) and the one not (``rejected``).

    Unpaired data (KTO's desirable/undesirable examples) leaves one side None: a row with only ``chosen`` is a
    desirable example, one with only ``rejected`` an undesirable one.

    Attributes:
        prompts: ``n`` prompts.
        chosen: ``n`` preferred completions (None: the row has no chosen completion).
        rejected: ``n`` dispreferred completions (None: none).
        margins: ``n x m`` float: how much better ``chosen`` is than ``rejected`` on each dimension (score
            differences; the labels come from dimension 0), or None if unknown.
        dimensions: the ``m`` dimension names.
    """

    prompts: list[str]
    chosen: list[str | None]
    rejected: list[str | None]
    margins: Tensor | None = None
    dimensions: tuple[str, ...] = ("preference",)

    def __post_init__(self) -> None:
        n = len(self.prompts)
        if len(self.chosen) != n or len(self.rejected) != n:
            raise ValueError(
                f"{n} prompts, {len(self.chosen)} chosen and {len(self.rejected)} rejected "
                "completions; expected one of each per prompt"
            )
        empty = [i for i, (c, r) in enumerate(zip(self.chosen, self.rejected)) if c is r is None]
        if empty:
            raise ValueError(f"rows {empty[:5]} have neither a chosen nor a rejected completion")
        if self.margins is not None and tuple(self.margins.shape) != (n, len(self.dimensions)):
            raise ValueError(
                f"margins has shape {tuple(self.margins.shape)}; expected ({n}, "
                f"{len(self.dimensions)}) for dimensions {self.dimensions}"
            )

    def __len__(self) -> int:
        return len(self.prompts)

    @property
    def paired(self) -> bool:
        """Every row has both a chosen and a rejected completion."""
        return all(c is not None and r is not None for c, r in zip(self.chosen, self.rejected))

    def take(self, rows: list[int]) -> PreferencePairs:
        """The given rows, in that order."""
        margins = None if self.margins is None else self.margins[rows]
        return PreferencePairs(
            [self.prompts[i] for i in rows],
            [self.chosen[i] for i in rows],
            [self.rejected[i] for i in rows],
            margins,
            self.dimensions,
        )


@runtime_checkable
class PreferenceProblem(Protocol):
    """What an offline preference trainer learns from: pairs for training and held-out evaluation, and
    prompt/completion pairs for a supervised warm start."""

    dimensions: tuple[str, ...]

    def pairs(self, split: str = "train") -> PreferencePairs:
        """The ``"train"`` or ``"test"`` pairs (always the same ones for one problem instance)."""
        ...

    def sft_batch(self, n: int, generator: torch.Generator) -> tuple[list[str], list[str]]:
        """``n`` (prompt, completion) pairs for a supervised warm start."""
        ...


@dataclass
class PreferenceBatch:
    """Sequence log-probabilities of ``n`` rows of preference data, as a ``preference_loss`` receives them.

    Attributes:
        chosen_logp: ``n`` summed token log-probabilities of the chosen completion under the policy (carries
            the gradient; 0 where the row has no chosen completion).
        rejected_logp: ``n`` the same for the rejected completion.
        chosen_tokens: ``n`` float token count of the chosen completion (0 where absent).
        rejected_tokens: ``n`` float token count of the rejected completion (0 where absent).
        chosen_ref: ``n`` the reference policy's ``chosen_logp`` (losses requiring ``"reference"``).
        rejected_ref: ``n`` the reference policy's ``rejected_logp`` (``"reference"``).
        margins: ``n x m`` per-dimension margins of the data (``"margins"``).
        mismatched_logp: ``n`` the policy's log-probability (no gradient) of another row's completion given
            this row's prompt: KTO's reference point (``"mismatched"``).
        mismatched_ref: ``n`` the reference policy's (``"mismatched"``).
    """

    chosen_logp: Tensor
    rejected_logp: Tensor
    chosen_tokens: Tensor
    rejected_tokens: Tensor
    chosen_ref: Tensor | None = None
    rejected_ref: Tensor | None = None
    margins: Tensor | None = None
    mismatched_logp: Tensor | None = None
    mismatched_ref: Tensor | None = None

    @property
    def has_chosen(self) -> Tensor:
        """``n`` bool: the row has a chosen completion."""
        return self.chosen_tokens > 0

    @property
    def has_rejected(self) -> Tensor:
        """``n`` bool: the row has a rejected completion."""
        return self.rejected_tokens > 0

    def logratios(self) -> tuple[Tensor, Tensor]:
        """``n`` policy-to-reference log-ratios of the chosen and the rejected completion."""
        if self.chosen_ref is None or self.rejected_ref is None:
            raise ValueError(
                "logratios() needs the reference log-probabilities (requires 'reference')"
            )
        return self.chosen_logp - self.chosen_ref, self.rejected_logp - self.rejected_ref


@dataclass
class PreferenceParams:
    """Hyperparameters the preference losses share (each reads what it uses)."""

    beta: float = 0.1
    """Inverse temperature of the implicit reward ``beta log(pi / ref)`` (SimPO: of the length-normalized
    log-probability)."""
    label_smoothing: float = 0.0
    """Assumed probability that a pair's label is flipped (cDPO, robust DPO); in [0, 0.5)."""
    gamma: float = 0.5
    """SimPO's target reward margin."""
    odds_ratio_weight: float = 0.1
    """ORPO's lambda: weight of the odds-ratio term next to the chosen completion's NLL."""
    desirable_weight: float = 1.0
    """KTO's lambda_D (desirable examples)."""
    undesirable_weight: float = 1.0
    """KTO's lambda_U (undesirable examples)."""
    weights: tuple[float, ...] = ()
    """MODPO: one weight per preference dimension (the labels come from dimension 0); empty = all equal."""
    options: dict[str, Any] = field(default_factory=dict)
    """The trainer config's ``loss_options``, for a plugin loss's own settings."""


@runtime_checkable
class PreferenceLoss(Protocol):
    """``loss(batch, params) -> n`` per-row losses (kind ``preference_loss``); the trainer averages them.

    ``requires`` names what the loss needs (a subset of :data:`PREFERENCE_REQUIREMENTS`): without
    ``"reference"`` no reference log-probabilities are computed at all (SimPO, ORPO); ``unpaired`` says the loss
    also takes rows with only one completion (KTO). Mark a function with :func:`preference_needs`.

    Example (a complete plugin loss: DPO with a fixed offset on the margin)::

        @preference_needs("reference")
        def offset_dpo(batch, params):
            chosen, rejected = batch.logratios()
            offset = params.options.get("offset", 0.0)
            return -torch.nn.functional.logsigmoid(params.beta * (chosen - rejected) - offset)
    """

    requires: frozenset[str]
    unpaired: bool

    def __call__(self, batch: PreferenceBatch, params: PreferenceParams) -> Tensor: ...


@runtime_checkable
class PreferenceModel(Protocol):
    """``prefer(prompts, first, second, **fields) -> n`` probabilities that ``first[i]`` is preferred to
    ``second[i]`` as a completion of ``prompts[i]``: a preference oracle, a pairwise judge, or a reward model
    read as Bradley-Terry (:class:`~polyopt_plugins.llm.win_reward.WinRate` turns one into a reward). It need
    not be transitive; ``prefer(x, a, b) + prefer(x, b, a)`` should be 1."""

    def __call__(
        self, prompts: list[str], first: list[str], second: list[str], **fields: Any
    ) -> Tensor: ...


@dataclass
class AggregationParams:
    """Hyperparameters of the reward aggregations."""

    uncertainty_coef: float = 0.5
    """UWO's lambda: how much the members' disagreement (variance) is subtracted."""
    options: dict[str, Any] = field(default_factory=dict)
    """An aggregation's own settings."""


@runtime_checkable
class RewardAggregation(Protocol):
    """``aggregate(scores, params) -> n`` (kind ``reward_aggregation``): one reward per completion from the
    ``n x K`` scores of ``K`` reward models (mean, worst case, uncertainty-weighted, ...)."""

    def __call__(self, scores: Tensor, params: AggregationParams) -> Tensor: ...


F = TypeVar("F", bound=Callable[..., Any])


def preference_needs(*needs: str, unpaired: bool = False) -> Callable[[F], F]:
    """Mark a preference loss with what it needs (see :data:`PREFERENCE_REQUIREMENTS`) and whether it takes
    unpaired rows."""
    unknown = set(needs) - PREFERENCE_REQUIREMENTS
    if unknown:
        raise ValueError(
            f"preference_needs{needs}: unknown {sorted(unknown)}; expected among "
            f"{sorted(PREFERENCE_REQUIREMENTS)}"
        )

    def mark(fn: F) -> F:
        fn.requires = frozenset(needs)  # type: ignore[attr-defined]  # function attributes, read by trainers
        fn.unpaired = unpaired  # type: ignore[attr-defined]
        return fn

    return mark


def check_preference_loss(target: Any) -> str | None:
    """The ``preference_loss`` kind's registry check."""
    if not callable(target):
        return f"expected a callable loss(batch, params), got {target!r}"
    needs = getattr(target, "requires", None)
    if not isinstance(needs, frozenset) or not needs <= PREFERENCE_REQUIREMENTS:
        return (
            f"requires={needs!r}; mark it with @polyopt.components.preference_needs(...) naming a "
            f"subset of {sorted(PREFERENCE_REQUIREMENTS)}"
        )
    if not isinstance(getattr(target, "unpaired", None), bool):
        return "unpaired is missing; mark it with @polyopt.components.preference_needs(...)"
    return None


def check_reward_aggregation(target: Any) -> str | None:
    """The ``reward_aggregation`` kind's registry check."""
    return (
        None
        if callable(target)
        else f"expected a callable aggregate(scores, params), got {target!r}"
    )
