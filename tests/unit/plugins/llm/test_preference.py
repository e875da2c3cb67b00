"""The offline preference trainer and its losses: the papers' formulas, the reference computed once (or never),
LoRA's base as the reference, split invariance, data checks, and that DPO learns the synthetic preference."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest
import torch

import polyopt
from polyopt.components import PreferenceBatch, PreferencePairs, PreferenceParams
from polyopt.errors import ConfigError
from polyopt.testing import small_preference_batch
from polyopt_envs.preference import PreferenceDataset, PreferenceSort
from polyopt_plugins.llm import losses_preference as L
from polyopt_plugins.llm.preference import PreferenceTrainer

SMALL: dict[str, Any] = {"n_layer": 1, "d_model": 32, "n_head": 2, "pairs_per_step": 8}


def batch_at(h: float, **extra: Any) -> PreferenceBatch:
    """One pair whose log-ratio margin is ``h`` (chosen +h over its reference, rejected at its reference)."""
    return PreferenceBatch(
        chosen_logp=torch.tensor([-1.0 + h]),
        rejected_logp=torch.tensor([-2.0]),
        chosen_tokens=torch.tensor([2.0]),
        rejected_tokens=torch.tensor([4.0]),
        chosen_ref=torch.tensor([-1.0]),
        rejected_ref=torch.tensor([-2.0]),
        **extra,
    )


def test_dpo_ipo_and_slic_formulas() -> None:
    p = PreferenceParams(beta=0.5)
    assert float(L.dpo(batch_at(0.0), p)) == pytest.approx(math.log(2))
    assert float(L.dpo(batch_at(2.0), p)) == pytest.approx(-math.log(1 / (1 + math.exp(-1.0))))
    assert float(L.ipo(batch_at(0.3), p)) == pytest.approx((0.3 - 1.0) ** 2)  # target 1 / (2 beta)
    assert float(L.slic(batch_at(1.0), p)) == pytest.approx(0.5)
    assert float(L.slic(batch_at(3.0), p)) == 0.0


def test_label_noise_losses() -> None:
    clean = PreferenceParams(beta=0.5)
    for h in (-1.0, 0.0, 2.0):
        assert float(L.cdpo(batch_at(h), clean)) == pytest.approx(float(L.dpo(batch_at(h), clean)))
        assert float(L.robust_dpo(batch_at(h), clean)) == pytest.approx(
            float(L.dpo(batch_at(h), clean))
        )
    noisy = PreferenceParams(beta=0.5, label_smoothing=0.2)
    # robust DPO is unbiased: averaged over a label flipped with probability e, it is the clean loss
    for h in (-1.0, 0.5, 2.0):
        expected = 0.8 * L.robust_dpo(batch_at(h), noisy) + 0.2 * L.robust_dpo(batch_at(-h), noisy)
        assert float(expected) == pytest.approx(float(L.dpo(batch_at(h), clean)))
    z = 0.5 * 2.0
    smoothed = -0.8 * math.log(1 / (1 + math.exp(-z))) - 0.2 * math.log(1 / (1 + math.exp(z)))
    assert float(L.cdpo(batch_at(2.0), noisy)) == pytest.approx(smoothed)


def test_simpo_is_length_normalized_and_orpo_uses_odds() -> None:
    p = PreferenceParams(beta=2.0, gamma=0.5)
    b = batch_at(0.0)
    mean_c, mean_r = -1.0 / 2, -2.0 / 4
    z = 2.0 * (mean_c - mean_r) - 0.5
    assert float(L.simpo(b, p)) == pytest.approx(math.log(1 + math.exp(-z)))
    doubled = PreferenceBatch(
        b.chosen_logp * 2, b.rejected_logp * 2, b.chosen_tokens * 2, b.rejected_tokens * 2
    )
    assert float(L.simpo(doubled, p)) == pytest.approx(float(L.simpo(b, p)))
    q = PreferenceParams(odds_ratio_weight=0.1)
    odds = math.log(math.exp(mean_c) / (1 - math.exp(mean_c))) - math.log(
        math.exp(mean_r) / (1 - math.exp(mean_r))
    )
    expected = -mean_c + 0.1 * math.log(1 + math.exp(-odds))
    assert float(L.orpo(b, q)) == pytest.approx(expected, rel=1e-6)


def test_kto_reference_point_and_unpaired_rows() -> None:
    p = PreferenceParams(beta=1.0)
    b = batch_at(1.0, mismatched_logp=torch.tensor([-5.0]), mismatched_ref=torch.tensor([-4.0]))
    # the mismatched KL estimate is negative, so z0 = 0: 1 - sigmoid(1) for chosen, 1 - sigmoid(0) rejected
    expected = (1 - 1 / (1 + math.exp(-1.0))) + 0.5
    assert float(L.kto(b, p)) == pytest.approx(expected)
    b.rejected_tokens = torch.tensor([0.0])  # a desirable example alone
    assert float(L.kto(b, p)) == pytest.approx(1 - 1 / (1 + math.exp(-1.0)))


def test_modpo_subtracts_the_other_dimensions_weighted_margins() -> None:
    b = batch_at(1.0, margins=torch.tensor([[0.7, 2.0]]))
    one = PreferenceParams(beta=0.5, weights=(1.0, 0.0))
    assert float(L.modpo(b, one)) == pytest.approx(float(L.dpo(b, one)))
    p = PreferenceParams(beta=0.5, weights=(0.5, 0.25))
    z = (0.5 * 1.0 - 0.25 * 2.0) / 0.5
    assert float(L.modpo(b, p)) == pytest.approx(math.log(1 + math.exp(-z)))
    with pytest.raises(ValueError, match="one per preference dimension"):
        L.modpo(b, PreferenceParams(weights=(1.0,)))


def test_the_contract_batch_fills_every_field() -> None:
    b = small_preference_batch(unpaired=True)
    assert b.margins is not None and b.mismatched_logp is not None
    assert bool(b.has_chosen[-2]) and not bool(b.has_rejected[-2])


def make(loss: str = "dpo", task: Any = None, **config: Any) -> PreferenceTrainer:
    problem = task or PreferenceSort(length=3, n_pairs=64, n_test=32)
    return polyopt.make("optimizer", loss, problem, seed=0, device="cpu", **{**SMALL, **config})


def test_reference_is_computed_once_before_training(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[str, ...]] = []
    original = PreferenceTrainer._reference

    def counted(self: PreferenceTrainer, data: Any, sides: tuple[str, ...]) -> Any:
        calls.append(sides)
        return original(self, data, sides)

    monkeypatch.setattr(PreferenceTrainer, "_reference", counted)
    opt = make("dpo")
    assert opt.ref_train is not None
    start = opt._score(opt.train, ("chosen", "rejected"))
    assert torch.equal(start["chosen"], opt.ref_train["chosen"])
    assert len(calls) == 2  # training and held-out pairs, once each
    for _ in range(3):
        opt.step()
    opt.result()
    assert len(calls) == 2
    kto = make("kto")
    assert kto.ref_train is not None and "mismatched" in kto.ref_train


def test_reference_free_losses_never_compute_one(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(PreferenceTrainer, "_reference", lambda *a: pytest.fail("reference used"))
    for loss in ("simpo", "orpo"):
        opt = make(loss)
        assert opt.ref_train is None and opt.ref_test is None
        metrics = opt.step()
        assert math.isfinite(metrics["loss"])


def test_micro_batches_do_not_change_the_step() -> None:
    a, b = make("dpo"), make("dpo", micro_batches=4)
    ma, mb = a.step(), b.step()
    assert ma["loss"] == pytest.approx(mb["loss"], rel=1e-5)
    assert ma["accuracy"] == pytest.approx(mb["accuracy"])
    for pa, pb in zip(a.policy.parameters(), b.policy.parameters()):
        assert torch.allclose(pa, pb, atol=1e-6)


def test_dpo_learns_the_held_out_preference() -> None:
    opt = make("dpo", task=PreferenceSort(length=3, n_pairs=256, n_test=64), lr=3e-3, eval_every=0)
    assert opt.result().returns.tolist() == [[0.0, 0.0]]  # the policy is its reference
    for _ in range(40):
        opt.step()
    result = opt.result()
    accuracy, margin = result.returns[0].tolist()
    assert accuracy > 0.65 and margin > 0  # chance is 0.5 (0.73-0.78 seen over seeds and rates)
    assert result.reward_names == ["preference_accuracy", "reward_margin"]


def _unpaired() -> PreferenceDataset:
    prompts = [f"sort:{a}{b}=" for a in range(4) for b in range(4)]
    chosen: list[str | None] = [
        "".join(sorted(p[5:7])) if i % 2 else None for i, p in enumerate(prompts)
    ]
    rejected: list[str | None] = [
        None if i % 2 else p[5:7][::-1] + "9" for i, p in enumerate(prompts)
    ]
    return PreferenceDataset(PreferencePairs(prompts, chosen, rejected), test_fraction=0.25)


def test_unpaired_data_needs_an_unpaired_loss() -> None:
    with pytest.raises(ConfigError, match="use loss='kto'"):
        make("dpo", task=_unpaired())
    opt = make("kto", task=_unpaired())
    metrics = opt.step()
    assert math.isfinite(metrics["loss"]) and 0 <= metrics["accuracy"] <= 1


def test_modpo_needs_margins_and_one_weight_per_dimension() -> None:
    plain = PreferencePairs(["sort:21="] * 4, ["12"] * 4, ["21"] * 4)  # no margins
    with pytest.raises(ConfigError, match="needs margins"):
        make("modpo", task=PreferenceDataset(plain, plain))
    task = PreferenceSort(length=3, brief=True, n_pairs=32, n_test=8)
    with pytest.raises(ConfigError, match="weights=\\[1.0\\]; expected 2"):
        make("modpo", task=task, weights=[1.0])
    assert math.isfinite(make("modpo", task=task, weights=[1.0, 0.5]).step()["loss"])


def test_too_long_data_is_refused_for_the_tiny_model() -> None:
    long = PreferencePairs(["sort:1="], ["1" * 70], ["2"])
    with pytest.raises(ConfigError, match="the tiny model holds 64"):
        make("dpo", task=PreferenceDataset(long, long))


def test_lora_reference_is_the_base_model(tmp_path: Path) -> None:
    pytest.importorskip("peft")
    from polyopt_plugins.llm.hf import save_char_llama

    path = save_char_llama(tmp_path / "llama", n_layer=1, d_model=32, n_head=2)
    with pytest.raises(ConfigError, match="before the warm start"):
        make("dpo", model=str(path), lora_rank=4, sft_steps=2)
    opt = make("dpo", model=str(path), lora_rank=4, lr=1e-2)
    trainable = sum(p.numel() for p in opt.policy.parameters() if p.requires_grad)
    total = sum(p.numel() for p in opt.policy.parameters())
    assert trainable < total / 2  # adapters only; no second model is held
    assert not any(isinstance(v, torch.nn.Module) for k, v in vars(opt).items() if k != "policy")
    for _ in range(3):
        opt.step()
    assert opt.ref_train is not None
    with opt._as_reference():
        base = opt._score(opt.train, ("chosen",))["chosen"]
    assert torch.allclose(base, opt.ref_train["chosen"], atol=1e-5)
    assert not torch.allclose(opt._score(opt.train, ("chosen",))["chosen"], base, atol=1e-4)


def test_win_rate_against_itself_is_a_half() -> None:
    from polyopt_plugins.llm.tiny import TinyConfig, TinyGPT
    from polyopt_plugins.llm.win_rate import win_rate

    task = PreferenceSort(length=3)
    torch.manual_seed(0)
    policy = TinyGPT(TinyConfig(n_layer=1, d_model=32, n_head=2))
    same = win_rate(policy, policy, task, n=32, temperature=1.0)
    assert same["win_rate"] == 0.5 and same["ties"] == 1.0
    assert same["gold"] == same["baseline_gold"]
