"""A lean batched sampler: left-padded prompts, one prefill, then one decode call per position.

Temperature 0 is greedy; top-p keeps the smallest set of tokens whose probability reaches ``top_p``. Finished
rows keep producing padding under a mask (fixed shapes, no per-row Python); the loop checks for "all rows
finished" only every ``check_every`` positions, the one host sync. Sampled (not greedy) rollouts also record
each token's log-probability and the entropy of the distribution it was drawn from, both at the sampling
temperature: the behaviour policy of a replayed sample, and the entropy the trainer logs and its
entropy-aware components read, at the cost of one log-softmax per position and no extra forward pass.
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
        logp: ``n x L`` log-probability of each sampled token at the sampling temperature (zero on padding);
            None for greedy decoding.
        entropy: ``n x L`` entropy of the distribution each token was sampled from (zero on padding); None
            for greedy decoding.
    """

    tokens: Tensor
    mask: Tensor
    truncated: Tensor
    logp: Tensor | None = None
    entropy: Tensor | None = None


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
    record = params.temperature > 0
    logp = torch.zeros((n, length), device=prompt.device) if record else None
    entropy = torch.zeros((n, length), device=prompt.device) if record else None
    logits, cache = policy.prefill(prompt, prompt_mask, length)
    for t in range(length):
        tok = torch.where(done, pad, sample_token(logits, params, generator))
        tokens[:, t], mask[:, t] = tok, ~done
        if logp is not None and entropy is not None:
            log_probs = torch.log_softmax(logits.float() / params.temperature, dim=-1)  # (n, V)
            live = (~done).float()
            logp[:, t] = log_probs.gather(-1, tok.unsqueeze(-1)).squeeze(-1) * live
            entropy[:, t] = -(log_probs.exp() * log_probs).sum(-1) * live
        done = done | torch.isin(tok, stops)
        if t + 1 == length or ((t + 1) % params.check_every == 0 and bool(done.all())):
            break
        logits = policy.decode(tok, cache, t)
    return Generation(tokens=tokens, mask=mask, truncated=~done, logp=logp, entropy=entropy)
