"""A tiny GPT (nanoGPT-style) with a character tokenizer and a static KV cache, built in code.

Pre-norm blocks (LayerNorm, causal self-attention through ``scaled_dot_product_attention``, GELU MLP), learned
absolute positions counted from each row's first real token, so left padding does not change the result.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from polyopt_plugins.llm.policy import Policy, causal_allowed, distinct_prompts, positions
from polyopt_plugins.llm.tokenizer import CharTokenizer

__all__ = ["TinyConfig", "TinyGPT", "KVCache"]

#: ``(layer, keys, values) -> (keys, values)`` the new tokens of a layer attend to
Extend = Callable[[int, Tensor, Tensor], tuple[Tensor, Tensor]]


@dataclass
class TinyConfig:
    """Sizes of the tiny model."""

    n_layer: int = 2
    """Transformer blocks."""
    n_head: int = 4
    """Attention heads."""
    d_model: int = 64
    """Width."""
    max_len: int = 64
    """Longest prompt + completion."""


@dataclass
class KVCache:
    """Static cache: per layer ``n x H x S x d_head`` keys and values, ``S = prompt + max_new_tokens``."""

    keys: list[Tensor]
    values: list[Tensor]
    key_mask: Tensor
    """``n x S`` bool: which cached positions are real (left padding is not)."""
    next_pos: Tensor
    """``n`` position id of the next token."""
    prompt_len: int


class Attention(nn.Module):
    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.n_head, self.d_head = cfg.n_head, cfg.d_model // cfg.n_head
        self.qkv = nn.Linear(cfg.d_model, 3 * cfg.d_model)
        self.proj = nn.Linear(cfg.d_model, cfg.d_model)

    def split(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        n, t, _ = x.shape
        q, k, v = self.qkv(x).view(n, t, 3, self.n_head, self.d_head).permute(2, 0, 3, 1, 4)
        return q, k, v  # each (n, H, t, d_head)

    def attend(self, q: Tensor, k: Tensor, v: Tensor, allowed: Tensor) -> Tensor:
        out = F.scaled_dot_product_attention(
            q, k, v, attn_mask=allowed.unsqueeze(1)
        )  # (n, H, t, d_head)
        n, _, t, _ = out.shape
        return self.proj(out.transpose(1, 2).reshape(n, t, -1))


class Block(nn.Module):
    def __init__(self, cfg: TinyConfig) -> None:
        super().__init__()
        self.ln1, self.ln2 = nn.LayerNorm(cfg.d_model), nn.LayerNorm(cfg.d_model)
        self.attn = Attention(cfg)
        self.mlp = nn.Sequential(
            nn.Linear(cfg.d_model, 4 * cfg.d_model),
            nn.GELU(),
            nn.Linear(4 * cfg.d_model, cfg.d_model),
        )


class TinyGPT(Policy):
    """The builtin policy: ``TinyGPT(TinyConfig(...), CharTokenizer())``."""

    def __init__(
        self, cfg: TinyConfig | None = None, tokenizer: CharTokenizer | None = None
    ) -> None:
        super().__init__()
        self.cfg = cfg or TinyConfig()
        self.tokenizer = tokenizer or CharTokenizer()
        self.hidden_size = self.cfg.d_model
        if self.cfg.d_model % self.cfg.n_head:
            raise ValueError(
                f"d_model={self.cfg.d_model} is not a multiple of n_head={self.cfg.n_head}"
            )
        self.tok = nn.Embedding(self.tokenizer.vocab_size, self.cfg.d_model)
        self.pos = nn.Embedding(self.cfg.max_len, self.cfg.d_model)
        self.blocks = nn.ModuleList(Block(self.cfg) for _ in range(self.cfg.n_layer))
        self.ln_f = nn.LayerNorm(self.cfg.d_model)
        self.lm_head = nn.Linear(self.cfg.d_model, self.tokenizer.vocab_size, bias=False)
        self.lm_head.weight = self.tok.weight  # weight tying, as in GPT-2
        self.apply(self._init)

    @staticmethod
    def _init(module: nn.Module) -> None:
        # GPT-2's small normal init: unit-variance embeddings tied to the head would give huge initial logits
        if isinstance(module, (nn.Linear, nn.Embedding)):
            nn.init.normal_(module.weight, std=0.02)
        if isinstance(module, nn.Linear) and module.bias is not None:
            nn.init.zeros_(module.bias)

    def _blocks(
        self, x: Tensor, allowed: Tensor, extend: Extend | None = None
    ) -> tuple[Tensor, list[tuple[Tensor, Tensor]]]:
        """Blocks over ``x`` (``n x t x d``) under ``allowed``; ``extend(layer, keys, values)`` returns the keys and
        values the tokens attend to (a cache written in place, a shared prompt's prepended), by default their own.
        Returns the final-norm hidden states and each layer's keys and values of ``x``'s tokens."""
        kv = []
        for i, module in enumerate(self.blocks):
            block = cast(Block, module)
            q, k, v = block.attn.split(block.ln1(x))
            kv.append((k, v))
            if extend is not None:
                k, v = extend(i, k, v)
            x = x + block.attn.attend(q, k, v, allowed)
            x = x + block.mlp(block.ln2(x))
        return self.ln_f(x), kv

    @staticmethod
    def _into_cache(cache: KVCache, at: int, t: int) -> Extend:
        """Write ``t`` tokens' keys and values at ``at`` and attend to everything cached so far."""

        def extend(i: int, k: Tensor, v: Tensor) -> tuple[Tensor, Tensor]:
            cache.keys[i][:, :, at : at + t], cache.values[i][:, :, at : at + t] = k, v
            return cache.keys[i][:, :, : at + t], cache.values[i][:, :, : at + t]

        return extend

    def completion_hidden(
        self, prompt: Tensor, prompt_mask: Tensor, completion: Tensor, completion_mask: Tensor
    ) -> Tensor:
        """Each distinct prompt runs once; the completions of its group attend to its keys and values."""
        first, inverse = distinct_prompts(prompt, prompt_mask)
        mask_u = prompt_mask[first]
        h, kv = self._blocks(
            self.tok(prompt[first]) + self.pos(positions(mask_u)), causal_allowed(mask_u)
        )
        last = h[:, -1:][inverse]  # (n, 1, d): the last prompt position predicts completion token 0
        if completion.shape[1] == 1:
            return last
        tokens, mask = (
            completion[:, :-1],
            completion_mask[:, :-1],
        )  # the last token predicts nothing asked for
        at = prompt_mask.long().sum(-1, keepdim=True) + torch.arange(
            tokens.shape[1], device=prompt.device
        )
        allowed = torch.cat(
            [prompt_mask.unsqueeze(1).expand(-1, tokens.shape[1], -1), causal_allowed(mask)], -1
        )
        shared = [(k[inverse], v[inverse]) for k, v in kv]
        h, _ = self._blocks(
            self.tok(tokens) + self.pos(at),
            allowed,
            lambda i, k, v: (torch.cat([shared[i][0], k], 2), torch.cat([shared[i][1], v], 2)),
        )
        return torch.cat([last, h], dim=1)

    def hidden(self, ids: Tensor, mask: Tensor) -> Tensor:
        return self._blocks(self.tok(ids) + self.pos(positions(mask)), causal_allowed(mask))[0]

    def head(self, hidden: Tensor) -> Tensor:
        return self.lm_head(hidden)

    def prefill(self, ids: Tensor, mask: Tensor, max_new_tokens: int) -> tuple[Tensor, KVCache]:
        n, p = ids.shape
        s = p + max_new_tokens
        shape = (n, self.cfg.n_head, s, self.cfg.d_model // self.cfg.n_head)
        w = self.tok.weight
        cache = KVCache(
            keys=[w.new_zeros(shape) for _ in self.blocks],
            values=[w.new_zeros(shape) for _ in self.blocks],
            key_mask=torch.cat([mask, mask.new_ones(n, max_new_tokens)], dim=1),
            next_pos=mask.long().sum(-1),
            prompt_len=p,
        )
        x = self.tok(ids) + self.pos(positions(mask))
        h, _ = self._blocks(x, causal_allowed(mask), self._into_cache(cache, 0, p))
        return self.head(h[:, -1]), cache

    def decode(self, token: Tensor, cache: KVCache, t: int) -> Tensor:
        at = cache.prompt_len + t
        x = self.tok(token).unsqueeze(1) + self.pos(cache.next_pos).unsqueeze(1)  # (n, 1, d)
        allowed = cache.key_mask[:, : at + 1].unsqueeze(1)  # (n, 1, at+1)
        h, _ = self._blocks(x, allowed, self._into_cache(cache, at, 1))
        cache.next_pos = cache.next_pos + 1
        return self.head(h[:, -1])
