"""Policy-gradient components for language-model trainers: ``advantage``, ``policy_loss``, ``kl_estimator`` and
``reward`` entries, the data they receive, and the text tasks trainers learn on.

Shapes: ``n`` completions in ``G`` groups of ``k`` (the completions of one prompt are contiguous, so a group is
a row of ``scores.view(G, k)``), ``T`` completion positions (right-padded; ``mask`` marks real tokens).
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, TypeVar, runtime_checkable

import torch
from torch import Tensor

__all__ = [
    "REQUIREMENTS",
    "AdvantageEstimator",
    "AdvantageParams",
    "KLEstimator",
    "LossParams",
    "PolicyLoss",
    "RewardFunction",
    "Rollout",
    "TaskBatch",
    "TextTask",
    "requires",
]

#: What an advantage estimator may ask for in its ``requires`` attribute, and what the trainer then computes.
REQUIREMENTS = frozenset({"groups", "greedy", "values", "old_logp", "ref_logp", "ref_scores"})


@dataclass
class Rollout:
    """A scored batch of completions, filled only as far as the advantage estimator requires.

    Attributes:
        scores: ``n`` scalar rewards (the combined reward of each completion).
        token_rewards: ``n x T`` per-token rewards: the score on the last real token, minus the KL penalty on
            every token when the KL sits in the reward.
        mask: ``n x T`` float, 1 on real completion tokens.
        n_groups: ``G``; ``n`` is a multiple of it (``k`` completions per prompt).
        values: ``n x T`` critic values (estimators requiring ``"values"``).
        greedy_scores: ``n`` reward of the greedy completion of each row's prompt (``"greedy"``).
        old_logp: ``n x T`` log-probabilities under the sampling policy (``"old_logp"``).
        ref_logp: ``n x T`` log-probabilities under the reference policy (``"ref_logp"``).
        ref_scores: ``n`` combined reward of a completion the reference policy sampled for each row's prompt
            (``"ref_scores"``).
        group_ids: ``n`` group index of each row when a prompt sampler gave groups unequal sizes (rows of a
            group stay contiguous); None when every group has ``n / G`` rows. :meth:`grouped` then refuses;
            estimators that take unequal groups use :meth:`group_stats`.
    """

    scores: Tensor
    token_rewards: Tensor
    mask: Tensor
    n_groups: int
    values: Tensor | None = None
    greedy_scores: Tensor | None = None
    old_logp: Tensor | None = None
    ref_logp: Tensor | None = None
    ref_scores: Tensor | None = None
    group_ids: Tensor | None = None

    def grouped(self) -> Tensor:
        """``G x k`` view of :attr:`scores` (equal groups only)."""
        if self.group_ids is not None:
            raise ValueError(
                "this rollout's groups have unequal sizes (group_ids is set); grouped() needs equal "
                "groups: use an estimator that reads group_stats() (grpo, dr-grpo, rloo)"
            )
        return self.scores.view(self.n_groups, -1)

    def group_stats(self) -> tuple[Tensor, Tensor, Tensor]:
        """Each row's group mean, unbiased group std and group size (``n`` each), for equal or unequal
        groups."""
        n, g = self.scores.shape[0], self.n_groups
        ids = self.group_ids
        if ids is None:
            ids = torch.arange(g, device=self.scores.device).repeat_interleave(n // g)
        zeros = torch.zeros(g, dtype=self.scores.dtype, device=self.scores.device)
        count = zeros.index_add(0, ids, torch.ones_like(self.scores))
        mean = zeros.index_add(0, ids, self.scores) / count
        var = zeros.index_add(0, ids, (self.scores - mean[ids]) ** 2) / (count - 1).clamp_min(1)
        return mean[ids], var.sqrt()[ids], count[ids]

    def broadcast(self, per_completion: Tensor) -> Tensor:
        """``n`` values (one per completion) -> ``n x T``, on each completion's real tokens."""
        return per_completion.reshape(-1).unsqueeze(-1) * self.mask


@dataclass
class AdvantageParams:
    """Hyperparameters some estimators read (each ignores the rest)."""

    gamma: float = 1.0
    """Discount (GAE, REINFORCE++)."""
    lam: float = 0.95
    """GAE lambda."""
    eps: float = 1e-6
    """Added to standard deviations before dividing."""
    max_reward: float = 1.0
    """NGRPO's virtual sample reward (the best reward the task gives)."""
    options: dict[str, Any] = field(default_factory=dict)
    """The trainer config's ``advantage_options``, for an estimator's own settings."""


@dataclass
class LossParams:
    """Clipping ranges shared by the losses, and what a trainer knows about the batch beyond the loss's
    arguments (each loss reads what it uses).

    A loss that needs ``ref_logp`` or whole groups says so with :func:`requires` (``"ref_logp"``,
    ``"groups"``); a trainer then fills those fields (the language-model trainer also keeps a group's rows in
    one micro-batch). Trainers that provide neither leave them None/0, and such a loss refuses to run.
    """

    clip_low: float | Tensor = 0.2
    """Ratio clipped below at ``1 - clip_low`` (a ``b x T`` tensor when a ``clip_range`` sets it per token)."""
    clip_high: float | Tensor = 0.2
    """Ratio clipped above at ``1 + clip_high`` (DAPO clip-higher uses a larger value, e.g. 0.28)."""
    dual_clip: float = 3.0
    """Dual-clip bound ``c`` (> 1) on the loss of negative advantages."""
    options: dict[str, Any] = field(default_factory=dict)
    """The trainer config's ``policy_loss_options``, for a loss's own settings."""
    ref_logp: Tensor | None = None
    """``b x T`` log-probabilities under the reference policy (losses requiring ``"ref_logp"``)."""
    entropy: Tensor | None = None
    """``b x T`` per-token entropy of the distribution that sampled each token (detached), if known."""
    group_size: int = 0
    """``k``: the micro-batch holds whole groups of ``k`` contiguous rows (losses requiring ``"groups"``);
    0 where the trainer has no groups."""


@runtime_checkable
class AdvantageEstimator(Protocol):
    """``estimator(rollout, params) -> (advantages: n x T, value_targets: n x T or None)`` (kind ``advantage``).

    ``requires`` names what the estimator needs from the rollout (a subset of :data:`REQUIREMENTS`); the
    trainer computes exactly those pieces — a greedy rollout, critic values — and nothing else. Advantages are
    zero on padding. Mark a function with :func:`requires`.

    Example (a complete plugin estimator: group mean baseline, scaled)::

        @requires("groups")
        def centered(rollout, params):
            g = rollout.grouped()
            scale = params.options.get("scale", 1.0)
            return rollout.broadcast(scale * (g - g.mean(1, keepdim=True))), None
    """

    requires: frozenset[str]

    def __call__(
        self, rollout: Rollout, params: AdvantageParams
    ) -> tuple[Tensor, Tensor | None]: ...


@runtime_checkable
class PolicyLoss(Protocol):
    """``loss(logp, old_logp, adv, mask, params) -> n x T`` per-token loss (kind ``policy_loss``).

    ``logp`` carries the gradient; ``old_logp`` is the sampling policy's (equal to ``logp.detach()`` when the
    update is on-policy). The result is zero on padding; the trainer aggregates it (token-mean, ...).
    A loss that needs the reference log-probabilities or whole groups (sequence-level regressions such as
    REBEL or GVPO) marks itself with :func:`requires` and reads ``params.ref_logp``/``params.group_size``.
    """

    def __call__(
        self, logp: Tensor, old_logp: Tensor, adv: Tensor, mask: Tensor, params: LossParams
    ) -> Tensor: ...


@runtime_checkable
class KLEstimator(Protocol):
    """``kl(logp, ref_logp) -> n x T`` per-token estimate of ``KL(pi || ref)`` from the sampled tokens'
    log-probabilities (kind ``kl_estimator``); zero where ``logp == ref_logp``."""

    def __call__(self, logp: Tensor, ref_logp: Tensor) -> Tensor: ...


@runtime_checkable
class RewardFunction(Protocol):
    """``reward(prompts, completions, **fields) -> n`` float rewards (kind ``reward``).

    ``fields`` are the task's per-prompt fields (e.g. ``answer``); take the ones you use as keyword arguments
    and accept the rest with ``**_``.
    """

    def __call__(self, prompts: list[str], completions: list[str], **fields: Any) -> Tensor: ...


@dataclass
class TaskBatch:
    """Prompts and the fields reward functions read (each a list with one entry per prompt)."""

    prompts: list[str]
    fields: dict[str, list[Any]] = field(default_factory=dict)

    def repeat(self, k: int) -> TaskBatch:
        """Each prompt (and its fields) ``k`` times in a row: the layout of ``k`` completions per prompt."""

        def rep(xs: list[Any]) -> list[Any]:
            return [x for x in xs for _ in range(k)]

        return TaskBatch(rep(self.prompts), {key: rep(v) for key, v in self.fields.items()})


@runtime_checkable
class TextTask(Protocol):
    """What a language-model trainer learns on (an Environment that also speaks strings).

    ``reward_fns`` maps reward names to :class:`RewardFunction` s and ``default_weights`` combines them;
    ``completion_len`` is the default generation limit.
    """

    reward_fns: dict[str, Any]
    default_weights: tuple[float, ...]
    completion_len: int

    def sample(self, n: int, generator: torch.Generator) -> TaskBatch:
        """``n`` prompts with their task fields."""
        ...

    def score(self, batch: TaskBatch, completions: list[str]) -> Tensor:
        """``n x m`` rewards, one column per reward function."""
        ...

    def sft_batch(self, n: int, generator: torch.Generator) -> tuple[list[str], list[str]]:
        """``n`` (prompt, reference completion) pairs for a supervised warm start."""
        ...

    @property
    def reward_names(self) -> list[str]: ...


F = TypeVar("F", bound=Callable[..., Any])


def requires(*needs: str) -> Callable[[F], F]:
    """Mark an advantage estimator with what it needs from the rollout (see :data:`REQUIREMENTS`)."""
    unknown = set(needs) - REQUIREMENTS
    if unknown:
        raise ValueError(
            f"requires{needs}: unknown {sorted(unknown)}; expected among {sorted(REQUIREMENTS)}"
        )

    def mark(fn: F) -> F:
        fn.requires = frozenset(needs)  # type: ignore[attr-defined]  # a function attribute, read by trainers
        return fn

    return mark


def _positional(target: Any) -> int | None:
    """How many positional arguments ``target`` takes (None: any number, or unknown)."""
    try:
        params = inspect.signature(target).parameters.values()
    except (TypeError, ValueError):
        return None
    if any(p.kind is p.VAR_POSITIONAL for p in params):
        return None
    return sum(p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD) for p in params)


def _takes(n: int, what: str) -> Callable[[Any], str | None]:
    def check(target: Any) -> str | None:
        if not callable(target):
            return f"expected a callable {what}, got {target!r}"
        count = _positional(target)
        if count is not None and count != n:
            return f"expected a callable {what} ({n} positional arguments), it takes {count}"
        return None

    return check


def check_advantage(target: Any) -> str | None:
    """The ``advantage`` kind's registry check."""
    reason = _takes(2, "estimator(rollout, params)")(target)
    if reason:
        return reason
    needs = getattr(target, "requires", None)
    if not isinstance(needs, frozenset) or not needs <= REQUIREMENTS:
        return (
            f"requires={needs!r}; mark it with @polyopt.components.requires(...) naming a subset of "
            f"{sorted(REQUIREMENTS)}"
        )
    return None


def check_policy_loss(target: Any) -> str | None:
    """The ``policy_loss`` kind's registry check (a ``requires`` mark is optional)."""
    reason = _takes(5, "loss(logp, old_logp, adv, mask, params)")(target)
    needs: Any = getattr(target, "requires", frozenset())
    if reason is None and not (isinstance(needs, frozenset) and needs <= {"groups", "ref_logp"}):
        return f"requires={needs!r}; a policy loss may require 'groups' and 'ref_logp' only"
    return reason


check_kl_estimator = _takes(2, "kl(logp, ref_logp)")
check_reward = _takes(2, "reward(prompts, completions, **fields)")
