"""Held-out accuracy of a language model on a text task: greedy accuracy and pass@k (a public module).

    from polyopt_plugins.llm.evaluate import evaluate

    result = polyopt.optimize("grpo", task, budget=polyopt.Budget(steps=300))
    evaluate(result.policy, task, prompts=512, k=8)  # {"accuracy": ..., "pass@8": ..., "sampled@8": ...}

A completion is correct when the task's first reward is at least 1 (exact match for the builtin tasks).
``accuracy`` is the mean first reward of greedy completions; ``pass@k`` the unbiased estimate (Chen et al.
2021, "Evaluating Large Language Models Trained on Code") of the chance that one of ``k`` completions sampled
at ``temperature`` is correct, from ``samples >= k`` completions per prompt; ``sampled@k`` the fraction of
those samples that are correct. Prompts come from a generator seeded with ``seed`` (or are given as a
``TaskBatch``), so two models are compared on the same prompts, and nothing touches the caller's RNG.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from polyopt.components import TaskBatch
from polyopt_plugins.llm.policy import Policy
from polyopt_plugins.llm.sampler import SamplingParams, generate
from polyopt_plugins.llm.sft import decode_completions

__all__ = ["evaluate", "pass_at_k"]


def pass_at_k(n: int, correct: Tensor, k: int) -> Tensor:
    """Unbiased pass@k per prompt from ``n`` samples of which ``correct`` (a tensor of counts) are correct:
    ``1 - C(n - c, k) / C(n, k)``."""
    if not 1 <= k <= n:
        raise ValueError(f"k={k} with {n} samples per prompt; expected 1 <= k <= samples")
    fails = [math.comb(n - int(c), k) / math.comb(n, k) for c in correct.tolist()]
    return 1 - torch.tensor(fails, dtype=torch.float64)


@torch.no_grad()
def _first_reward(
    policy: Policy,
    task: Any,
    batch: TaskBatch,
    params: SamplingParams,
    generator: torch.Generator | None,
    chunk: int,
) -> Tensor:
    """The task's first reward of one completion per prompt of ``batch`` (in chunks of ``chunk`` prompts)."""
    device = next(policy.parameters()).device
    out = []
    for start in range(0, len(batch.prompts), chunk):
        part = TaskBatch(
            batch.prompts[start : start + chunk],
            {key: v[start : start + chunk] for key, v in batch.fields.items()},
        )
        ids, mask = policy.tokenizer.batch_encode(part.prompts, device)
        gen = generate(
            policy, ids, mask, params, stop_ids=(policy.tokenizer.eos_id,), generator=generator
        )
        texts = decode_completions(policy, gen.tokens, gen.mask)
        out.append(task.score(part, texts)[:, 0].detach().cpu())
    return torch.cat(out) if out else torch.zeros(0)


def evaluate(
    policy: Policy,
    task: Any,
    *,
    prompts: int | TaskBatch = 512,
    k: int = 0,
    samples: int | None = None,
    temperature: float = 1.0,
    seed: int = 0,
    max_new_tokens: int | None = None,
    chunk: int = 1024,
) -> dict[str, float]:
    """Greedy accuracy, and pass@``k`` when ``k`` > 1, of ``policy`` on held-out prompts of ``task``.

    Args:
        policy: the model (a trainer's ``result().policy``).
        task: a text task (``sample``/``score``).
        prompts: how many prompts to draw (from a generator seeded with ``seed``), or the prompts themselves.
        k: pass@k's ``k``; 0 or 1 evaluates greedy decoding only.
        samples: completions sampled per prompt for pass@k (``>= k``; default ``k``).
        temperature: sampling temperature for pass@k (> 0).
        seed: seeds the prompt draw and the sampling.
        max_new_tokens: completion length limit (default the task's ``completion_len``).
        chunk: prompts per generation call.

    Returns:
        ``{"accuracy": ...}``, plus ``"pass@k"`` and ``"sampled@k"`` when ``k`` > 1.
    """
    if isinstance(prompts, int):
        if prompts < 1:
            raise ValueError(f"prompts={prompts}; expected at least 1 (or a TaskBatch)")
        batch: TaskBatch = task.sample(prompts, torch.Generator().manual_seed(seed))
    else:
        batch = prompts
    length = max_new_tokens or int(getattr(task, "completion_len", 16))
    was_training = policy.training
    policy.eval()
    try:
        greedy = _first_reward(
            policy, task, batch, SamplingParams(length, temperature=0.0), None, chunk
        )
        out = {"accuracy": float(greedy.mean())}
        if k > 1:
            if temperature <= 0:
                raise ValueError(f"temperature={temperature} for pass@{k}; expected > 0")
            n = samples or k
            device = next(policy.parameters()).device
            generator = torch.Generator(device=device).manual_seed(seed + 1)
            params = SamplingParams(length, temperature=temperature)
            sampled = _first_reward(
                policy, task, batch.repeat(n), params, generator, max(chunk // n, 1) * n
            )
            correct = (sampled >= 1).view(-1, n)
            out[f"pass@{k}"] = float(pass_at_k(n, correct.sum(1), k).mean())
            out[f"sampled@{k}"] = float(correct.float().mean())
    finally:
        policy.train(was_training)
    return out
