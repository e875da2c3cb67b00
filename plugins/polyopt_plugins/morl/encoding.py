"""How a preference-conditioned network sees integer observations: as they are (``raw``) or one-hot.

A raw integer observation such as Fruit Tree's ``(row, position in row)`` reaches the network as two numbers,
so states that are far apart in the tree (positions 31 and 32) are neighbours in its input and a ReLU network
has to carve 64 leaves out of one axis. ``one_hot`` gives every value of every integer dimension its own input
(``sum_j (high_j - low_j + 1)`` inputs): each state has its own code, as a table would, while the network
still shares what it learns across preferences. The encoder sits inside the network (:class:`EncodedQ`), so
the replay buffer and every caller keep passing raw observations.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from polyopt.errors import ConfigError
from polyopt.spaces import Integer, Space

__all__ = ["ENCODINGS", "EncodedQ", "OneHotObservation", "observation_encoder"]

#: The accepted ``observation_encoding`` values.
ENCODINGS = ("raw", "one_hot")

#: The largest one-hot code :func:`observation_encoder` builds (inputs of the first layer).
MAX_ONE_HOT = 65_536


class OneHotObservation(nn.Module):
    """``n x d`` integer-valued observations -> ``n x sum(sizes)`` one-hot blocks, one per dimension (values
    outside ``[low, high]`` are clamped into it)."""

    low: Tensor
    high: Tensor

    def __init__(self, low: list[int], high: list[int]) -> None:
        super().__init__()
        if len(low) != len(high) or any(h < lo for lo, h in zip(low, high, strict=True)):
            raise ConfigError(
                f"one-hot bounds low={low}, high={high}: expected high >= low per dimension"
            )
        self.register_buffer("low", torch.tensor(low, dtype=torch.long))
        self.register_buffer("high", torch.tensor(high, dtype=torch.long))
        self.sizes = [h - lo + 1 for lo, h in zip(low, high, strict=True)]
        self.out_dim = sum(self.sizes)

    def forward(self, obs: Tensor) -> Tensor:
        index = torch.minimum(torch.maximum(obs.round().long(), self.low), self.high) - self.low
        blocks = [F.one_hot(index[:, j], size) for j, size in enumerate(self.sizes)]
        return torch.cat(blocks, dim=1).to(obs.dtype)


class EncodedQ(nn.Module):
    """``net(encoder(obs), w)``: a preference-conditioned network behind an observation encoder; keeps the
    wrapped network's ``n_actions`` and ``m``."""

    def __init__(self, encoder: nn.Module, net: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.net = net
        self.n_actions = getattr(net, "n_actions", None)
        self.m = getattr(net, "m", None)

    def forward(self, obs: Tensor, w: Tensor) -> Tensor:
        return self.net(self.encoder(obs), w)


def observation_encoder(encoding: str, space: Space) -> OneHotObservation | None:
    """The encoder ``encoding`` names for observations of ``space`` (None for ``raw``); ConfigError for an
    unknown name, a non-integer space, or a one-hot code above :data:`MAX_ONE_HOT` inputs."""
    if encoding not in ENCODINGS:
        raise ConfigError(f"observation_encoding={encoding!r}; expected one of {list(ENCODINGS)}")
    if encoding == "raw":
        return None
    if not isinstance(space, Integer):
        raise ConfigError(
            f"observation_encoding='one_hot' needs an Integer observation space, got {space!r}"
        )
    low, high = (row.long().tolist() for row in space.bounds)
    size = sum(h - lo + 1 for lo, h in zip(low, high, strict=True))
    if size > MAX_ONE_HOT:
        raise ConfigError(
            f"observation_encoding='one_hot' would need {size} inputs for {space!r}; expected at most "
            f"{MAX_ONE_HOT} (use 'raw')"
        )
    return OneHotObservation(low, high)
