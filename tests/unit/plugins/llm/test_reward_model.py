"""Learned rewards: Bradley-Terry training (with margin), standardized scores, reward models and ensembles as
``reward`` components of every trainer, Hugging Face sequence-classification bodies, and best-of-N."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import polyopt
from polyopt.components import AggregationParams
from polyopt.testing import RewardContract
from polyopt_envs.preference import PreferenceSort
from polyopt_plugins.llm.best_of_n import kl_bound
from polyopt_plugins.llm.reward_ensemble import RewardEnsemble, train_ensemble
from polyopt_plugins.llm.reward_model import RewardModel, RewardModelTrainer, pairwise_accuracy

MODEL: dict[str, Any] = {"n_layer": 1, "d_model": 32, "n_head": 2}
SMALL: dict[str, Any] = {**MODEL, "pairs_per_step": 16}


def task() -> PreferenceSort:
    return PreferenceSort(length=3, n_pairs=256, n_test=64)


def trained(seed: int = 0, steps: int = 40, **config: Any) -> RewardModel:
    result = polyopt.optimize(
        "reward-model",
        task(),
        budget=polyopt.Budget(steps=steps),
        seed=seed,
        device="cpu",
        verbose=False,
        **{**SMALL, "lr": 1e-3, **config},
    )
    assert isinstance(result.policy, RewardModel)
    return result.policy


@pytest.fixture(scope="module")
def rm() -> RewardModel:
    return trained()


def test_bradley_terry_learns_the_held_out_preference(rm: RewardModel) -> None:
    accuracy = pairwise_accuracy(rm, task().pairs("test"))
    assert accuracy > 0.6  # chance is 0.5; 0.67-0.75 seen over learning rates


def test_scores_are_standardized_over_the_training_completions(rm: RewardModel) -> None:
    pairs = task().pairs()
    scores = torch.cat(
        [
            rm(pairs.prompts, [str(c) for c in pairs.chosen]),
            rm(pairs.prompts, [str(r) for r in pairs.rejected]),
        ]
    )
    assert float(scores.mean()) == pytest.approx(0.0, abs=1e-4)
    assert float(scores.std()) == pytest.approx(1.0, abs=1e-3)


def test_the_margin_enters_the_sigmoid() -> None:
    plain = polyopt.make("optimizer", "reward-model", task(), seed=0, device="cpu", **SMALL)
    margin = polyopt.make(
        "optimizer", "reward-model", task(), seed=0, device="cpu", use_margin=True, **SMALL
    )
    rows = margin.sampler.order[:16]
    assert margin.train.margins is not None
    m = margin.train.margins[rows, 0]
    # the head starts at zero, so every reward is 0: the first loss is log 2, or -log sigmoid(-margin)
    assert plain.step()["loss"] == pytest.approx(math.log(2), rel=1e-5)
    expected = float(-torch.nn.functional.logsigmoid(-m).mean())
    assert margin.step()["loss"] == pytest.approx(expected, rel=1e-5)


class TestTrainedRewardModel(RewardContract):
    reward = staticmethod(lambda prompts, completions, **f: _MODEL[0](prompts, completions, **f))


_MODEL: list[RewardModel] = []


@pytest.fixture(autouse=True)
def _model_for_contract(rm: RewardModel) -> None:
    _MODEL[:] = [rm]


@pytest.fixture
def registered(rm: RewardModel) -> Iterator[str]:
    reg = polyopt.registry()
    reg.add("reward", "test-learned-rm", rm, plugin="test-learned-rm")
    try:
        yield "test-learned-rm"
    finally:
        reg.remove_plugin("test-learned-rm")


def test_a_registered_reward_model_drives_grpo_and_best_of_n(registered: str) -> None:
    grpo = polyopt.make(
        "optimizer",
        "grpo",
        task(),
        seed=0,
        device="cpu",
        rewards=[registered],
        n_layer=1,
        d_model=32,
        n_head=2,
        prompts_per_step=2,
        completions_per_prompt=3,
    )
    metrics = grpo.step()
    assert math.isfinite(metrics[f"reward/{registered}"])
    bon = polyopt.make(
        "optimizer", "best-of-n", task(), seed=0, device="cpu", rewards=[registered], n=4, **MODEL
    )
    step = bon.step()
    assert step["reward"] >= step["reward_all"] - 1e-6  # the selected beat the average sample
    assert {"gold", "gold_all", "gold/correct"} <= set(step)  # judged by the task's gold reward too
    assert bon.n_env_steps == 8 * 4


def test_best_of_one_is_the_base_policy() -> None:
    bon = polyopt.make("optimizer", "best-of-n", task(), seed=0, device="cpu", n=1, **MODEL)
    step = bon.step()
    assert step["reward"] == pytest.approx(step["reward_all"]) and step["kl_bound"] == 0.0
    assert "gold" not in step  # selected by the task's own rewards
    assert kl_bound(4) == pytest.approx(math.log(4) - 0.75)
    texts = bon.result().policy.complete(["sort:321="], answer=["123"])
    assert isinstance(texts, list) and len(texts) == 1


def test_ensemble_aggregations() -> None:
    members = [trained(seed, steps=5) for seed in range(3)]
    pairs = task().pairs("test")
    prompts, completions = pairs.prompts[:8], [str(c) for c in pairs.chosen[:8]]
    ensembles = {
        name: RewardEnsemble(members, name, AggregationParams(uncertainty_coef=1.0))
        for name in ("mean", "worst-case", "uncertainty-weighted")
    }
    scores = ensembles["mean"].scores(prompts, completions)
    assert scores.shape == (8, 3)
    mean = ensembles["mean"](prompts, completions)
    assert torch.allclose(mean, scores.mean(-1))
    assert bool((ensembles["worst-case"](prompts, completions) <= mean + 1e-6).all())
    uwo = ensembles["uncertainty-weighted"](prompts, completions)
    assert torch.allclose(uwo, mean - scores.var(-1, unbiased=False))
    with pytest.raises(polyopt.UnknownNameError, match="worst-case"):
        RewardEnsemble(members, "worst")


def test_train_ensemble_uses_consecutive_seeds() -> None:
    ensemble = train_ensemble(task(), 2, steps=2, seed=4, device="cpu", verbose=False, **SMALL)
    assert len(ensemble.members) == 2
    one, two = (m.head.weight for m in ensemble.members)
    assert not torch.equal(one, two)


def test_hugging_face_sequence_classifier_body(tmp_path: Path) -> None:
    tf = pytest.importorskip("transformers")
    from polyopt_plugins.llm.hf import save_char_llama

    lm = save_char_llama(tmp_path / "lm", n_layer=1, d_model=32, n_head=2)
    classifier = tf.AutoModelForSequenceClassification.from_pretrained(str(lm), num_labels=1)
    classifier.save_pretrained(tmp_path / "cls")
    tf.AutoTokenizer.from_pretrained(str(lm)).save_pretrained(tmp_path / "cls")
    model = RewardModel.from_pretrained(str(tmp_path / "cls"))
    assert model.head is model.body.model.score  # its own classification head
    opt = polyopt.make(
        "optimizer", "reward-model", task(), seed=0, device="cpu", model=str(tmp_path / "cls")
    )
    assert isinstance(opt, RewardModelTrainer)
    before = model.head.weight.clone()
    assert math.isfinite(opt.step()["loss"])
    assert not torch.equal(opt.model.head.weight, before)
    causal = RewardModel.from_pretrained(str(lm))  # a causal LM gets a new head
    assert isinstance(causal.head, torch.nn.Linear) and not bool(causal.head.weight.any())
