"""Each advantage estimator against its paper's formula on hand-computed inputs."""

from __future__ import annotations

import math

import pytest
import torch

import polyopt
from polyopt.components import REQUIREMENTS, AdvantageParams, Rollout
from polyopt_plugins.llm import advantage as A

P = AdvantageParams(eps=0.0)


def seq_rollout(scores: list[float], n_groups: int, **extra: torch.Tensor) -> Rollout:
    """One real token per completion, holding its score."""
    s = torch.tensor(scores, dtype=torch.float32)
    mask = torch.ones(len(scores), 1)
    return Rollout(
        scores=s, token_rewards=s.view(-1, 1).clone(), mask=mask, n_groups=n_groups, **extra
    )


def first(adv: torch.Tensor) -> list[float]:
    return adv[:, 0].tolist()


def test_grpo_group_mean_and_unbiased_std() -> None:
    adv, _ = A.grpo(seq_rollout([1, 0, 0, 1, 1, 1, 1, 0], 2), P)
    # group 1: mean .5, std sqrt(1/3); group 2: mean .75, std .5
    s = math.sqrt(1 / 3)
    assert first(adv) == pytest.approx([0.5 / s, -0.5 / s, -0.5 / s, 0.5 / s, 0.5, 0.5, 0.5, -1.5])


def test_dr_grpo_subtracts_the_group_mean_only() -> None:
    adv, _ = A.dr_grpo(seq_rollout([1, 0, 0, 1, 3, 1, 1, 3], 2), P)
    assert first(adv) == pytest.approx([0.5, -0.5, -0.5, 0.5, 1, -1, -1, 1])


def test_rloo_leave_one_out_baseline() -> None:
    adv, _ = A.rloo(seq_rollout([1, 0, 0, 1], 1), P)
    assert first(adv) == pytest.approx([2 / 3, -2 / 3, -2 / 3, 2 / 3])


def test_remax_greedy_baseline() -> None:
    adv, _ = A.remax(seq_rollout([1, 0, 0.2], 3, greedy_scores=torch.tensor([0.5, 0.5, 0.7])), P)
    assert first(adv) == pytest.approx([0.5, -0.5, -0.5])


def test_gae_matches_the_recursion() -> None:
    # T=2, r=[0, 1], V=[.5, .8], gamma=1, lam=.5: delta=[.3, .2], A=[.3 + .5*.2, .2] = [.4, .2]
    r = Rollout(
        scores=torch.tensor([1.0]),
        token_rewards=torch.tensor([[0.0, 1.0]]),
        mask=torch.ones(1, 2),
        n_groups=1,
        values=torch.tensor([[0.5, 0.8]]),
    )
    adv, targets = A.gae(r, AdvantageParams(gamma=1.0, lam=0.5, eps=0.0))
    assert targets[0].tolist() == pytest.approx([0.9, 1.0])
    raw = torch.tensor([[0.4, 0.2]])
    assert adv[0].tolist() == pytest.approx(A.whiten(raw, torch.ones(1, 2), 0.0)[0].tolist())


def test_gae_ignores_padding_after_the_last_token() -> None:
    r = Rollout(
        scores=torch.tensor([1.0]),
        token_rewards=torch.tensor([[1.0, 0.0]]),
        mask=torch.tensor([[1.0, 0.0]]),
        n_groups=1,
        values=torch.tensor([[0.25, 9.0]]),
    )
    _, targets = A.gae(r, AdvantageParams(gamma=0.9, lam=0.5))
    assert targets[0].tolist() == pytest.approx(
        [1.0, 0.0]
    )  # A = 1 - .25 (V after the end is 0), target A + V


def test_reinforce_pp_whitened_reward_to_go_with_kl_tokens() -> None:
    # token rewards already include -beta*kl: row 0 returns [.8, .9], row 1 [.0] (one real token)
    r = Rollout(
        scores=torch.tensor([1.0, 0.0]),
        token_rewards=torch.tensor([[-0.1, 0.9], [0.0, 0.0]]),
        mask=torch.tensor([[1.0, 1.0], [1.0, 0.0]]),
        n_groups=2,
    )
    adv, _ = A.reinforce_pp(r, P)
    g = torch.tensor([0.8, 0.9, 0.0])
    expect = (g - g.mean()) / g.std()
    assert [adv[0, 0], adv[0, 1], adv[1, 0]] == pytest.approx(expect.tolist(), abs=1e-6)
    assert adv[1, 1] == 0


def test_reinforce_pp_baseline_subtracts_group_mean_then_whitens() -> None:
    adv, _ = A.reinforce_pp_baseline(seq_rollout([1, 0, 2, 2], 2), P)
    # shifted: [.5, -.5, 0, 0]; batch mean 0, unbiased std sqrt(.5/3)
    assert first(adv) == pytest.approx([0.5 / math.sqrt(0.5 / 3), -0.5 / math.sqrt(0.5 / 3), 0, 0])


def test_bnpo_beta_density_normalization() -> None:
    adv, _ = A.bnpo(seq_rollout([1, 0, 0, 0, 1, 1, 1, 0], 2), AdvantageParams())
    # p = [.25, .75]: mean .5, var .0625 -> a = b = 1.5 -> alpha = beta = 1.5
    beta_fn = math.gamma(1.5) ** 2 / math.gamma(3.0)
    f = math.sqrt(0.25 * 0.75) / beta_fn
    expect = [0.75 / f, -0.25 / f, -0.25 / f, -0.25 / f, 0.25 / f, 0.25 / f, 0.25 / f, -0.75 / f]
    assert first(adv) == pytest.approx(expect, rel=1e-4)


def test_ngrpo_virtual_max_reward_sample() -> None:
    adv, _ = A.ngrpo(seq_rollout([0, 0, 0], 1), AdvantageParams(eps=0.0, max_reward=1.0))
    # with the virtual 1: mean .25, unbiased std .5 -> every real sample gets -.5 (GRPO would give 0)
    assert first(adv) == pytest.approx([-0.5, -0.5, -0.5])


def test_every_registered_estimator_declares_known_requirements() -> None:
    reg = polyopt.registry()
    names = reg.names("advantage")
    assert {
        "gae",
        "grpo",
        "dr-grpo",
        "rloo",
        "remax",
        "reinforce-pp",
        "reinforce-pp-baseline",
        "bnpo",
        "ngrpo",
    } <= set(names)
    for name in names:
        needs = reg.get("advantage", name).requires
        assert needs <= REQUIREMENTS, name
    assert reg.get("advantage", "remax").requires == {"greedy"}
    assert reg.get("advantage", "gae").requires == {"values"}
