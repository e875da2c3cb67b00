"""Preference pairs as the offline trainers use them: tokenized once, drawn in shuffled passes, scored in one
forward pass per batch (each prompt once; its chosen and rejected completions share its keys and values)."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from polyopt.components import PreferencePairs
from polyopt.errors import ConfigError
from polyopt_plugins.llm.policy import Policy, completion_logprobs
from polyopt_plugins.llm.sft import encode_completions

__all__ = ["EncodedPairs", "PassSampler", "adamw", "sequence_logps"]


class EncodedPairs:
    """Preference rows tokenized once: left-padded prompts and right-padded completions (``<eos>`` included)
    for each side — ``chosen``, ``rejected`` and ``mismatched`` (the next row's completion) — with their token
    counts (0 where a row has no such completion)."""

    def __init__(self, policy: Policy, pairs: PreferencePairs, device: torch.device) -> None:
        self.n = len(pairs)
        self.margins = None if pairs.margins is None else pairs.margins.to(device, torch.float32)
        self.prompt, self.prompt_mask = policy.tokenizer.batch_encode(pairs.prompts, device)
        nxt = [
            pairs.chosen[(i + 1) % self.n] or pairs.rejected[(i + 1) % self.n]
            for i in range(self.n)
        ]
        # all sides in one table (3n x L, one width), so a batch slices every side alike
        texts = [*pairs.chosen, *pairs.rejected, *nxt]
        ids, mask = encode_completions(policy, [t or "" for t in texts], device)
        present = torch.tensor([t is not None for t in texts], device=device)
        mask = mask & present.unsqueeze(-1)
        self.sides: dict[str, tuple[Tensor, Tensor]] = {
            side: (part_ids, part_mask)
            for side, part_ids, part_mask in zip(
                ("chosen", "rejected", "mismatched"), ids.chunk(3), mask.chunk(3)
            )
        }
        limit = getattr(getattr(policy, "cfg", None), "max_len", None)
        longest = self.prompt.shape[1] + ids.shape[1]
        if limit is not None and longest > limit:
            raise ConfigError(
                f"a prompt and completion take up to {longest} tokens; the tiny model holds "
                f"{limit} (shorten the data)"
            )

    def tokens(self, side: str, rows: Tensor) -> Tensor:
        """``len(rows)`` float token counts of ``side``."""
        return self.sides[side][1][rows].sum(-1).float()

    def take(self, rows: Tensor, sides: tuple[str, ...]) -> tuple[Tensor, Tensor, Tensor, Tensor]:
        """Prompts (each side's rows stacked: ``len(sides) * b x P``) and completions (``... x L``), trimmed of
        columns that are padding in every row."""
        pmask = self.prompt_mask[rows]
        width = int(pmask.sum(-1).max())
        prompt, pmask = self.prompt[rows][:, -width:], pmask[:, -width:]
        length = max(int(self.sides[s][1][rows].sum(-1).max()) for s in sides)
        length = max(length, 1)
        comp = torch.cat([self.sides[s][0][rows, :length] for s in sides])
        cmask = torch.cat([self.sides[s][1][rows, :length] for s in sides])
        k = len(sides)
        return prompt.repeat(k, 1), pmask.repeat(k, 1), comp, cmask


class PassSampler:
    """Rows of shuffled passes over ``n`` items: a new permutation (from ``generator``) per pass."""

    def __init__(self, n: int, generator: torch.Generator, device: torch.device) -> None:
        self.n, self.generator, self.device = n, generator, device
        self.order = torch.randperm(n, generator=generator, device=device)
        self.cursor = 0

    def next(self, k: int) -> Tensor:
        """The next ``k`` rows."""
        parts = []
        while k > 0:
            if self.cursor >= self.n:
                self.order = torch.randperm(self.n, generator=self.generator, device=self.device)
                self.cursor = 0
            take = min(k, self.n - self.cursor)
            parts.append(self.order[self.cursor : self.cursor + take])
            self.cursor += take
            k -= take
        return torch.cat(parts)

    def state(self) -> dict[str, Any]:
        return {"order": self.order, "cursor": self.cursor}

    def load(self, state: dict[str, Any]) -> None:
        self.order = state["order"].to(self.device)
        self.cursor = int(state["cursor"])


def adamw(
    module: torch.nn.Module, lr: float, weight_decay: float, device: torch.device
) -> torch.optim.AdamW:
    """AdamW over the trainable parameters; the fused kernel on CPU and CUDA (one kernel for all parameters, as
    Hugging Face's Trainer uses by default: a few ms a step at 0.5 M parameters)."""
    params = [p for p in module.parameters() if p.requires_grad]
    fused = device.type in ("cpu", "cuda")
    return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay, fused=fused)


def sequence_logps(
    policy: Policy, data: EncodedPairs, rows: Tensor, sides: tuple[str, ...]
) -> dict[str, Tensor]:
    """Summed completion log-probabilities of ``sides`` for ``rows``, in one forward pass."""
    prompt, pmask, comp, cmask = data.take(rows, sides)
    logp, _ = completion_logprobs(policy, prompt, pmask, comp, cmask)  # (k b, L)
    return dict(zip(sides, logp.sum(-1).chunk(len(sides))))
