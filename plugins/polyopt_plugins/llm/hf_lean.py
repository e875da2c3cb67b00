"""Lean forward passes for Llama-style Hugging Face models: the layers called directly, a static KV cache.

``model(...)`` per generated token rebuilds the causal mask, grows a ``DynamicCache`` by concatenation and walks
the generic output plumbing; at a few hundred thousand parameters that overhead is most of the decode time. Here
the prompt runs once through the model's own forward (its cache is copied into preallocated ``n x H_kv x (P +
max_new) x d_head`` tensors), and every later token calls the same modules — embeddings, norms, projections,
rotary embedding, MLP, head — with the keys and values written in place and one ``scaled_dot_product_attention``
per layer. The weights and numerics are the model's (greedy outputs equal the generic path; tested), so LoRA
adapters wrapped by peft are used as they are. Architectures whose attention differs (extra norms, sliding
windows, biases on the output) fall back to the generic path: :func:`supports_lean` decides.

:func:`lean_hidden` is the same idea for a whole-sequence forward (one boolean causal-and-padding mask instead of
the model's mask machinery), and :func:`lean_completion_hidden` the forward of scoring and the update: each
distinct prompt runs once and its keys and values are shared by the completions of its group, so a batch of 16
prompts x 8 completions computes the prompt tokens 16 times instead of 128. Both are differentiable like the
model's own forward.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from polyopt_plugins.llm.policy import causal_allowed, distinct_prompts, positions

__all__ = [
    "LeanCache",
    "lean_completion_hidden",
    "lean_decode",
    "lean_hidden",
    "lean_prefill",
    "returned_cache",
    "supports_lean",
]

#: model types whose decoder layer is exactly norm -> rotary attention -> residual -> norm -> MLP -> residual
LEAN_TYPES = ("llama", "mistral", "qwen2")
#: transformers (major, minor) series whose internals this module reads (the cache's ``layers``, the decoder's
#: ``rotary_emb``, attention projections, ``apply_rotary_pos_emb``); under any other the generic path runs
TESTED_TRANSFORMERS = ((5, 24), (5, 25))


def _tested_transformers() -> bool:
    from importlib.metadata import version

    major, minor = version("transformers").split(".")[:2]
    return (int(major), int("".join(c for c in minor if c.isdigit()) or 0)) in TESTED_TRANSFORMERS


@dataclass
class LeanCache:
    """Static cache of a lean decode.

    Attributes:
        keys: per layer ``n x H_kv x S x d_head`` (``S = P + max_new``), filled up to the current position.
        values: same shapes as ``keys``.
        allowed: ``n x 1 x 1 x S`` bool, which cached positions a new token may attend to (not left padding).
        next_pos: ``n`` position id of the next token.
        prompt_len: ``P``.
    """

    keys: list[Tensor]
    values: list[Tensor]
    allowed: Tensor
    next_pos: Tensor
    prompt_len: int


def returned_cache(out: Any) -> Any:
    """The KV cache in a model's output: ``out.cache`` (transformers >= 5.x, where ``past_key_values`` is
    deprecated and goes in 5.40) or ``out.past_key_values`` (earlier versions)."""
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def supports_lean(decoder: Any) -> bool:
    """Whether ``decoder`` (a ``*Model`` under ``*ForCausalLM``) can use the lean decode step."""
    cfg = decoder.config
    if (
        not _tested_transformers()
        or cfg.model_type not in LEAN_TYPES
        or (getattr(cfg, "sliding_window", None) and getattr(cfg, "use_sliding_window", True))
    ):
        return False
    attn = decoder.layers[0].self_attn
    return all(
        hasattr(attn, a) for a in ("q_proj", "k_proj", "v_proj", "o_proj", "scaling", "head_dim")
    ) and not hasattr(attn, "q_norm")


def lean_prefill(
    model: Any, ids: Tensor, mask: Tensor, max_new_tokens: int
) -> tuple[Tensor, LeanCache]:
    """Run the prompt (``n x P``, left-padded) through ``model`` once; return ``n x V`` logits and the cache."""
    n, p = ids.shape
    out = model(
        input_ids=ids,
        attention_mask=mask.long(),
        position_ids=positions(mask),
        use_cache=True,
        logits_to_keep=1,
    )
    layers = returned_cache(out).layers

    def grow(t: Tensor) -> Tensor:  # (n, H_kv, P, d) -> (n, H_kv, P + max_new, d)
        return torch.cat([t, t.new_zeros(*t.shape[:2], max_new_tokens, t.shape[3])], dim=2)

    allowed = torch.cat([mask, mask.new_ones(n, max_new_tokens)], dim=1).view(n, 1, 1, -1)
    cache = LeanCache(
        [grow(layer.keys) for layer in layers],
        [grow(layer.values) for layer in layers],
        allowed,
        mask.long().sum(-1),
        p,
    )
    return out.logits[:, -1], cache


def lean_decode(decoder: Any, head: Any, token: Tensor, cache: LeanCache, t: int) -> Tensor:
    """Append ``token`` (``n``) at generated position ``t``; return its ``n x V`` logits (cache updated)."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    n, at = token.shape[0], cache.prompt_len + t
    x = decoder.embed_tokens(token.unsqueeze(1))  # (n, 1, d)
    cos, sin = decoder.rotary_emb(x, cache.next_pos.unsqueeze(1))
    allowed = cache.allowed[..., : at + 1]
    for i, layer in enumerate(decoder.layers):
        attn = layer.self_attn
        h = layer.input_layernorm(x)
        q, k, v = (
            proj(h).view(n, 1, -1, attn.head_dim).transpose(1, 2)
            for proj in (attn.q_proj, attn.k_proj, attn.v_proj)
        )  # each (n, H, 1, d_head)
        q, k = apply_rotary_pos_emb(q, k, cos, sin)
        cache.keys[i][:, :, at : at + 1] = k
        cache.values[i][:, :, at : at + 1] = v
        o = F.scaled_dot_product_attention(
            q,
            cache.keys[i][:, :, : at + 1],
            cache.values[i][:, :, : at + 1],
            attn_mask=allowed,
            scale=attn.scaling,
            enable_gqa=q.shape[1] != k.shape[1],
        )
        x = x + attn.o_proj(o.transpose(1, 2).reshape(n, 1, -1))
        x = x + layer.mlp(layer.post_attention_layernorm(x))
    cache.next_pos = cache.next_pos + 1
    return head(decoder.norm(x)[:, 0])


def _layer(
    layer: Any,
    x: Tensor,
    cos: Tensor,
    sin: Tensor,
    allowed: Tensor,
    past: tuple[Tensor, Tensor] | None = None,
) -> tuple[Tensor, Tensor, Tensor]:
    """One decoder layer on ``x`` (``n x T x d``), its tokens attending to ``past`` keys and values (``n x H_kv x
    S x d_head``, prepended) and to each other under ``allowed`` (``n x 1 x T x (S + T)``); returns the new
    ``x`` and the layer's keys and values of ``x``'s tokens."""
    from transformers.models.llama.modeling_llama import apply_rotary_pos_emb

    attn = layer.self_attn
    n, length = x.shape[:2]
    h = layer.input_layernorm(x)
    q, k, v = (
        proj(h).view(n, length, -1, attn.head_dim).transpose(1, 2)
        for proj in (attn.q_proj, attn.k_proj, attn.v_proj)
    )  # each (n, H, T, d_head)
    q, k = apply_rotary_pos_emb(q, k, cos, sin)
    keys, values = (
        (k, v) if past is None else (torch.cat([past[0], k], 2), torch.cat([past[1], v], 2))
    )
    o = F.scaled_dot_product_attention(
        q,
        keys,
        values,
        attn_mask=allowed,
        scale=attn.scaling,
        dropout_p=attn.attention_dropout if attn.training else 0.0,
        enable_gqa=q.shape[1] != k.shape[1],
    )
    x = x + attn.o_proj(o.transpose(1, 2).reshape(n, length, -1))
    return x + layer.mlp(layer.post_attention_layernorm(x)), k, v


def lean_hidden(decoder: Any, ids: Tensor, mask: Tensor) -> Tensor:
    """``n x T x d`` last hidden states of ``ids`` (``n x T``, left-padded, bool ``mask``), as the decoder's own
    forward computes them at every real position."""
    x = decoder.embed_tokens(ids)
    cos, sin = decoder.rotary_emb(x, positions(mask))
    allowed = causal_allowed(mask).unsqueeze(1)
    for layer in decoder.layers:
        x = _layer(layer, x, cos, sin, allowed)[0]
    return decoder.norm(x)


def lean_completion_hidden(
    decoder: Any, prompt: Tensor, prompt_mask: Tensor, completion: Tensor, completion_mask: Tensor
) -> Tensor:
    """``n x L x d`` hidden states predicting each completion token, each distinct prompt run once.

    The completions of a GRPO group share one prompt: the prompt rows are deduplicated, run through the layers
    once, and their keys and values (and the last prompt position's hidden state) are gathered back to every
    completion, which then runs over its own tokens only. Equal to one forward over the concatenation at every
    real position, gradients included (the gather's backward sums the completions' contributions to a prompt).
    """
    first, inverse = distinct_prompts(prompt, prompt_mask)
    ids_u, mask_u = prompt[first], prompt_mask[first]
    x = decoder.embed_tokens(ids_u)
    cos, sin = decoder.rotary_emb(x, positions(mask_u))
    allowed = causal_allowed(mask_u).unsqueeze(1)
    past = []
    for layer in decoder.layers:
        x, k, v = _layer(layer, x, cos, sin, allowed)
        past.append((k[inverse], v[inverse]))
    last = decoder.norm(x[:, -1:])[
        inverse
    ]  # (n, 1, d): the last prompt position predicts completion token 0
    if completion.shape[1] == 1:
        return last
    tokens, mask = (
        completion[:, :-1],
        completion_mask[:, :-1],
    )  # the last token predicts nothing asked for
    y = decoder.embed_tokens(tokens)
    at = prompt_mask.long().sum(-1, keepdim=True) + torch.arange(
        tokens.shape[1], device=prompt.device
    )
    cos, sin = decoder.rotary_emb(y, at)
    own = causal_allowed(mask).unsqueeze(1)
    allowed = torch.cat(
        [prompt_mask[:, None, None, :].expand(-1, 1, tokens.shape[1], -1), own], dim=-1
    )
    for layer, kv in zip(decoder.layers, past, strict=True):
        y = _layer(layer, y, cos, sin, allowed, kv)[0]
    return torch.cat([last, decoder.norm(y)], dim=1)
