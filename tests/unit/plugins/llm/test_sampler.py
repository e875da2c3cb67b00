"""The tiny model's KV cache and the batched sampler."""

from __future__ import annotations

import pytest
import torch

from polyopt_plugins.llm.sampler import SamplingParams, generate
from polyopt_plugins.llm.tiny import TinyConfig, TinyGPT

GREEDY = SamplingParams(max_new_tokens=6, temperature=0.0)


@pytest.fixture(scope="module")
def model() -> TinyGPT:
    torch.manual_seed(0)
    m = TinyGPT(TinyConfig(n_layer=2, n_head=2, d_model=32)).eval()
    with torch.no_grad():  # sharper random weights, so greedy outputs vary with the prompt
        for p in m.parameters():
            p.mul_(4.0)
    return m


def no_cache_greedy(m: TinyGPT, ids: torch.Tensor, mask: torch.Tensor, steps: int) -> torch.Tensor:
    out = []
    for _ in range(steps):
        tok = m.head(m.hidden(ids, mask)[:, -1]).argmax(-1)
        out.append(tok)
        ids = torch.cat([ids, tok[:, None]], 1)
        mask = torch.cat([mask, torch.ones_like(mask[:, :1])], 1)
    return torch.stack(out, 1)


def test_greedy_with_kv_cache_equals_greedy_without(model: TinyGPT) -> None:
    ids, mask = model.tokenizer.batch_encode(["12+3=", "4+56=", "sort:9120=", "a"])
    gen = generate(model, ids, mask, GREEDY, stop_ids=(-1,))
    assert len({tuple(r) for r in gen.tokens.tolist()}) > 1, "weak test: every row decoded the same"
    assert torch.equal(gen.tokens, no_cache_greedy(model, ids, mask, 6))
    assert bool(gen.truncated.all()) and bool(gen.mask.all())


def test_left_padding_does_not_change_the_completion(model: TinyGPT) -> None:
    alone = generate(model, *model.tokenizer.batch_encode(["7+8="]), GREEDY, stop_ids=(-1,))
    padded = generate(
        model, *model.tokenizer.batch_encode(["7+8=", "rev:abcdefgh="]), GREEDY, stop_ids=(-1,)
    )
    assert torch.equal(alone.tokens[0], padded.tokens[0])
    ids, mask = model.tokenizer.batch_encode(["7+8=", "rev:abcdefgh="])
    one = model.head(model.hidden(*model.tokenizer.batch_encode(["7+8="]))[:, -1])
    assert torch.allclose(model.head(model.hidden(ids, mask)[:1, -1]), one, atol=1e-5)


def test_stop_tokens_end_the_completion_and_pad_after(model: TinyGPT) -> None:
    ids, mask = model.tokenizer.batch_encode(["12+3=", "4+56="])
    free = generate(model, ids, mask, GREEDY, stop_ids=(-1,))
    row = free.tokens[0].tolist()
    cut = max(
        i for i in range(6) if row[i] not in row[:i]
    )  # the latest first occurrence of a token
    gen = generate(model, ids, mask, GREEDY, stop_ids=(row[cut],))
    assert gen.tokens[0, : cut + 1].tolist() == row[: cut + 1]
    assert gen.mask[0].tolist() == [True] * (cut + 1) + [False] * (5 - cut)
    assert bool((gen.tokens[0, cut + 1 :] == model.tokenizer.pad_id).all())
    assert not bool(gen.truncated[0])


def test_tiny_top_p_samples_the_argmax_and_the_generator_makes_it_repeatable(
    model: TinyGPT,
) -> None:
    ids, mask = model.tokenizer.batch_encode(["12+3=", "4+56="])
    nucleus = SamplingParams(max_new_tokens=6, temperature=1.0, top_p=1e-6)
    gen = generate(
        model, ids, mask, nucleus, stop_ids=(-1,), generator=torch.Generator().manual_seed(0)
    )
    assert torch.equal(gen.tokens, generate(model, ids, mask, GREEDY, stop_ids=(-1,)).tokens)
    hot = SamplingParams(max_new_tokens=6, temperature=2.0)
    a = generate(model, ids, mask, hot, stop_ids=(-1,), generator=torch.Generator().manual_seed(3))
    b = generate(model, ids, mask, hot, stop_ids=(-1,), generator=torch.Generator().manual_seed(3))
    assert torch.equal(a.tokens, b.tokens)
