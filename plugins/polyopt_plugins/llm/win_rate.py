"""Alignment under a known true preference: completions of two policies for the same prompts, scored by a text
task's gold rewards, and the win rate of one against the other (ties count a half)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from polyopt_plugins.llm.policy import Policy
from polyopt_plugins.llm.sampler import SamplingParams, generate
from polyopt_plugins.llm.sft import decode_completions

__all__ = ["complete", "gold_scores", "win_rate"]


@torch.no_grad()
def complete(
    policy: Policy,
    prompts: list[str],
    *,
    max_new_tokens: int,
    temperature: float = 0.0,
    generator: torch.Generator | None = None,
) -> list[str]:
    """One completion per prompt (greedy at temperature 0)."""
    device = next(policy.parameters()).device
    ids, mask = policy.tokenizer.batch_encode(prompts, device)
    params = SamplingParams(max_new_tokens=max_new_tokens, temperature=temperature)
    gen = generate(
        policy, ids, mask, params, stop_ids=(policy.tokenizer.eos_id,), generator=generator
    )
    return decode_completions(policy, gen.tokens, gen.mask)


def gold_scores(task: Any, batch: Any, completions: list[str]) -> Tensor:
    """``n`` combined gold rewards: the task's rewards weighted by its ``default_weights``."""
    weights = torch.tensor(task.default_weights, dtype=torch.float32)
    return task.score(batch, completions).float().cpu() @ weights


def win_rate(
    policy: Policy,
    baseline: Policy,
    task: Any,
    *,
    n: int = 512,
    temperature: float = 0.0,
    seed: int = 0,
) -> dict[str, float]:
    """How often ``policy``'s completion beats ``baseline``'s under the task's gold rewards.

    Args:
        policy, baseline: the two models (e.g. after DPO, and the SFT model it started from).
        task: a text task with gold ``reward_fns`` and ``default_weights``.
        n: prompts, drawn with ``seed``.
        temperature: 0 compares greedy completions; above 0 one sample each.

    Returns:
        ``win_rate`` (ties count a half), ``wins``, ``ties``, and each side's mean gold reward
        (``gold``, ``baseline_gold``) and mean completion length in characters.
    """
    batch = task.sample(n, torch.Generator().manual_seed(seed))
    out: dict[str, Tensor] = {}
    for key, model in (("gold", policy), ("baseline_gold", baseline)):
        texts = complete(
            model,
            batch.prompts,
            max_new_tokens=task.completion_len,
            temperature=temperature,
            generator=torch.Generator().manual_seed(seed + 1),
        )
        out[key] = gold_scores(task, batch, texts)
        out[key.replace("gold", "length")] = torch.tensor([float(len(t)) for t in texts])
    wins = (out["gold"] > out["baseline_gold"]).float().mean()
    ties = (out["gold"] == out["baseline_gold"]).float().mean()
    summary = {k: float(v.mean()) for k, v in out.items()}
    return {"win_rate": float(wins + ties / 2), "wins": float(wins), "ties": float(ties), **summary}
