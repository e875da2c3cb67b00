"""C-MORL: the initialization hands over to constrained extension rounds seeded from the archive, the
barrier keeps other objectives above their thresholds, refusals are clear, resume across a round is exact."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import polyopt
from polyopt.components import LossParams
from polyopt_envs.cartpole import CartPole
from polyopt_envs.deep_sea_treasure import DeepSeaTreasure
from polyopt_plugins.morl.cmorl import CMORL


def _build(seed: int, **config: Any) -> CMORL:
    options: dict[str, Any] = dict(
        pop_size=2,
        rollout_steps=8,
        hidden_sizes=[16],
        init_env_steps=64,
        extension_iters=2,
        eval_episodes=1,
        eval_max_steps=50,
    )
    options.update(config)
    return CMORL(DeepSeaTreasure(num_envs=2), seed=seed, device="cpu", **options)


def test_extension_rounds_start_from_archived_policies() -> None:
    opt = _build(0)
    metrics: dict[str, float] = {}
    for _ in range(3):  # 2 iterations of 32 steps initialize, the third starts a round
        metrics = opt.step()
    assert metrics["phase"] == 1.0 and opt.rounds == 1 and "eval/hypervolume" in metrics
    assert opt.primary.tolist() == [0, 1]
    assert torch.equal(opt.weights, torch.eye(2, dtype=opt.weights.dtype))
    opt._select()  # again, to look at the slots before they train
    value = opt.start_values()
    assert bool((opt.thresholds <= value).all())  # relaxed below the parents' values
    archived = opt.archive["critic.weight.0"]
    for slot in range(2):
        row = opt.net.snapshot(torch.tensor([slot]))["critic.weight.0"][0]
        assert any(torch.equal(row, a) for a in archived)  # each slot is an archived policy
    for _ in range(3):  # the round restarted at step 3 ends after 2 iterations
        opt.step()
    assert opt.rounds == 3 and opt.eval_log.shape[0] == 2
    result = opt.result()
    assert result.returns.shape[1] == 2 and len(result.policy) == result.returns.shape[0]


def test_the_barrier_pushes_a_violated_constraint_back_up() -> None:
    opt = _build(1)
    for _ in range(3):
        opt.step()
    p, b = 2, 6
    logp = torch.zeros(p, b, requires_grad=True)
    adv = torch.randn(p, b, 2, generator=torch.Generator().manual_seed(0))
    mb = {"adv": adv, "mask": torch.ones(p, b), "logp": torch.zeros(p, b)}
    opt._j_old = torch.zeros(p, 2)
    opt.thresholds = torch.ones(p, 2)  # every constraint violated by 1
    loss = opt.policy_objective(logp, mb, LossParams(0.2, 0.2, 3.0), torch.full((p,), float(b)))
    loss.sum().backward()
    assert logp.grad is not None
    # slot 0 optimizes objective 0 and is constrained on objective 1: its gradient raises the
    # probability of actions with a positive objective-1 advantage more than the primary alone does
    other = adv[0, :, 1]
    assert float((-logp.grad[0] * other).sum()) > 0


def test_resume_across_a_round_is_exact() -> None:
    straight = _build(4)
    for _ in range(5):
        straight.step()
    first = _build(4)
    for _ in range(3):
        first.step()
    resumed = _build(77)
    resumed.load_state_dict(first.state_dict())
    for _ in range(2):
        resumed.step()
    assert resumed.rounds == straight.rounds
    assert torch.equal(straight.thresholds, resumed.thresholds)
    assert torch.equal(straight.result().returns, resumed.result().returns)


def test_refuses_what_it_cannot_train_on() -> None:
    with pytest.raises(polyopt.IncompatibleProblemError, match="2 or more objectives"):
        polyopt.make("optimizer", "c-morl", CartPole(num_envs=2), seed=0)
    with pytest.raises(polyopt.ConfigError, match="pop_size=1"):
        _build(0, pop_size=1)
    with pytest.raises(polyopt.ConfigError, match="beta"):
        _build(0, beta=1.5)
