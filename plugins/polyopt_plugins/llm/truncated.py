"""T-PPO (Fan et al. 2025, "Truncated Proximal Policy Optimization"): PPO on windows of completions.

The trainer holds ``prompts_per_step`` groups of ``completions_per_prompt`` *slots*. ``step()``:

1. refill: every group whose completions have all finished gets a new prompt (successive batching at the
   granularity of a group, so a group's ``k`` completions share their prompt);
2. generate at most ``window`` tokens for every unfinished completion, conditioned on its prompt and on what
   it has written so far (its *prefix*, kept across steps);
3. score the completions that finished (a stop token, or ``max_new_tokens`` in all) with the outcome reward;
4. update the policy on this window's tokens with the advantage estimator (``gae`` by default). A completion
   cut off by the window gets the critic's value of the state after its last token as its bootstrap: that
   value times ``gamma`` sits on its last token as the reward, so GAE's last delta is
   ``gamma V(s_cut) - V(s_last)`` — the paper's extended GAE for incomplete responses. The critic regresses
   on the same (bootstrapped) lambda-returns; the paper trains it on finished responses only.

With ``window >= max_new_tokens`` every completion finishes in its first window and a step is exactly one
of the ``ppo`` preset (same samples, same weights). The partial completions are part of the state dict, so a
resumed run continues them exactly. ``n_env_steps`` counts completions when they start; the reward history
(and the result's best step) has a row for each step in which some completion finished.
"""

from __future__ import annotations

import dataclasses
import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

import polyopt
from polyopt.components import Rollout
from polyopt.errors import ConfigError
from polyopt.result import TrainerResult
from polyopt_plugins.llm.advantage import _last_token
from polyopt_plugins.llm.batch import Batch, Tasks
from polyopt_plugins.llm.presets import PPOConfig
from polyopt_plugins.llm.sampler import Generation, SamplingParams, generate
from polyopt_plugins.llm.sft import decode_completions
from polyopt_plugins.llm.trainer import PolicyGradientTrainer

__all__ = ["TruncatedPPOConfig", "TruncatedPPO", "window_rewards"]

#: axes a windowed run does not take (their defaults): they need whole groups of finished completions
_WHOLE_COMPLETIONS = {
    "replay": "none",
    "prompt_sampler": "uniform",
    "guidance": "none",
    "advantage_shaping": "none",
    "reward_normalization": "none",
    "reward_weighting": "static",
    "dynamic_sampling": False,
    "mask_truncated": False,
    "value_pretrain_steps": 0,
}


@dataclass
class TruncatedPPOConfig(PPOConfig):
    """The ``ppo`` preset's options plus the window."""

    window: int = 0
    """Tokens generated per step for each unfinished completion; 0 = half the generation limit (rounded up).
    A window at or above the limit makes every step one of plain PPO."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if isinstance(self.window, bool) or not isinstance(self.window, int) or self.window < 0:
            raise ValueError(f"window={self.window!r}; expected an integer >= 0")


@dataclass
class _Slots:
    """The completions in progress: one row per slot, ``k`` rows per group."""

    tasks: Tasks
    tokens: Tensor  # (n, max_new) long, the completion so far (padding after ``length``)
    length: Tensor  # (n,) long
    done: Tensor  # (n,) bool, finished (scored) and waiting for the rest of its group

    def state(self) -> dict[str, Any]:
        fields = {key: list(v) for key, v in self.tasks.fields.items()}
        return {
            "prompts": list(self.tasks.prompts),
            "fields": fields,
            "tokens": self.tokens,
            "length": self.length,
            "done": self.done,
        }

    @classmethod
    def from_state(cls, state: dict[str, Any], device: torch.device) -> _Slots:
        tasks = Tasks(list(state["prompts"]), {k: list(v) for k, v in state["fields"].items()})
        return cls(
            tasks, state["tokens"].to(device), state["length"].to(device), state["done"].to(device)
        )


def window_rewards(
    scores: Tensor, mask: Tensor, finished: Tensor, cut_values: Tensor, gamma: float
) -> Tensor:
    """Per-token rewards of a window: a finished completion's score and a cut-off one's bootstrap
    ``gamma * V(s_cut)`` on its last token of the window; nothing elsewhere.

    Args:
        scores: ``n`` outcome rewards (read where ``finished``).
        mask: ``n x W`` float, 1 on the window's real tokens.
        finished: ``n`` bool, the completion ended in this window.
        cut_values: ``n`` critic values of the state after the window (read where a row has tokens and is
            not finished).

    Returns:
        ``n x W`` token rewards.
    """
    cut = (mask.sum(-1) > 0) & ~finished
    last = torch.where(finished, scores, torch.where(cut, gamma * cut_values, 0.0))
    return last.unsqueeze(-1) * _last_token(mask)


def _left_pad(rows: list[Tensor], pad: int, device: torch.device) -> tuple[Tensor, Tensor]:
    """``n x C`` left-padded ids of token rows and their bool mask."""
    width = max(int(r.numel()) for r in rows)
    ids = torch.full((len(rows), width), pad, dtype=torch.long, device=device)
    mask = torch.zeros((len(rows), width), dtype=torch.bool, device=device)
    for i, r in enumerate(rows):
        if r.numel():
            ids[i, width - r.numel() :] = r
            mask[i, width - r.numel() :] = True
    return ids, mask


class TruncatedPPO(PolicyGradientTrainer):
    """PPO whose completions are generated, and trained on, one window of tokens per step."""

    Config = TruncatedPPOConfig

    def setup(self) -> None:
        cfg = self.config
        for field, default in _WHOLE_COMPLETIONS.items():
            if getattr(cfg, field) != default:
                raise ConfigError(
                    f"{field}={getattr(cfg, field)!r} with t-ppo; expected {default!r} (the axis needs "
                    "whole groups of finished completions, which windowed rollouts do not give)"
                )
        needs = getattr(polyopt.registry().get("advantage", cfg.advantage), "requires", ())
        if "values" not in needs or {"greedy", "ref_scores"} & set(needs):
            raise ConfigError(
                f"advantage={cfg.advantage!r} with t-ppo; expected an estimator with a critic and no "
                "extra rollout (gae, decoupled-gae): cut-off completions bootstrap from its value"
            )
        super().setup()
        self.window = min(cfg.window or -(-self.max_new // 2), self.max_new)
        self.slots: _Slots | None = None
        #: the step of each row of ``history``
        self.recorded_steps = torch.zeros(0, dtype=torch.long)

    # -- collect -----------------------------------------------------------------------------------------------

    def _refill(self) -> None:
        """New prompts for the groups whose completions have all finished (all of them at the start)."""
        k, n_groups = self.config.completions_per_prompt, self.config.prompts_per_step
        n = n_groups * k
        if self.slots is None:
            empty = Tasks([""] * n, {})
            tokens = torch.full((n, self.max_new), self.policy.tokenizer.pad_id, device=self.device)
            zeros = torch.zeros(n, dtype=torch.long, device=self.device)
            self.slots = _Slots(
                empty, tokens, zeros, torch.ones(n, dtype=torch.bool, device=zeros.device)
            )
        slots = self.slots
        free = slots.done.view(n_groups, k).all(1).nonzero().flatten().tolist()
        if not free:
            return
        sampled, _ = self.sampler.sample(self.problem, len(free), self.generator, False)
        new = sampled.repeat(k)
        rows = [g * k + j for g in free for j in range(k)]
        prompts = list(slots.tasks.prompts)
        fields = {key: list(v) for key, v in slots.tasks.fields.items()}
        for key in new.fields:
            fields.setdefault(key, [None] * n)
        for src, row in enumerate(rows):
            prompts[row] = new.prompts[src]
            for key, values in new.fields.items():
                fields[key][row] = values[src]
        idx = torch.tensor(rows, device=self.device)
        slots.tasks = Tasks(prompts, fields)
        slots.tokens[idx] = self.policy.tokenizer.pad_id
        slots.length[idx] = 0
        slots.done[idx] = False
        self.n_env_steps += len(rows)

    def _contexts(self) -> tuple[Tensor, Tensor]:
        """``n x C`` left-padded prompt + completion so far of every slot, and its bool mask."""
        assert self.slots is not None
        slots, tok = self.slots, self.policy.tokenizer
        ids, pmask = tok.batch_encode(slots.tasks.prompts, self.device)
        rows = [
            torch.cat([ids[i][pmask[i]], slots.tokens[i, : int(slots.length[i])]])
            for i in range(ids.shape[0])
        ]
        return _left_pad(rows, tok.pad_id, self.device)

    def _window(self, ctx: Tensor, cmask: Tensor, active: Tensor) -> tuple[Generation, Tensor]:
        """Generate this step's window for the ``active`` rows; return it as ``n`` rows (empty for the
        others) and which rows ended with a stop token."""
        assert self.slots is not None
        cfg, tok, n = self.config, self.policy.tokenizer, ctx.shape[0]
        params = SamplingParams(self.window, cfg.temperature, cfg.top_p)
        stops = (tok.eos_id,)
        part = generate(
            self.policy,
            ctx[active],
            cmask[active],
            params,
            stop_ids=stops,
            generator=self.generator,
        )
        budget = self.max_new - self.slots.length[active]  # (a,) tokens a completion may still add
        keep = part.mask & (torch.arange(self.window, device=self.device) < budget.unsqueeze(-1))
        tokens = torch.full((n, self.window), tok.pad_id, dtype=torch.long, device=self.device)
        mask = torch.zeros((n, self.window), dtype=torch.bool, device=self.device)
        tokens[active] = torch.where(keep, part.tokens, tok.pad_id)
        mask[active] = keep
        stopped = (torch.isin(tokens, torch.tensor(stops, device=self.device)) & mask).any(-1)

        def rows(values: Tensor | None) -> Tensor | None:
            if values is None:
                return None
            out = torch.zeros((n, self.window), device=self.device)
            out[active] = values * keep
            return out

        full = (self.slots.length + mask.sum(-1) >= self.max_new) & mask.any(-1)
        gen = Generation(tokens, mask, full & ~stopped, rows(part.logp), rows(part.entropy))
        return gen, stopped

    def _collect_window(
        self, timer: dict[str, float]
    ) -> tuple[Tensor, Tensor, Generation, Rollout, Tensor]:
        """Refill, generate and score one window; return the contexts (``n x C``) and their mask, the
        window, the rollout the estimator reads and which rows finished in it (``n`` bool)."""
        cfg, k = self.config, self.config.completions_per_prompt
        t0 = time.perf_counter()
        self._refill()
        assert self.slots is not None
        slots, n = self.slots, self.slots.length.shape[0]
        active = (~slots.done).nonzero().flatten()
        ctx, cmask = self._contexts()
        gen, stopped = self._window(ctx, cmask, active)
        added = gen.mask.sum(-1)
        finished = stopped | gen.truncated
        cols = slots.length.unsqueeze(-1) + torch.arange(self.window, device=self.device)
        row_ids = torch.arange(n, device=self.device).unsqueeze(-1).expand_as(cols)
        slots.tokens[row_ids[gen.mask], cols[gen.mask]] = gen.tokens[gen.mask]
        slots.length = slots.length + added
        t1 = time.perf_counter()
        raw = torch.zeros(n, len(self.reward_fns), device=self.device)
        done_rows = finished.nonzero().flatten()
        if done_rows.numel():
            length = torch.arange(self.max_new, device=self.device) < slots.length[done_rows, None]
            texts = decode_completions(self.policy, slots.tokens[done_rows], length)
            raw[done_rows] = self._score(slots.tasks.rows(done_rows.tolist()), texts)
        scores = raw @ self.weights  # (n,) reward_normalization is "none"
        timer["generation"] += t1 - t0
        timer["scoring"] += time.perf_counter() - t1
        self.batch = Batch(slots.tasks, raw, gen, None, None)
        self.fresh_rows = n
        mask = gen.mask.float()
        rollout = Rollout(scores, torch.zeros_like(mask), mask, n_groups=n // k)
        t0 = time.perf_counter()
        self._fill_requirements(rollout, slots.tasks.rows(list(range(0, n, k))), ctx, cmask, gen)
        rollout.token_rewards = rollout.token_rewards + window_rewards(
            scores, mask, finished, self._cut_values(gen, finished), cfg.gamma
        )
        timer["scoring"] += time.perf_counter() - t0
        if done_rows.numel():
            self._record(raw[done_rows], scores[done_rows])
            step = torch.tensor([self.n_steps], dtype=torch.long)
            self.recorded_steps = torch.cat([self.recorded_steps, step])
        slots.done = slots.done | finished
        return ctx, cmask, gen, rollout, finished

    @torch.no_grad()
    def _cut_values(self, gen: Generation, finished: Tensor) -> Tensor:
        """``n`` critic values of the state after each row's window (0 where no row is cut off)."""
        assert self.critic is not None
        cut = (gen.mask.any(-1) & ~finished).nonzero().flatten()
        values = torch.zeros(gen.mask.shape[0], device=self.device)
        if not cut.numel():
            return values
        # the slots' prefixes already hold this window: a context is prompt + everything so far
        ctx, cmask = self._contexts()
        probe = torch.full((cut.numel(), 1), self.policy.tokenizer.pad_id, device=self.device)
        ones = torch.ones_like(probe, dtype=torch.bool)
        values[cut] = self.critic(ctx[cut], cmask[cut], probe, ones)[:, 0]
        return values

    # -- the Optimizer contract --------------------------------------------------------------------------------

    def iterate(self) -> dict[str, float]:
        timer = {"generation": 0.0, "scoring": 0.0, "update": 0.0}
        started = self.n_env_steps
        ctx, cmask, gen, rollout, finished = self._collect_window(timer)
        adv, targets = self.advantage_fn(rollout, self.advantage_params)
        t0 = time.perf_counter()
        stats = self._update(ctx, cmask, gen, rollout, adv, targets)
        timer["update"] = time.perf_counter() - t0
        metrics: dict[str, Tensor | float] = {
            "tokens": gen.mask.sum(),
            "active": gen.mask.any(-1).sum(),
            "finished": finished.sum(),
            **stats,
        }
        if bool(finished.any()):  # the step's reward: of the completions that finished in it
            last = self.history[-1]
            metrics["reward"] = self.combined_history[-1]
            metrics["truncated"] = gen.truncated[finished].float().mean()
            metrics.update({f"reward/{name}": last[j] for j, name in enumerate(self.reward_fns)})
        if gen.entropy is not None:
            metrics["entropy"] = gen.entropy.sum() / gen.mask.sum().clamp_min(1)
        out = {key: float(v) for key, v in metrics.items()}
        out.update({f"time/{key}": v for key, v in timer.items()})
        out["completions"] = float(self.n_env_steps - started)
        self.last_metrics = out
        return out

    def result(self) -> TrainerResult:
        """As the trainer's, with ``labels`` the training steps of the history rows they name."""
        out = super().result()
        if out.labels is None or not out.labels.numel():
            return out
        return dataclasses.replace(out, labels=self.recorded_steps[out.labels])

    def get_state(self) -> dict[str, Any]:
        state = super().get_state()
        state["slots"] = None if self.slots is None else self.slots.state()
        state["recorded_steps"] = self.recorded_steps
        return state

    def set_state(self, state: dict[str, Any]) -> None:
        super().set_state(state)
        slots = state["slots"]
        self.slots = None if slots is None else _Slots.from_state(slots, self.device)
        self.recorded_steps = state["recorded_steps"]
