"""A character tokenizer built in code: no files, no download. Ids 0-2 are ``<pad>``, ``<bos>``, ``<eos>``."""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["CharTokenizer", "DEFAULT_CHARS"]

#: Characters the builtin text tasks use (digits, letters, arithmetic and punctuation).
DEFAULT_CHARS = "0123456789abcdefghijklmnopqrstuvwxyz+-*/=()<>:,.? "


class CharTokenizer:
    """One id per character.

    Args:
        chars: the alphabet; unknown characters raise ``ValueError`` naming them.
    """

    pad_id, bos_id, eos_id = 0, 1, 2

    def __init__(self, chars: str = DEFAULT_CHARS) -> None:
        if len(set(chars)) != len(chars):
            raise ValueError(f"chars={chars!r} has repeated characters")
        self.chars = chars
        self._ids = {c: i + 3 for i, c in enumerate(chars)}

    @property
    def vocab_size(self) -> int:
        return len(self.chars) + 3

    def encode(self, text: str) -> list[int]:
        """Ids of ``text``, no special tokens."""
        try:
            return [self._ids[c] for c in text]
        except KeyError as exc:
            raise ValueError(
                f"character {exc.args[0]!r} in {text!r} is not in the tokenizer's alphabet "
                f"{self.chars!r}"
            ) from None

    def decode(self, ids: list[int]) -> str:
        """Text of ``ids``; special tokens are dropped."""
        return "".join(self.chars[i - 3] for i in ids if i >= 3)

    def batch_encode(
        self, texts: list[str], device: torch.device | str = "cpu"
    ) -> tuple[Tensor, Tensor]:
        """Left-padded ``n x P`` ids and ``n x P`` bool mask (``<bos>`` first on every row)."""
        rows = [[self.bos_id, *self.encode(t)] for t in texts]
        width = max(len(r) for r in rows)
        ids = torch.full((len(rows), width), self.pad_id, dtype=torch.long)
        for i, r in enumerate(rows):
            ids[i, width - len(r) :] = torch.tensor(r)
        return ids.to(device), (ids != self.pad_id).to(device)
