"""Building the policy a trainer config names: the builtin tiny GPT or a Hugging Face model from a local path."""

from __future__ import annotations

from typing import Any

import torch

from polyopt.errors import ConfigError
from polyopt_plugins.llm.policy import Policy
from polyopt_plugins.llm.sft import sft
from polyopt_plugins.llm.tiny import TinyConfig, TinyGPT
from polyopt_plugins.llm.tokenizer import CharTokenizer

__all__ = ["build_policy"]


def build_policy(
    model: str,
    *,
    n_layer: int,
    n_head: int,
    d_model: int,
    init_from: str,
    lora_rank: int,
    device: torch.device,
) -> Policy:
    """``"tiny"`` builds :class:`TinyGPT` (weights from ``init_from``, a ``torch.save``'d state dict, if
    given); anything else is a local directory holding a Hugging Face causal LM and its tokenizer."""
    if model == "tiny":
        policy: Policy = TinyGPT(
            TinyConfig(n_layer=n_layer, n_head=n_head, d_model=d_model), CharTokenizer()
        )
        if init_from:
            policy.load_state_dict(torch.load(init_from, map_location="cpu", weights_only=True))
        if lora_rank:
            raise ConfigError(
                f"lora_rank={lora_rank} needs a Hugging Face model; the tiny model trains fully"
            )
        return policy.to(device)
    if init_from:
        raise ConfigError(
            f"init_from={init_from!r} is for the tiny model; a Hugging Face model loads its weights "
            f"from its directory {model!r}"
        )
    from polyopt_plugins.llm.hf import HFPolicy

    return HFPolicy.from_pretrained(model, lora_rank=lora_rank).to(device)


def warm_policy(
    cfg: Any, problem: Any, *, lora_rank: int, device: torch.device, generator: torch.Generator
) -> Policy:
    """The policy a trainer's config asks for (``model``, ``n_layer``, ``n_head``, ``d_model``,
    ``init_from``), warm-started by ``sft_steps`` supervised steps on the task at ``sft_lr``. Callers seed
    torch's RNG first (inside ``fork_rng``) so the initial weights follow the run seed."""
    policy = build_policy(
        cfg.model,
        n_layer=cfg.n_layer,
        n_head=cfg.n_head,
        d_model=cfg.d_model,
        init_from=cfg.init_from,
        lora_rank=lora_rank,
        device=device,
    )
    if cfg.sft_steps:
        sft(policy, problem, steps=cfg.sft_steps, lr=cfg.sft_lr, generator=generator)
    return policy
