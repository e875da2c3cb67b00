"""The policy interface every language model implements (the builtin tiny transformer and the Hugging Face
adapter), and the sequence log-probabilities the trainer and SFT share.

A policy is an ``nn.Module`` with a tokenizer and four operations: :meth:`Policy.hidden` (full forward, left
padding handled through the attention mask), :meth:`Policy.head` (hidden states to logits), and
:meth:`Policy.prefill` / :meth:`Policy.decode` (incremental decoding with a KV cache, used by the sampler).
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, Protocol

import torch
from torch import Tensor, nn

__all__ = [
    "Policy",
    "Tokenizer",
    "causal_allowed",
    "completion_logprobs",
    "distinct_prompts",
    "positions",
]


class Tokenizer(Protocol):
    """What the trainer needs from a tokenizer."""

    pad_id: int
    eos_id: int

    def batch_encode(
        self, texts: list[str], device: torch.device | str = "cpu"
    ) -> tuple[Tensor, Tensor]: ...

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...


def positions(mask: Tensor) -> Tensor:
    """``n x T`` position ids from a left-padded bool mask (0 at the first real token)."""
    return (mask.long().cumsum(-1) - 1).clamp_min(0)


def causal_allowed(mask: Tensor) -> Tensor:
    """``n x T x T`` bool: which positions each position may attend to — earlier or equal real tokens of the
    left-padded bool ``mask`` (``n x T``); a padding position sees itself only, so its (unused) output stays
    finite."""
    t = mask.shape[1]
    causal = torch.ones(t, t, dtype=torch.bool, device=mask.device).tril_()
    return (causal & mask.unsqueeze(1)) | torch.eye(t, dtype=torch.bool, device=mask.device)


def distinct_prompts(prompt: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """The distinct rows of a left-padded ``n x P`` prompt batch (the completions of a group repeat theirs).

    Returns:
        ``(first, inverse)``: ``u`` row indices, one per distinct prompt, and ``n`` indices into them
        (``prompt[first][inverse]`` equals ``prompt``).
    """
    n = prompt.shape[0]
    if n == 0:
        empty = torch.zeros(0, dtype=torch.long, device=prompt.device)
        return empty, empty
    _, inverse = torch.unique(prompt.masked_fill(~mask, -1), dim=0, return_inverse=True)
    u = int(inverse.max()) + 1
    first = torch.full((u,), n, dtype=torch.long, device=prompt.device).scatter_reduce_(
        0, inverse, torch.arange(n, device=prompt.device), "amin"
    )
    return first, inverse


class Policy(nn.Module):
    """A causal language model with a tokenizer."""

    tokenizer: Tokenizer
    hidden_size: int

    @abstractmethod
    def hidden(self, ids: Tensor, mask: Tensor) -> Tensor:
        """``n x T x d`` last hidden states of ``ids`` (``n x T``) under the bool ``mask`` (``n x T``)."""

    @abstractmethod
    def head(self, hidden: Tensor) -> Tensor:
        """``... x V`` logits from ``... x d`` hidden states."""

    def completion_hidden(
        self, prompt: Tensor, prompt_mask: Tensor, completion: Tensor, completion_mask: Tensor
    ) -> Tensor:
        """``n x L x d`` hidden states that predict each completion token: position ``P - 1 + j`` of the prompt
        (``n x P``, left-padded) followed by the completion (``n x L``). One forward over the concatenation; a
        model may override it to run each distinct prompt once (the completions of a group share theirs)."""
        ids = torch.cat([prompt, completion], dim=1)
        mask = torch.cat([prompt_mask, completion_mask], dim=1)
        return self.hidden(ids, mask)[:, prompt.shape[1] - 1 : -1]

    @abstractmethod
    def prefill(self, ids: Tensor, mask: Tensor, max_new_tokens: int) -> tuple[Tensor, Any]:
        """Run the prompt (``n x P``, left-padded) and return the last position's ``n x V`` logits and a cache
        with room for ``max_new_tokens`` more positions."""

    @abstractmethod
    def decode(self, token: Tensor, cache: Any, t: int) -> Tensor:
        """Append ``token`` (``n``) as generated position ``t`` (0-based) and return its ``n x V`` logits."""


def completion_logprobs(
    policy: Policy,
    prompt: Tensor,
    prompt_mask: Tensor,
    completion: Tensor,
    completion_mask: Tensor,
    *,
    full: bool = False,
    temperature: float = 1.0,
) -> tuple[Tensor, Tensor | None]:
    """Log-probabilities of the completion tokens given the prompt, in one forward pass.

    Args:
        policy: the model.
        prompt: ``n x P`` left-padded ids; ``prompt_mask`` its bool mask.
        completion: ``n x L`` ids; ``completion_mask`` ``n x L`` bool, True on real tokens.
        full: also return the ``n x L x V`` log-softmax (for the exact KL).
        temperature: the distribution is ``softmax(logits / temperature)`` — the one the sampler drew from at that
            temperature, so a policy-gradient ratio compares the policy that sampled with the one being trained.

    Returns:
        ``n x L`` token log-probabilities (zero on padding) and the full log-softmax or None.
    """
    hidden = policy.completion_hidden(prompt, prompt_mask, completion, completion_mask)  # (n, L, d)
    logits = policy.head(hidden).float()
    log_probs = torch.log_softmax(
        logits if temperature == 1 else logits / temperature, dim=-1
    )  # (n, L, V)
    token = log_probs.gather(-1, completion.unsqueeze(-1)).squeeze(-1) * completion_mask
    return token, (log_probs if full else None)
