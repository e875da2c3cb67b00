"""Environments: batched, torch-native sequential problems for RL agents and trainers.

An :class:`Environment` steps ``num_envs`` copies at once. Observations and actions are tensors on the
environment's device; rewards are ``num_envs x reward_dim`` (several objectives for multi-objective RL).
Sub-environments that end are reset automatically on the next ``step``, as Gymnasium's vector environments do
with next-step autoreset: the step that ends an episode returns its final observation; the following step of
that sub-environment ignores its action and returns the reset observation with zero reward, marked in
``info["autoreset"]`` (``num_envs`` bool).

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

    def spawn(self, num_envs: int) -> Environment:
        """A new environment like this one with ``num_envs`` sub-environments (evaluators batch many
        preferences or episodes this way); environments that cannot raise NotImplementedError."""
        raise NotImplementedError(f"{type(self).__name__} cannot make copies with another num_envs")

    def state_dict(self) -> dict[str, Any] | None:
        """The mutable state (tensors, numbers, a generator's state), so that a trainer's checkpoint continues
        the environment exactly; None (the default) when it cannot be saved, and a resumed trainer resets it."""
        return None

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`state_dict` returned."""
        raise NotImplementedError(f"{type(self).__name__} cannot restore a saved state")

    def pareto_front(self, gamma: float = 1.0) -> Tensor | None:
        """The known Pareto front of return vectors (``k x reward_dim``) discounted by ``gamma`` (1:
        undiscounted), or None when unknown."""
        return None

    def __enter__(self) -> Environment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _space_from_gym(space: Any) -> Space:
    import gymnasium as gym

    if isinstance(space, gym.spaces.Box):
        low, high = (
            np.asarray(space.low, dtype=np.float64),
            np.asarray(space.high, dtype=np.float64),
        )
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
    raise ConfigError(
        f"Gymnasium space {space!r} has no polyopt equivalent; expected Box, Discrete, "
        "MultiDiscrete or MultiBinary"
    )


def _reward_space(vector_env: Any, factory: Callable[[], Any]) -> Any:
    """The sub-environments' ``reward_space`` (MO-Gymnasium declares one on the unwrapped env), or None.

    Gymnasium 1.x wrappers no longer forward attributes, so the space is looked up through the wrapper chain of
    the first sub-environment; with async vectorization (sub-environments in other processes, where a failed
    lookup would close them) a probe environment is made here and closed.
    """
    envs = getattr(vector_env, "envs", None)
    env = envs[0] if envs else factory()
    try:
        return env.get_wrapper_attr("reward_space")
    except AttributeError:
        return None
    finally:
        if not envs:
            env.close()


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

    def __init__(
        self,
        env: str | Callable[[], Any],
        num_envs: int = 1,
        *,
        device: torch.device | str = "cpu",
        vectorization: str = "sync",
        **kwargs: Any,
    ) -> None:
        import gymnasium as gym

        if num_envs < 1:
            raise ConfigError(f"num_envs={num_envs}; expected at least 1")
        factory = (lambda: gym.make(env, **kwargs)) if isinstance(env, str) else env
        self._spawn_args = (factory, vectorization)
        vector_cls = {"sync": gym.vector.SyncVectorEnv, "async": gym.vector.AsyncVectorEnv}.get(
            vectorization
        )
        if vector_cls is None:
            raise ConfigError(f"vectorization={vectorization!r}; expected 'sync' or 'async'")
        self._env = vector_cls([factory for _ in range(num_envs)])
        self.num_envs, self.device = num_envs, torch.device(device)
        self.name = env if isinstance(env, str) else getattr(env, "__name__", "gymnasium-env")
        self.observation_space = _space_from_gym(self._env.single_observation_space)
        self.action_space = _space_from_gym(self._env.single_action_space)
        reward_space = _reward_space(self._env, factory)
        self.reward_dim = int(np.prod(reward_space.shape)) if reward_space is not None else 1
        if self.reward_dim > 1 and isinstance(self._env, gym.vector.SyncVectorEnv):
            # Gymnasium's sync vector env stores one scalar reward per sub-env; make room for vectors
            self._env._rewards = np.zeros((num_envs, self.reward_dim), dtype=np.float64)
        self._discrete = isinstance(
            self._env.single_action_space, (gym.spaces.Discrete, gym.spaces.MultiDiscrete)
        )
        self._autoreset = torch.zeros(num_envs, dtype=torch.bool, device=self.device)

    def spawn(self, num_envs: int) -> GymnasiumEnv:
        """The same environment with ``num_envs`` copies."""
        factory, vectorization = self._spawn_args
        copy = GymnasiumEnv(factory, num_envs, device=self.device, vectorization=vectorization)
        copy.name = self.name
        return copy

    def _tensor(self, value: Any, dtype: torch.dtype = torch.float32) -> Tensor:
        return torch.as_tensor(np.asarray(value), dtype=dtype, device=self.device)

    def reset(self, seed: int | None = None) -> Tensor:
        obs, _ = self._env.reset(seed=seed)
        self._autoreset = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
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
        step = Step(
            obs=self._tensor(obs),
            reward=reward,
            terminated=self._tensor(terminated, torch.bool),
            truncated=self._tensor(truncated, torch.bool),
            info=self._info(info),
        )
        step.info["autoreset"], self._autoreset = self._autoreset, step.done
        return step

    def _info(self, info: dict[str, Any]) -> dict[str, Any]:
        """Numeric arrays batched over sub-environments become tensors on the device (nested dicts too)."""
        out: dict[str, Any] = {}
        for key, value in info.items():
            if isinstance(value, dict):
                out[key] = self._info(value)
            elif isinstance(value, np.ndarray) and value.dtype.kind in "biuf":
                out[key] = torch.as_tensor(value, device=self.device)
            else:
                out[key] = value
        return out

    def close(self) -> None:
        self._env.close()
