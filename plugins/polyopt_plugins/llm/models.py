"""Building the policy a trainer config names: the builtin tiny GPT or a Hugging Face model from a local path."""

from __future__ import annotations

import torch

from polyopt.errors import ConfigError
from polyopt_plugins.llm.policy import Policy
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
