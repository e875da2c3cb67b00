"""Any MO-Gymnasium environment id through the Environment contract, vectorized (``mo-gymnasium``).

``make("environment", "mo-gymnasium", env_id="minecart-v0", num_envs=8)`` steps eight copies through
Gymnasium's vector API (``vectorization="async"`` puts each in its own process) and returns vector rewards
as ``num_envs x reward_dim`` tensors; ``pareto_front(gamma)`` is the environment's own where it declares one.
mo-gymnasium is imported when the environment is made; install it with ``pip install mo-gymnasium``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from polyopt.environment import GymnasiumEnv
from polyopt.errors import ConfigError

__all__ = ["MOGymnasiumEnv"]


def _mo_gymnasium() -> Any:
    try:
        import mo_gymnasium
    except ImportError as exc:
        raise ConfigError(
            "the mo-gymnasium environment needs mo-gymnasium; install it with: pip install mo-gymnasium"
        ) from exc
    return mo_gymnasium


class MOGymnasiumEnv(GymnasiumEnv):
    """An MO-Gymnasium environment by id.

    Args:
        env_id: the MO-Gymnasium id, e.g. ``"deep-sea-treasure-v0"``, ``"minecart-v0"``.
        num_envs: copies stepped together.
        device: where observations and rewards are placed.
        vectorization: ``"sync"`` (in-process) or ``"async"`` (one subprocess each).
        **kwargs: passed to ``mo_gymnasium.make``.
    """

    def __init__(
        self,
        env_id: str = "deep-sea-treasure-v0",
        num_envs: int = 1,
        *,
        device: torch.device | str = "cpu",
        vectorization: str = "sync",
        **kwargs: Any,
    ) -> None:
        mo_gym = _mo_gymnasium()
        try:
            mo_gym.make(env_id, **kwargs).close()  # an unknown id fails here, with gymnasium's hint
        except Exception as exc:
            raise ConfigError(f"env_id={env_id!r}: {exc}") from exc
        self._make_args = (env_id, kwargs)
        self._vectorization = vectorization
        super().__init__(
            lambda: mo_gym.make(env_id, **kwargs),
            num_envs,
            device=device,
            vectorization=vectorization,
        )
        self.name = env_id

    def spawn(self, num_envs: int) -> MOGymnasiumEnv:
        """The same id and options with ``num_envs`` copies."""
        env_id, kwargs = self._make_args
        return MOGymnasiumEnv(
            env_id, num_envs, device=self.device, vectorization=self._vectorization, **kwargs
        )

    def pareto_front(self, gamma: float = 1.0) -> Tensor | None:
        """The environment's ``pareto_front(gamma)`` (``k x reward_dim``), or None when it declares none."""
        env_id, kwargs = self._make_args
        env = _mo_gymnasium().make(env_id, **kwargs)
        try:
            front = getattr(env.unwrapped, "pareto_front", None)
            if front is None:
                return None
            rows = torch.as_tensor(
                [list(map(float, row)) for row in front(gamma)], dtype=torch.float32
            )
            return rows.to(self.device)
        finally:
            env.close()
