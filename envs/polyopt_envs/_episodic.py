"""The episode bookkeeping every batched torch environment here shares: time limit, next-step auto-reset,
a seeded generator, and saving the state.

Private: the environment modules subclass :class:`EpisodicEnv` and implement the dynamics only. Semantics are
Gymnasium's: ``truncated`` is set when an episode reaches ``max_steps`` (as ``TimeLimit`` does, also on a step
that terminates), and the step after an episode ended resets that sub-environment instead of moving it,
returning its start observation with zero reward, marked in ``info["autoreset"]``.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from typing import Any

import torch
from torch import Tensor

from polyopt.environment import Environment, Step
from polyopt.errors import ConfigError
from polyopt_envs._common import check_int

__all__ = ["EpisodicEnv", "discounted_sum"]


class EpisodicEnv(Environment):
    """Base of the batched environments: subclasses set the spaces and ``reward_dim``, list their state tensors
    in ``_state_names``, and implement :meth:`_restart`, :meth:`_transition` and :meth:`_observe`.

    Args:
        num_envs: number of sub-environments, ``>= 1``.
        device: where observations, rewards and state live.
        max_steps: episode length limit (truncation), ``>= 1``, or None for none.
    """

    #: attribute names of the per-environment state tensors (saved by :meth:`state_dict`)
    _state_names: tuple[str, ...] = ()

    def __init__(self, num_envs: int, device: torch.device | str, max_steps: int | None) -> None:
        self.num_envs = check_int("num_envs", num_envs, 1)
        if max_steps is not None:
            check_int("max_steps", max_steps, 1, "or None for no time limit")
        self.max_steps = max_steps
        self.device = torch.device(device)
        self._generator = torch.Generator(device=self.device)
        self._t = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        self._ended = torch.zeros(num_envs, dtype=torch.bool, device=self.device)

    @abstractmethod
    def _restart(self, mask: Tensor) -> None:
        """Put the sub-environments where ``mask`` (``num_envs`` bool) is True at their start state."""

    @abstractmethod
    def _transition(self, action: Tensor) -> tuple[Tensor, Tensor]:
        """Move every sub-environment by ``action`` (``num_envs`` long); return ``(reward num_envs x
        reward_dim float32, terminated num_envs bool)``. Rows about to be reset are discarded."""

    @abstractmethod
    def _observe(self) -> Tensor:
        """``num_envs x ...`` observations of the current state."""

    def reset(self, seed: int | None = None) -> Tensor:
        """Start every sub-environment; a seed makes the random parts (start states, slips) repeat."""
        if seed is not None:
            self._generator.manual_seed(seed)
        everyone = torch.ones(self.num_envs, dtype=torch.bool, device=self.device)
        self._restart(everyone)
        self._t.zero_()
        self._ended.zero_()
        return self._observe()

    def step(self, action: Tensor) -> Step:
        """Apply ``action`` (``num_envs`` or ``num_envs x 1`` integers) to every sub-environment."""
        action = action.reshape(self.num_envs).to(device=self.device, dtype=torch.long)
        reset = self._ended  # these sub-environments restart instead of moving
        running = ~reset
        reward, terminated = self._transition(action)
        self._restart(reset)
        self._t = (self._t + 1).mul_(running)
        terminated = terminated & running
        no_limit = torch.zeros_like(reset)
        truncated = running & (self._t >= self.max_steps) if self.max_steps else no_limit
        self._ended = terminated | truncated
        obs = self._observe()
        return Step(
            obs=obs,
            reward=reward * running.unsqueeze(1),
            terminated=terminated,
            truncated=truncated,
            info={
                "autoreset": reset,
                "final_obs": obs,
            },  # an ended episode's last observation is obs
        )

    def spawn(self, num_envs: int) -> EpisodicEnv:
        """This environment (same options) with ``num_envs`` sub-environments; call ``reset`` before stepping."""
        other = copy.deepcopy(self)
        other.num_envs = check_int("num_envs", num_envs, 1)
        for name in self._state_names:
            row = getattr(self, name)[:1]
            setattr(other, name, row.expand(num_envs, *row.shape[1:]).clone())
        other._t = torch.zeros(num_envs, dtype=torch.long, device=self.device)
        other._ended = torch.zeros(num_envs, dtype=torch.bool, device=self.device)
        return other

    def state_dict(self) -> dict[str, Any]:
        """The per-environment state tensors, step counters, which episodes just ended, and the generator."""
        state = {name: getattr(self, name).clone() for name in self._state_names}
        state.update(t=self._t.clone(), ended=self._ended.clone())
        state["generator"] = self._generator.get_state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        for name in self._state_names:
            setattr(self, name, state[name].to(self.device))
        self._t = state["t"].to(self.device)
        self._ended = state["ended"].to(self.device)
        self._generator.set_state(state["generator"].cpu())


def discounted_sum(gamma: float, steps: int) -> float:
    """``1 + gamma + ... + gamma^(steps - 1)``: the discounted sum of ``steps`` unit rewards."""
    return float(sum(gamma**i for i in range(steps)))


def check_probability(name: str, value: object) -> float:
    """``value`` as a float in ``[0, 1)``, else ConfigError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ConfigError(f"{name}={value!r}; expected a probability in [0, 1)")
    return float(value)
