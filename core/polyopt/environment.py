"""Environments: batched, torch-native sequential problems for RL agents and trainers.

An :class:`Environment` steps ``num_envs`` copies at once. Observations and actions are tensors on the
environment's device; rewards are ``num_envs x reward_dim`` (several objectives for multi-objective RL).
Sub-environments that end are reset automatically on the next ``step`` (their final observation is in
``info["final_obs"]``), as Gymnasium's vector environments do with next-step autoreset.

:class:`GymnasiumEnv` adapts any Gymnasium or MO-Gymnasium environment (by id or constructor) through
Gymnasium's vector API; gymnasium is imported only when it is used.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from polyopt.errors import ConfigError
from polyopt.spaces import Box, Integer, Space

__all__ = ["Environment", "Step", "GymnasiumEnv"]


@dataclass
class Step:
    """What ``Environment.step`` returns.

    Attributes:
        obs: ``num_envs x ...`` next observations.
        reward: ``num_envs x reward_dim`` rewards.
        terminated: ``num_envs`` bool, the episode reached a terminal state.
        truncated: ``num_envs`` bool, the episode was cut (time limit).
        info: extra data, tensors batched over environments where possible.
    """

    obs: Tensor
    reward: Tensor
    terminated: Tensor
    truncated: Tensor
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def done(self) -> Tensor:
        """``num_envs`` bool: terminated or truncated."""
        return self.terminated | self.truncated


class Environment(ABC):
    """A batch of ``num_envs`` environments.

    Subclasses set ``num_envs``, ``observation_space``, ``action_space``, ``reward_dim`` and ``device``, and
    implement :meth:`reset` and :meth:`step`. Optional: ``reward_directions`` (default all maximize, as in RL).
    """

    num_envs: int
    observation_space: Space
    action_space: Space
    reward_dim: int = 1
    device: torch.device = torch.device("cpu")
    name: str = ""

    @abstractmethod
    def reset(self, seed: int | None = None) -> Tensor:
        """Reset every sub-environment; return ``num_envs x ...`` observations. A seed makes it reproducible."""

    @abstractmethod
    def step(self, action: Tensor) -> Step:
        """Apply ``action`` (``num_envs x ...``) and return the :class:`Step`."""

    def close(self) -> None:
        """Release resources."""

    def __enter__(self) -> Environment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _space_from_gym(space: Any) -> Space:
    import gymnasium as gym

    if isinstance(space, gym.spaces.Box):
        low, high = np.asarray(space.low, dtype=np.float64), np.asarray(space.high, dtype=np.float64)
        low = np.where(np.isfinite(low), low, np.finfo(np.float32).min)
        high = np.where(np.isfinite(high), high, np.finfo(np.float32).max)
        return Box(low.flatten().tolist(), high.flatten().tolist())
    if isinstance(space, gym.spaces.Discrete):
        return Integer(int(space.start), int(space.start + space.n - 1))
    if isinstance(space, gym.spaces.MultiDiscrete):
        nvec = np.asarray(space.nvec).flatten()
        return Integer([0] * len(nvec), (nvec - 1).tolist())
    if isinstance(space, gym.spaces.MultiBinary):
        from polyopt.spaces import Binary

        return Binary(int(np.prod(space.shape)))
    raise ConfigError(f"Gymnasium space {space!r} has no polyopt equivalent; expected Box, Discrete, "
                      "MultiDiscrete or MultiBinary")


class GymnasiumEnv(Environment):
    """Any Gymnasium (or MO-Gymnasium) environment, vectorized, with tensors in and out.

    Args:
        env: an environment id (``"CartPole-v1"``) or a zero-argument constructor.
        num_envs: how many copies to step together.
        device: where observations and rewards are placed.
        vectorization: ``"sync"`` (in-process) or ``"async"`` (one subprocess each).
        **kwargs: passed to ``gymnasium.make`` when ``env`` is an id.

    Multi-objective environments (MO-Gymnasium) return vector rewards; ``reward_dim`` is read from the reward
    space when the environment declares one.
    """

    def __init__(self, env: str | Callable[[], Any], num_envs: int = 1, *, device: torch.device | str = "cpu",
                 vectorization: str = "sync", **kwargs: Any) -> None:
        import gymnasium as gym

        if num_envs < 1:
            raise ConfigError(f"num_envs={num_envs}; expected at least 1")
        factory = (lambda: gym.make(env, **kwargs)) if isinstance(env, str) else env
        vector_cls = {"sync": gym.vector.SyncVectorEnv, "async": gym.vector.AsyncVectorEnv}.get(vectorization)
        if vector_cls is None:
            raise ConfigError(f"vectorization={vectorization!r}; expected 'sync' or 'async'")
        self._env = vector_cls([factory for _ in range(num_envs)])
        self.num_envs, self.device = num_envs, torch.device(device)
        self.name = env if isinstance(env, str) else getattr(env, "__name__", "gymnasium-env")
        self.observation_space = _space_from_gym(self._env.single_observation_space)
        self.action_space = _space_from_gym(self._env.single_action_space)
        reward_space = getattr(self._env, "reward_space", None) or getattr(
            self._env.unwrapped if hasattr(self._env, "unwrapped") else self._env, "reward_space", None)
        self.reward_dim = int(np.prod(reward_space.shape[1:] or reward_space.shape)) if reward_space is not None \
            else 1
        self._discrete = isinstance(self._env.single_action_space, (gym.spaces.Discrete, gym.spaces.MultiDiscrete))

    def _tensor(self, value: Any, dtype: torch.dtype = torch.float32) -> Tensor:
        return torch.as_tensor(np.asarray(value), dtype=dtype, device=self.device)

    def reset(self, seed: int | None = None) -> Tensor:
        obs, _ = self._env.reset(seed=seed)
        if seed is not None:
            self._env.action_space.seed(seed)
        return self._tensor(obs)

    def step(self, action: Tensor) -> Step:
        act = action.detach().cpu().numpy()
        if self._discrete:
            act = act.astype(np.int64).reshape(self._env.action_space.shape)
        obs, reward, terminated, truncated, info = self._env.step(act)
        reward = self._tensor(reward).reshape(self.num_envs, -1)
        if reward.shape[1] != self.reward_dim:
            self.reward_dim = reward.shape[1]
        return Step(obs=self._tensor(obs), reward=reward,
                    terminated=self._tensor(terminated, torch.bool), truncated=self._tensor(truncated, torch.bool),
                    info=dict(info))

    def close(self) -> None:
        self._env.close()
