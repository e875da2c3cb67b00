"""Dynamic reward weights: the hypervolume-guided weighting moves weight to the reward along which the front would
grow most and relaxes to the static weights when the step is dominated; the gradient-based one follows the
per-reward policy gradients' influence on the combined update, MGDA their min-norm combination, and the
advantage-influence one takes weight from a reward with no spread; the trainer's policy gradients are those of
its log-probabilities; the trainer logs, saves and resumes its weights and reports the reward front."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

import polyopt
from polyopt.components import WeightingContext
from polyopt.errors import ConfigError
from polyopt_envs.text import Addition
from polyopt_plugins.llm import axes
from polyopt_plugins.llm.reward_weighting import (
    advantage_influence,
    gradient,
    hypervolume_guided,
    mgda,
    static,
)

SMALL: dict[str, Any] = {
    "n_layer": 1,
    "d_model": 32,
    "n_head": 2,
    "prompts_per_step": 3,
    "completions_per_prompt": 4,
    "lr": 1e-3,
    "temperature": 1.0,
}


def context(rewards: torch.Tensor, history: torch.Tensor, n_groups: int = 1) -> WeightingContext:
    base = torch.ones(rewards.shape[1])
    return WeightingContext(rewards, n_groups, base.clone(), base, history, options={"floor": 0.0})


def test_hypervolume_guided_weights_the_reward_with_the_larger_front_gain() -> None:
    history = torch.tensor([[0.9, 0.1], [0.1, 0.9]])
    ctx = context(torch.tensor([[0.8, 0.3]]), history)
    w = hypervolume_guided(ctx)
    # raising reward 1 adds a 0.7-wide strip to the front, raising reward 0 a 0.2-high one
    assert float(w[1]) > float(w[0]) and float(w.sum()) == pytest.approx(2.0)
    assert float(w[1] / w[0]) == pytest.approx(
        float(torch.exp(torch.tensor(0.5 * (1 - 0.2 / 0.7))))
    )
    dominated = context(torch.tensor([[0.05, 0.05]]), history)
    dominated.weights = torch.tensor([1.5, 0.5])
    dominated.options = {"floor": 0.5}
    assert torch.allclose(hypervolume_guided(dominated), torch.tensor([1.25, 0.75]))


def test_advantage_influence_takes_weight_from_a_reward_without_spread() -> None:
    rewards = torch.stack([torch.tensor([0.0, 1.0, 0.0, 1.0] * 2), torch.full((8,), 3.0)], -1)
    w = advantage_influence(context(rewards, torch.zeros(0, 2), n_groups=2))
    assert float(w[0]) > 1.0 > float(w[1]) and float(w.sum()) == pytest.approx(2.0)
    assert torch.equal(static(context(rewards, torch.zeros(0, 2))), torch.ones(2))


def linear_gradients(grads: torch.Tensor, adv: torch.Tensor) -> Any:
    """Policy gradients of a model whose log-probabilities are linear in the parameters, built so that the
    per-reward gradients of the advantages ``adv`` (``n x m``) are the rows of ``grads`` (``m x P``)."""
    n = adv.shape[0]
    jacobian = torch.linalg.pinv(adv.T / n) @ grads  # (n, P): adv.T @ J / n == grads
    return lambda coef, scope="trainable": coef.T @ jacobian / coef.shape[0]


def test_gradient_weighting_follows_the_parameter_gradients_influence() -> None:
    # two groups; reward 0 separates completions 0/1, reward 1 completions 2/3 of each group
    rewards = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]]).repeat(2, 1)
    adv = rewards - rewards.view(2, 4, 2).mean(1).repeat_interleave(4, 0)
    # in parameter space reward 1's gradient opposes reward 0's, which is twice as long
    grads = torch.tensor([[2.0, 0.0, 0.0], [-1.0, 0.5, 0.0]])
    ctx = context(rewards, torch.zeros(0, 2), n_groups=2)
    ctx.policy_gradients = linear_gradients(grads, adv)
    influence = grads @ grads.sum(0)  # <g_j, g_0 + g_1> = (2, -0.75)
    expected = torch.softmax(0.5 * influence / influence.abs().max(), 0) * 2
    assert torch.allclose(gradient(ctx), expected, atol=1e-5)
    # the advantages alone see two rewards of equal spread, neither more influential
    assert torch.allclose(advantage_influence(ctx), torch.ones(2))
    with pytest.raises(ValueError, match="policy gradients"):
        gradient(context(rewards, torch.zeros(0, 2), n_groups=2))


def test_mgda_moves_to_the_min_norm_combination() -> None:
    rewards = torch.tensor([[1.0, 0.0], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    adv = rewards - rewards.mean(0)
    ctx = context(rewards, torch.zeros(0, 2))
    ctx.policy_gradients = linear_gradients(torch.tensor([[1.0, 0.0], [0.0, 2.0]]), adv)
    ctx.options = {"floor": 0.0, "rate": 1.0}
    # min over a of a^2 * 1 + (1 - a)^2 * 4: a = 0.8 on the shorter gradient
    assert torch.allclose(mgda(ctx), torch.tensor([1.6, 0.4]), atol=1e-5)
    ctx.options = {"floor": 0.0, "rate": 0.5}
    assert torch.allclose(mgda(ctx), torch.tensor([1.3, 0.7]), atol=1e-5)


def make(**config: Any) -> Any:
    return polyopt.make(
        "optimizer", "grpo", Addition(n_digits=1), seed=0, device="cpu", **{**SMALL, **config}
    )


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A warm-started model (its samples vary, so the rewards have spread), made once."""
    path = Path(tmp_path_factory.mktemp("warm")) / "sft.pt"
    torch.save(make(sft_steps=20).policy.state_dict(), path)
    return str(path)


def test_trainer_policy_gradients_are_those_of_its_log_probabilities(warm: str) -> None:
    opt = make(init_from=warm)
    cfg, policy = opt.config, opt.policy
    batch = opt._generate(["3+4=", "1+2="] * 2, cfg.temperature)
    ids, pmask = policy.tokenizer.batch_encode(["3+4=", "1+2="] * 2, opt.device)
    grads = axes.policy_gradients(opt, ids, pmask, batch)
    coef = torch.tensor([[1.0, 0.5], [-1.0, 0.0], [0.5, -2.0], [-0.5, 1.0]])
    rows = (ids, pmask, batch.tokens, batch.mask)

    def objective() -> torch.Tensor:  # (2,) sum_i coef[i, j] log pi(y_i) / n
        with torch.no_grad():
            return coef.T @ opt._logprobs(policy, *rows)[0].sum(-1) / 4

    full = grads(coef)
    params = [p for p in policy.parameters() if p.requires_grad]
    assert full.shape == (2, sum(p.numel() for p in params))
    before, eps = objective(), 1e-3
    with (
        torch.no_grad()
    ):  # a small step along reward 0's gradient raises its objective by eps |g|^2
        torch.nn.utils.vector_to_parameters(
            torch.nn.utils.parameters_to_vector(params) + eps * full[0], params
        )
    gain = float(objective()[0] - before[0])
    assert gain == pytest.approx(eps * float(full[0] @ full[0]), rel=0.05)
    torch.nn.utils.vector_to_parameters(
        torch.nn.utils.parameters_to_vector(params) - eps * full[0], params
    )
    # "head": the gradient with respect to the output layer's weight, the hidden states held fixed
    weight = policy.lm_head.weight
    with torch.no_grad():
        hidden = policy.completion_hidden(*rows)
    logp = torch.log_softmax(policy.head(hidden) / cfg.temperature, -1)
    token = logp.gather(-1, batch.tokens.unsqueeze(-1)).squeeze(-1) * batch.mask
    auto = torch.autograd.grad((coef[:, 1] * token.sum(-1)).sum() / 4, weight)[0]
    assert torch.allclose(grads(coef, "head")[1], auto.flatten(), atol=1e-6)
    with pytest.raises(ValueError, match="scope='all'"):
        grads(coef, "all")


@pytest.mark.parametrize("name", ["hypervolume", "gradient", "mgda", "advantage-influence"])
def test_trainer_moves_logs_and_resumes_its_weights(name: str, warm: str) -> None:
    options = {"reward_weighting": name, "reward_weighting_options": {"lr": 2.0}, "init_from": warm}
    straight = make(**options)
    metrics = [straight.step() for _ in range(4)]
    weights = torch.tensor([[m["weight/exact"], m["weight/partial"]] for m in metrics])
    assert torch.allclose(weights.sum(-1), torch.full((4,), 1.5))  # the task's weights 1 and 0.5
    assert not torch.allclose(weights, torch.tensor([1.0, 0.5]).expand(4, 2))
    result = straight.result()
    assert result.reward_names == ["exact", "partial"]  # the reward front, not the best step
    first = make(**options)
    for _ in range(2):
        first.step()
    resumed = make(**options)
    resumed.load_state_dict(first.state_dict())
    tail = [resumed.step() for _ in range(2)]
    assert [m["weight/exact"] for m in tail] == pytest.approx(weights[2:, 0].tolist())


def test_static_weighting_is_the_plain_trainer_and_dynamic_needs_positive_weights() -> None:
    plain, named = make(), make(reward_weighting="static")
    for _ in range(2):
        assert plain.step()["reward"] == named.step()["reward"]
    assert "weight/exact" not in plain.step()
    with pytest.raises(ConfigError, match="positive weights"):
        make(reward_weighting="gradient", reward_weights=[1.0, 0.0])
    with pytest.raises(polyopt.UnknownNameError, match="hypervolume"):
        make(reward_weighting="hypervolum")
