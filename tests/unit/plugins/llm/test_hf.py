"""The Hugging Face adapter, on a tiny Llama built in code, saved to a directory and loaded from the path."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

pytest.importorskip("transformers")

import polyopt
from polyopt_envs.text import Addition
from polyopt_plugins.llm import hf_lean
from polyopt_plugins.llm.hf import HFPolicy, save_char_llama
from polyopt_plugins.llm.sampler import SamplingParams, generate

GREEDY = SamplingParams(max_new_tokens=5, temperature=0.0)


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return save_char_llama(tmp_path_factory.mktemp("llama"), n_layer=1, d_model=32, n_head=2)


@pytest.fixture(scope="module")
def policy(model_dir: Path) -> HFPolicy:
    p = HFPolicy.from_pretrained(str(model_dir)).eval()
    with torch.no_grad():  # sharper random weights, so greedy outputs depend on the prompt
        for w in p.parameters():
            w.mul_(20.0)
    return p


def test_tokenizer_round_trips_and_pads_left(policy: HFPolicy) -> None:
    ids, mask = policy.tokenizer.batch_encode(["12+3=", "a"])
    assert policy.tokenizer.decode(ids[0].tolist()) == "12+3="
    assert mask[1].tolist() == [False] * 4 + [True]


def test_greedy_with_cache_equals_full_forward_and_padding_is_neutral(policy: HFPolicy) -> None:
    ids, mask = policy.tokenizer.batch_encode(["12+3=", "4+56=", "rev:abc="])
    gen = generate(policy, ids, mask, GREEDY, stop_ids=(-1,))
    seq, sm = ids, mask
    for _ in range(5):
        tok = policy.head(policy.hidden(seq, sm)[:, -1]).argmax(-1)
        seq, sm = torch.cat([seq, tok[:, None]], 1), torch.cat([sm, torch.ones_like(sm[:, :1])], 1)
    assert torch.equal(gen.tokens, seq[:, ids.shape[1] :])
    alone = generate(policy, *policy.tokenizer.batch_encode(["12+3="]), GREEDY, stop_ids=(-1,))
    assert torch.equal(alone.tokens[0], gen.tokens[0])


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_lean_decode_equals_the_models_own_forward(policy: HFPolicy, temperature: float) -> None:
    if not hf_lean._tested_transformers():
        pytest.skip("this transformers is outside the series the lean path reads the internals of")
    assert policy.lean  # a Llama takes the lean static-cache path
    generic = HFPolicy(policy.model, policy.tokenizer.tok, lean=False)
    ids, mask = policy.tokenizer.batch_encode(["12+3=", "4+56=", "rev:abc=", "7"])
    params = SamplingParams(max_new_tokens=6, temperature=temperature)
    a, b = (
        generate(p, ids, mask, params, stop_ids=(2,), generator=torch.Generator().manual_seed(5))
        for p in (policy, generic)
    )
    assert torch.equal(a.tokens, b.tokens) and torch.equal(a.mask, b.mask)
    with torch.no_grad():
        la, ca = policy.prefill(ids, mask, 3)
        lb, cb = generic.prefill(ids, mask, 3)
        tok = la.argmax(-1)
        for t in range(3):
            la, lb = policy.decode(tok, ca, t), generic.decode(tok, cb, t)
            torch.testing.assert_close(la, lb, atol=1e-4, rtol=1e-4)
            tok = la.argmax(-1)


def test_lean_whole_sequence_forward_and_its_gradient_equal_the_models_own(
    policy: HFPolicy,
) -> None:
    generic = HFPolicy(policy.model, policy.tokenizer.tok, lean=False)
    ids, mask = policy.tokenizer.batch_encode(["12+3=45", "4+56=", "rev:abc=cba", "7"])
    mask[1, -1] = False  # a padded completion position inside the sequence, as after an early stop
    grads = []
    for p in (policy, generic):
        policy.model.zero_grad(set_to_none=True)
        h = p.hidden(ids, mask)
        assert torch.isfinite(h).all()
        (h * mask.unsqueeze(-1)).pow(2).sum().backward()
        grads.append((h[mask].detach(), [w.grad.clone() for w in policy.model.parameters()]))
    torch.testing.assert_close(grads[0][0], grads[1][0], atol=1e-4, rtol=1e-4)
    for a, b in zip(grads[0][1], grads[1][1], strict=True):
        torch.testing.assert_close(a, b, atol=1e-3, rtol=1e-4)
    policy.model.zero_grad(set_to_none=True)


class Varied(Addition):
    """Rewards distinct characters, so random completions get different rewards (non-zero advantages)."""

    def __init__(self) -> None:
        super().__init__(n_digits=1)
        self.reward_fns = {
            "distinct": lambda prompts, completions, **_: torch.tensor(
                [len(set(c)) / 5 for c in completions]
            )
        }
        self.default_weights = (1.0,)


def test_trainer_runs_on_a_model_path(model_dir: Path) -> None:
    opt = polyopt.make(
        "optimizer",
        "grpo",
        Varied(),
        seed=0,
        device="cpu",
        model=str(model_dir),
        prompts_per_step=2,
        completions_per_prompt=4,
        temperature=2.0,
    )
    before = [p.detach().clone() for p in opt.policy.parameters()]
    metrics = opt.step()
    assert metrics["completions"] == 8
    assert any(not torch.equal(a, b) for a, b in zip(before, opt.policy.parameters()))


def test_lora_trains_adapters_only_and_uses_the_base_as_reference(model_dir: Path) -> None:
    pytest.importorskip("peft")
    opt = polyopt.make(
        "optimizer",
        "grpo",
        Addition(n_digits=1),
        seed=0,
        device="cpu",
        model=str(model_dir),
        lora_rank=2,
        kl_coef=0.1,
        prompts_per_step=2,
        completions_per_prompt=2,
        lr=1e-2,
    )
    assert opt.ref is None  # no copy: adapters off is the reference
    frozen = {
        n: p.detach().clone() for n, p in opt.policy.named_parameters() if not p.requires_grad
    }
    for _ in range(2):
        metrics = opt.step()
    assert "kl_estimate" in metrics
    assert frozen and all(
        torch.equal(frozen[n], p) for n, p in opt.policy.named_parameters() if n in frozen
    )


def test_an_untested_transformers_takes_the_generic_path(
    model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(hf_lean, "TESTED_TRANSFORMERS", ())
    p = HFPolicy.from_pretrained(str(model_dir)).eval()
    assert not p.lean
    ids, mask = p.tokenizer.batch_encode(["12+3=", "4+56="])
    assert generate(p, ids, mask, GREEDY, stop_ids=(-1,)).tokens.shape == (2, 5)
