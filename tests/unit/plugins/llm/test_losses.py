"""Policy losses, loss aggregation (micro-batch invariance) and KL estimators."""

from __future__ import annotations

import math

import pytest
import torch

from polyopt_plugins.llm import kl
from polyopt_plugins.llm import policy_loss as L
from polyopt_plugins.llm.aggregation import MODES, aggregate, batch_totals

P = L.LossParams(clip_low=0.2, clip_high=0.28, dual_clip=3.0)
ONE = torch.ones(1, 1)


def loss_at(fn, ratio: float, adv: float) -> float:
    logp = torch.tensor([[math.log(ratio)]])
    return float(fn(logp, torch.zeros(1, 1), torch.tensor([[adv]]), ONE, P))


def test_ppo_clip_pessimistic_bound() -> None:
    assert loss_at(L.ppo_clip, 1.5, 1.0) == pytest.approx(-1.2)
    assert loss_at(L.ppo_clip, 0.5, -1.0) == pytest.approx(0.8)
    assert loss_at(L.ppo_clip, 0.9, 1.0) == pytest.approx(-0.9)


def test_clip_higher_is_asymmetric() -> None:
    assert loss_at(L.clip_higher, 1.5, 1.0) == pytest.approx(-1.28)
    assert loss_at(L.clip_higher, 0.5, -1.0) == pytest.approx(0.8)


def test_dual_clip_bounds_negative_advantages() -> None:
    assert loss_at(L.dual_clip, 5.0, -1.0) == pytest.approx(3.0)  # plain PPO would give 5
    assert loss_at(L.dual_clip, 5.0, 1.0) == pytest.approx(-1.28)


def test_reinforce_is_minus_advantage_times_logp() -> None:
    assert loss_at(L.reinforce, math.e, 2.0) == pytest.approx(-2.0)


def test_gspo_uses_one_sequence_ratio() -> None:
    old = torch.zeros(1, 2)
    logp = torch.tensor([[math.log(1.1), math.log(1.3)]], requires_grad=True)
    adv, mask = torch.ones(1, 2), torch.ones(1, 2)
    loss = L.gspo(logp, old, adv, mask, L.LossParams(clip_low=0.5, clip_high=0.5))
    s = math.sqrt(1.1 * 1.3)  # exp(mean log-ratio)
    assert loss.tolist()[0] == pytest.approx([-s, -s])
    (loss.sum() / 2).backward()  # sequence mean: each token's gradient is -s / |y|
    assert logp.grad.tolist()[0] == pytest.approx([-s / 2, -s / 2])


def _model_loss(
    w: torch.Tensor, x: torch.Tensor, mask: torch.Tensor, mode: str, totals: dict[str, torch.Tensor]
) -> torch.Tensor:
    token_loss = torch.tanh(x @ w) * mask  # (b, T)
    return aggregate(token_loss, mask, mode, totals, max_len=x.shape[1])


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("k", [2, 4])
def test_gradient_does_not_depend_on_the_micro_batch_split(mode: str, k: int) -> None:
    g = torch.Generator().manual_seed(0)
    b, t, d = 8, 5, 3
    x = torch.randn(b, t, d, generator=g, dtype=torch.float64)
    mask = (torch.arange(t).view(1, -1) < torch.randint(1, t + 1, (b, 1), generator=g)).double()
    w = torch.randn(d, generator=g, dtype=torch.float64, requires_grad=True)
    totals = batch_totals(mask)
    full = _model_loss(w, x, mask, mode, totals)
    (grad_full,) = torch.autograd.grad(full, w)
    total, grad_acc = 0.0, torch.zeros(d, dtype=torch.float64)
    for rows in torch.arange(b).chunk(k):
        part = _model_loss(w, x[rows], mask[rows], mode, totals)
        grad_acc += torch.autograd.grad(part, w)[0]
        total += float(part.detach())
    assert total == pytest.approx(float(full.detach()), rel=1e-12)
    assert torch.allclose(grad_acc, grad_full, rtol=1e-12, atol=1e-14)


def test_aggregation_modes_weigh_tokens_and_sequences_as_documented() -> None:
    loss = torch.tensor([[1.0, 1.0, 1.0], [4.0, 0.0, 0.0]])
    mask = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 0.0]])
    totals = batch_totals(mask)
    assert float(aggregate(loss, mask, "token-mean", totals, 3)) == pytest.approx(7 / 4)
    assert float(aggregate(loss, mask, "seq-mean-token-mean", totals, 3)) == pytest.approx(
        (1 + 4) / 2
    )
    assert float(aggregate(loss, mask, "seq-mean-token-sum-norm", totals, 3)) == pytest.approx(
        7 / 6
    )


def _distributions() -> tuple[torch.Tensor, torch.Tensor]:
    p = torch.tensor([0.3, 0.25, 0.2, 0.15, 0.1]).log()
    q = torch.tensor([0.25, 0.25, 0.25, 0.15, 0.1]).log()
    return p, q


def test_k1_and_k3_are_unbiased_and_k2_is_close_for_nearby_distributions() -> None:
    logp, logq = _distributions()
    true = float(kl.exact_kl(logp, logq))
    weights = logp.exp()  # exact expectation under pi: no sampling noise
    assert float((weights * kl.k1(logp, logq)).sum()) == pytest.approx(true, rel=1e-5)
    assert float((weights * kl.k3(logp, logq)).sum()) == pytest.approx(true, rel=1e-5)
    assert float((weights * kl.k2(logp, logq)).sum()) == pytest.approx(true, rel=0.15)
    assert bool((kl.k3(logp, logq) >= 0).all())


def test_exact_kl_is_zero_for_equal_distributions() -> None:
    logp, _ = _distributions()
    assert float(kl.exact_kl(logp, logp)) == pytest.approx(0.0, abs=1e-7)
