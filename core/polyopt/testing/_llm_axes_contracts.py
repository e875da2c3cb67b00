"""Conformance classes of the language-model trainer's further axes: ``advantage_shaping``, ``clip_range``,
``replay``, ``prompt_sampler``, ``guidance`` and ``turn_advantage``.

Every stateful kind is checked for exact resume: state saved after some steps, loaded with
``torch.load(weights_only=True)`` into a fresh component, continues exactly as the uninterrupted one.

Example (in a plugin's tests)::

    from polyopt.testing import AdvantageShapingContract, ReplayContract

    class TestDamped(AdvantageShapingContract):
        advantage_shaping = "acme.damped"
        options = {"c": 0.5}

    class TestNewest(ReplayContract):
        replay = "acme.newest"
"""

from __future__ import annotations

import io
from typing import Any, ClassVar

import torch
from torch import Tensor

import polyopt
from polyopt.components import (
    AdvantageParams,
    ClipContext,
    GroupOutcome,
    GuidancePlan,
    LossParams,
    SampledGroups,
    ScoredGroups,
    StepContext,
    TaskBatch,
    TurnBatch,
)
from polyopt.testing._fixtures import small_rollout

__all__ = [
    "AdvantageShapingContract",
    "ClipRangeContract",
    "GuidanceContract",
    "PromptSamplerContract",
    "ReplayContract",
    "TurnAdvantageContract",
    "small_scored_groups",
    "small_turn_batch",
]


def _get(kind: str, target: Any) -> Any:
    return polyopt.registry().get(kind, target) if isinstance(target, str) else target


def _roundtrip(state: Any) -> Any:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        return a.shape == b.shape and torch.allclose(a, b, equal_nan=True)
    if isinstance(a, ScoredGroups) and isinstance(b, ScoredGroups):
        return a.prompts == b.prompts and all(
            _same(getattr(a, f), getattr(b, f)) for f in ("tokens", "rewards", "step")
        )
    return bool(a == b)


def _context(step: int, state: dict[str, Any], options: dict[str, Any]) -> StepContext:
    """Step ``step`` of a run whose prompts recur (so state across steps matters)."""
    rollout = small_rollout(seed=step)
    gen = _generator(100 + step)
    entropy = torch.rand(rollout.mask.shape, generator=gen) * 2 * rollout.mask
    prompts = [f"{(step + g) % 4}+1=" for g in range(rollout.n_groups)]
    params = AdvantageParams(options=dict(options))
    return StepContext(rollout, entropy, prompts, step, state, params)


class AdvantageShapingContract:
    """An advantage shaping: ``n x T`` advantages, finite and zero on padding, for groups whose rewards are
    all equal too; deterministic; with state kept across steps, an exact resume from a saved state."""

    advantage_shaping: Any
    options: ClassVar[dict[str, Any]] = {}

    def shape(self, step: int, state: dict[str, Any]) -> Tensor:
        fn = _get("advantage_shaping", self.advantage_shaping)
        ctx = _context(step, state, self.options)
        g = ctx.rollout.grouped()
        adv = ctx.rollout.broadcast((g - g.mean(1, keepdim=True)).flatten())
        return fn(adv, ctx)

    def test_shape_padding_and_finite(self) -> None:
        state: dict[str, Any] = {}
        for step in range(3):
            out = self.shape(step, state)
            mask = small_rollout(seed=step).mask
            assert out.shape == mask.shape, out.shape
            assert bool(torch.isfinite(out).all()), out
            assert bool((out * (1 - mask) == 0).all()), "advantages on padding"

    def test_deterministic_and_resumes_exactly(self) -> None:
        straight: dict[str, Any] = {}
        outs = [self.shape(step, straight) for step in range(4)]
        first: dict[str, Any] = {}
        for step in range(2):
            self.shape(step, first)
        resumed = _roundtrip(first)
        again = [self.shape(step, resumed) for step in (2, 3)]
        assert all(_same(a, b) for a, b in zip(outs[2:], again)), "a resumed run diverged"


class ClipRangeContract:
    """A clip range: ``(low, high)`` floats or ``b x T`` tensors with ``0 <= low < 1`` and ``high >= 0`` on
    real tokens, finite, deterministic."""

    clip_range: Any
    options: ClassVar[dict[str, Any]] = {}

    def context(self) -> ClipContext:
        r = small_rollout()
        assert r.old_logp is not None
        gen = _generator(7)
        ratio = torch.exp(0.3 * torch.randn(r.mask.shape, generator=gen)) * r.mask + (1 - r.mask)
        adv = r.broadcast(torch.randn(r.mask.shape[0], generator=gen))
        entropy = torch.rand(r.mask.shape, generator=gen) * r.mask
        params = LossParams(0.2, 0.28, options=dict(self.options))
        return ClipContext(ratio, r.old_logp, adv, r.mask, entropy, params)

    def test_ranges_are_valid(self) -> None:
        ctx = self.context()
        low, high = _get("clip_range", self.clip_range)(ctx)
        for bound, name in ((low, "low"), (high, "high")):
            value = torch.as_tensor(bound, dtype=torch.float32)
            value = value.expand_as(ctx.mask)[ctx.mask > 0]  # broadcastable to b x T
            assert bool(torch.isfinite(value).all()), f"{name}: {value}"
            assert bool((value >= 0).all()), f"{name} below 0: {value}"
        lows = torch.as_tensor(low).expand_as(ctx.mask)[ctx.mask > 0]
        assert bool((lows < 1).all()), f"low must stay below 1 (a ratio floor above 0): {lows}"

    def test_deterministic(self) -> None:
        fn = _get("clip_range", self.clip_range)
        a, b = fn(self.context()), fn(self.context())
        assert all(_same(torch.as_tensor(x), torch.as_tensor(y)) for x, y in zip(a, b))


def small_scored_groups(step: int, n_groups: int = 3, k: int = 4, length: int = 5) -> ScoredGroups:
    """Scored groups generated at ``step``: binary exact rewards with spread in some groups, one flat group."""
    gen = _generator(200 + step)
    n = n_groups * k
    lengths = torch.randint(1, length + 1, (n,), generator=gen)
    mask = torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)
    exact = (torch.rand(n, generator=gen) > 0.5).float()
    exact[:k] = 0.0  # a flat group
    rewards = torch.stack([exact, torch.rand(n, generator=gen)], dim=-1)
    return ScoredGroups(
        prompts=[f"{step}:{g}=" for g in range(n_groups) for _ in range(k)],
        tokens=torch.randint(3, 20, (n, length), generator=gen) * mask,
        mask=mask,
        truncated=torch.zeros(n, dtype=torch.bool),
        rewards=rewards,
        behaviour_logp=-torch.rand(n, length, generator=gen) * mask,
        step=torch.full((n,), step, dtype=torch.long),
        group_size=k,
    )


class ReplayContract:
    """A replay buffer: draws whole groups of what was added (or None), deterministic by generator, and an
    exact resume from a saved state."""

    replay: Any
    options: ClassVar[dict[str, Any]] = {}

    def make(self) -> Any:
        return _get("replay", self.replay)(**self.options)

    def run(self, buffer: Any, steps: range) -> list[ScoredGroups | None]:
        draws = []
        for step in steps:
            draws.append(buffer.draw(_generator(step), step))
            buffer.add(small_scored_groups(step))
        return draws

    def test_draws_whole_groups_of_what_was_added(self) -> None:
        added = {p for s in range(4) for p in small_scored_groups(s).prompts}
        for drawn in self.run(self.make(), range(4)):
            if drawn is None:
                continue
            assert isinstance(drawn, ScoredGroups)
            assert len(drawn.prompts) % drawn.group_size == 0, "a partial group was drawn"
            assert set(drawn.prompts) <= added, "drew a group that was never added"
            assert drawn.tokens.shape[0] == drawn.rewards.shape[0] == len(drawn.prompts)
            for g in range(drawn.n_groups):
                rows = drawn.prompts[g * drawn.group_size : (g + 1) * drawn.group_size]
                assert len(set(rows)) == 1, "a drawn group mixes prompts"

    def test_deterministic_and_resumes_exactly(self) -> None:
        straight = self.run(self.make(), range(6))
        first = self.make()
        self.run(first, range(3))
        resumed = self.make()
        resumed.load_state_dict(_roundtrip(first.state_dict()))
        again = self.run(resumed, range(3, 6))
        for a, b in zip(straight[3:], again):
            assert (a is None) == (b is None) and (a is None or _same(a, b)), "resume diverged"


class PromptSamplerContract:
    """A prompt sampler: ``n`` prompts of a text task (with references when asked), at least ``k``
    completions per prompt, a valid selection, determinism by generator and an exact resume."""

    prompt_sampler: Any
    options: ClassVar[dict[str, Any]] = {}
    k: int = 4

    def make(self) -> Any:
        return _get("prompt_sampler", self.prompt_sampler)(**self.options)

    def task(self) -> Any:
        from polyopt_envs.text import Addition

        return Addition(n_digits=1)

    def round(self, sampler: Any, step: int) -> tuple[TaskBatch, Tensor, Tensor]:
        batch, _ = sampler.sample(self.task(), 5, _generator(step), True)
        width = sampler.group_size(self.k)
        gen = _generator(50 + step)
        rewards = (torch.rand(5, width, 2, generator=gen) > 0.5).float()
        lengths = torch.randint(1, 6, (5, width), generator=gen)
        keep, rows = sampler.select(SampledGroups(batch.prompts, rewards, lengths, 0), self.k)
        chosen = rewards[torch.arange(5).unsqueeze(-1), rows]
        sampler.observe(batch.prompts, chosen)
        return batch, keep, rows

    def test_samples_and_selects_validly(self) -> None:
        sampler = self.make()
        assert isinstance(sampler.rounds, int) and sampler.rounds >= 1
        width = sampler.group_size(self.k)
        assert width >= self.k
        batch, refs = sampler.sample(self.task(), 5, _generator(0), True)
        assert isinstance(batch, TaskBatch) and len(batch.prompts) == 5
        assert refs is None or len(refs) == 5
        _, keep, rows = self.round(sampler, 1)
        assert keep.shape == (5,) and keep.dtype == torch.bool
        assert rows.shape == (5, self.k) and bool(((rows >= 0) & (rows < width)).all())
        for group in rows.tolist():
            assert len(set(group)) == self.k, "a completion was selected twice"

    def test_deterministic_and_resumes_exactly(self) -> None:
        straight = self.make()
        outs = [self.round(straight, s)[0].prompts for s in range(5)]
        first = self.make()
        for s in range(3):
            self.round(first, s)
        resumed = self.make()
        resumed.load_state_dict(_roundtrip(first.state_dict()))
        again = [self.round(resumed, s)[0].prompts for s in (3, 4)]
        assert outs[3:] == again, "a resumed sampler chose other prompts"


class GuidanceContract:
    """Guidance: a plan naming only existing groups (text hints and injections, pairs of text for supervised
    steps), deterministic, and an exact resume."""

    guidance: Any
    options: ClassVar[dict[str, Any]] = {}

    def make(self) -> Any:
        return _get("guidance", self.guidance)(**self.options)

    def outcome(self, step: int, round_: int = 0) -> GroupOutcome:
        gen = _generator(300 + step)
        rewards = (torch.rand(4, 3, 2, generator=gen) > 0.6).float()
        rewards[0, :, 0] = 0.0  # nobody solved group 0
        rewards[1, 0, 0] = 1.0  # group 1 was solved
        prompts = [f"{(step + g) % 3}+{g}=" for g in range(4)]
        return GroupOutcome(
            prompts=prompts,
            completions=[[f"{g}{j}" for j in range(3)] for g in range(4)],
            rewards=rewards,
            references=[str(g + 10) for g in range(4)],
            hinted=[""] * 4,
            step=step + 10,
            round=round_,
        )

    def test_plans_name_existing_groups(self) -> None:
        guidance = self.make()
        assert isinstance(guidance.needs_references, bool)
        for step in range(3):
            for round_ in range(2):
                plan = guidance.guide(self.outcome(step, round_))
                assert isinstance(plan, GuidancePlan)
                for g, text in {**plan.hints, **plan.inject}.items():
                    assert 0 <= g < 4 and isinstance(text, str), (g, text)
                assert all(isinstance(p, str) and isinstance(c, str) for p, c in plan.sft)

    def test_deterministic_and_resumes_exactly(self) -> None:
        def plans(guidance: Any, steps: range) -> list[GuidancePlan]:
            return [guidance.guide(self.outcome(s)) for s in steps]

        straight = plans(self.make(), range(5))
        first = self.make()
        plans(first, range(3))
        resumed = self.make()
        resumed.load_state_dict(_roundtrip(first.state_dict()))
        assert straight[3:] == plans(resumed, range(3, 5)), "a resumed guidance planned otherwise"


def small_turn_batch(n_groups: int = 2, k: int = 3, seed: int = 0) -> TurnBatch:
    """``n_groups`` groups of ``k`` episodes of 1-3 turns; states recur across a group's episodes."""
    gen = _generator(400 + seed)
    rewards, episode, turn, states = [], [], [], []
    for e in range(n_groups * k):
        length = int(torch.randint(1, 4, (), generator=gen))
        for t in range(length):
            last = t == length - 1
            rewards.append(float(torch.rand((), generator=gen) > 0.5) if last else 0.0)
            episode.append(e)
            turn.append(t)
            states.append(f"g{e // k}:s{t}:{int(torch.randint(0, 2, (), generator=gen))}")
    return TurnBatch(
        rewards=torch.tensor(rewards),
        episode=torch.tensor(episode),
        turn=torch.tensor(turn),
        states=states,
        n_groups=n_groups,
        n_episodes=n_groups * k,
    )


class TurnAdvantageContract:
    """A turn-level advantage: one finite advantage per turn, equal for every turn when every episode of
    every group has the same return, deterministic."""

    turn_advantage: Any
    options: ClassVar[dict[str, Any]] = {}

    def test_one_finite_advantage_per_turn(self) -> None:
        fn = _get("turn_advantage", self.turn_advantage)
        turns = small_turn_batch()
        adv = fn(turns, AdvantageParams(options=dict(self.options)))
        assert adv.shape == turns.rewards.shape, adv.shape
        assert bool(torch.isfinite(adv).all()), adv
        again = fn(small_turn_batch(), AdvantageParams(options=dict(self.options)))
        assert torch.equal(adv, again)

    def test_no_signal_when_every_return_is_equal(self) -> None:
        fn = _get("turn_advantage", self.turn_advantage)
        turns = small_turn_batch()
        turns.rewards = torch.where(turns.rewards != 0, 1.0, 0.0)
        last = torch.ones_like(turns.rewards, dtype=torch.bool)
        last[:-1] = turns.episode[1:] != turns.episode[:-1]
        turns.rewards = last.float()  # every episode returns exactly 1, at its last turn
        adv = fn(turns, AdvantageParams(options=dict(self.options)))
        assert bool((adv.abs() < 1e-5).all()), adv
