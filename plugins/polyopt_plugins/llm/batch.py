"""The trainer's batch of scored completions: whole groups, their task fields, optional hints, and conversions
to and from the :class:`~polyopt.components.ScoredGroups` a replay buffer keeps."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt.components import ScoredGroups
from polyopt_plugins.llm.sampler import Generation

__all__ = ["Tasks", "Batch", "select", "cat", "to_groups", "from_groups"]


@dataclass
class Tasks:
    """Prompts and the task fields reward functions read (one entry per row), and each row's hint.

    A hint (Scaf-GRPO-style guidance) is text appended to the prompt the model sees; for the reward it counts
    as the start of the completion. ``hints`` is None while no row has one.
    """

    prompts: list[str]
    fields: dict[str, list[Any]]
    hints: list[str] | None = None

    def rows(self, idx: list[int]) -> Tasks:
        hints = None if self.hints is None else [self.hints[i] for i in idx]
        fields = {k: [v[i] for i in idx] for k, v in self.fields.items()}
        return Tasks([self.prompts[i] for i in idx], fields, hints)

    def model_prompts(self) -> list[str]:
        """What the model is conditioned on: each prompt with its hint."""
        if self.hints is None:
            return self.prompts
        return [p + h for p, h in zip(self.prompts, self.hints)]

    def with_hints(self) -> Tasks:
        """This batch with an explicit (empty) hint per row, so hints can be set."""
        hints = [""] * len(self.prompts) if self.hints is None else list(self.hints)
        return Tasks(list(self.prompts), {k: list(v) for k, v in self.fields.items()}, hints)


@dataclass
class Batch:
    """Scored completions of whole groups.

    ``stale`` marks rows generated at an earlier step (replayed); their ``gen.logp`` is the behaviour
    policy's. ``refs`` are the groups' reference completions when guidance asked for them.
    """

    tasks: Tasks
    raw: Tensor  # (n, m) one column per reward
    gen: Generation
    stale: Tensor | None = None  # (n,) bool
    refs: list[str] | None = None  # (G,)


def _gen_rows(gen: Generation, rows: Tensor) -> Generation:
    def pick(t: Tensor | None) -> Tensor | None:
        return None if t is None else t[rows]

    return Generation(
        gen.tokens[rows], gen.mask[rows], gen.truncated[rows], pick(gen.logp), pick(gen.entropy)
    )


def select(batch: Batch, rows: Tensor, k: int) -> Batch:
    """Rows ``rows`` of ``batch`` (whole groups of ``k``, in order). ``batch`` may hold wider groups (a prompt
    sampler's ``group_size`` above ``k``): each prompt's reference follows its rows."""
    idx = rows.tolist()
    refs = None
    if batch.refs is not None:
        width = len(batch.raw) // max(len(batch.refs), 1)  # rows per sampled prompt
        refs = [batch.refs[i // width] for i in idx[::k]]
    stale = None if batch.stale is None else batch.stale[rows]
    return Batch(batch.tasks.rows(idx), batch.raw[rows], _gen_rows(batch.gen, rows), stale, refs)


def _cat_optional(parts: list[Tensor | None]) -> Tensor | None:
    return None if any(p is None for p in parts) else torch.cat(parts)  # type: ignore[arg-type]


def cat(parts: list[Batch], n: int, k: int) -> Batch:
    """The first ``n`` rows of the concatenated parts (``n`` a multiple of the group size ``k``)."""
    prompts = [p for b in parts for p in b.tasks.prompts][:n]
    fields = {
        k_: [x for b in parts for x in b.tasks.fields[k_]][:n] for k_ in parts[0].tasks.fields
    }
    hints = None
    if any(b.tasks.hints is not None for b in parts):
        hints = [h for b in parts for h in (b.tasks.hints or [""] * len(b.tasks.prompts))][:n]
    gens = [b.gen for b in parts]
    gen = Generation(
        torch.cat([g.tokens for g in gens])[:n],
        torch.cat([g.mask for g in gens])[:n],
        torch.cat([g.truncated for g in gens])[:n],
        None if (t := _cat_optional([g.logp for g in gens])) is None else t[:n],
        None if (t := _cat_optional([g.entropy for g in gens])) is None else t[:n],
    )
    refs = None
    if all(b.refs is not None for b in parts):
        refs = [r for b in parts for r in (b.refs or [])][: n // k]
    raw = torch.cat([b.raw for b in parts])[:n]
    stale = None
    if any(b.stale is not None for b in parts):
        flags = [
            b.stale if b.stale is not None else torch.zeros_like(b.gen.truncated) for b in parts
        ]
        stale = torch.cat(flags)[:n]
    return Batch(Tasks(prompts, fields, hints), raw, gen, stale, refs)


def to_groups(batch: Batch, k: int, step: int) -> ScoredGroups:
    """The batch as a replay buffer keeps it (model prompts with their hints; fields dropped)."""
    n = batch.raw.shape[0]
    logp = (
        batch.gen.logp if batch.gen.logp is not None else torch.zeros_like(batch.gen.mask.float())
    )
    return ScoredGroups(
        prompts=list(batch.tasks.model_prompts()),
        tokens=batch.gen.tokens,
        mask=batch.gen.mask,
        truncated=batch.gen.truncated,
        rewards=batch.raw,
        behaviour_logp=logp,
        step=torch.full((n,), step, dtype=torch.long, device=batch.raw.device),
        group_size=k,
    )


def from_groups(groups: ScoredGroups, like: Batch) -> Batch:
    """Replayed groups as stale rows of a batch (task fields are not kept, so the batch has none)."""
    n, width = len(groups.prompts), like.gen.tokens.shape[1]

    def fit(t: Tensor, value: float | bool) -> Tensor:  # replayed completions to this step's width
        if t.shape[1] >= width:
            return t[:, :width]
        return torch.nn.functional.pad(t, (0, width - t.shape[1]), value=value)

    gen = Generation(
        fit(groups.tokens, 0),
        fit(groups.mask, False),
        groups.truncated,
        fit(groups.behaviour_logp, 0.0),
        torch.zeros(n, width, device=groups.tokens.device),  # entropy is not kept
    )
    fields: dict[str, list[Any]] = {key: [None] * n for key in like.tasks.fields}
    stale = torch.ones(n, dtype=torch.bool, device=groups.tokens.device)
    return Batch(Tasks(list(groups.prompts), fields), groups.rewards, gen, stale, None)
