"""The shared policy-gradient maths: GAE and the clipped losses."""

from __future__ import annotations

import pytest
import torch

from polyopt.policy_gradient import clipped_surrogate, clipped_value_loss, generalized_advantage


def _reference_gae(rewards, values, next_value, dones, next_done, gamma, lam):
    """GAE written as in CleanRL's ppo.py: ``dones[t]`` marks that ``obs[t]`` began a new episode."""
    steps = rewards.shape[0]
    adv = torch.zeros_like(rewards)
    last = 0.0
    for t in reversed(range(steps)):
        if t == steps - 1:
            nonterminal, nxt = 1.0 - next_done, next_value
        else:
            nonterminal, nxt = 1.0 - dones[t + 1], values[t + 1]
        delta = rewards[t] + gamma * nxt * nonterminal - values[t]
        last = delta + gamma * lam * nonterminal * last
        adv[t] = last
    return adv


def test_matches_cleanrls_recursion_with_episode_ends() -> None:
    gen = torch.Generator().manual_seed(0)
    steps, n = 16, 3
    rewards = torch.randn(steps, n, generator=gen, dtype=torch.float64)
    values = torch.randn(steps + 1, n, generator=gen, dtype=torch.float64)
    ended = torch.rand(steps, n, generator=gen) < 0.2  # episode ended at t (terminated)
    # CleanRL's layout: dones[t] = the episode ended at t - 1
    started = torch.cat([torch.zeros(1, n, dtype=torch.bool), ended[:-1]]).double()
    expect = _reference_gae(
        rewards, values[:-1], values[-1], started, ended[-1].double(), 0.99, 0.95
    )
    got = generalized_advantage(rewards, values, 0.99, 0.95, terminated=ended)
    torch.testing.assert_close(got, expect)


def test_hand_computed_two_steps() -> None:
    # r = [0, 1], V = [.5, .8, 0], gamma 1, lam .5: delta = [.3, .2], A = [.3 + .5 * .2, .2]
    adv = generalized_advantage(
        torch.tensor([[0.0], [1.0]]), torch.tensor([[0.5], [0.8], [0.0]]), 1.0, 0.5
    )
    assert adv.flatten().tolist() == pytest.approx([0.4, 0.2])


def test_truncation_bootstraps_from_the_final_state_but_stops_the_trace() -> None:
    rewards = torch.tensor([[1.0], [1.0], [5.0]])
    values = torch.tensor([[0.0], [0.0], [2.0], [0.0]])  # V(final state of episode 1) = 2
    done = torch.tensor([[False], [True], [False]])
    truncated = generalized_advantage(
        rewards, values, 0.5, 1.0, terminated=torch.zeros_like(done), dones=done
    )
    terminated = generalized_advantage(rewards, values, 0.5, 1.0, terminated=done)
    # step 1 ends the episode: truncation adds gamma * V(final) = 1, termination nothing
    assert truncated[1, 0].item() == pytest.approx(1.0 + 0.5 * 2.0 - 0.0)
    assert terminated[1, 0].item() == pytest.approx(1.0)
    # the trace stops at step 1 either way: step 0 sees only step 1's delta
    assert truncated[0, 0].item() == pytest.approx(1.0 + 0.5 * truncated[1, 0].item())


def test_vector_rewards_broadcast_episode_flags() -> None:
    gen = torch.Generator().manual_seed(1)
    rewards = torch.randn(6, 2, 3, generator=gen)  # T x num_envs x objectives
    values = torch.randn(7, 2, 3, generator=gen)
    done = torch.rand(6, 2, generator=gen) < 0.3
    adv = generalized_advantage(rewards, values, 0.9, 0.8, terminated=done)
    for j in range(3):
        one = generalized_advantage(rewards[..., j], values[..., j], 0.9, 0.8, terminated=done)
        torch.testing.assert_close(adv[..., j], one)


def test_values_need_one_more_step() -> None:
    with pytest.raises(ValueError, match="one more step"):
        generalized_advantage(torch.zeros(4, 2), torch.zeros(4, 2), 0.99, 0.95)


def test_clipped_surrogate_is_the_pessimistic_bound() -> None:
    ratio = torch.tensor([1.5, 0.5, 0.9, 1.1])
    adv = torch.tensor([1.0, -1.0, 1.0, -1.0])
    loss = clipped_surrogate(ratio, adv, 0.2, 0.3)
    assert loss.tolist() == pytest.approx([-1.3, 0.8, -0.9, 1.1])


def test_clipped_value_loss_takes_the_larger_error() -> None:
    old = torch.tensor([0.0, 0.0])
    new = torch.tensor([1.0, -1.0])
    target = torch.tensor([1.0, 0.0])
    # row 0: unclipped error 0, clipped (0.2 - 1)^2 = .64 -> .32; row 1: 1 vs .04 -> .5
    assert clipped_value_loss(new, old, target, 0.2).tolist() == pytest.approx([0.32, 0.5])
    assert clipped_value_loss(new, old, target, None).tolist() == pytest.approx([0.0, 0.5])
