"""Policy gradient over multi-turn text tasks (GiGPO, episode-level GRPO): the language-model trainer with
episodes in place of single completions.

``step()`` = roll out ``prompts_per_step`` groups of ``completions_per_prompt`` episodes (the episodes of a
group start from copies of the same state; a turn is one generation conditioned on the transcript so far),
compute one advantage per turn with the ``turn_advantage`` component, and update on every turn as a row (its
transcript is the prompt, its action the completion) with the policy loss, KL, clip range and aggregation of
:class:`~polyopt_plugins.llm.trainer.PolicyGradientTrainer`. ``n_env_steps`` counts generated turns. The
result is the step with the best mean episode return; ``eval_prompts`` adds the greedy success rate.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor

import polyopt
from polyopt.components import AdvantageParams, MultiTurnTask, Rollout, TurnBatch
from polyopt.errors import ConfigError
from polyopt_plugins.llm.advantage import _last_token
from polyopt_plugins.llm.batch import Batch, Tasks, _cat_optional
from polyopt_plugins.llm.config import TrainerConfig
from polyopt_plugins.llm.sampler import Generation
from polyopt_plugins.llm.sft import decode_completions
from polyopt_plugins.llm.trainer import PolicyGradientTrainer

__all__ = ["MultiTurnConfig", "MultiTurnTrainer"]

_TASK_METHODS = ("start", "act", "sft_batch")
#: single-turn axes a multi-turn run does not take (their defaults)
_SINGLE_TURN = {
    "replay": "none",
    "prompt_sampler": "uniform",
    "guidance": "none",
    "advantage_shaping": "none",
}


@dataclass
class MultiTurnConfig(TrainerConfig):
    """Options of :class:`MultiTurnTrainer`: those of the single-turn trainer, with ``prompts_per_step``
    groups of ``completions_per_prompt`` episodes, and the turn-level advantage."""

    turn_advantage: str = "gigpo"
    """Registered ``turn_advantage``: ``gigpo`` (episode- and step-level groups) or ``episode-grpo``."""
    turn_advantage_options: dict[str, Any] | None = None
    """Options for the turn advantage (``AdvantageParams.options``), e.g. ``{"omega": 1.0}``."""
    gamma: float = 0.95
    """Discount of the step-level returns (GiGPO used 0.95)."""


@dataclass
class _Episodes:
    """The turns of a batch of episodes, as rows."""

    prompts: list[str]
    gen: Generation
    turns: TurnBatch
    returns: Tensor  # (E,)


class MultiTurnTrainer(PolicyGradientTrainer):
    """Policy gradient with turn-level advantages over a :class:`~polyopt.components.MultiTurnTask`."""

    Config = MultiTurnConfig

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super(PolicyGradientTrainer, cls).compatibility(problem)
        missing = [m for m in _TASK_METHODS if not hasattr(problem, m)]
        if reason is None and missing:
            return (
                f"it needs a multi-turn task (with {', '.join(_TASK_METHODS)}); missing {missing}"
            )
        return reason

    def setup(self) -> None:
        cfg = self.config
        for field, default in _SINGLE_TURN.items():
            if getattr(cfg, field) != default:
                raise ConfigError(
                    f"{field}={getattr(cfg, field)!r} with a multi-turn task; expected {default!r} "
                    "(the axis works on single-turn groups)"
                )
        super().setup()
        if self.loss_needs & {"groups"} or self.needs & {"greedy", "values"}:
            raise ConfigError(
                f"policy loss {cfg.policy_loss!r} / advantage {cfg.advantage!r} needs groups of "
                "completions, a greedy rollout or a critic; a multi-turn run gives turns"
            )
        self.turn_fn = polyopt.registry().get("turn_advantage", cfg.turn_advantage)
        self.loss_group_size = 0

    def _resolve_rewards(self) -> dict[str, Any]:
        return {name: None for name in getattr(self.problem, "reward_names", ["return"])}

    def _chunks(self, n: int) -> tuple[Tensor, ...]:
        return torch.arange(n, device=self.device).chunk(self.config.micro_batches)

    @torch.no_grad()
    def _episodes(self, groups: int, k: int, temperature: float, generator: Any) -> _Episodes:
        """Roll out ``groups`` groups of ``k`` episodes (each group from copies of one start)."""
        task = cast(MultiTurnTask, self.problem)
        starts, prompts, states = task.start(groups, generator)
        episodes = [copy.deepcopy(e) for e in starts for _ in range(k)]
        transcripts = [p for p in prompts for _ in range(k)]
        keys = [s for s in states for _ in range(k)]
        rows: dict[str, list[Any]] = {"prompt": [], "episode": [], "turn": [], "state": []}
        gens, rewards, live = [], [], list(range(groups * k))
        for turn in range(task.max_turns):
            if not live:
                break
            gen = self._generate([transcripts[i] for i in live], temperature, generator)
            texts = decode_completions(self.policy, gen.tokens, gen.mask)
            out = task.act([episodes[i] for i in live], texts)
            gens.append(gen)
            rewards.append(out.rewards.float().cpu())
            rows["prompt"] += [transcripts[i] for i in live]
            rows["episode"] += live
            rows["turn"] += [turn] * len(live)
            rows["state"] += [keys[i] for i in live]
            done = out.done.tolist()
            for j, i in enumerate(live):
                transcripts[i] += texts[j] + out.observations[j]
                keys[i] = out.states[j]
            live = [i for j, i in enumerate(live) if not done[j]]
        gen = Generation(
            torch.cat([g.tokens for g in gens]),
            torch.cat([g.mask for g in gens]),
            torch.cat([g.truncated for g in gens]),
            _cat_optional([g.logp for g in gens]),
            _cat_optional([g.entropy for g in gens]),
        )
        turns = TurnBatch(
            rewards=torch.cat(rewards),
            episode=torch.tensor(rows["episode"], dtype=torch.long),
            turn=torch.tensor(rows["turn"], dtype=torch.long),
            states=rows["state"],
            n_groups=groups,
            n_episodes=groups * k,
        )
        return _Episodes(rows["prompt"], gen, turns, turns.episode_returns())

    def _generate(
        self, prompts: list[str], temperature: float, generator: Any = None
    ) -> Generation:
        if generator is None or generator is self.generator:
            return super()._generate(prompts, temperature)
        saved, self.generator = self.generator, generator  # an evaluation's own generator
        try:
            steps = self.n_env_steps
            gen = super()._generate(prompts, temperature)
            self.n_env_steps = steps  # evaluation turns are not training steps
            return gen
        finally:
            self.generator = saved

    def _collect_turns(
        self, timer: dict[str, float]
    ) -> tuple[Tensor, Tensor, Generation, _Episodes, Rollout]:
        cfg = self.config
        t0 = time.perf_counter()
        ep = self._episodes(
            cfg.prompts_per_step, cfg.completions_per_prompt, cfg.temperature, self.generator
        )
        timer["generation"] += time.perf_counter() - t0
        ids, pmask = self.policy.tokenizer.batch_encode(ep.prompts, self.device)
        rewards = ep.turns.rewards.to(self.device)
        mask = ep.gen.mask.float()
        rollout = Rollout(rewards, rewards.unsqueeze(-1) * _last_token(mask), mask, 1)
        self.batch = Batch(Tasks(ep.prompts, {}), rewards.unsqueeze(-1), ep.gen)
        self.fresh_rows = len(ep.prompts)
        self._fill_requirements(rollout, Tasks([], {}), ids, pmask, ep.gen)
        self._record(ep.returns.view(-1, 1), ep.returns)
        return ids, pmask, ep.gen, ep, rollout

    def iterate(self) -> dict[str, float]:
        cfg = self.config
        timer = {"generation": 0.0, "scoring": 0.0, "update": 0.0}
        steps_before = self.n_env_steps
        ids, pmask, gen, ep, rollout = self._collect_turns(timer)
        params = AdvantageParams(cfg.gamma, cfg.lam, options=dict(cfg.turn_advantage_options or {}))
        adv = self.turn_fn(ep.turns, params).to(self.device).unsqueeze(-1) * rollout.mask
        t0 = time.perf_counter()
        stats = self._update(ids, pmask, gen, rollout, adv, None)
        timer["update"] = time.perf_counter() - t0
        metrics: dict[str, Tensor | float] = {
            "reward": ep.returns.mean(),
            "turns": float(len(ep.prompts)) / ep.turns.n_episodes,
            "tokens": gen.mask.sum(),
            "truncated": gen.truncated.float().mean(),
            **stats,
        }
        if gen.entropy is not None:
            metrics["entropy"] = gen.entropy.sum() / gen.mask.sum().clamp_min(1)
        out = {key: float(v) for key, v in metrics.items()}
        out.update({f"time/{key}": v for key, v in timer.items()})
        out["completions"] = float(self.n_env_steps - steps_before)
        self.last_metrics = out
        return out

    def evaluate(self) -> dict[str, float]:
        """Greedy success rate on ``eval_prompts`` episodes drawn from a generator of their own."""
        cfg = self.config
        if not cfg.eval_prompts:
            return {}
        if self._evaluation is not None and self._evaluation[0] == self.n_steps:
            return self._evaluation[1]
        generator = torch.Generator(device=self.device).manual_seed(self.seed + 1_000_003)
        ep = self._episodes(cfg.eval_prompts, 1, 0.0, generator)
        metrics = {"success": float(ep.returns.mean())}
        self._evaluation = (self.n_steps, metrics)
        return metrics
