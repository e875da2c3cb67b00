"""MORL/D and its population base: stacked members act as separate networks, members learn their own
preference, PSA moves weights, refusals are clear, resume across an adaptation is exact."""

from __future__ import annotations

import pytest
import torch

import polyopt
from polyopt.environment import Environment, Step
from polyopt.errors import IncompatibleProblemError
from polyopt.spaces import Box, Integer, Space
from polyopt_envs.cartpole import CartPole
from polyopt_envs.deep_sea_treasure import DeepSeaTreasure
from polyopt_plugins.morl.morld import MORLD
from polyopt_plugins.morl.population import PopulationActorCritic
from polyopt_plugins.rl.networks import ActorCritic


class _Arms(Environment):
    """One-step episodes. Discrete: action 0 pays (1, 0), action 1 pays (0, 1). Continuous (a 1-d Box
    action in [-1, 1]): pays (a, -a)."""

    name = "arms"
    reward_dim = 2

    def __init__(self, num_envs: int = 4, continuous: bool = False) -> None:
        self.num_envs = num_envs
        self.continuous = continuous
        self.observation_space = Box([0.0], [1.0])
        self.action_space: Space = Box([-1.0], [1.0]) if continuous else Integer(0, 1)
        self._ended = torch.zeros(num_envs, dtype=torch.bool)

    def reset(self, seed: int | None = None) -> torch.Tensor:
        self._ended.zero_()
        return torch.ones(self.num_envs, 1)

    def step(self, action: torch.Tensor) -> Step:
        a = action.reshape(-1).float()
        if self.continuous:
            reward = torch.stack([a, -a], dim=1)
        else:
            reward = torch.nn.functional.one_hot(a.long(), 2).float()
        reset = self._ended.clone()
        reward = torch.where(reset.unsqueeze(1), 0.0, reward)
        self._ended = ~reset
        return Step(torch.ones(self.num_envs, 1), reward, ~reset, torch.zeros_like(reset))

    def spawn(self, num_envs: int) -> _Arms:
        return _Arms(num_envs, self.continuous)


@pytest.mark.parametrize("continuous", [False, True])
def test_stacked_members_compute_what_separate_networks_do(continuous: bool) -> None:
    space: Space = Box([-1.0], [1.0]) if continuous else Integer(0, 2)
    torch.manual_seed(0)
    pop = PopulationActorCritic(3, 4, space, 2, [8], "tanh")
    with torch.no_grad():
        if pop.log_std is not None:
            pop.log_std.copy_(torch.tensor([[-1.0], [0.0], [0.5]]))
    obs = torch.randn(3 * 5, 4)  # member-major: 5 rows per member
    snapshots = [pop.snapshot(torch.tensor([i])) for i in range(3)]
    members = [pop.member({k: v[0] for k, v in snap.items()}) for snap in snapshots]
    action = pop.act(obs)
    logp, entropy = pop.evaluate(obs, action)
    for i, net in enumerate(members):
        rows = slice(5 * i, 5 * (i + 1))
        assert isinstance(net, ActorCritic)
        assert torch.allclose(net.value(obs[rows]), pop.value(obs)[rows], atol=1e-6)
        assert torch.allclose(net.act(obs[rows]), action[rows], atol=1e-6)
        mine = net.evaluate(obs[rows], action[rows])
        assert torch.allclose(mine[0], logp[rows], atol=1e-5)
        assert torch.allclose(mine[1], entropy[rows], atol=1e-5)


def test_one_members_loss_moves_only_its_parameters() -> None:
    pop = PopulationActorCritic(3, 4, Integer(0, 2), 2, [8], "tanh")
    obs = torch.randn(3 * 2, 4)
    pop.value(obs)[2:4].sum().backward()  # member 1's rows
    for p in pop.parameters():
        if p.grad is None:
            continue
        assert p.grad[0].abs().sum() == 0 and p.grad[2].abs().sum() == 0


@pytest.mark.parametrize("continuous", [False, True])
def test_members_learn_their_own_preference(continuous: bool) -> None:
    env = _Arms(num_envs=4, continuous=continuous)
    opt = polyopt.make(
        "optimizer",
        "morld",
        env,
        seed=0,
        device="cpu",
        pop_size=2,
        rollout_steps=16,
        hidden_sizes=[16],
        learning_rate=0.02 if continuous else 0.01,
        anneal_lr=False,
        weight_adaptation="none",
        ref_point=[-2.0, -2.0],
        eval_episodes=1,
    )
    assert opt.weights.tolist() == [[0.0, 1.0], [1.0, 0.0]]
    for _ in range(30 if continuous else 15):
        opt.step()
    returns = opt.evaluate_members()  # member 0 prefers objective 1, member 1 objective 0
    assert returns[0, 1] > 0.5 and returns[1, 0] > 0.5, returns


def test_psa_adapts_weights_and_the_archive_holds_non_dominated_policies() -> None:
    opt = polyopt.make(
        "optimizer",
        "morld",
        DeepSeaTreasure(num_envs=2),
        seed=1,
        device="cpu",
        pop_size=3,
        rollout_steps=8,
        hidden_sizes=[16],
        adapt_every=2,
        eval_episodes=1,
        eval_max_steps=50,
    )
    before = opt.weights.clone()
    metrics = {}
    for _ in range(4):
        metrics.update(opt.step())
    assert "eval/hypervolume" in metrics and opt.eval_log.shape[0] == 2
    assert torch.allclose(opt.weights.sum(1), torch.ones(3, dtype=opt.weights.dtype))
    archived = opt.archive["returns"]
    assert archived.shape[0] >= 1 and set(opt.archive) >= {"weights", "env_step"}
    dominated = (archived.unsqueeze(1) >= archived.unsqueeze(0)).all(-1) & (
        archived.unsqueeze(1) > archived.unsqueeze(0)
    ).any(-1)
    assert not bool(dominated.any())
    assert (opt.n_adaptations == 2 and not torch.equal(before, opt.weights)) or archived.shape[
        0
    ] == 1
    result = opt.result()
    assert len(result.policy) == result.returns.shape[0]
    assert result.metrics["hypervolume"] >= 0 and result.metrics["n_eval_env_steps"] > 0


def test_resume_across_adaptations_and_transfer_is_exact() -> None:
    def build(seed: int) -> MORLD:
        return MORLD(
            DeepSeaTreasure(num_envs=2),
            seed=seed,
            device="cpu",
            pop_size=3,
            rollout_steps=8,
            hidden_sizes=[16],
            adapt_every=2,
            transfer=True,
            eval_episodes=1,
            eval_max_steps=50,
        )

    straight = build(3)
    for _ in range(5):
        straight.step()
    first = build(3)
    for _ in range(3):
        first.step()
    resumed = build(99)
    resumed.load_state_dict(first.state_dict())
    for _ in range(2):
        resumed.step()
    assert torch.equal(straight.weights, resumed.weights)
    assert torch.equal(straight.archive["returns"], resumed.archive["returns"])
    assert torch.equal(straight.result().returns, resumed.result().returns)


def test_refuses_what_it_cannot_train_on() -> None:
    with pytest.raises(IncompatibleProblemError, match="2 or more objectives"):
        polyopt.make("optimizer", "morld", CartPole(num_envs=2), seed=0)

    class _NoSpawn(_Arms):
        spawn = Environment.spawn  # type: ignore[assignment]  # the base's: cannot make copies

    with pytest.raises(IncompatibleProblemError, match="cannot spawn"):
        polyopt.make("optimizer", "morld", _NoSpawn(), seed=0)
    with pytest.raises(polyopt.ConfigError, match="no reference point is registered"):
        polyopt.make("optimizer", "morld", _Arms(), seed=0)  # at once, not after training
    with pytest.raises(polyopt.ConfigError, match="weight_adaptation"):
        polyopt.make("optimizer", "morld", _Arms(), seed=0, weight_adaptation="awa")
