"""Supervised warm start and greedy evaluation on a text task (anything with ``sft_batch``/``sample``/``score``).

The tiny model reaches useful accuracy on the builtin tasks within a few hundred SFT steps on a CPU.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from polyopt_plugins.llm.policy import Policy, completion_logprobs
from polyopt_plugins.llm.sampler import SamplingParams, generate

__all__ = ["sft", "encode_completions", "decode_completions", "greedy_accuracy"]


def encode_completions(policy: Policy, texts: list[str], device: torch.device) -> tuple[Tensor, Tensor]:
    """Right-padded ``n x L`` ids of ``text + <eos>`` and their bool mask."""
    tok = policy.tokenizer
    rows = [tok.encode(t) + [tok.eos_id] for t in texts]
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), tok.pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.bool)
    for i, r in enumerate(rows):
        ids[i, :len(r)], mask[i, :len(r)] = torch.tensor(r), True
    return ids.to(device), mask.to(device)


def decode_completions(policy: Policy, tokens: Tensor, mask: Tensor) -> list[str]:
    """Text of each ``n x L`` completion row (padding and special tokens dropped)."""
    ids = torch.where(mask, tokens, policy.tokenizer.pad_id).tolist()
    return [policy.tokenizer.decode(r) for r in ids]


def sft(policy: Policy, task: Any, *, steps: int, batch_size: int = 64, lr: float = 3e-3,
        generator: torch.Generator) -> list[float]:
    """Train ``policy`` on the task's reference completions (cross-entropy on completion tokens).

    Args:
        policy: the model, trained in place.
        task: a text task (its ``sft_batch(n, generator)`` gives prompt/completion pairs).
        steps: optimizer steps.
        batch_size: pairs per step.
        lr: AdamW learning rate.
        generator: draws the training pairs.

    Returns:
        The loss of every step (one host sync at the end).
    """
    device = next(policy.parameters()).device
    opt = torch.optim.AdamW([p for p in policy.parameters() if p.requires_grad], lr=lr)
    losses = []
    for _ in range(steps):
        prompts, answers = task.sft_batch(batch_size, generator)
        ids, mask = policy.tokenizer.batch_encode(prompts, device)
        comp, cmask = encode_completions(policy, answers, device)
        logp, _ = completion_logprobs(policy, ids, mask, comp, cmask)
        loss = -logp.sum() / cmask.sum()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        losses.append(loss.detach())
    return torch.stack(losses).tolist() if losses else []


@torch.no_grad()
def greedy_accuracy(policy: Policy, task: Any, *, n: int, generator: torch.Generator,
                    max_new_tokens: int | None = None) -> float:
    """Mean of the task's first reward (exact match) for greedy completions of ``n`` fresh prompts."""
    device = next(policy.parameters()).device
    batch = task.sample(n, generator)
    ids, mask = policy.tokenizer.batch_encode(batch.prompts, device)
    params = SamplingParams(max_new_tokens=max_new_tokens or task.completion_len, temperature=0.0)
    gen = generate(policy, ids, mask, params, stop_ids=(policy.tokenizer.eos_id,))
    return float(task.score(batch, decode_completions(policy, gen.tokens, gen.mask))[:, 0].mean())
