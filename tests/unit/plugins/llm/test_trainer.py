"""The trainer: requirements computed only when asked for, filters, rewards, split invariance, results."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt_envs.text import Addition

SMALL: dict[str, Any] = {
    "n_layer": 1,
    "d_model": 32,
    "n_head": 2,
    "prompts_per_step": 3,
    "completions_per_prompt": 4,
}


def make(name: str, task: Any = None, seed: int = 0, **config: Any) -> Any:
    return polyopt.make(
        "optimizer",
        name,
        task or Addition(n_digits=1),
        seed=seed,
        device="cpu",
        **{**SMALL, **config},
    )


def test_group_estimators_get_no_critic_no_reference_no_greedy_rollout() -> None:
    opt = make("grpo")
    assert opt.critic is None and opt.ref is None
    opt.step()
    assert opt.n_env_steps == 3 * 4  # sampled completions only


def test_remax_gets_a_greedy_rollout_and_ppo_a_critic() -> None:
    remax = make("remax")
    remax.step()
    assert remax.n_env_steps == 3 * 4 + 3  # one greedy completion per prompt
    assert remax.critic is None
    ppo = make("ppo")
    assert ppo.critic is not None and ppo.ref is not None
    metrics = ppo.step()
    assert metrics["kl_exact"] == pytest.approx(0.0, abs=1e-6)  # first batch: policy == reference


def test_kl_penalty_grows_once_the_policy_moves() -> None:
    # rewards with a spread move the policy away from its reference (all-zero rewards would leave it in place)
    opt = make("grpo", ParityTask(), kl_coef=0.1, kl_in="loss", lr=1e-2, temperature=2.0)
    metrics = [opt.step() for _ in range(4)]
    assert metrics[0]["kl_exact"] == pytest.approx(0.0, abs=1e-6)
    assert metrics[-1]["kl_exact"] > 0 and metrics[-1]["kl_estimate"] > 0


class ParityTask(Addition):
    """Prompts with an even first digit always score 1 (no signal); odd ones score the completion length parity."""

    def __init__(self) -> None:
        super().__init__(n_digits=1)
        self.reward_fns = {"r": self._reward}
        self.default_weights = (1.0,)

    @staticmethod
    def _reward(prompts: list[str], completions: list[str], **_: Any) -> torch.Tensor:
        return torch.tensor(
            [1.0 if int(p[0]) % 2 == 0 else float(len(c) % 2) for p, c in zip(prompts, completions)]
        )


def test_dynamic_sampling_drops_flat_groups_and_refills() -> None:
    opt = make("dapo", ParityTask(), prompts_per_step=4, max_refills=8, temperature=2.0)
    timer = {"generation": 0.0, "scoring": 0.0, "update": 0.0}
    _, _, _gen, raw, rollout = opt._collect(timer)
    assert rollout.n_groups == 4 and raw.shape[0] == 16
    assert bool((rollout.grouped().std(1) > 0).all()), "a group without reward spread was kept"
    assert opt.n_env_steps > 16, "no refill happened"


def test_truncation_masking_removes_truncated_completions_from_the_loss() -> None:
    changed = {}
    for mask_truncated in (True, False):
        opt = make("grpo", mask_truncated=mask_truncated)
        ids, pmask, gen, _, rollout = opt._collect(
            {"generation": 0.0, "scoring": 0.0, "update": 0.0}
        )
        gen.truncated[:] = True
        adv = (
            torch.randn(rollout.mask.shape, generator=torch.Generator().manual_seed(0))
            * rollout.mask
        )
        before = [p.detach().clone() for p in opt.policy.parameters()]
        opt._update(ids, pmask, gen, rollout, adv, None)
        changed[mask_truncated] = any(
            not torch.equal(a, b) for a, b in zip(before, opt.policy.parameters())
        )
    assert changed == {True: False, False: True}


@torch.no_grad()
def test_log_probabilities_are_those_of_the_sampling_distribution() -> None:
    # two epochs make the trainer store the rollout's log-probabilities (the PPO ratio's denominator)
    opt = make("grpo", temperature=0.5, update_epochs=2)
    opt.policy.eval()
    ids, pmask, gen, _, rollout = opt._collect({"generation": 0.0, "scoring": 0.0, "update": 0.0})
    length = gen.tokens.shape[1]
    logits, cache = opt.policy.prefill(ids, pmask, length)  # replay the sampler, token by token
    sampled = []
    for t in range(length):
        sampled.append(
            torch.log_softmax(logits / 0.5, -1).gather(-1, gen.tokens[:, t : t + 1]).squeeze(-1)
        )
        if t + 1 < length:
            logits = opt.policy.decode(gen.tokens[:, t], cache, t)
    expected = torch.stack(sampled, 1) * gen.mask
    assert torch.allclose(rollout.old_logp, expected, atol=1e-4)


@pytest.mark.parametrize(
    "aggregation", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum-norm"]
)
def test_micro_batches_do_not_change_the_update(aggregation: str) -> None:
    kwargs = {"loss_aggregation": aggregation, "reward_weights": [0.0, 1.0], "temperature": 2.0}
    a, b = make("grpo", seed=1, **kwargs), make("grpo", seed=1, micro_batches=3, **kwargs)
    a.step(), b.step()
    for pa, pb in zip(a.policy.parameters(), b.policy.parameters()):
        assert torch.allclose(pa, pb, atol=1e-6)


def test_several_rewards_are_logged_and_the_result_is_a_reward_front() -> None:
    opt = make(
        "grpo",
        rewards=["exact-match", "brevity"],
        reward_weights=[1.0, 1.0],
        multi_objective=True,
        reward_normalization="per-reward",
    )
    metrics = [opt.step() for _ in range(4)]
    assert {"reward/exact-match", "reward/brevity"} <= set(metrics[0])
    result = opt.result()
    assert isinstance(result, polyopt.TrainerResult)
    assert result.returns.shape[1] == 2 and result.directions == ("maximize", "maximize")
    assert result.reward_names == ["exact-match", "brevity"]
    from polyopt.pareto import non_dominated_mask

    assert bool(non_dominated_mask(-result.returns).all())
    assert result.history is not None and result.history.shape == (4, 2)
    assert result.labels is not None and result.labels.shape[0] == result.returns.shape[0] >= 1
    assert torch.equal(
        result.history[result.labels], result.returns
    )  # each row is that step's mean
    assert result.policy is opt.policy


def test_an_evaluation_budget_is_refused_at_once_with_the_budget_to_use() -> None:
    opt = make("grpo")
    with pytest.raises(ConfigError, match="makes no objective evaluations; give Budget.steps="):
        polyopt.run(opt, polyopt.Budget(evaluations=100))
    assert opt.n_steps == 0


def test_a_component_in_the_wrong_slot_says_what_it_is() -> None:
    with pytest.raises(ConfigError, match="'ppo-clip' is a policy loss, not an advantage"):
        make("grpo", advantage="ppo-clip")
    with pytest.raises(
        ConfigError, match="'grpo' is an optimizer and an advantage, not a policy loss"
    ):
        make("grpo", policy_loss="grpo")


def test_component_options_reach_the_components() -> None:
    seen: dict[str, object] = {}
    reg = polyopt.registry()

    @polyopt.components.requires("groups")
    def spy_advantage(rollout, params):
        seen["advantage"] = params.options
        g = rollout.grouped()
        return rollout.broadcast(g - g.mean(1, keepdim=True)), None

    def spy_loss(logp, old_logp, adv, mask, params):
        seen["loss"] = params.options
        return -adv * logp * mask

    reg.add("advantage", "test.spy-advantage", spy_advantage, plugin="test")
    reg.add("policy_loss", "test.spy-loss", spy_loss, plugin="test")
    try:
        opt = make(
            "grpo",
            advantage="test.spy-advantage",
            advantage_options={"scale": 2.0},
            policy_loss="test.spy-loss",
            policy_loss_options={"beta": 0.1},
        )
        opt.step()
    finally:
        reg.remove_plugin("test")
    assert seen == {"advantage": {"scale": 2.0}, "loss": {"beta": 0.1}}


def test_dynamic_reward_weighting_tracks_reward_scales() -> None:
    opt = make(
        "grpo", rewards=["partial", "brevity"], reward_normalization="dynamic", temperature=2.0
    )
    opt.step()
    assert opt.reward_scale is not None and opt.reward_scale.shape == (2,)


def test_unknown_component_and_reward_names_raise_with_suggestions() -> None:
    with pytest.raises(ConfigError, match="(?i)did you mean"):
        make("grpo", advantage="rlooo")
    with pytest.raises(ConfigError, match="brevity"):
        make("grpo", rewards=["brevityy"])
    with pytest.raises(ConfigError, match="kl_in"):
        make("grpo", kl_in="everywhere")
    with pytest.raises(polyopt.IncompatibleProblemError):
        polyopt.make("optimizer", "grpo", polyopt.make("objective", "sphere", dim=2), seed=0)


def test_grpo_improves_greedy_accuracy_after_a_warm_start() -> None:
    from polyopt_plugins.llm.sft import greedy_accuracy

    torch.set_num_threads(1)
    task = Addition(n_digits=1)
    # 30 steps on the builtin tiny model: a larger step than the default, which is set for runs of hundreds
    opt = polyopt.make(
        "optimizer",
        "grpo",
        task,
        seed=0,
        device="cpu",
        sft_steps=150,
        prompts_per_step=8,
        completions_per_prompt=8,
        lr=3e-5,
    )

    def held_out():
        return greedy_accuracy(
            opt.policy, task, n=256, generator=torch.Generator().manual_seed(123)
        )

    before = held_out()
    for _ in range(30):
        opt.step()
    after = held_out()
    assert 0.2 < before < 0.8, (
        f"warm start out of the range where the test is informative: {before}"
    )
    assert after >= before + 0.05, (before, after)  # the bar: +5 points


def test_group_estimators_need_groups_of_two_or_more() -> None:
    with pytest.raises(ConfigError, match="completions_per_prompt"):
        make("grpo", completions_per_prompt=1)
    make("remax", completions_per_prompt=1).step()  # the greedy baseline needs no group
