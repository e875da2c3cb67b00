"""Guidance for groups the policy cannot solve (kind ``guidance``; each registry entry is a factory
``make(**options)``).

A group none of whose completions is correct (the task's first reward ``< 1`` on every row) gives a
group-relative estimator nothing to learn from. Guidance answers with a :class:`GuidancePlan`: hints appended
to the prompt (the trainer samples the group again from the hinted prompt), a reference or earlier correct
completion injected in place of the worst one, or supervised pairs for an interleaved fine-tuning step.
``none`` does nothing.
"""

from __future__ import annotations

import math
from typing import Any

from polyopt.components import GroupOutcome, GuidancePlan

__all__ = ["NoGuidance", "ScaffoldHints", "GoldInjection", "ResponseReuse", "InterleavedSFT"]


def _unsolved(outcome: GroupOutcome, after: int) -> list[int]:
    """Groups without a correct completion, once ``after`` steps have passed."""
    if outcome.step < after:
        return []
    return [g for g, ok in enumerate(outcome.solved().tolist()) if not ok]


class NoGuidance:
    """No guidance (the default)."""

    needs_references = False

    def guide(self, outcome: GroupOutcome) -> GuidancePlan:
        return GuidancePlan()

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore."""


class ScaffoldHints(NoGuidance):
    """Tiered hints of Scaf-GRPO (Zhang et al. 2025, "Scaf-GRPO: Scaffolded Group Relative Policy Optimization
    for Enhancing LLM Mathematical Reasoning"): after ``after`` steps (0) a group nobody solved is sampled
    again with the first ``fractions[t]`` of its reference completion appended to the prompt, tier ``t`` after
    tier until one hinted completion is correct; that completion (hint included in its reward, not in its
    gradient) replaces the group's worst. Default tiers reveal a third, then two thirds, of the answer."""

    needs_references = True

    def __init__(
        self, fractions: tuple[float, ...] | list[float] = (0.34, 0.67), after: int = 0
    ) -> None:
        if not fractions or not all(0 < f < 1 for f in fractions):
            raise ValueError(f"fractions={fractions!r}; expected values in (0, 1)")
        self.fractions, self.after = tuple(fractions), after

    def guide(self, outcome: GroupOutcome) -> GuidancePlan:
        if outcome.references is None or outcome.round >= len(self.fractions):
            return GuidancePlan()
        share = self.fractions[outcome.round]
        hints = {}
        for g in _unsolved(outcome, self.after):
            ref = outcome.references[g]
            hints[g] = ref[: max(1, math.ceil(share * len(ref)))]
        return GuidancePlan(hints=hints)


class GoldInjection(NoGuidance):
    """Gold injection of GCPO (Wu et al. 2025, "GCPO: When Contrast Fails, Go Gold"): in a group nobody solved
    (after ``after`` steps, 0) the reference completion replaces the worst sampled one, so the group has a
    contrast to learn from."""

    needs_references = True

    def __init__(self, after: int = 0) -> None:
        self.after = after

    def guide(self, outcome: GroupOutcome) -> GuidancePlan:
        if outcome.references is None or outcome.round:
            return GuidancePlan()
        unsolved = _unsolved(outcome, self.after)
        return GuidancePlan(inject={g: outcome.references[g] for g in unsolved})


class ResponseReuse(NoGuidance):
    """Response reuse of AR3PO (Zhang et al. 2025, "Improving Sampling Efficiency in RLVR through Adaptive
    Rollout and Response Reuse"): the latest correct completion of each prompt is kept (at most ``capacity``
    prompts, 4096), and a group nobody solved whose prompt has one gets it in place of its worst completion.
    It needs no reference answers; it helps when prompts recur (a fixed pool, e.g. ``mopps``)."""

    def __init__(self, capacity: int = 4096) -> None:
        self.capacity = capacity
        self.correct: dict[str, str] = {}

    def guide(self, outcome: GroupOutcome) -> GuidancePlan:
        if outcome.round:
            return GuidancePlan()
        correct = (outcome.rewards[..., 0] >= 1).tolist()
        inject = {}
        for g, prompt in enumerate(outcome.prompts):
            hits = [c for c, ok in zip(outcome.completions[g], correct[g]) if ok]
            if hits:
                self.correct.pop(prompt, None)
                self.correct[prompt] = hits[0]
            elif prompt in self.correct:
                inject[g] = self.correct[prompt]
        while len(self.correct) > self.capacity:
            self.correct.pop(next(iter(self.correct)))
        return GuidancePlan(inject=inject)

    def state_dict(self) -> dict[str, Any]:
        return {"correct": dict(self.correct)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.correct = dict(state.get("correct", {}))


class InterleavedSFT(NoGuidance):
    """Interleaved fine-tuning of ReLIFT (Ma et al. 2025, "Learning What Reinforcement Learning Can't:
    Interleaved Online Fine-Tuning for Hardest Questions"): prompts nobody solved are queued with their
    reference completions; whenever ``batch`` (16) are queued, the trainer takes one supervised step on them
    after the RL update (scaled by the guidance option ``sft_coef``, 1)."""

    needs_references = True

    def __init__(self, batch: int = 16, sft_coef: float = 1.0) -> None:
        if not isinstance(batch, int) or batch < 1:
            raise ValueError(f"batch={batch!r}; expected an integer >= 1")
        self.batch, self.sft_coef = batch, sft_coef
        self.queue: list[tuple[str, str]] = []

    def guide(self, outcome: GroupOutcome) -> GuidancePlan:
        if outcome.references is None or outcome.round:
            return GuidancePlan()
        self.queue += [(outcome.prompts[g], outcome.references[g]) for g in _unsolved(outcome, 0)]
        if len(self.queue) < self.batch:
            return GuidancePlan()
        pairs, self.queue = self.queue[: self.batch], self.queue[self.batch :]
        return GuidancePlan(sft=pairs)

    def state_dict(self) -> dict[str, Any]:
        return {"queue": [list(p) for p in self.queue]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.queue = [(p, a) for p, a in state.get("queue", [])]
