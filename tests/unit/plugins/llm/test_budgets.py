"""Rollout budgets and prompt selection by outcome variance (Knapsack RL, MMR1), groups of unequal sizes, and
AAPO's reference rollouts."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch

import polyopt
from polyopt.components import AdvantageParams, Rollout
from polyopt.errors import ConfigError
from polyopt.testing import small_rollout
from polyopt_envs.text import Addition
from polyopt_plugins.llm.advantage import dr_grpo, grpo, rloo
from polyopt_plugins.llm.advantage_variants import aapo
from polyopt_plugins.llm.prompt_sampling import Knapsack, VarianceAware

SMALL: dict[str, Any] = {
    "n_layer": 1,
    "d_model": 32,
    "n_head": 2,
    "prompts_per_step": 3,
    "completions_per_prompt": 4,
    "temperature": 1.0,
}


def make(seed: int = 0, **config: Any) -> Any:
    return polyopt.make(
        "optimizer", "grpo", Addition(n_digits=1), seed=seed, device="cpu", **{**SMALL, **config}
    )


def ragged(sizes: list[int], seed: int = 0) -> Rollout:
    gen = torch.Generator().manual_seed(seed)
    n = sum(sizes)
    ids = torch.arange(len(sizes)).repeat_interleave(torch.tensor(sizes))
    scores = torch.rand(n, generator=gen)
    mask = torch.ones(n, 3)
    return Rollout(scores, scores.unsqueeze(-1) * mask, mask, len(sizes), group_ids=ids)


def test_group_stats_match_equal_groups_and_each_unequal_group() -> None:
    r = small_rollout()
    mean, std, count = r.group_stats()
    g = r.grouped()
    assert torch.allclose(mean, g.mean(1).repeat_interleave(4))
    assert torch.allclose(std, g.std(1).repeat_interleave(4))
    assert bool((count == 4).all())
    u = ragged([2, 5, 1])
    mean, std, count = u.group_stats()
    assert torch.allclose(mean[2:7], u.scores[2:7].mean().expand(5))
    assert torch.allclose(std[:2], u.scores[:2].std().expand(2))
    assert float(std[7]) == 0.0 and count.tolist() == [2, 2, 5, 5, 5, 5, 5, 1]
    with pytest.raises(ValueError, match="unequal sizes"):
        u.grouped()


@pytest.mark.parametrize("fn", [grpo, dr_grpo, rloo])
def test_estimators_on_unequal_groups_equal_their_per_group_values(fn: Any) -> None:
    u, p = ragged([2, 5, 3]), AdvantageParams()
    adv, _ = fn(u, p)
    for start, size in ((0, 2), (2, 5), (7, 3)):
        part = Rollout(u.scores[start : start + size], u.mask[:size], u.mask[:size], 1)
        expected, _ = fn(part, p)
        assert torch.allclose(adv[start : start + size], expected, atol=1e-6)


def test_knapsack_allocates_the_budget_to_the_informative_prompts() -> None:
    sampler = Knapsack(pool=8, low=2, high=12)
    batch, _ = sampler.sample(Addition(n_digits=2), 4, torch.Generator().manual_seed(0), False)
    outcomes = {0: [1.0, 0, 0, 0], 1: [1.0] * 4, 2: [0.0] * 4, 3: [1.0, 1, 0, 0]}
    for i, prompt in enumerate(batch.prompts):
        sampler.observe([prompt], torch.tensor(outcomes[i]).view(1, 4, 1))
    sizes = sampler.allocation(6)
    assert int(sizes.sum()) == 24 and bool(((sizes >= 2) & (sizes <= 12)).all())
    assert sizes[1] == sizes[2] == 2  # always or never solved: no gradient to buy
    assert sizes[0] > 2 and sizes[3] > 2
    with pytest.raises(ValueError, match="low <= k <= high"):
        sampler.allocation(13)


def test_variance_aware_sampling_prefers_prompts_with_spread() -> None:
    sampler = VarianceAware(pool=6, ratio=1.0)
    task, gen = Addition(n_digits=1), torch.Generator().manual_seed(0)
    sampler.sample(task, 6, gen, False)
    assert sampler.pool is not None
    prompts = sampler.pool["prompts"]
    sampler.observe(prompts[:5], torch.tensor([[[1.0]] * 4] * 5))  # five solved every time
    sampler.observe(prompts[5:], torch.tensor([[[1.0], [0.0], [1.0], [0.0]]]))
    picks = [sampler.sample(task, 1, gen, False)[0].prompts[0] for _ in range(20)]
    assert picks.count(prompts[5]) >= 18
    with pytest.raises(ValueError, match="ratio"):
        VarianceAware(ratio=1.5)


def test_the_trainer_trains_on_unequal_groups_and_resumes_exactly() -> None:
    config = {"prompt_sampler": "knapsack", "prompt_sampler_options": {"pool": 6, "high": 8}}
    straight = make(seed=3, **config)
    metrics = [straight.step() for _ in range(4)]
    assert all(m["completions"] == 12 for m in metrics)
    assert straight.group_ids is not None and len(straight.group_ids) == 12
    first = make(seed=3, **config)
    first.step(), first.step()
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    resumed = make(seed=3, **config)
    resumed.load_state_dict(torch.load(buf, weights_only=True))
    resumed.step(), resumed.step()
    for a, b in zip(straight.policy.parameters(), resumed.policy.parameters()):
        assert torch.equal(a, b)


@pytest.mark.parametrize(
    ("config", "named"),
    [
        ({"advantage": "qae"}, "advantage='qae'"),
        ({"replay": "recent"}, "replay='recent'"),
        ({"advantage_shaping": "edge"}, "advantage_shaping='edge'"),
        ({"reward_weighting": "hypervolume"}, "reward_weighting='hypervolume'"),
    ],
)
def test_unequal_groups_refuse_axes_that_need_equal_ones(
    config: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError, match=named):
        make(prompt_sampler="knapsack", **config)


def test_aapo_adds_the_clipped_gain_over_the_reference_rollout() -> None:
    r = small_rollout()
    assert r.ref_scores is not None
    adv, _ = aapo(r, AdvantageParams())
    base, _ = grpo(r, AdvantageParams())
    gain = (r.scores - r.ref_scores).clamp(-0.2, 0.28)
    assert torch.allclose(adv, base + gain.unsqueeze(-1) * r.mask)


def test_aapo_samples_one_reference_completion_per_row() -> None:
    opt = make(advantage="aapo")
    assert opt.ref is not None
    assert opt.step()["completions"] == 24  # 12 of the policy, 12 of the reference
    with pytest.raises(ConfigError, match="reward_normalization"):
        make(advantage="aapo", reward_normalization="per-reward")
