"""The trainer's further axes: entropy, replay, prompt samplers, guidance, state across steps, evaluation."""

from __future__ import annotations

import io
from typing import Any

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt_envs.text import Addition
from polyopt_plugins.llm import axes
from polyopt_plugins.llm.policy import completion_logprobs

SMALL: dict[str, Any] = {
    "n_layer": 1,
    "d_model": 32,
    "n_head": 2,
    "prompts_per_step": 3,
    "completions_per_prompt": 4,
    "temperature": 1.0,
}


def make(name: str = "grpo", seed: int = 0, task: Any = None, **config: Any) -> Any:
    return polyopt.make(
        "optimizer",
        name,
        task or Addition(n_digits=1),
        seed=seed,
        device="cpu",
        **{**SMALL, **config},
    )


def timer() -> dict[str, float]:
    return {"generation": 0.0, "scoring": 0.0, "update": 0.0}


@torch.no_grad()
def test_the_sampler_records_the_behaviour_log_probabilities_and_entropy() -> None:
    opt = make(temperature=0.7)
    ids, pmask, gen, _, _ = opt._collect(timer())
    logp, full = completion_logprobs(
        opt.policy, ids, pmask, gen.tokens, gen.mask, full=True, temperature=0.7
    )
    assert full is not None and gen.logp is not None and gen.entropy is not None
    assert torch.allclose(gen.logp, logp, atol=1e-4)
    entropy = -(full.exp() * full).sum(-1) * gen.mask
    assert torch.allclose(gen.entropy, entropy, atol=1e-4)


def test_entropy_is_logged_every_step_and_the_bonus_raises_it() -> None:
    assert all(0 < make(seed=s).step()["entropy"] < torch.log(torch.tensor(56.0)) for s in (0, 1))

    @torch.no_grad()
    def entropy(opt: Any, ids: Any, pmask: Any, gen: Any) -> float:
        _, full = completion_logprobs(opt.policy, ids, pmask, gen.tokens, gen.mask, full=True)
        assert full is not None
        return float((-(full.exp() * full).sum(-1) * gen.mask).sum() / gen.mask.sum())

    for opt, grows in ((make(lr=1e-3), False), (make(lr=1e-3, entropy_coef=1.0), True)):
        ids, pmask, gen, _, rollout = opt._collect(timer())
        before = entropy(opt, ids, pmask, gen)
        opt._update(
            ids, pmask, gen, rollout, torch.zeros_like(rollout.mask), None
        )  # no policy gradient
        after = entropy(opt, ids, pmask, gen)
        assert (after > before + 1e-4) if grows else after == pytest.approx(before, abs=1e-6)


def test_replayed_rows_are_stale_and_use_their_behaviour_log_probabilities() -> None:
    opt = make(replay="recent", replay_options={"groups": 2}, update_epochs=2)
    opt.step()
    ids, _, _, _, rollout = opt._collect(timer())
    batch = opt.batch
    assert batch.stale is not None and int(batch.stale.sum()) == 2 * 4
    assert rollout.n_groups == 3 + 2 and opt.fresh_rows == 3 * 4
    logp = torch.zeros_like(rollout.mask)
    old, _ = axes.old_logp(opt, logp, rollout, torch.arange(ids.shape[0]))
    stale = batch.stale
    assert batch.gen.logp is not None
    assert torch.equal(old[stale], batch.gen.logp[stale])
    assert rollout.old_logp is not None and torch.equal(old[~stale], rollout.old_logp[~stale])
    metrics = opt.step()
    assert metrics["groups"] == 5 and metrics["completions"] == 3 * 4  # replay generates nothing


def test_a_greedy_baseline_with_replay_and_value_pretraining_without_a_critic_are_refused() -> None:
    with pytest.raises(ConfigError, match="replay"):
        make("remax", replay="recent")
    with pytest.raises(ConfigError, match="value_pretrain_steps"):
        make("grpo", value_pretrain_steps=2)
    with pytest.raises(ConfigError, match="dynamic sampling"):
        make("dapo", prompt_sampler="gfpo")
    with pytest.raises(ConfigError, match="capcity"):
        make(replay="recent", replay_options={"capcity": 3})


def test_group_filtering_samples_more_and_trains_on_the_shortest() -> None:
    opt = make(prompt_sampler="gfpo", prompt_sampler_options={"oversample": 2})
    metrics = opt.step()
    assert metrics["completions"] == 3 * 8 and metrics["groups"] == 3
    assert opt.batch.raw.shape[0] == 3 * 4


def test_gold_injection_puts_the_reference_into_unsolved_groups() -> None:
    opt = make(guidance="gold")  # the untrained model solves nothing
    opt._collect(timer())
    exact = opt.batch.raw[:, 0].view(3, 4)
    assert bool((exact.max(1).values == 1).all()), "every group has its reference now"
    assert opt.n_env_steps == 12  # injected completions are not generated


def test_scaffold_hints_resample_unsolved_groups_from_hinted_prompts() -> None:
    opt = make(guidance="scaf-hints", guidance_options={"fractions": [0.5]})
    opt._collect(timer())
    assert opt.n_env_steps > 12, "no hinted resampling happened"
    hints = opt.batch.tasks.hints
    assert hints is not None
    answers = opt.batch.tasks.fields["answer"]
    for hint, answer in zip(hints, answers):
        assert hint == "" or answer.startswith(hint)


def test_interleaved_sft_takes_a_supervised_step_when_its_queue_is_full() -> None:
    opt = make(guidance="relift", guidance_options={"batch": 3})
    metrics = opt.step()
    assert "sft_loss" in metrics and metrics["sft_loss"] > 0


def test_value_pretraining_trains_the_critic_before_the_policy_moves() -> None:
    plain = make("ppo")
    warm = make("ppo", value_pretrain_steps=2)
    for a, b in zip(plain.policy.parameters(), warm.policy.parameters()):
        assert torch.equal(a, b)
    assert plain.critic is not None and warm.critic is not None
    moved = [
        not torch.equal(a, b) for a, b in zip(plain.critic.parameters(), warm.critic.parameters())
    ]
    assert any(moved)
    assert warm.n_env_steps == 2 * 12 and warm.history.shape[0] == 0


def test_truncated_importance_weights_are_about_one_on_policy() -> None:
    plain, weighted = make(seed=3), make(seed=3, tis_cap=2.0)
    plain.step(), weighted.step()
    for a, b in zip(plain.policy.parameters(), weighted.policy.parameters()):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize(
    "config",
    [
        {
            "replay": "selective",
            "advantage_shaping": "spo",
            "update_epochs": 2,
            "clip_range": "dcpo",
        },
        {"prompt_sampler": "mopps", "prompt_sampler_options": {"pool": 16}, "guidance": "reuse"},
        {"advantage_shaping": "dcpo-sas", "guidance": "relift", "guidance_options": {"batch": 2}},
    ],
)
def test_stateful_axes_resume_exactly(config: dict[str, Any]) -> None:
    straight = make(seed=5, **config)
    for _ in range(4):
        straight.step()
    first = make(seed=5, **config)
    for _ in range(2):
        first.step()
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    resumed = make(seed=9, **config)
    resumed.load_state_dict(torch.load(buf, weights_only=True))
    for _ in range(2):
        resumed.step()
    assert torch.equal(straight.history, resumed.history)
    for a, b in zip(straight.policy.parameters(), resumed.policy.parameters()):
        assert torch.equal(a, b)


def test_the_result_reports_the_last_step_and_a_held_out_evaluation() -> None:
    opt = make(eval_prompts=8, eval_k=2)
    opt.step()
    result = opt.result()
    assert {"last_step/reward", "last_step/entropy", "eval/accuracy", "eval/pass@2"} <= set(
        result.metrics
    )
    assert 0 <= result.metrics["eval/accuracy"] <= 1 and 0 <= result.metrics["eval/pass@2"] <= 1
    assert "eval/accuracy" in result.summary()


def test_pass_at_k_is_the_unbiased_estimate() -> None:
    from polyopt_plugins.llm.evaluate import pass_at_k

    got = pass_at_k(4, torch.tensor([0, 1, 4]), 2)
    assert torch.allclose(got, torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    with pytest.raises(ValueError, match="k=5"):
        pass_at_k(4, torch.tensor([1]), 5)


def test_selected_rows_of_wider_groups_keep_their_prompts_references() -> None:
    """A sampler that generates 3 completions per prompt and trains on 2: the kept rows of prompt g keep
    reference g (it indexed references by the trained group size and failed with gfpo + gold guidance)."""
    from polyopt_plugins.llm.batch import Batch, Tasks, select
    from polyopt_plugins.llm.sampler import Generation

    n, width = 9, 3  # three prompts, three completions each
    tokens = torch.ones(n, 2, dtype=torch.long)
    gen = Generation(tokens, torch.ones(n, 2), torch.zeros(n, dtype=torch.bool), None, None)
    tasks = Tasks(
        [f"p{i // width}" for i in range(n)], {"answer": [str(i // width) for i in range(n)]}
    )
    batch = Batch(
        tasks, torch.arange(n, dtype=torch.float32).unsqueeze(-1), gen, None, ["a", "b", "c"]
    )
    kept = select(batch, torch.tensor([1, 2, 6, 8]), 2)  # prompts 0 and 2
    assert kept.refs == ["a", "c"]
    assert kept.tasks.prompts == ["p0", "p0", "p2", "p2"]


def test_an_oversampling_sampler_runs_with_guidance_that_needs_references() -> None:
    task = Addition(n_digits=1)
    result = polyopt.optimize(
        "grpo",
        task,
        budget=polyopt.Budget(steps=1),
        seed=0,
        verbose=False,
        prompt_sampler="gfpo",
        guidance="gold",
        n_layer=1,
        d_model=32,
        n_head=2,
        prompts_per_step=2,
        completions_per_prompt=2,
    )
    assert result.n_steps == 1
