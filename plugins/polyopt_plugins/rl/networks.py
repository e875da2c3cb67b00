"""Actor-critic networks over flat observations, with the action distribution an action space implies.

- ``Integer`` action spaces (Gymnasium's ``Discrete``/``MultiDiscrete``) get one categorical per dimension,
  its logits a slice of the actor's output.
- ``Box`` action spaces get a diagonal Gaussian with a state-independent log standard deviation (as in PPO's
  MuJoCo setup); samples are clipped to the box only when sent to the environment, log-probabilities are those
  of the unclipped sample.

Sampling draws from a ``torch.Generator`` the caller passes (never torch's global RNG). Weights are initialized
orthogonally as in the PPO implementation details (Huang et al. 2022): hidden layers with gain ``sqrt(2)``, the
policy head with 0.01 (a near-uniform first policy), the value head with 1.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

import torch
from torch import Tensor, nn

from polyopt.errors import ConfigError
from polyopt.spaces import Box, Integer, Space

__all__ = ["ActorCritic", "action_layout"]

_ACTIVATIONS = {"tanh": nn.Tanh, "relu": nn.ReLU}


def action_layout(space: Space) -> tuple[str, list[int]]:
    """``("categorical", [n_1, ..., n_k])`` for an Integer space (choices per dimension, each from its lower
    bound) or ``("gaussian", [d])`` for a Box; anything else raises ConfigError."""
    if isinstance(space, Integer):
        low, high = space.bounds
        return "categorical", [int(h - lo) + 1 for lo, h in zip(low.tolist(), high.tolist())]
    if isinstance(space, Box):
        return "gaussian", [space.dim]
    raise ConfigError(
        f"action space {space!r}; the actor-critic trainer handles Integer (discrete) and Box (continuous) "
        "action spaces"
    )


def _mlp(sizes: Sequence[int], activation: str, out: int, gain: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for a, b in itertools.pairwise(sizes):
        layers += [_layer(a, b, math.sqrt(2)), _ACTIVATIONS[activation]()]
    layers.append(_layer(sizes[-1], out, gain))
    return nn.Sequential(*layers)


def _layer(n_in: int, n_out: int, gain: float) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class ActorCritic(nn.Module):
    """A policy ``pi(a | s)`` and a critic ``V(s)`` (one value per reward component), as separate MLPs.

    Args:
        obs_dim: length of a flattened observation.
        action_space: the environment's action space (see :func:`action_layout`).
        reward_dim: outputs of the critic (a vector critic for vector rewards).
        hidden_sizes: widths of the hidden layers of both networks.
        activation: ``"tanh"`` or ``"relu"``.
    """

    low: Tensor
    high: Tensor

    def __init__(
        self,
        obs_dim: int,
        action_space: Space,
        reward_dim: int = 1,
        hidden_sizes: Sequence[int] = (64, 64),
        activation: str = "tanh",
    ) -> None:
        super().__init__()
        if activation not in _ACTIVATIONS:
            raise ConfigError(f"activation={activation!r}; expected one of {sorted(_ACTIVATIONS)}")
        if not hidden_sizes or any(int(h) < 1 for h in hidden_sizes):
            raise ConfigError(
                f"hidden_sizes={list(hidden_sizes)}; expected one or more positive widths"
            )
        self.kind, self.sizes = action_layout(action_space)
        low, high = action_space.bounds.to(torch.float32)
        self.register_buffer("low", low)  # the action space's bounds: offsets and clipping
        self.register_buffer("high", high)
        sizes = [obs_dim, *(int(h) for h in hidden_sizes)]
        self.actor = _mlp(sizes, activation, sum(self.sizes), 0.01)
        self.critic = _mlp(sizes, activation, reward_dim, 1.0)
        self.log_std = nn.Parameter(torch.zeros(self.sizes[0])) if self.kind == "gaussian" else None

    def row_log_std(self, n: int) -> Tensor:
        """The Gaussian's log standard deviations for ``n`` rows: ``action_dim`` values shared by every row
        (a population of policies returns one row per observation, ``n x action_dim``)."""
        assert self.log_std is not None
        return self.log_std

    def value(self, obs: Tensor) -> Tensor:
        """``n x reward_dim`` values of ``n x obs_dim`` observations."""
        return self.critic(obs)

    def sample(self, obs: Tensor, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        """Draw actions for ``n x obs_dim`` observations: ``(actions n x k, log-probabilities n)``; categorical
        actions are offset by the space's lower bounds."""
        out = self.actor(obs)
        if self.kind == "gaussian":
            log_std = self.row_log_std(out.shape[0])
            noise = torch.randn(out.shape, generator=generator, device=out.device, dtype=out.dtype)
            action = out + log_std.exp() * noise
            return action, _gaussian_logp(action, out, log_std)
        if len(self.sizes) == 1:  # one categorical: the common case, without splitting and joining
            logp_all = out.log_softmax(-1)
            pick = torch.multinomial(logp_all.exp(), 1, generator=generator)  # n x 1
            return pick.to(out.dtype) + self.low, logp_all.gather(-1, pick).squeeze(-1)
        picks, logps = [], []
        for logits in out.split(self.sizes, dim=-1):
            logp_all = logits.log_softmax(-1)
            pick = torch.multinomial(logp_all.exp(), 1, generator=generator)  # n x 1
            picks.append(pick)
            logps.append(logp_all.gather(-1, pick))
        index = torch.cat(picks, dim=-1)
        return index.to(out.dtype) + self.low, torch.cat(logps, dim=-1).sum(-1)

    def evaluate(self, obs: Tensor, action: Tensor) -> tuple[Tensor, Tensor]:
        """``(log-probabilities n, entropies n)`` of ``n x k`` actions under the current policy."""
        out = self.actor(obs)
        if self.kind == "gaussian":
            log_std = self.row_log_std(out.shape[0])
            entropy = (0.5 + 0.5 * math.log(2 * math.pi) + log_std).sum(-1).expand(out.shape[0])
            return _gaussian_logp(action, out, log_std), entropy
        index = (action - self.low).long()
        logp = torch.zeros(out.shape[0], dtype=out.dtype, device=out.device)
        entropy = torch.zeros_like(logp)
        for j, logits in enumerate(out.split(self.sizes, dim=-1)):
            logp_all = logits.log_softmax(-1)
            logp = logp + logp_all.gather(-1, index[:, j : j + 1]).squeeze(-1)
            entropy = entropy - (logp_all.exp() * logp_all).sum(-1)
        return logp, entropy

    def act(self, obs: Tensor) -> Tensor:
        """The most likely action (``n x k``): the mode of each categorical, the Gaussian's mean."""
        out = self.actor(obs)
        if self.kind == "gaussian":
            return out
        modes = [logits.argmax(-1, keepdim=True) for logits in out.split(self.sizes, dim=-1)]
        return torch.cat(modes, dim=-1).to(out.dtype) + self.low

    def to_env(self, action: Tensor) -> Tensor:
        """Actions as the environment takes them: Gaussian samples clipped to the box."""
        if self.kind == "gaussian":
            return torch.maximum(torch.minimum(action, self.high), self.low)
        return action


def _gaussian_logp(action: Tensor, mean: Tensor, log_std: Tensor) -> Tensor:
    z = (action - mean) / log_std.exp()
    return (-0.5 * z.square() - log_std - 0.5 * math.log(2 * math.pi)).sum(-1)
