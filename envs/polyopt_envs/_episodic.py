"""The episode bookkeeping every batched torch environment here shares: time limit, next-step auto-reset,
a seeded generator, and saving the state; and :class:`TabularEnv`, which steps a finite-state environment by
table lookups.

Private: the environment modules subclass :class:`EpisodicEnv` and implement the dynamics only. Semantics are
Gymnasium's: ``truncated`` is set when an episode reaches ``max_steps`` (as ``TimeLimit`` does, also on a step
that terminates), and the step after an episode ended resets that sub-environment instead of moving it,
returning its start observation with zero reward, marked in ``info["autoreset"]``.
"""

from __future__ import annotations

import copy
from abc import abstractmethod
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from polyopt.environment import Environment, Step
from polyopt.errors import ConfigError
from polyopt_envs._common import check_int

#: ``dynamics(state, action, branch) -> (next state, reward, terminated)`` over a batch of states (a dict of
#: the state tensors by name), actions in range and random-branch numbers: the environment's rules, written
#: with coordinates, run once over every state, action and branch to fill the tables
Dynamics = Callable[[dict[str, Tensor], Tensor, Tensor], tuple[dict[str, Tensor], Tensor, Tensor]]

__all__ = ["EpisodicEnv", "TabularEnv", "discounted_sum"]


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
        return self._emit(reward * running.unsqueeze(1), terminated, truncated, reset)

    def _tick(self, reset: Tensor) -> Tensor:
        """Count the step (a restarting row starts at 0) and return which rows the step limit truncates."""
        self._t = (self._t + 1).masked_fill_(reset, 0)
        # a restarted row has t = 0 < max_steps, so the limit alone decides truncation
        return self._t >= self.max_steps if self.max_steps else torch.zeros_like(reset)

    def _emit(self, reward: Tensor, terminated: Tensor, truncated: Tensor, reset: Tensor) -> Step:
        """The step's result from the new state; an ended episode's last observation is that ``obs``."""
        obs = self._observe()
        info = {"autoreset": reset, "final_obs": obs}
        return Step(obs=obs, reward=reward, terminated=terminated, truncated=truncated, info=info)

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


class _RowTable:
    """A lookup table of rows; rows of 8 bytes (two float32, say) are kept as one int64 each, since gathering
    from a flat int64 table is several times faster than gathering rows of a 2-D one (wider float rows go
    through ``embedding``, measured 1.2-1.8x faster than ``index_select`` at 4,096 rows on the CPU)."""

    def __init__(self, table: Tensor) -> None:
        self.table, self.dtype, self.width = table, table.dtype, 0
        if table.dim() == 2 and table.shape[1] * table.element_size() == 8:
            self.table, self.width = (
                table.contiguous().view(torch.int64).reshape(-1),
                table.shape[1],
            )

    def rows(self, index: Tensor) -> Tensor:
        """The rows at ``index`` (a fresh tensor of the table's dtype)."""
        if self.width:
            return self.table.index_select(0, index).view(self.dtype).view(-1, self.width)
        if self.table.dim() == 2 and self.table.is_floating_point():
            return torch.nn.functional.embedding(index, self.table)
        return self.table.index_select(0, index)


class TabularEnv(EpisodicEnv):
    """An :class:`EpisodicEnv` over finitely many states, stepped by table lookups.

    Subclasses describe the states (their legacy per-environment tensors, e.g. ``_pos``), the dynamics and the
    observation with tensor code once, in :meth:`_build_tables`; a step then gathers the next state, the
    reward, the termination flag and the observation from tables indexed by one flat id per sub-environment,
    a handful of tensor operations whatever the rules. The flat id is ``((ended * K + branch) * S + state) *
    A + action`` (``S`` states, ``A`` actions, ``K`` random branches such as "killed or not"): the rows of an
    ended episode hold the start state, zero reward (the transition's reward times zero, as
    :class:`EpisodicEnv` writes it) and no termination, so the next-step auto-reset is a lookup too. The
    environment keeps ``_s = (ended * K * S + state) * A``; :meth:`state_dict` and :meth:`load_state_dict`
    speak the legacy state tensors, so saved states stay readable.
    """

    _state_names: tuple[str, ...] = ("_s",)

    def _build_tables(
        self,
        states: dict[str, Tensor],
        start: int,
        n_actions: int,
        dynamics: Dynamics,
        observe: Callable[[dict[str, Tensor]], Tensor],
        branches: int = 1,
    ) -> None:
        """Fill the lookup tables and put every sub-environment at ``start``.

        Args:
            states: every state, as ``S x ...`` tensors by name (the names :meth:`state_dict` uses).
            start: index (into ``states``) of the start state.
            n_actions: ``A``; actions are clamped into ``[0, A - 1]``.
            dynamics: the rules (see ``Dynamics``); each next state must be one of ``states``.
            observe: ``S x ...`` float32 observations of a batch of states.
            branches: ``K``, the number of random outcomes :meth:`_branch` chooses among.
        """
        n_states = next(iter(states.values())).shape[0]
        self._n_states, self._n_actions = n_states, n_actions
        self._branch_stride = n_states * n_actions  # one random branch further
        self._ended_offset = branches * self._branch_stride  # ended rows come after every branch
        self._state_values = states
        flat = torch.arange(self._ended_offset, device=self.device)
        state_id = (flat // n_actions) % n_states
        batch = {name: values.index_select(0, state_id) for name, values in states.items()}
        moved, reward, terminated = dynamics(batch, flat % n_actions, flat // self._branch_stride)
        next_id = self._encode(moved) * n_actions
        start_id = torch.full_like(next_id, start * n_actions)
        self._tab_next = torch.cat([next_id, start_id])
        restarted = reward * torch.zeros_like(terminated).unsqueeze(1)
        self._tab_reward = _RowTable(torch.cat([reward, restarted]))
        self._tab_term = torch.cat([terminated, torch.zeros_like(terminated)])
        state_id = torch.cat([state_id, state_id])
        self._tab_obs = _RowTable(
            observe({k: v.index_select(0, state_id) for k, v in states.items()})
        )
        self._start_id = start * n_actions
        self._s = torch.full((self.num_envs,), self._start_id, dtype=torch.long, device=self.device)

    def _encode(self, state: dict[str, Tensor]) -> Tensor:
        """The state index of each row of ``state`` (tensors by name, as in ``states``)."""
        rows = torch.cat([v.reshape(v.shape[0], -1).long() for v in state.values()], dim=1)
        table = torch.cat(
            [self._state_values[k].reshape(self._n_states, -1).long() for k in state], dim=1
        )
        match = (rows.unsqueeze(1) == table.unsqueeze(0)).all(dim=2)
        found = match.any(dim=1)
        if not bool(found.all()):
            bad = {k: v[~found][0].tolist() for k, v in state.items()}
            raise ConfigError(f"state {bad}; expected one of the states of {self.name}")
        return match.long().argmax(dim=1)

    def _branch(self, index: Tensor) -> Tensor:
        """The table index with the random branch added (draws from the generator); one branch: ``index``."""
        return index

    def _transition(self, action: Tensor) -> tuple[Tensor, Tensor]:
        """Look the step up: ``(reward, terminated)``; the next state (without the ended mark) goes to
        ``_moved`` and the table index to ``_index``."""
        index = self._branch(self._s + action.clamp(0, self._n_actions - 1))
        self._index = index
        self._moved = self._tab_next.index_select(0, index)
        return self._tab_reward.rows(index), self._tab_term.index_select(0, index)

    def _restart(self, mask: Tensor) -> None:
        self._s = torch.where(mask, self._start_id, self._s)

    def _observe(self) -> Tensor:
        return self._tab_obs.rows(self._s)

    def step(self, action: Tensor) -> Step:
        """Apply ``action`` (``num_envs`` or ``num_envs x 1`` integers) to every sub-environment."""
        action = action.reshape(self.num_envs).to(device=self.device, dtype=torch.long)
        reset = self._ended  # these sub-environments restart instead of moving (the tables do it)
        reward, terminated = self._transition(action)
        truncated = self._tick(reset)
        ended = terminated | truncated
        self._s = torch.add(self._moved, ended, alpha=self._ended_offset)
        self._ended = ended
        return self._emit(reward, terminated, truncated, reset)

    def spawn(self, num_envs: int) -> TabularEnv:
        other = super().spawn(num_envs)
        assert isinstance(other, TabularEnv)
        other._s = other._s % self._ended_offset  # not ended: the copies are reset before stepping
        return other

    def state_dict(self) -> dict[str, Any]:
        """The legacy state tensors (e.g. ``_pos``), step counters, which episodes just ended, and the
        generator."""
        state_id = (self._s // self._n_actions) % self._n_states
        state = {k: v.index_select(0, state_id) for k, v in self._state_values.items()}
        state.update(t=self._t.clone(), ended=self._ended.clone())
        state["generator"] = self._generator.get_state()
        return state

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._t = state["t"].to(self.device)
        self._ended = state["ended"].to(self.device)
        self._generator.set_state(state["generator"].cpu())
        legacy = {k: state[k].to(self.device) for k in self._state_values}
        self._s = torch.add(
            self._encode(legacy) * self._n_actions, self._ended, alpha=self._ended_offset
        )


def discounted_sum(gamma: float, steps: int) -> float:
    """``1 + gamma + ... + gamma^(steps - 1)``: the discounted sum of ``steps`` unit rewards."""
    return float(sum(gamma**i for i in range(steps)))


def check_probability(name: str, value: object) -> float:
    """``value`` as a float in ``[0, 1)``, else ConfigError naming it."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ConfigError(f"{name}={value!r}; expected a probability in [0, 1)")
    return float(value)
