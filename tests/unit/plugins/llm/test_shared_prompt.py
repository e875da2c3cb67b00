"""The shared-prompt forward of scoring and the update equals one forward over prompt + completion."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from polyopt_plugins.llm.policy import Policy, distinct_prompts
from polyopt_plugins.llm.tiny import TinyConfig, TinyGPT

PROMPTS = [
    "12+3=",
    "rev:abc=",
    "12+3=",
    "7",
    "rev:abc=",
    "12+3=",
]  # groups of unequal size, interleaved


def tiny(_: Path) -> tuple[Policy, Callable[..., torch.Tensor]]:
    torch.manual_seed(0)
    model = TinyGPT(TinyConfig(n_layer=2, n_head=2, d_model=32))
    return model, lambda *a: Policy.completion_hidden(
        model, *a
    )  # the default: one forward over the concatenation


def llama(root: Path) -> tuple[Policy, Callable[..., torch.Tensor]]:
    pytest.importorskip("transformers")
    from polyopt_plugins.llm import hf_lean
    from polyopt_plugins.llm.hf import HFPolicy, save_char_llama

    if not hf_lean._tested_transformers():
        pytest.skip("this transformers is outside the series the lean path reads the internals of")
    model = HFPolicy.from_pretrained(str(save_char_llama(root, n_layer=2, d_model=32, n_head=2)))
    assert model.lean
    return model, HFPolicy(
        model.model, model.tokenizer.tok, lean=False
    ).completion_hidden  # the model's forward


def test_distinct_prompts_maps_each_row_to_its_first_occurrence() -> None:
    prompt = torch.tensor([[0, 5, 6], [7, 8, 9], [0, 5, 6], [5, 5, 6], [7, 8, 9]])
    mask = prompt != 0
    first, inverse = distinct_prompts(prompt, mask)
    assert torch.equal(prompt[first][inverse], prompt) and torch.equal(mask[first][inverse], mask)
    assert sorted(first.tolist()) == [0, 1, 3]
    first, inverse = distinct_prompts(
        prompt[:0], mask[:0]
    )  # an empty batch (every group filtered out)
    assert first.numel() == inverse.numel() == 0


@pytest.mark.parametrize("length", [1, 4])
@pytest.mark.parametrize("build", [tiny, llama])
def test_shared_prompt_forward_and_gradient_equal_the_concatenated_forward(
    build: Callable[[Path], tuple[Policy, Callable[..., torch.Tensor]]], length: int, tmp_path: Path
) -> None:
    policy, reference = build(tmp_path)
    prompt, pmask = policy.tokenizer.batch_encode(PROMPTS)
    completion = torch.randint(
        3, 20, (len(PROMPTS), length), generator=torch.Generator().manual_seed(0)
    )
    cmask = torch.ones_like(completion, dtype=torch.bool)
    cmask[1, length - 1 :] = cmask[4, length // 2 :] = (
        False  # stopped early: padding after the stop
    )
    used = torch.cat(
        [torch.ones_like(cmask[:, :1]), cmask[:, :-1]], 1
    )  # hidden state j predicts token j
    out = []
    for forward in (policy.completion_hidden, reference):
        policy.zero_grad(set_to_none=True)
        h = forward(prompt, pmask, completion, cmask)
        assert h.shape == (len(PROMPTS), length, policy.hidden_size) and torch.isfinite(h).all()
        (h * used.unsqueeze(-1) * torch.linspace(0.5, 1.5, h.shape[-1])).sum().backward()
        out.append(
            (h[used].detach(), [w.grad.clone() for w in policy.parameters() if w.grad is not None])
        )
    torch.testing.assert_close(out[0][0], out[1][0], atol=1e-5, rtol=1e-4)
    assert len(out[0][1]) == len(out[1][1]) > 0
    for a, b in zip(out[0][1], out[1][1], strict=True):
        torch.testing.assert_close(a, b, atol=1e-5, rtol=1e-4)
