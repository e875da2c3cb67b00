"""A lean batched sampler: left-padded prompts, one prefill, then one decode call per position.

Temperature 0 is greedy; top-p keeps the smallest set of tokens whose probability reaches ``top_p``. Finished
rows keep producing padding under a mask (fixed shapes, no per-row Python); the loop checks for "all rows
finished" only every ``check_every`` positions, the one host sync.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from polyopt_plugins.llm.policy import Policy

__all__ = ["SamplingParams", "Generation", "generate", "sample_token"]


@dataclass
class SamplingParams:
    """How to sample completions."""

    max_new_tokens: int = 8
    """Completion length limit."""
    temperature: float = 1.0
    """Softmax temperature; 0 decodes greedily."""
    top_p: float = 1.0
    """Nucleus sampling mass (1 = off)."""
    check_every: int = 4
    """Positions between checks for "every row finished" (each check is a host sync)."""


@dataclass
class Generation:
    """Sampled completions.

    Attributes:
        tokens: ``n x L`` ids (padding after the stop token).
        mask: ``n x L`` bool, True on real tokens (the stop token included).
        truncated: ``n`` bool, no stop token within ``max_new_tokens``.
    """

    tokens: Tensor
    mask: Tensor
    truncated: Tensor


def sample_token(
    logits: Tensor, params: SamplingParams, generator: torch.Generator | None
) -> Tensor:
    """``n`` token ids from ``n x V`` logits."""
    if params.temperature == 0:
        return logits.argmax(-1)
    probs = torch.softmax(logits.float() / params.temperature, dim=-1)
    if params.top_p < 1:
        sorted_p, order = probs.sort(-1, descending=True)
        drop = (
            sorted_p.cumsum(-1) - sorted_p
        ) >= params.top_p  # mass before this token already reached
        sorted_p = sorted_p.masked_fill(drop, 0.0)
        pick = torch.multinomial(sorted_p, 1, generator=generator)
        return order.gather(-1, pick).squeeze(-1)
    return torch.multinomial(probs, 1, generator=generator).squeeze(-1)


@torch.no_grad()
def generate(
    policy: Policy,
    prompt: Tensor,
    prompt_mask: Tensor,
    params: SamplingParams,
    *,
    stop_ids: tuple[int, ...],
    generator: torch.Generator | None = None,
) -> Generation:
    """Sample completions of a left-padded prompt batch.

    Args:
        policy: the model (its KV cache is used).
        prompt: ``n x P`` ids; ``prompt_mask`` ``n x P`` bool.
        params: sampling settings.
        stop_ids: tokens that end a completion (kept in it).
        generator: the random generator (on the prompt's device).

    Returns:
        The :class:`Generation`.
    """
    n, length = prompt.shape[0], params.max_new_tokens
    pad = policy.tokenizer.pad_id
    stops = torch.tensor(stop_ids, device=prompt.device)
    tokens = torch.full((n, length), pad, dtype=torch.long, device=prompt.device)
    mask = torch.zeros((n, length), dtype=torch.bool, device=prompt.device)
    done = torch.zeros(n, dtype=torch.bool, device=prompt.device)
    logits, cache = policy.prefill(prompt, prompt_mask, length)
    for t in range(length):
        tok = torch.where(done, pad, sample_token(logits, params, generator))
        tokens[:, t], mask[:, t] = tok, ~done
        done = done | torch.isin(tok, stops)
        if t + 1 == length or ((t + 1) % params.check_every == 0 and bool(done.all())):
            break
        logits = policy.decode(tok, cache, t)
    return Generation(tokens=tokens, mask=mask, truncated=~done)
