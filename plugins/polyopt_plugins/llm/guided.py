"""Carrying out a guidance plan on the trainer's batch: hinted resampling, injected completions, queued
supervised pairs (see :mod:`polyopt_plugins.llm.guidance` for the components that make the plans)."""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch import Tensor

from polyopt.components import GroupOutcome
from polyopt_plugins.llm.batch import Batch
from polyopt_plugins.llm.sampler import Generation
from polyopt_plugins.llm.sft import decode_completions, encode_completions

if TYPE_CHECKING:
    from polyopt_plugins.llm.trainer import PolicyGradientTrainer

__all__ = ["apply_guidance"]

#: hint rounds per step at most (a component's tiers end sooner)
MAX_ROUNDS = 8


def apply_guidance(trainer: PolicyGradientTrainer, batch: Batch, timer: dict[str, float]) -> Batch:
    """Ask the trainer's guidance about the batch's groups and apply its plans, round after round."""
    k = trainer.config.completions_per_prompt
    batch = Batch(
        batch.tasks.with_hints(),
        batch.raw.clone(),
        _clone(batch.gen),
        batch.stale,
        batch.refs,
    )
    groups = batch.raw.shape[0] // k
    hinted = [""] * groups
    for round_ in range(MAX_ROUNDS):
        texts = _reward_texts(trainer, batch)
        outcome = GroupOutcome(
            prompts=batch.tasks.prompts[::k],
            completions=[texts[g * k : (g + 1) * k] for g in range(groups)],
            rewards=batch.raw.view(groups, k, -1),
            references=batch.refs,
            hinted=list(hinted),
            step=trainer.n_steps,
            round=round_,
        )
        plan = trainer.guidance.guide(outcome)
        trainer._sft_pending.extend(plan.sft)
        for g, text in plan.inject.items():
            _put(trainer, batch, _worst(trainer, batch, g, k), text)
        if not plan.hints:
            break
        for g, hint in plan.hints.items():
            _hinted_sample(trainer, batch, g, k, hint, timer)
            hinted[g] = hint
    return batch


def _clone(gen: Generation) -> Generation:
    def copy(t: Tensor | None) -> Tensor | None:
        return None if t is None else t.clone()

    return Generation(
        gen.tokens.clone(),
        gen.mask.clone(),
        gen.truncated.clone(),
        copy(gen.logp),
        copy(gen.entropy),
    )


def _reward_texts(trainer: PolicyGradientTrainer, batch: Batch) -> list[str]:
    """Each row's completion as the reward sees it (its hint first)."""
    texts = decode_completions(trainer.policy, batch.gen.tokens, batch.gen.mask)
    hints = batch.tasks.hints or [""] * len(texts)
    return [h + t for h, t in zip(hints, texts)]


def _combined(trainer: PolicyGradientTrainer, raw: Tensor) -> Tensor:
    return raw @ trainer.weights


def _worst(trainer: PolicyGradientTrainer, batch: Batch, g: int, k: int) -> int:
    scores = _combined(trainer, batch.raw[g * k : (g + 1) * k])
    return g * k + int(scores.argmin())


@torch.no_grad()
def _put(trainer: PolicyGradientTrainer, batch: Batch, row: int, text: str) -> None:
    """Replace row ``row`` by the completion ``text`` (not sampled: its behaviour log-probabilities are the
    current policy's, so it trains with ratio 1), rescored."""
    width = batch.gen.tokens.shape[1]
    ids, mask = encode_completions(trainer.policy, [text], trainer.device)
    ids, mask = ids[:, :width], mask[:, :width]
    pad = width - ids.shape[1]
    ids = torch.nn.functional.pad(ids, (0, pad), value=trainer.policy.tokenizer.pad_id)
    mask = torch.nn.functional.pad(mask, (0, pad), value=False)
    prompt = batch.tasks.prompts[row]
    assert batch.tasks.hints is not None
    batch.tasks.hints[row] = ""
    batch.gen.tokens[row], batch.gen.mask[row] = ids[0], mask[0]
    batch.gen.truncated[row] = not bool((ids[0] == trainer.policy.tokenizer.eos_id).any())
    pids, pmask = trainer.policy.tokenizer.batch_encode([prompt], trainer.device)
    if batch.gen.logp is not None:
        batch.gen.logp[row] = trainer._logprobs(trainer.policy, pids, pmask, ids, mask)[0][0]
    if batch.gen.entropy is not None:
        batch.gen.entropy[row] = 0.0
    one = batch.tasks.rows([row])
    batch.raw[row] = trainer._score(one, [text])[0]


def _hinted_sample(
    trainer: PolicyGradientTrainer,
    batch: Batch,
    g: int,
    k: int,
    hint: str,
    timer: dict[str, float],
) -> None:
    """Sample group ``g`` again from its hinted prompt; its best hinted completion replaces its worst one
    when it scores higher."""
    import time

    t0 = time.perf_counter()
    tasks = batch.tasks.rows([g * k] * k)
    gen = trainer._generate([p + hint for p in tasks.prompts], trainer.config.temperature)
    texts = [hint + t for t in decode_completions(trainer.policy, gen.tokens, gen.mask)]
    raw = trainer._score(tasks, texts)
    timer["generation"] += time.perf_counter() - t0
    best = int(_combined(trainer, raw).argmax())
    worst = _worst(trainer, batch, g, k)
    if float(_combined(trainer, raw[best])) <= float(_combined(trainer, batch.raw[worst])):
        return
    assert batch.tasks.hints is not None
    batch.tasks.hints[worst] = hint
    batch.raw[worst] = raw[best]
    batch.gen.tokens[worst], batch.gen.mask[worst] = gen.tokens[best], gen.mask[best]
    batch.gen.truncated[worst] = gen.truncated[best]
    if batch.gen.logp is not None and gen.logp is not None:
        batch.gen.logp[worst] = gen.logp[best]
    if batch.gen.entropy is not None and gen.entropy is not None:
        batch.gen.entropy[worst] = gen.entropy[best]
