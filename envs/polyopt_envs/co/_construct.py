"""The constructive-environment base the CO problems share: batched, masked, fixed-shape steps.

A constructive environment builds one solution per sub-environment, one choice a step (the next city, the
next customer or the depot, the next item). What a neural policy needs is public: :meth:`action_mask`
(``num_envs x n_actions`` bool, the choices allowed now) and the problem's instance tensors; the flat
``obs`` of :meth:`reset`/:meth:`step` is for generic agents.

A chosen action that the mask forbids is replaced by the first allowed action at or after it (cyclically),
and ``info["repaired"]`` marks those rows, so random agents and the conformance kit can step every
environment; a policy that samples from the mask never triggers it.

Episodes end (``terminated``) when the solution is complete. With ``autoreset=True`` (the core contract's
next-step auto-reset) the next step of an ended sub-environment ignores its action and returns the reset
observation with zero reward (``info["autoreset"]``); generated instances are redrawn for it, fixed ones are
kept. With ``autoreset=False`` (what batched policy rollouts use) an ended sub-environment stays ended: its
actions are ignored, its reward is zero and ``terminated`` stays True.
"""

from __future__ import annotations

from abc import abstractmethod
from typing import Any, ClassVar

import torch
from torch import Tensor

from polyopt.environment import Environment, Step
from polyopt.errors import ConfigError
from polyopt_envs._common import check_int

__all__ = ["ConstructiveEnv", "repair_actions"]


def repair_actions(action: Tensor, mask: Tensor) -> tuple[Tensor, Tensor]:
    """Replace forbidden actions by the first allowed one at or after them, cyclically.

    Args:
        action: ``B`` int64 chosen actions (values outside ``0..A-1`` are wrapped).
        mask: ``B x A`` bool allowed actions (at least one per row).

    Returns:
        ``(actions: B, repaired: B bool)``.
    """
    n_actions = mask.shape[1]
    action = action.remainder(n_actions)
    ok = mask.gather(1, action.unsqueeze(1)).squeeze(1)
    offset = (
        torch.arange(n_actions, device=mask.device).unsqueeze(0) - action.unsqueeze(1)
    ).remainder(n_actions)  # B x A: how far each action lies after the chosen one
    offset = torch.where(mask, offset, torch.full_like(offset, n_actions))
    first = offset.argmin(dim=1)
    return torch.where(ok, action, first), ~ok


class ConstructiveEnv(Environment):
    """Base of the CO construction environments (see the module docstring).

    Subclasses set ``n_actions``, ``observation_space``, ``action_space`` and ``reward_dim`` and implement
    :meth:`sample_instances`, :meth:`reset_rows`, :meth:`action_mask`, :meth:`transition` and
    :meth:`observe`. Instances live in :attr:`instances` (a dict of ``num_envs x ...`` tensors).

    Args:
        num_envs: sub-environments stepped together.
        device: where instances and state live.
        autoreset: the contract's next-step auto-reset (True) or ended rows stay ended (False).
        fixed: True when the instances were given (never redrawn).
    """

    n_actions: int
    #: Names of the tensor attributes that make up the construction state (saved by :meth:`state_dict`).
    state_fields: ClassVar[tuple[str, ...]] = ()

    def __init__(
        self, num_envs: int, device: torch.device | str, autoreset: bool, fixed: bool
    ) -> None:
        self.num_envs = check_int("num_envs", num_envs, 1)
        if not isinstance(autoreset, bool):
            raise ConfigError(f"autoreset={autoreset!r}; expected True or False")
        self.device = torch.device(device)
        self.autoreset = autoreset
        self.fixed = fixed
        self.generator = torch.Generator(device=self.device)
        self.instances: dict[str, Tensor] = {}
        self.done = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)

    # ---- what a problem implements ------------------------------------------------------------------------
    @abstractmethod
    def sample_instances(self, k: int) -> dict[str, Tensor]:
        """``k`` new random instances (``k x ...`` tensors), drawn from :attr:`generator`."""

    @abstractmethod
    def reset_rows(self, rows: Tensor) -> None:
        """Put the sub-environments where ``rows`` (``num_envs`` bool) is True at the start of an episode."""

    @abstractmethod
    def action_mask(self) -> Tensor:
        """``num_envs x n_actions`` bool: the actions allowed now (at least one per row)."""

    @abstractmethod
    def transition(self, action: Tensor, active: Tensor) -> tuple[Tensor, Tensor]:
        """Apply valid ``action`` (``num_envs`` int64) to the ``active`` rows (``num_envs`` bool) only.

        Returns:
            ``(reward: num_envs x reward_dim, complete: num_envs bool)`` — zero reward for inactive rows.
        """

    @abstractmethod
    def observe(self) -> Tensor:
        """``num_envs x obs_dim`` float32 flat observations."""

    # ---- the Environment contract ---------------------------------------------------------------------------
    def reset(self, seed: int | None = None) -> Tensor:
        """Start every sub-environment (drawing new instances unless they were given); ``num_envs x obs_dim``."""
        if seed is not None:
            self.generator.manual_seed(seed)
        if not self.fixed:
            self.instances = self.sample_instances(self.num_envs)
        self.done = torch.zeros(self.num_envs, dtype=torch.bool, device=self.device)
        self.reset_rows(torch.ones(self.num_envs, dtype=torch.bool, device=self.device))
        return self.observe()

    def step(self, action: Tensor) -> Step:
        """Take ``action`` (``num_envs`` or ``num_envs x 1`` integers) in every sub-environment."""
        action = action.reshape(self.num_envs).to(device=self.device, dtype=torch.long)
        restart = self.done & self.autoreset
        if bool(restart.any()):
            self._restart(restart)
        active = ~self.done & ~restart
        action, repaired = repair_actions(action, self.action_mask())
        reward, complete = self.transition(action, active)
        terminated = (complete & active) | (self.done & ~restart)
        self.done = terminated
        info = {"autoreset": restart, "repaired": repaired & active}
        return Step(
            obs=self.observe(),
            reward=reward,
            terminated=terminated,
            truncated=torch.zeros_like(terminated),
            info=info,
        )

    def state_dict(self) -> dict[str, Any]:
        """Instances, construction state and the generator's state: a restored environment continues exactly."""
        return {
            "generator": self.generator.get_state(),
            "instances": {k: v.clone() for k, v in self.instances.items()},
            "done": self.done.clone(),
            "state": {k: getattr(self, k).clone() for k in self.state_fields},
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore :meth:`state_dict`."""
        self.generator.set_state(state["generator"].cpu())
        self.instances = {k: v.to(self.device) for k, v in state["instances"].items()}
        self.done = state["done"].to(self.device)
        for key, value in state["state"].items():
            setattr(self, key, value.to(self.device))

    def _restart(self, rows: Tensor) -> None:
        if not self.fixed:
            fresh = self.sample_instances(self.num_envs)
            for key, value in fresh.items():
                shape = (-1,) + (1,) * (value.dim() - 1)
                self.instances[key] = torch.where(rows.view(shape), value, self.instances[key])
        self.done = self.done & ~rows
        self.reset_rows(rows)
