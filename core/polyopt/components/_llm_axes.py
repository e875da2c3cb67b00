"""The language-model trainer's axes beyond the advantage, loss and KL: entropy-aware advantages and clipping,
replay of scored rollouts, prompt selection and rollout budgets, guidance for groups the policy cannot solve,
and turn-level advantages for multi-turn tasks.

| kind | protocol | built as | what it receives |
|---|---|---|---|
| ``advantage_shaping`` | :class:`AdvantageShaping` | a function | advantages ``n x T``, a :class:`StepContext` |
| ``clip_range`` | :class:`ClipRange` | a function | a :class:`ClipContext` |
| ``replay`` | :class:`ReplayBuffer` | ``factory(**options)`` | :class:`ScoredGroups` to keep and to draw |
| ``prompt_sampler`` | :class:`PromptSampler` | ``factory(**options)`` | the task; :class:`SampledGroups` |
| ``guidance`` | :class:`Guidance` | ``factory(**options)`` | a :class:`GroupOutcome` |
| ``turn_advantage`` | :class:`TurnAdvantage` | a function | a :class:`TurnBatch`, ``AdvantageParams`` |

Every kind has a default that changes nothing (``none``, ``fixed``, ``uniform``, ...). State that must
survive a resume lives in :attr:`StepContext.state` (functions) or in the object's ``state_dict`` (factories):
tensors, numbers, strings and containers of them, so a trainer's checkpoint loads with
``torch.load(weights_only=True)``.

Shapes: ``n`` completions in ``G`` groups of ``k`` contiguous rows, ``T`` completion positions (right-padded,
``mask`` marks real tokens), ``m`` reward functions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

from polyopt.components._policy_gradient import (
    AdvantageParams,
    LossParams,
    Rollout,
    TaskBatch,
    _takes,
)

__all__ = [
    "AdvantageShaping",
    "ClipContext",
    "ClipRange",
    "GroupOutcome",
    "Guidance",
    "GuidancePlan",
    "MultiTurnTask",
    "PromptSampler",
    "ReplayBuffer",
    "SampledGroups",
    "ScoredGroups",
    "StepContext",
    "TurnAdvantage",
    "TurnBatch",
    "TurnOutcome",
]


# -- entropy-aware and stateful advantages -------------------------------------------------------------------


@dataclass
class StepContext:
    """What an ``advantage_shaping`` sees besides the estimator's advantages.

    Attributes:
        rollout: the scored batch (scores, mask, groups, and what the estimator required).
        entropy: ``n x T`` entropy of the distribution each token was sampled from (at the sampling
            temperature; zero on padding). Computed by the sampler for every rollout, so it costs no forward.
        prompts: ``G`` prompt texts, one per group: a prompt's identity across steps.
        step: training steps taken before this one.
        state: this component's own state across steps, updated in place (saved in the trainer's
            ``state_dict``, so keep tensors, numbers, strings and containers of them).
        params: the estimator's parameters (``eps``, ``options`` = the config's ``advantage_shaping_options``).
        fresh: how many of the groups (the first ones) were sampled this step; the others are replayed, and
            a baseline kept across steps must not count them twice.
    """

    rollout: Rollout
    entropy: Tensor
    prompts: list[str]
    step: int
    state: dict[str, Any]
    params: AdvantageParams
    fresh: int = -1

    @property
    def n_fresh(self) -> int:
        """Groups sampled this step (all of them when ``fresh`` is -1)."""
        return self.rollout.n_groups if self.fresh < 0 else self.fresh


@runtime_checkable
class AdvantageShaping(Protocol):
    """``shape(adv, ctx) -> n x T`` advantages (kind ``advantage_shaping``), applied after the estimator.

    It may rescale or add to the estimator's advantages with per-token entropy (entropy-aware advantages), or
    replace them with a baseline it tracks across steps in ``ctx.state``. Zero on padding.

    Example (a complete plugin: damp the advantages of high-entropy completions)::

        def damped(adv, ctx):
            per_seq = (ctx.entropy.sum(-1) / ctx.rollout.mask.sum(-1).clamp_min(1)).unsqueeze(-1)
            return adv / (1 + ctx.params.options.get("c", 1.0) * per_seq)
    """

    def __call__(self, adv: Tensor, ctx: StepContext) -> Tensor: ...


@dataclass
class ClipContext:
    """What a ``clip_range`` sees: one micro-batch after the policy's forward pass (all ``b x T``).

    Attributes:
        ratio: ``pi / pi_old`` per token (detached).
        old_logp: log-probabilities under the policy that sampled (or the one before the update).
        adv: advantages.
        mask: float, 1 on tokens in the loss.
        entropy: entropy of the sampling distribution per token.
        params: the configured clip ranges (``clip_low``, ``clip_high``) and ``options`` (the config's
            ``clip_range_options``).
    """

    ratio: Tensor
    old_logp: Tensor
    adv: Tensor
    mask: Tensor
    entropy: Tensor
    params: LossParams


@runtime_checkable
class ClipRange(Protocol):
    """``clip_range(ctx) -> (low, high)`` (kind ``clip_range``): the ratio is kept in ``[1 - low, 1 + high]``.

    Floats, or ``b x T`` tensors for per-token ranges (dynamic, entropy-aware or adaptive clipping). Pair an
    asymmetric range with a loss that reads both (``clip-higher``, ``dual-clip``, ``gspo``): ``ppo-clip`` is
    symmetric and reads ``low`` only. On-policy with one update epoch every ratio is 1, so clipping acts only
    on stale samples (replay, ``update_epochs > 1``).
    """

    def __call__(self, ctx: ClipContext) -> tuple[float | Tensor, float | Tensor]: ...


# -- replay ----------------------------------------------------------------------------------------------------


@dataclass
class ScoredGroups:
    """Whole groups of scored completions, as a replay buffer keeps them.

    Attributes:
        prompts: ``n`` prompt texts, groups contiguous.
        tokens: ``n x L`` completion ids (padding after the stop token).
        mask: ``n x L`` bool, True on real tokens.
        truncated: ``n`` bool, no stop token within the length limit.
        rewards: ``n x m`` raw rewards (one column per reward function).
        behaviour_logp: ``n x L`` log-probabilities of the tokens under the policy that sampled them, at the
            sampling temperature (the denominator of an importance ratio for a stale sample).
        step: ``n`` the training step each completion was generated at.
        group_size: ``k``.
    """

    prompts: list[str]
    tokens: Tensor
    mask: Tensor
    truncated: Tensor
    rewards: Tensor
    behaviour_logp: Tensor
    step: Tensor
    group_size: int

    @property
    def n_groups(self) -> int:
        return len(self.prompts) // max(self.group_size, 1)

    def groups(self, index: Tensor | list[int]) -> ScoredGroups:
        """The groups at ``index`` (``g`` group indices), in that order."""
        idx = torch.as_tensor(index, dtype=torch.long).reshape(-1).cpu()
        k = self.group_size
        rows = (idx.unsqueeze(-1) * k + torch.arange(k)).flatten()
        return self.rows(rows)

    def rows(self, rows: Tensor) -> ScoredGroups:
        """Rows ``rows`` (whole groups, in order, so the result stays grouped)."""
        cpu = rows.cpu().tolist()
        dev = rows.to(self.tokens.device)
        return ScoredGroups(
            [self.prompts[i] for i in cpu],
            self.tokens[dev],
            self.mask[dev],
            self.truncated[dev],
            self.rewards[dev],
            self.behaviour_logp[dev],
            self.step[dev],
            self.group_size,
        )

    @staticmethod
    def cat(parts: list[ScoredGroups]) -> ScoredGroups:
        """The parts one after another, completions right-padded to the longest (``pad`` 0 ids)."""
        width = max(p.tokens.shape[1] for p in parts)

        def pad(t: Tensor, value: float | bool) -> Tensor:
            return torch.nn.functional.pad(t, (0, width - t.shape[1]), value=value)

        return ScoredGroups(
            [x for p in parts for x in p.prompts],
            torch.cat([pad(p.tokens, 0) for p in parts]),
            torch.cat([pad(p.mask, False) for p in parts]),
            torch.cat([p.truncated for p in parts]),
            torch.cat([p.rewards for p in parts]),
            torch.cat([pad(p.behaviour_logp, 0.0) for p in parts]),
            torch.cat([p.step for p in parts]),
            parts[0].group_size,
        )

    def state(self) -> dict[str, Any]:
        """A ``weights_only``-loadable dict of the fields (see :meth:`from_state`)."""
        return {f: getattr(self, f) for f in self.__dataclass_fields__}

    @staticmethod
    def from_state(state: dict[str, Any]) -> ScoredGroups:
        return ScoredGroups(**state)


@runtime_checkable
class ReplayBuffer(Protocol):
    """A buffer of scored rollouts (kind ``replay``; the registry entry is a factory ``make(**options)``).

    Each step the trainer first calls :meth:`draw` (groups to train on besides the fresh ones; None for none),
    then :meth:`add` with the fresh groups. Replayed rows are stale: the loss's ``old_logp`` is their
    ``behaviour_logp``, so a clipped or importance-weighted loss corrects for the policy having moved.
    """

    def add(self, groups: ScoredGroups) -> None:
        """Offer the step's fresh groups (the buffer keeps what its rule selects)."""
        ...

    def draw(self, generator: torch.Generator, step: int) -> ScoredGroups | None:
        """Groups to replay at training step ``step``, drawing any randomness from ``generator``."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


# -- prompt selection and rollout budgets ----------------------------------------------------------------------


@dataclass
class SampledGroups:
    """Completions of one sampling round, scored, before the trainer keeps them.

    Attributes:
        prompts: ``G`` prompt texts.
        rewards: ``G x k' x m`` raw rewards (``k'`` = the sampler's :meth:`PromptSampler.group_size`).
        lengths: ``G x k'`` completion lengths in tokens.
        round: 0 for the first round of the step, then one per refill.
    """

    prompts: list[str]
    rewards: Tensor
    lengths: Tensor
    round: int


@runtime_checkable
class PromptSampler(Protocol):
    """Which prompts a step trains on and how many completions each gets (kind ``prompt_sampler``; the
    registry entry is a factory ``make(**options)``).

    A step runs at most :attr:`rounds` rounds: :meth:`sample` prompts, generate :meth:`group_size` completions
    each, score them, :meth:`select` the groups to keep and ``k`` completions of each; rounds continue until
    the step has its prompts (DAPO's refill is a sampler that keeps only groups whose rewards vary). After
    the update, :meth:`observe` sees the trained groups' rewards (difficulty-aware samplers learn from it).
    """

    rounds: int

    def sample(
        self, task: Any, n: int, generator: torch.Generator, references: bool
    ) -> tuple[TaskBatch, list[str] | None]:
        """``n`` prompts of ``task``, and their reference completions when ``references`` is asked for and the
        task has them (a ``generate(n, generator) -> (batch, answers)`` method), else None."""
        ...

    def group_size(self, k: int) -> int:
        """Completions to generate per prompt (at least the trained group size ``k``)."""
        ...

    def select(self, groups: SampledGroups, k: int) -> tuple[Tensor, Tensor]:
        """``(keep, rows)``: ``G`` bool, the groups to train on, and ``G x k`` indices of the completions to
        train on in each group."""
        ...

    def observe(self, prompts: list[str], rewards: Tensor) -> None:
        """The trained groups: ``G`` prompts and their ``G x k x m`` raw rewards."""
        ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


# -- guidance for groups the policy cannot solve ---------------------------------------------------------------


@dataclass
class GroupOutcome:
    """A step's groups after sampling, as guidance sees them.

    Attributes:
        prompts: ``G`` prompt texts.
        completions: ``G`` lists of ``k`` completion texts (hint included for hinted rows).
        rewards: ``G x k x m`` raw rewards; the first column is the task's correctness (``>= 1`` = correct).
        references: ``G`` reference completions, or None when the task gives none.
        hinted: ``G`` the hint each group was last regenerated with (``""`` for none).
        step: training steps taken before this one.
        round: 0 after sampling, then one per hint round.
    """

    prompts: list[str]
    completions: list[list[str]]
    rewards: Tensor
    references: list[str] | None
    hinted: list[str]
    step: int
    round: int

    def solved(self) -> Tensor:
        """``G`` bool: some completion of the group is correct."""
        return (self.rewards[..., 0] >= 1).any(-1)


@dataclass
class GuidancePlan:
    """What guidance asks the trainer to do with the groups of a :class:`GroupOutcome`.

    Attributes:
        hints: group index -> text appended to its prompt; the trainer samples the group again from the
            hinted prompt and puts the best hinted completion (the hint counts as part of it for the reward,
            not for the gradient) in place of the group's worst one if it scores higher; then guidance is asked
            again (``round + 1``).
        inject: group index -> completion text that replaces the group's lowest-scored completion (an
            off-policy sample trained with ratio 1, as if the policy had sampled it).
        sft: ``(prompt, completion)`` pairs for one supervised step now (interleaved fine-tuning).
    """

    hints: dict[int, str] = field(default_factory=dict)
    inject: dict[int, str] = field(default_factory=dict)
    sft: list[tuple[str, str]] = field(default_factory=list)


@runtime_checkable
class Guidance(Protocol):
    """Off-policy help for groups the policy cannot solve (kind ``guidance``; the registry entry is a factory
    ``make(**options)``): hints in the prompt, a reference or earlier correct completion injected into the
    group, supervised steps on what RL cannot learn. ``needs_references`` makes the prompt sampler fetch the
    task's reference completions."""

    needs_references: bool

    def guide(self, outcome: GroupOutcome) -> GuidancePlan: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> None: ...


# -- multi-turn tasks ------------------------------------------------------------------------------------------


@dataclass
class TurnOutcome:
    """What a multi-turn task answers to one action per live episode.

    Attributes:
        observations: the text appended to each episode's transcript (feedback and the next cue).
        rewards: ``e`` reward of each step.
        done: ``e`` bool, the episode ended.
        states: ``e`` keys of the environment state each episode is in now (equal keys = equal states:
            GiGPO's anchor states).
    """

    observations: list[str]
    rewards: Tensor
    done: Tensor
    states: list[str]


@runtime_checkable
class MultiTurnTask(Protocol):
    """A text task over several turns (an Environment that also speaks strings).

    Episodes are opaque objects the task creates; the trainer keeps each one's transcript (the prompt plus
    every action and observation so far) and asks for one action per live episode per turn.
    """

    max_turns: int
    completion_len: int

    def start(self, n: int, generator: torch.Generator) -> tuple[list[Any], list[str], list[str]]:
        """``n`` new episodes: ``(episodes, prompts, states)`` with each episode's first prompt and state key."""
        ...

    def act(self, episodes: list[Any], actions: list[str]) -> TurnOutcome:
        """Apply one action per episode (all live) and return what happened."""
        ...

    def sft_batch(self, n: int, generator: torch.Generator) -> tuple[list[str], list[str]]:
        """``n`` (transcript, good next action) pairs for a supervised warm start."""
        ...


@dataclass
class TurnBatch:
    """The turns of ``E`` episodes in ``G`` groups of ``K`` (episodes of a group start from the same state).

    Attributes:
        rewards: ``N`` reward after each turn (``N`` turns in all).
        episode: ``N`` the episode of each turn (episodes ``g*K .. g*K+K-1`` form group ``g``).
        turn: ``N`` the turn's index within its episode.
        states: ``N`` keys of the state each turn acted from (equal keys = the same state).
        n_groups: ``G``.
        n_episodes: ``E``.
    """

    rewards: Tensor
    episode: Tensor
    turn: Tensor
    states: list[str]
    n_groups: int
    n_episodes: int

    def returns(self, gamma: float) -> Tensor:
        """``N`` discounted return from each turn to the end of its episode."""
        out = torch.zeros_like(self.rewards)
        order = sorted(
            range(len(self.states)), key=lambda i: (int(self.episode[i]), -int(self.turn[i]))
        )
        running, last = 0.0, -1
        for i in order:
            ep = int(self.episode[i])
            running = float(self.rewards[i]) + (gamma * running if ep == last else 0.0)
            out[i], last = running, ep
        return out

    def episode_returns(self) -> Tensor:
        """``E`` undiscounted return of each episode."""
        out = torch.zeros(self.n_episodes, dtype=self.rewards.dtype, device=self.rewards.device)
        return out.index_add_(0, self.episode, self.rewards)


@runtime_checkable
class TurnAdvantage(Protocol):
    """``fn(turns, params) -> N`` one advantage per turn (kind ``turn_advantage``), broadcast over the
    turn's tokens by the trainer."""

    def __call__(self, turns: TurnBatch, params: AdvantageParams) -> Tensor: ...


# -- registry checks -------------------------------------------------------------------------------------------


def _factory(methods: tuple[str, ...], what: str) -> Callable[[Any], str | None]:
    def check(target: Any) -> str | None:
        if not callable(target):
            return f"expected a factory of {what} (make(**options)), got {target!r}"
        if isinstance(target, type):
            missing = [m for m in methods if not hasattr(target, m)]
            if missing:
                return f"a {what} needs {', '.join(methods)}; {target.__name__} lacks {missing}"
        return None

    return check


check_advantage_shaping = _takes(2, "shape(adv, ctx)")
check_clip_range = _takes(1, "clip_range(ctx)")
check_turn_advantage = _takes(2, "fn(turns, params)")
check_replay = _factory(("add", "draw", "state_dict", "load_state_dict"), "replay buffer")
check_prompt_sampler = _factory(
    ("sample", "group_size", "select", "observe", "state_dict", "load_state_dict"), "prompt sampler"
)
check_guidance = _factory(("guide", "state_dict", "load_state_dict"), "guidance")
