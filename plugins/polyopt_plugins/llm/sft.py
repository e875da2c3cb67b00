"""Supervised warm start and greedy evaluation on a text task (anything with ``sft_batch``/``sample``/``score``).

The warm start is AdamW with a linear warm-up, cosine decay to a tenth of the peak rate and gradient clipping.
Without them (a constant 3e-3, no clipping) the 0.53 M-parameter char Llama stalled at a loss of ~1.2 and 2 %
greedy accuracy on 2-digit addition after 1,500 steps; with them it reaches ~55 % after 500 steps and ~88 %
after 1,000 (batch 64). The tiny model reaches useful accuracy on the builtin tasks within a few hundred steps.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from polyopt_plugins.llm.policy import Policy, completion_logprobs
from polyopt_plugins.llm.sampler import SamplingParams, generate

__all__ = [
    "sft",
    "nll_step",
    "lr_factor",
    "encode_completions",
    "decode_completions",
    "greedy_scores",
    "greedy_accuracy",
]


def encode_completions(
    policy: Policy, texts: list[str], device: torch.device
) -> tuple[Tensor, Tensor]:
    """Right-padded ``n x L`` ids of ``text + <eos>`` and their bool mask."""
    tok = policy.tokenizer
    rows = [[*tok.encode(t), tok.eos_id] for t in texts]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tok.pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, : len(r)], mask[i, : len(r)] = torch.tensor(r), True
    return ids.to(device), mask.to(device)


def decode_completions(policy: Policy, tokens: Tensor, mask: Tensor) -> list[str]:
    """Text of each ``n x L`` completion row (padding and special tokens dropped)."""
    ids = torch.where(mask, tokens, policy.tokenizer.pad_id).tolist()
    return [policy.tokenizer.decode(r) for r in ids]


def lr_factor(step: int, steps: int, warmup: int) -> float:
    """Multiplier of the peak learning rate at ``step``: linear warm-up, then cosine decay to 0.1."""
    ramp = min(1.0, (step + 1) / max(warmup, 1))
    return ramp * (0.1 + 0.45 * (1 + math.cos(math.pi * min(step, steps) / max(steps, 1))))


def sft(
    policy: Policy,
    task: Any,
    *,
    steps: int,
    batch_size: int = 64,
    lr: float = 1e-3,
    warmup: int | None = None,
    max_grad_norm: float = 1.0,
    generator: torch.Generator,
) -> list[float]:
    """Train ``policy`` on the task's reference completions (cross-entropy on completion tokens).

    Args:
        policy: the model, trained in place.
        task: a text task (its ``sft_batch(n, generator)`` gives prompt/completion pairs).
        steps: optimizer steps.
        batch_size: pairs per step.
        lr: peak AdamW learning rate (no weight decay).
        warmup: warm-up steps; None = a tenth of ``steps`` (at most 100).
        max_grad_norm: gradient clipping (0 = off).
        generator: draws the training pairs.

    Returns:
        The loss of every step (one host sync at the end).
    """
    device = next(policy.parameters()).device
    params = [p for p in policy.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    warm = min(100, max(1, steps // 10)) if warmup is None else warmup
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: lr_factor(s, steps, warm))
    losses = []
    for _ in range(steps):
        prompts, answers = task.sft_batch(batch_size, generator)
        loss = nll_step(policy, prompts, answers, device)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        if max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(params, max_grad_norm)
        opt.step()
        sched.step()
        losses.append(loss.detach())
    return torch.stack(losses).tolist() if losses else []


def nll_step(
    policy: Policy, prompts: list[str], answers: list[str], device: torch.device
) -> Tensor:
    """Mean negative log-likelihood per completion token of ``answers`` (each followed by ``<eos>``) given
    ``prompts``; a scalar carrying the gradient."""
    ids, mask = policy.tokenizer.batch_encode(prompts, device)
    comp, cmask = encode_completions(policy, answers, device)
    logp, _ = completion_logprobs(policy, ids, mask, comp, cmask)
    return -logp.sum() / cmask.sum()


@torch.no_grad()
def greedy_scores(
    policy: Policy, task: Any, batch: Any, *, max_new_tokens: int | None = None
) -> Tensor:
    """``n`` values of the task's first reward (exact match) for greedy completions of ``batch``'s prompts."""
    device = next(policy.parameters()).device
    ids, mask = policy.tokenizer.batch_encode(batch.prompts, device)
    params = SamplingParams(max_new_tokens=max_new_tokens or task.completion_len, temperature=0.0)
    gen = generate(policy, ids, mask, params, stop_ids=(policy.tokenizer.eos_id,))
    return task.score(batch, decode_completions(policy, gen.tokens, gen.mask))[:, 0]


def greedy_accuracy(
    policy: Policy,
    task: Any,
    *,
    n: int,
    generator: torch.Generator,
    max_new_tokens: int | None = None,
) -> float:
    """Mean of the task's first reward (exact match) for greedy completions of ``n`` fresh prompts."""
    return float(
        greedy_scores(policy, task, task.sample(n, generator), max_new_tokens=max_new_tokens).mean()
    )
