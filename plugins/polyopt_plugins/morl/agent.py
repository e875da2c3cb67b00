"""What the replay-based MORL agents (Envelope, PD-MORL) share: the supports check, the sub-environments'
episodes and replay ring, the shared evaluation protocol's evaluation, log, result and state, and the opt-in
selection of the best evaluated network (``select_best``).

An agent subclasses :class:`PreferenceAgent`, says which action spaces it takes (:meth:`action_reason`), keeps a
``buffer`` dict of ring tensors (``obs``, ``action``, ``reward``, ``next_obs``, ``discount`` and any per-episode
keys) and ``greedy(obs, w)``, and calls :meth:`start_episodes` at the end of its ``setup``; the config needs
``ref_point``, ``gamma``, ``n_step``, ``buffer_size``, ``eval_every``, ``eval_weights``, ``eval_episodes`` and
``eval_max_steps``. An agent whose config has ``select_best`` calls :meth:`init_selection` in its ``setup``,
names the network to keep (:meth:`policy_network`), acts with :meth:`acting_network`, builds its result's policy
with :meth:`select_policy` and saves :meth:`selection_state` with its state.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from polyopt.environment import Step
from polyopt.errors import ConfigError
from polyopt.optimizer import Trainer
from polyopt.pareto import non_dominated_unique
from polyopt.result import TrainerResult
from polyopt.spaces import Box, Space
from polyopt_plugins.morl.protocol import (
    equally_spaced_weights,
    evaluate_preferences,
    front_metrics,
    reference_point,
)

__all__ = ["EvaluationConfig", "PreferenceAgent"]


@dataclass
class EvaluationConfig:
    """The shared evaluation protocol's options, common to the agents' configs."""

    eval_weights: int = 100
    """Preferences of an evaluation (evenly spread over the simplex)."""
    eval_episodes: int = 5
    """Episodes per preference in an evaluation."""
    eval_every: int = 0
    """Also evaluate every this many environment steps during training: ``eval/<metric>`` in the step metrics
    (what observation hooks and callbacks see) and a row of the result's history (0 = only the result
    evaluates)."""
    eval_max_steps: int = 1_000
    """Per-episode step limit of an evaluation."""
    ref_point: list[float] | None = None
    """HV reference point; None takes the environment's registered one."""


class PreferenceAgent(Trainer):
    """A preference-conditioned agent on a batched Environment with vector rewards."""

    buffer: dict[str, Tensor]
    buffer_count: int
    _w: Tensor
    _best: nn.Module | None  # select_best: the best evaluated network so far
    _best_hv: float
    _best_step: int
    _selected: nn.Module | None  # what acting_network returns after select_policy chose the copy

    @classmethod
    def action_reason(cls, space: Space) -> str | None:
        """Why the agent cannot act in ``space`` (None when it can)."""
        raise NotImplementedError

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super().compatibility(problem) or cls.action_reason(problem.action_space)
        if reason:
            return reason
        if not isinstance(problem.observation_space, Box):
            return f"it needs a Box or Integer observation space, got {problem.observation_space!r}"
        if problem.reward_dim < 2:
            return f"it needs a vector reward (2 or more objectives), the environment has {problem.reward_dim}"
        return None

    def check_counts(self, *names: str) -> None:
        """ConfigError for a config field among ``names`` below 1."""
        for name in names:
            if getattr(self.config, name) < 1:
                raise ConfigError(f"{name}={getattr(self.config, name)}; expected an integer >= 1")

    def ref_point(self) -> tuple[float, ...]:
        """The hypervolume reference point: the config's, else the environment's registered one."""
        ref = self.config.ref_point
        return tuple(ref) if ref is not None else reference_point(self.problem).point

    def _observe(self, obs: Tensor) -> Tensor:
        return obs.to(device=self.device, dtype=self.dtype).reshape(self.problem.num_envs, -1)

    def start_episodes(self, w: Tensor) -> None:
        """Reset the sub-environments with the run seed, each with preference ``w`` (``n x m``), and start
        the evaluation log."""
        self._obs = self._observe(self.problem.reset(seed=self.seed))
        self._w = w
        self._prev_done = torch.zeros(self.problem.num_envs, dtype=torch.bool, device=self.device)
        self._start_windows()
        self.n_eval_env_steps = 0
        self._last_eval_at = 0
        self.eval_log = torch.zeros(0, 4, dtype=torch.float64)  # env step, HV, EUM, cardinality
        self._eval_cache: tuple[int, Any] | None = None

    def _start_windows(self) -> None:
        """Empty ``n_step`` windows, one per sub-environment, for the buffer's keys but ``next_obs`` and
        ``discount``."""
        if self.config.n_step < 1:
            raise ConfigError(f"n_step={self.config.n_step}; expected an integer >= 1")
        n = self.problem.num_envs
        self._window = {
            key: torch.zeros(n, self.config.n_step, *value.shape[1:], dtype=value.dtype,
                             device=self.device)
            for key, value in self.buffer.items() if key not in ("next_obs", "discount")
        }  # fmt: skip
        self._window_len = torch.zeros(n, dtype=torch.long, device=self.device)

    def store(self, rows: dict[str, Tensor], done: Tensor) -> Tensor:
        """Take this step's transitions (``n`` rows each: ``obs``, ``action``, ``reward``, ``next_obs``,
        ``terminated`` and any per-episode keys such as ``w``; the reset step after an episode's end carries
        none) and write the ``n_step``-step transitions they complete into the replay ring; the slots written.

        A stored row's ``reward`` is ``sum_k gamma^k r_k`` over its ``k <= n_step`` steps, ``next_obs`` the
        observation after them and ``discount`` ``gamma^k`` (0 when the episode terminated within them), so
        every target is ``reward + discount * bootstrap``. A sub-environment's first ``n_step - 1``
        transitions wait in a per-environment window; an episode's end (termination or truncation) flushes
        its window with shorter returns."""
        keep = ~self._prev_done
        length = self._window_len
        n_step, gamma = self.config.n_step, self.config.gamma
        hold = [key for key in rows if key not in ("next_obs", "terminated")]
        envs = keep.nonzero().squeeze(1)
        for key in hold:
            self._window[key][envs, length[envs]] = rows[key][envs].to(self._window[key].dtype)
        length = length + keep.long()
        done = done.to(self.device) & keep
        full = (length == n_step) & ~done
        slot = torch.arange(n_step, device=self.device)
        valid = slot.unsqueeze(0) < length.unsqueeze(1)  # n x n_step
        reward = self._window["reward"] * valid.unsqueeze(2)
        returns = torch.zeros_like(reward)  # suffix discounted sums of the window
        running = torch.zeros_like(reward[:, 0])
        for j in reversed(range(n_step)):
            running = reward[:, j] + gamma * running
            returns[:, j] = running
        emit = valid & (done.unsqueeze(1) | (full.unsqueeze(1) & (slot == 0).unsqueeze(0)))
        env_i, slot_i = emit.nonzero(as_tuple=True)
        steps = (length[env_i] - slot_i).to(self.dtype)
        alive = 1 - rows["terminated"][env_i].to(self.dtype)
        out = {key: self._window[key][env_i, slot_i] for key in hold}
        out["reward"] = returns[env_i, slot_i]
        out["next_obs"] = rows["next_obs"][env_i]
        out["discount"] = torch.pow(torch.full_like(steps, gamma), steps) * alive
        size = self.config.buffer_size
        slots = (self.buffer_count + torch.arange(env_i.numel(), device=self.device)) % size
        for key, value in out.items():
            self.buffer[key][slots] = value.to(self.buffer[key].dtype)
        self.buffer_count += env_i.numel()
        if n_step > 1:  # a full window drops its oldest transition
            for key in hold:
                window = self._window[key]
                shape = (-1,) + (1,) * (window.dim() - 1)
                window.copy_(torch.where(full.view(shape), window.roll(-1, 1), window))
        self._window_len = torch.where(done, 0, length - full.long())
        return slots

    def advance(self, step: Step, next_obs: Tensor, fresh: Tensor) -> None:
        """Move to ``next_obs``; sub-environments whose episode ended take their row of ``fresh`` preferences."""
        done = step.done.to(self.device)
        self._w = torch.where(done.unsqueeze(1), fresh, self._w)
        self._prev_done = done
        self._obs = next_obs

    # -- evaluation --------------------------------------------------------------------------------------------

    def log_evaluation(self, out: dict[str, float]) -> None:
        """Every ``eval_every`` environment steps: evaluate, log a row and add ``eval/<metric>`` to ``out``."""
        every = self.config.eval_every
        if not every or self.n_env_steps - self._last_eval_at < every:
            return
        self._last_eval_at = self.n_env_steps
        metrics = self.evaluation()["metrics"]
        row = [self.n_env_steps, metrics["hypervolume"], metrics["eum"], metrics["cardinality"]]
        self.eval_log = torch.cat([self.eval_log, torch.tensor([row], dtype=torch.float64)])
        out.update({f"eval/{k}": v for k, v in metrics.items()})
        if self._selecting() and metrics["hypervolume"] >= self._best_hv:
            self._best = copy.deepcopy(self.policy_network()).requires_grad_(False)
            self._best_hv, self._best_step = metrics["hypervolume"], self.n_env_steps

    def evaluation(self) -> dict[str, Any]:
        """The protocol's evaluation of the greedy policy now (cached per step): ``weights``, ``discounted`` and
        ``returns`` (``K x m``), ``front`` (indices of the distinct non-dominated rows), ``metrics``."""
        if self._eval_cache is not None and self._eval_cache[0] == self.n_steps:
            return self._eval_cache[1]
        cfg, env = self.config, self.problem
        weights = equally_spaced_weights(env.reward_dim, cfg.eval_weights)
        ev = evaluate_preferences(
            self.greedy, env, weights, episodes=cfg.eval_episodes, gamma=cfg.gamma,
            seed=self.seed + 1_000_003, max_steps=cfg.eval_max_steps,
        )  # fmt: skip
        self.n_eval_env_steps += int(ev["env_steps"])
        metrics = front_metrics(ev["discounted"], self.ref_point(), env.pareto_front(cfg.gamma))
        out: dict[str, Any] = {**ev, "weights": weights}
        out["front"] = non_dominated_unique(-ev["discounted"])
        out["metrics"] = {**metrics, "n_eval_env_steps": float(self.n_eval_env_steps)}
        self._eval_cache = (self.n_steps, out)
        return out

    def greedy(self, obs: Tensor, w: Tensor) -> Tensor:
        """The policy's actions for ``n x d`` observations and ``n x m`` preferences."""
        raise NotImplementedError

    def front_result(self, policy: nn.Module, **extras: Any) -> TrainerResult:
        """The evaluated front (distinct non-dominated discounted returns over the evaluation preferences;
        ``labels`` index them), the protocol's metrics and the evaluation log as history."""
        ev = self.evaluation()
        front = ev["front"]
        m = self.problem.reward_dim
        names = list(getattr(self.problem, "reward_names", [])) or [f"r{j}" for j in range(m)]
        return self.make_result(
            policy,
            ev["discounted"][front].to(self.dtype),
            labels=front,
            reward_names=names,
            history=self.eval_log.clone(),
            metrics=dict(ev["metrics"]),
            extras={
                "weights": ev["weights"],
                "eval_discounted": ev["discounted"],
                "eval_returns": ev["returns"],
                "n_eval_env_steps": self.n_eval_env_steps,
                **extras,
            },
        )

    # -- the best evaluated network (opt-in ``select_best``) ----------------------------------------------------

    def _selecting(self) -> bool:
        return bool(getattr(self.config, "select_best", False))

    def init_selection(self) -> None:
        """Check ``select_best`` against ``eval_every`` and start with no kept copy."""
        if self._selecting() and self.config.eval_every < 1:
            raise ConfigError(
                f"select_best=True needs evaluations to select from; got eval_every={self.config.eval_every}, "
                "expected an integer >= 1"
            )
        self._best, self._best_hv, self._best_step, self._selected = None, -float("inf"), -1, None

    def policy_network(self) -> nn.Module:
        """The network the agent acts with and ``select_best`` keeps copies of."""
        raise NotImplementedError

    def acting_network(self) -> nn.Module:
        """The copy :meth:`select_policy` chose, until training resumes; else :meth:`policy_network`."""
        return self._selected if self._selected is not None else self.policy_network()

    def select_policy(self) -> tuple[nn.Module, dict[str, Any]]:
        """The run's policy and the result's extras: with ``select_best``, the final network is evaluated and
        the kept copy replaces it when its hypervolume is higher (``extras["selected_step"]`` says which step's
        network it is); without, the final network and no extras."""
        if not self._selecting():
            return self.policy_network(), {}
        if self._selected is not None:  # an earlier call selected: compare from the network again
            self._selected, self._eval_cache = None, None
        final_hv = self.evaluation()["metrics"]["hypervolume"]
        if self._best is None or self._best_hv <= final_hv:
            return self.policy_network(), {"selected_step": self.n_env_steps}
        self._selected, self._eval_cache = self._best, None  # evaluate the selected network
        return self._best, {"selected_step": self._best_step}

    def selection_state(self) -> dict[str, Any]:
        return {
            "best": {} if self._best is None else self._best.state_dict(),
            "best_hv": self._best_hv,
            "best_step": self._best_step,
        }

    def load_selection_state(self, state: dict[str, Any]) -> None:
        """The kept copy (absent from checkpoints written before ``select_best`` existed)."""
        self._best = None
        if state.get("best"):
            self._best = copy.deepcopy(self.policy_network()).requires_grad_(False)
            self._best.load_state_dict(state["best"])
        self._best_hv = float(state.get("best_hv", -float("inf")))
        self._best_step = int(state.get("best_step", -1))
        self._selected = None

    # -- state -------------------------------------------------------------------------------------------------

    def episode_state(self) -> dict[str, Any]:
        """The replay ring, the sub-environments' episodes and the evaluation log."""
        return {
            "buffer": self.buffer,
            "buffer_count": self.buffer_count,
            "env": self.problem.state_dict(),
            "obs": self._obs,
            "w": self._w,
            "prev_done": self._prev_done,
            "window": self._window,
            "window_len": self._window_len,
            "n_eval_env_steps": self.n_eval_env_steps,
            "eval_log": self.eval_log,
            "last_eval_at": self._last_eval_at,
        }

    def load_episode_state(self, state: dict[str, Any]) -> None:
        self.buffer = {k: v.to(self.device) for k, v in state["buffer"].items()}
        self.buffer_count = int(state["buffer_count"])
        if state["env"] is not None:
            self.problem.load_state_dict(state["env"])
            self._obs = state["obs"].to(self.device)
            self._prev_done = state["prev_done"].to(self.device)
            self._window = {k: v.to(self.device) for k, v in state["window"].items()}
            self._window_len = state["window_len"].to(self.device)
        else:  # the environment cannot be saved: start new episodes, seeded by the step
            self._obs = self._observe(self.problem.reset(seed=self.seed + self.n_steps))
            self._prev_done = torch.zeros_like(state["prev_done"]).to(self.device)
            self._start_windows()
        self._w = state["w"].to(self.device)
        self.n_eval_env_steps = int(state["n_eval_env_steps"])
        self.eval_log = state["eval_log"]
        self._last_eval_at = int(state["last_eval_at"])
        self._eval_cache = None
