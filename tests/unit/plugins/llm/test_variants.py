"""The later papers' estimators and losses against their definitions (brute force where a closed form is
derived), and every variant component through one trainer step."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest
import torch

import polyopt
from polyopt.components import AdvantageParams, LossParams, Rollout
from polyopt_envs.text import Addition
from polyopt_plugins.llm import advantage_variants as av
from polyopt_plugins.llm import loss_variants as lv


def rollout(scores: list[list[float]], length: int = 3) -> Rollout:
    s = torch.tensor(scores).flatten()
    mask = torch.ones(s.shape[0], length)
    last = torch.zeros_like(mask)
    last[:, -1] = 1
    return Rollout(s, s.unsqueeze(-1) * last, mask, len(scores))


def test_pass_at_k_advantages_equal_the_mean_over_every_k_subset() -> None:
    group = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    k, n = 3, len(group)
    subsets = list(itertools.combinations(range(n), k))
    reward = sum(max(group[i] for i in c) for c in subsets) / len(subsets)
    sigma = math.sqrt(reward * (1 - reward))
    expected = []
    for i in range(n):
        containing = [c for c in subsets if i in c]
        mean = sum(max(group[j] for j in c) for c in containing) / len(containing)
        expected.append((mean - reward) / sigma)
    adv, _ = av.pass_at_k(rollout([group]), AdvantageParams(options={"k": k}))
    assert torch.allclose(adv[:, 0], torch.tensor(expected), atol=1e-5)


def test_s_grpo_weights_are_the_papers_w_star() -> None:
    def w_star(n: int, k: int, p: float, eps: float = 1e-8) -> float:  # the authors' formula
        r = k / n
        t = min(max((r - p) / (1 - 2 * p), 0.0), 1.0)
        return (
            (1 - 2 * p)
            * t
            * (1 - t)
            / (math.sqrt(r * (1 - r) + eps) * math.sqrt(t * (1 - t) + eps))
        )

    groups = [[1.0, 0.0, 0.0, 0.0], [1.0, 1.0, 0.0, 0.0], [1.0, 1.0, 1.0, 0.0]]
    adv, _ = av.s_grpo(rollout(groups), AdvantageParams(options={"noise": 0.2}))
    grpo, _ = polyopt.registry().get("advantage", "grpo")(rollout(groups), AdvantageParams())
    for g, group in enumerate(groups):
        rows = slice(4 * g, 4 * g + 4)
        weight = w_star(4, int(sum(group)), 0.2)
        assert torch.allclose(adv[rows, 0], grpo[rows, 0] * weight, atol=1e-5)


def test_qae_credits_only_successes_on_hard_prompts_and_only_failures_on_easy_ones() -> None:
    hard, easy = [1.0, 0.0, 0.0, 0.0, 0.0], [1.0, 1.0, 1.0, 1.0, 0.0]
    adv, _ = av.qae(rollout([hard, easy]), AdvantageParams())
    assert bool((adv[1:5, 0] == 0).all()) and float(adv[0, 0]) > 0
    assert bool((adv[5:9, 0] == 0).all()) and float(adv[9, 0]) < 0


def test_mapo_is_grpo_at_even_odds() -> None:
    group = [1.0, 0.0, 1.0, 0.0]
    adv, _ = av.mapo(rollout([group]), AdvantageParams())
    grpo, _ = polyopt.registry().get("advantage", "grpo")(rollout([group]), AdvantageParams())
    assert torch.allclose(adv, grpo)


def test_decoupled_gae_targets_are_monte_carlo_returns_with_lambda_one() -> None:
    r = rollout([[1.0, 0.0], [0.5, 0.2]])
    r.values = torch.rand(r.mask.shape, generator=torch.Generator().manual_seed(0))
    _, targets = av.decoupled_gae(r, AdvantageParams(lam=0.5, options={"alpha": 0.05}))
    assert torch.allclose(targets, r.scores.unsqueeze(-1) * r.mask, atol=1e-6)


def _seq_setup(seed: int = 0) -> tuple[Any, ...]:
    gen = torch.Generator().manual_seed(seed)
    k, groups, t = 4, 2, 3
    n = k * groups
    mask = torch.ones(n, t)
    logp = (-torch.rand(n, t, generator=gen)).requires_grad_(True)
    old = logp.detach() - 0.1 * torch.randn(n, t, generator=gen)
    ref = logp.detach() - 0.2 * torch.rand(n, t, generator=gen)
    scores = torch.rand(groups, k, generator=gen)
    adv = ((scores - scores.mean(1, keepdim=True)).flatten()).unsqueeze(-1) * mask
    return k, mask, logp, old, ref, adv


def test_rebel_is_the_all_pairs_regression() -> None:
    k, mask, logp, old, _, adv = _seq_setup()
    p = LossParams(group_size=k, options={"eta": 2.0})
    (
        lv.rebel(logp, old, adv, mask, p).sum(-1) / 3
    ).sum().backward()  # seq-mean over tokens, then sum
    ours = logp.grad.clone()
    logp.grad = None
    s = ((logp - old) * mask).sum(-1).view(-1, k)
    a = adv[:, 0].view(-1, k)
    pairs = sum(
        0.5 * ((s[:, i] - s[:, j]) / 2.0 - (a[:, i] - a[:, j])) ** 2
        for i, j in itertools.combinations(range(k), 2)
    )
    (pairs.sum() / k).backward()
    assert torch.allclose(ours, logp.grad, atol=1e-5)


def test_copg_gradient_is_the_all_pairs_contrastive_gradient() -> None:
    k, mask, logp, old, ref, adv = _seq_setup(1)
    p = LossParams(group_size=k, ref_logp=ref, options={"beta": 0.3})
    (lv.copg(logp, old, adv, mask, p).sum(-1) / 3).sum().backward()
    ours = logp.grad.clone()
    logp.grad = None
    seq = (logp * mask).sum(-1).view(-1, k)
    s = ((logp - ref) * mask).sum(-1).view(-1, k).detach()
    reg = adv[:, 0].view(-1, k) - 0.3 * s  # the KL-regularized reward (stop-gradient)
    pairs = sum(
        -(reg[:, i] - reg[:, j]) * (seq[:, i] - seq[:, j])
        for i, j in itertools.combinations(range(k), 2)
    )
    (pairs.sum() / k).backward()
    assert torch.allclose(ours, logp.grad, atol=1e-5)


def test_gvpo_is_zero_when_the_implicit_reward_matches_the_reward() -> None:
    k, mask, logp, old, _, adv = _seq_setup(2)
    beta = 0.5
    ref = logp.detach() - (adv / beta) / mask.sum(-1, keepdim=True)  # beta * log-ratio = advantage
    loss = lv.gvpo(
        logp, old, adv, mask, LossParams(group_size=k, ref_logp=ref, options={"beta": beta})
    )
    assert float(loss.detach().abs().max()) < 1e-10


def test_gmpo_is_the_geometric_mean_ratio_inside_the_clip() -> None:
    _, mask, logp, _, _, adv = _seq_setup(3)
    old = logp.detach() - 0.05
    loss = lv.gmpo(logp, old, adv, mask, LossParams())
    ratio = torch.exp(((logp - old) * mask).sum(-1) / mask.sum(-1))  # no token is clipped
    assert torch.allclose(loss[:, 0], -adv[:, 0] * ratio, atol=1e-6)


def test_group_and_reference_losses_refuse_what_they_lack() -> None:
    _, mask, logp, old, _, adv = _seq_setup()
    with pytest.raises(ValueError, match="group_size"):
        lv.rebel(logp, old, adv, mask, LossParams())
    with pytest.raises(ValueError, match="ref_logp"):
        lv.apa(logp, old, adv, mask, LossParams())


VARIANTS = (
    [("advantage", name) for name in ("qae", "mapo", "pass-at-k", "s-grpo", "score")]
    + [
        ("policy_loss", name)
        for name in ("gmpo", "apa", "mdpo", "rebel", "gvpo", "copg", "opmd", "asymre")
    ]
    + [("advantage_shaping", name) for name in ("entropy-advantage", "edge", "dcpo-sas", "spo")]
    + [("clip_range", name) for name in ("dcpo", "entropy-clip", "bapo")]
)


@pytest.mark.parametrize(("kind", "name"), VARIANTS)
def test_every_variant_trains(kind: str, name: str) -> None:
    extra: dict[str, Any] = {"update_epochs": 2} if kind == "clip_range" else {}
    if kind == "clip_range":
        extra["policy_loss"] = "clip-higher"
    opt = polyopt.make(
        "optimizer",
        "grpo",
        Addition(n_digits=1),
        seed=0,
        device="cpu",
        n_layer=1,
        d_model=32,
        n_head=2,
        prompts_per_step=2,
        completions_per_prompt=4,
        temperature=1.0,
        **{kind: name},
        **extra,
    )
    before = [p.detach().clone() for p in opt.policy.parameters()]
    for _ in range(2):
        metrics = opt.step()
    assert all(math.isfinite(v) for v in metrics.values()), metrics
    after = list(opt.policy.parameters())
    assert all(bool(torch.isfinite(p).all()) for p in after)
    assert len(before) == len(after)
