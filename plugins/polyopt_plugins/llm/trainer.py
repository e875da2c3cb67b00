"""The one policy-gradient trainer for language models; GRPO, RLOO, PPO, DAPO, ... are presets of it.

``step()`` = collect -> update:

1. collect: sample ``prompts_per_step`` prompts from the text task, ``completions_per_prompt`` completions each
   (a prompt's completions are contiguous: a *group*); score them with every reward function (``n x m``);
   optionally drop groups whose rewards are all equal and refill (DAPO dynamic sampling); combine the rewards;
   compute exactly what the advantage estimator ``requires`` (a greedy rollout, critic values, reference or
   old log-probabilities) and the advantages.
2. update: ``update_epochs`` optimizer steps over the batch, each accumulating ``micro_batches`` backward
   passes; the loss is the policy loss plus (optionally) the KL estimate, aggregated with normalizers of the
   whole batch so the gradient does not depend on the split. The scoring forward is fused into the update:
   with one epoch the old log-probabilities are the update's own (detached) ones.

``n_env_steps`` counts generated completions (sampled, refilled and greedy ones); the ``tokens`` metric counts
generated tokens. The result is the best training step by mean combined reward, or, with ``multi_objective``,
the non-dominated steps by their mean reward vectors (the reward front); ``extras["policy"]`` is the model.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor

import polyopt
from polyopt.components import REQUIREMENTS, AdvantageParams, LossParams, Rollout, TextTask
from polyopt.errors import ConfigError
from polyopt.optimizer import Trainer
from polyopt.result import TrainerResult
from polyopt_plugins.llm.advantage import _last_token
from polyopt_plugins.llm.aggregation import aggregate, batch_totals
from polyopt_plugins.llm.config import TrainerConfig
from polyopt_plugins.llm.critic import Critic
from polyopt_plugins.llm.kl import exact_kl as kl_exact
from polyopt_plugins.llm.models import build_policy
from polyopt_plugins.llm.policy import completion_logprobs
from polyopt_plugins.llm.reward_mix import combine
from polyopt_plugins.llm.sampler import Generation, SamplingParams, generate
from polyopt_plugins.llm.sft import decode_completions, sft

__all__ = ["PolicyGradientTrainer", "TrainerConfig"]

_TASK_METHODS = ("sample", "score", "sft_batch", "reward_names")


@dataclass
class _Tasks:
    """Prompts and the task fields reward functions read (one entry per row)."""

    prompts: list[str]
    fields: dict[str, list[Any]]

    def rows(self, idx: list[int]) -> _Tasks:
        return _Tasks(
            [self.prompts[i] for i in idx], {k: [v[i] for i in idx] for k, v in self.fields.items()}
        )


@dataclass
class _Batch:
    """Scored completions of whole groups."""

    tasks: _Tasks
    raw: Tensor  # (n, m) one column per reward
    gen: Generation


def _select(batch: _Batch, rows: Tensor) -> _Batch:
    gen = Generation(batch.gen.tokens[rows], batch.gen.mask[rows], batch.gen.truncated[rows])
    return _Batch(batch.tasks.rows(rows.tolist()), batch.raw[rows], gen)


def _cat(parts: list[_Batch], n: int) -> _Batch:
    """The first ``n`` rows of the concatenated parts."""
    prompts = [p for b in parts for p in b.tasks.prompts][:n]
    fields = {k: [x for b in parts for x in b.tasks.fields[k]][:n] for k in parts[0].tasks.fields}
    gen = Generation(
        *(
            torch.cat([getattr(b.gen, f) for b in parts])[:n]
            for f in ("tokens", "mask", "truncated")
        )
    )
    return _Batch(_Tasks(prompts, fields), torch.cat([b.raw for b in parts])[:n], gen)


class PolicyGradientTrainer(Trainer):
    """Policy-gradient trainer over a text task (an Environment with ``sample``/``score``/``sft_batch``)."""

    Config = TrainerConfig
    #: the models train in float32 (their weights are built in it)
    dtypes = frozenset({torch.float32})

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super().compatibility(problem)
        missing = [m for m in _TASK_METHODS if not hasattr(problem, m)]
        if reason is None and missing:
            return f"it needs a text task (with {', '.join(_TASK_METHODS)}); missing {', '.join(missing)}"
        return reason

    def setup(self) -> None:
        cfg, reg = self.config, polyopt.registry()
        self.advantage_fn = reg.get("advantage", cfg.advantage)
        self.loss_fn = reg.get("policy_loss", cfg.policy_loss)
        self.kl_fn = reg.get("kl_estimator", cfg.kl_estimator)
        self.needs = frozenset(getattr(self.advantage_fn, "requires", ()))
        if self.needs - REQUIREMENTS:
            raise ConfigError(
                f"advantage {cfg.advantage!r} requires {sorted(self.needs - REQUIREMENTS)}; the "
                f"trainer provides {sorted(REQUIREMENTS)}"
            )
        if ("groups" in self.needs or cfg.dynamic_sampling) and cfg.completions_per_prompt < 2:
            raise ConfigError(
                f"completions_per_prompt={cfg.completions_per_prompt} with advantage "
                f"{cfg.advantage!r}/dynamic sampling; expected at least 2 (groups are compared)"
            )
        if "greedy" in self.needs and cfg.reward_normalization != "none":
            raise ConfigError(
                f"reward_normalization={cfg.reward_normalization!r} with a greedy baseline; "
                "expected 'none' (the baseline must be scored like the samples)"
            )
        self.reward_fns = self._resolve_rewards()
        weights = cfg.reward_weights or self._default_weights()
        if len(weights) != len(self.reward_fns):
            raise ConfigError(
                f"reward_weights={weights}; expected {len(self.reward_fns)} weights for rewards "
                f"{list(self.reward_fns)}"
            )
        self.weights = torch.tensor(weights, dtype=torch.float32, device=self.device)
        self.max_new = cfg.max_new_tokens or int(getattr(self.problem, "completion_len", 16))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # the model's initial weights follow the run seed
            self.policy = build_policy(
                cfg.model,
                n_layer=cfg.n_layer,
                n_head=cfg.n_head,
                d_model=cfg.d_model,
                init_from=cfg.init_from,
                lora_rank=cfg.lora_rank,
                device=self.device,
            )
            if cfg.sft_steps:
                sft(
                    self.policy,
                    self.problem,
                    steps=cfg.sft_steps,
                    lr=cfg.sft_lr,
                    generator=self.generator,
                )
            self.critic = Critic(self.policy).to(self.device) if "values" in self.needs else None
        want_ref = cfg.kl_coef > 0 or "ref_logp" in self.needs
        self.ref = self._snapshot() if want_ref else None
        self.opt = torch.optim.AdamW(
            [p for p in self.policy.parameters() if p.requires_grad],
            lr=cfg.lr,
            weight_decay=cfg.weight_decay,
        )
        self.critic_opt = (
            torch.optim.AdamW(self.critic.parameters(), lr=cfg.critic_lr)
            if self.critic is not None
            else None
        )
        self.history = torch.zeros(0, len(self.reward_fns))
        self.combined_history = torch.zeros(0)
        self.reward_scale: Tensor | None = None

    def _resolve_rewards(self) -> dict[str, Any]:
        own = dict(getattr(self.problem, "reward_fns", {}))
        names = self.config.rewards or list(own)
        return {
            name: own[name] if name in own else polyopt.registry().get("reward", name)
            for name in names
        }

    def _default_weights(self) -> list[float]:
        defaults = list(getattr(self.problem, "default_weights", ()))
        if not self.config.rewards and len(defaults) == len(self.reward_fns):
            return defaults
        return [1.0] * len(self.reward_fns)

    def _snapshot(self) -> torch.nn.Module | None:
        """The reference policy: an in-memory copy of the current weights (None with LoRA: adapters off)."""
        if self.config.lora_rank:
            return None
        ref = copy.deepcopy(self.policy).eval()
        ref.requires_grad_(False)
        return ref

    # -- collect -----------------------------------------------------------------------------------------------

    def _score(self, batch: Any, texts: list[str]) -> Tensor:
        cols = [
            fn(batch.prompts, texts, **batch.fields).to(self.device, torch.float32)
            for fn in self.reward_fns.values()
        ]
        return torch.stack(cols, dim=-1)  # (n, m)

    def _generate(self, prompts: list[str], temperature: float) -> Generation:
        ids, mask = self.policy.tokenizer.batch_encode(prompts, self.device)
        params = SamplingParams(
            max_new_tokens=self.max_new, temperature=temperature, top_p=self.config.top_p
        )
        gen = generate(
            self.policy,
            ids,
            mask,
            params,
            stop_ids=(self.policy.tokenizer.eos_id,),
            generator=self.generator,
        )
        self.n_env_steps += len(prompts)
        return gen

    def _sample_groups(self, n_prompts: int, timer: dict[str, float]) -> tuple[list[_Batch], int]:
        """Sample groups, keeping (with dynamic sampling) only those whose rewards vary; refill until enough."""
        cfg, k = self.config, self.config.completions_per_prompt
        kept: list[_Batch] = []
        need, last = n_prompts, None
        for _ in range(1 + (cfg.max_refills if cfg.dynamic_sampling else 0)):
            t0 = time.perf_counter()
            sampled = cast(TextTask, self.problem).sample(need, self.generator).repeat(k)
            tasks = _Tasks(sampled.prompts, sampled.fields)
            gen = self._generate(tasks.prompts, cfg.temperature)
            texts = decode_completions(self.policy, gen.tokens, gen.mask)
            t1 = time.perf_counter()
            raw = self._score(tasks, texts)
            timer["generation"] += t1 - t0
            timer["scoring"] += time.perf_counter() - t1
            last = _Batch(tasks, raw, gen)
            if not cfg.dynamic_sampling:
                return [last], need
            varies = (raw.view(need, k, -1).std(1) > 0).any(-1)  # (need,) a group with any spread
            rows = varies.repeat_interleave(k).nonzero().flatten()
            if rows.numel():
                kept.append(_select(last, rows))
            need -= rows.numel() // k
            if need <= 0:
                break
        if not kept:  # nothing varied: train on the last batch (every group advantage is zero)
            return [last], n_prompts  # type: ignore[list-item]
        return kept, n_prompts - max(need, 0)

    def _collect(
        self, timer: dict[str, float]
    ) -> tuple[Tensor, Tensor, Generation, Tensor, Rollout]:
        """Sample and score a batch; return prompt ids and mask (``n x P``), the generation, the raw rewards
        (``n x m``) and the rollout the estimator reads."""
        cfg, k = self.config, self.config.completions_per_prompt
        parts, n_groups = self._sample_groups(cfg.prompts_per_step, timer)
        batch = _cat(parts, n_groups * k)
        raw, gen = batch.raw, batch.gen
        ids, pmask = self.policy.tokenizer.batch_encode(batch.tasks.prompts, self.device)
        score, self.reward_scale = combine(
            raw, self.weights, cfg.reward_normalization, n_groups, self.reward_scale
        )
        mask = gen.mask.float()
        rollout = Rollout(
            scores=score,
            token_rewards=score.unsqueeze(-1) * _last_token(mask),
            mask=mask,
            n_groups=n_groups,
        )
        t0 = time.perf_counter()
        self._fill_requirements(
            rollout, batch.tasks.rows(list(range(0, n_groups * k, k))), ids, pmask, gen
        )
        timer["scoring"] += time.perf_counter() - t0
        self._record(raw, score)
        return ids, pmask, gen, raw, rollout

    @torch.no_grad()
    def _fill_requirements(
        self, r: Rollout, unique: _Tasks, ids: Tensor, pmask: Tensor, gen: Generation
    ) -> None:
        """Compute what the estimator requires — and the KL pieces the config asks for — nothing else."""
        cfg, k = self.config, self.config.completions_per_prompt
        if "greedy" in self.needs:
            greedy = self._generate(unique.prompts, 0.0)
            raw = self._score(unique, decode_completions(self.policy, greedy.tokens, greedy.mask))
            r.greedy_scores = (raw @ self.weights).repeat_interleave(k)
        if "values" in self.needs:
            assert self.critic is not None
            r.values = self.critic(ids, pmask, gen.tokens, gen.mask)
        kl_in_reward = cfg.kl_coef > 0 and cfg.kl_in == "reward"
        if "old_logp" in self.needs or cfg.update_epochs > 1 or kl_in_reward:
            r.old_logp, _ = self._logprobs(self.policy, ids, pmask, gen.tokens, gen.mask)
        if self.ref is not None or (cfg.lora_rank and cfg.kl_coef > 0):
            r.ref_logp = self._ref_logprobs(ids, pmask, gen)
        if kl_in_reward:
            assert r.old_logp is not None and r.ref_logp is not None
            r.token_rewards = (
                r.token_rewards - cfg.kl_coef * self.kl_fn(r.old_logp, r.ref_logp) * r.mask
            )

    @torch.no_grad()
    def _ref_logprobs(self, ids: Tensor, pmask: Tensor, gen: Generation) -> Tensor:
        if self.ref is not None:
            return self._logprobs(self.ref, ids, pmask, gen.tokens, gen.mask)[0]
        with self.policy.adapters_disabled():  # type: ignore[operator]  # a LoRA (peft) policy's method
            return self._logprobs(self.policy, ids, pmask, gen.tokens, gen.mask)[0]

    def _logprobs(
        self,
        model: Any,
        ids: Tensor,
        pmask: Tensor,
        comp: Tensor,
        cmask: Tensor,
        full: bool = False,
    ) -> tuple[Tensor, Tensor | None]:
        """Completion log-probabilities under the sampling temperature (the distribution the rollouts came
        from, as in TRL and verl; top-p truncation is not applied). Greedy rollouts (temperature 0) use 1."""
        temperature = self.config.temperature or 1.0
        return completion_logprobs(
            model, ids, pmask, comp, cmask, full=full, temperature=temperature
        )

    def _record(self, raw: Tensor, score: Tensor) -> None:
        self.history = torch.cat([self.history, raw.mean(0).detach().cpu().view(1, -1)])
        self.combined_history = torch.cat(
            [self.combined_history, score.mean().detach().cpu().view(1)]
        )

    # -- update ------------------------------------------------------------------------------------------------

    def _update(
        self,
        ids: Tensor,
        pmask: Tensor,
        gen: Generation,
        r: Rollout,
        adv: Tensor,
        targets: Tensor | None,
    ) -> dict[str, Tensor]:
        """``update_epochs`` optimizer steps over the batch in ``micro_batches`` chunks; returns summed metrics."""
        cfg = self.config
        lmask = r.mask * (~gen.truncated).float().unsqueeze(-1) if cfg.mask_truncated else r.mask
        totals = batch_totals(lmask)
        chunks = torch.arange(ids.shape[0], device=self.device).chunk(cfg.micro_batches)
        stats: dict[str, Tensor] = {}
        for epoch in range(cfg.update_epochs):
            self.opt.zero_grad(set_to_none=True)
            for rows in chunks:
                part = self._micro_loss(
                    ids[rows],
                    pmask[rows],
                    gen.tokens[rows],
                    gen.mask[rows],
                    r,
                    rows,
                    adv,
                    lmask,
                    totals,
                    first=epoch == 0,
                )
                for key, value in part.items():
                    stats[key] = stats.get(key, 0.0) + value.detach()
            self._clip_and_step(self.policy, self.opt)
            if self.critic is not None and targets is not None:
                self._critic_update(ids, pmask, gen, targets, lmask, totals, chunks)
        return stats

    def _micro_loss(
        self,
        ids: Tensor,
        pmask: Tensor,
        comp: Tensor,
        cmask: Tensor,
        r: Rollout,
        rows: Tensor,
        adv: Tensor,
        lmask: Tensor,
        totals: dict[str, Tensor],
        first: bool,
    ) -> dict[str, Tensor]:
        cfg = self.config
        exact = first and cfg.log_exact_kl and r.ref_logp is not None and self.ref is not None
        logp, full = self._logprobs(self.policy, ids, pmask, comp, cmask, full=exact)
        old = r.old_logp[rows] if r.old_logp is not None else logp.detach()
        token_loss = self.loss_fn(logp, old, adv[rows], lmask[rows], self.loss_params)
        out = {
            "policy_loss": aggregate(
                token_loss, lmask[rows], cfg.loss_aggregation, totals, self.max_new
            )
        }
        loss = out["policy_loss"]
        if r.ref_logp is not None:
            kl = self.kl_fn(logp, r.ref_logp[rows]) * lmask[rows]
            out["kl_estimate"] = aggregate(kl, lmask[rows], "token-mean", totals, self.max_new)
            if cfg.kl_coef > 0 and cfg.kl_in == "loss":
                loss = loss + cfg.kl_coef * aggregate(
                    kl, lmask[rows], cfg.loss_aggregation, totals, self.max_new
                )
        if exact:
            with torch.no_grad():
                _, ref_full = self._logprobs(self.ref, ids, pmask, comp, cmask, full=True)
                true_kl = kl_exact(full, ref_full) * lmask[rows]  # type: ignore[arg-type]
            out["kl_exact"] = aggregate(true_kl, lmask[rows], "token-mean", totals, self.max_new)
        ratio = torch.exp(logp.detach() - old)
        clipped = ((ratio - 1).abs() > cfg.clip_low).float() * lmask[rows]
        out["clip_fraction"] = aggregate(clipped, lmask[rows], "token-mean", totals, self.max_new)
        loss.backward()
        return out

    def _critic_update(
        self,
        ids: Tensor,
        pmask: Tensor,
        gen: Generation,
        targets: Tensor,
        lmask: Tensor,
        totals: dict[str, Tensor],
        chunks: tuple[Tensor, ...],
    ) -> None:
        assert self.critic is not None and self.critic_opt is not None
        self.critic_opt.zero_grad(set_to_none=True)
        for rows in chunks:
            values = self.critic(ids[rows], pmask[rows], gen.tokens[rows], gen.mask[rows])
            err = 0.5 * (values - targets[rows]) ** 2 * lmask[rows]
            aggregate(err, lmask[rows], "token-mean", totals, self.max_new).backward()
        self._clip_and_step(self.critic, self.critic_opt)

    def _clip_and_step(self, module: torch.nn.Module, opt: torch.optim.Optimizer) -> None:
        if self.config.max_grad_norm > 0:
            torch.nn.utils.clip_grad_norm_(
                [p for p in module.parameters() if p.requires_grad], self.config.max_grad_norm
            )
        opt.step()

    @property
    def loss_params(self) -> LossParams:
        cfg = self.config
        options = dict(cfg.policy_loss_options or {})
        return LossParams(cfg.clip_low, cfg.clip_high, cfg.dual_clip, options=options)

    @property
    def advantage_params(self) -> AdvantageParams:
        cfg = self.config
        return AdvantageParams(
            gamma=cfg.gamma, lam=cfg.lam, options=dict(cfg.advantage_options or {})
        )

    # -- the Optimizer contract --------------------------------------------------------------------------------

    def iterate(self) -> dict[str, float]:
        timer = {"generation": 0.0, "scoring": 0.0, "update": 0.0}
        steps_before = self.n_env_steps
        ids, pmask, gen, raw, rollout = self._collect(timer)
        adv, targets = self.advantage_fn(rollout, self.advantage_params)
        t0 = time.perf_counter()
        stats = self._update(ids, pmask, gen, rollout, adv, targets)
        timer["update"] = time.perf_counter() - t0
        metrics: dict[str, Tensor | float] = {
            "reward": rollout.scores.mean(),
            "tokens": gen.mask.sum(),
            "groups": float(rollout.n_groups),
            "truncated": gen.truncated.float().mean(),
            **stats,
        }
        metrics.update(
            {f"reward/{name}": raw[:, j].mean() for j, name in enumerate(self.reward_fns)}
        )
        out = {k: float(v) for k, v in metrics.items()}  # the one host sync of the step
        out.update({f"time/{k}": v for k, v in timer.items()})
        out["completions"] = float(self.n_env_steps - steps_before)
        return out

    def result(self) -> TrainerResult:
        """The best step by mean combined reward, or the reward front (``multi_objective``): the steps whose
        mean reward vectors are non-dominated. ``labels`` are those steps; ``policy`` is the current model."""
        from polyopt.pareto import non_dominated_mask

        h, c = self.history, self.combined_history
        steps = torch.arange(h.shape[0])
        names = list(self.reward_fns)
        if self.config.multi_objective and h.shape[1] > 1:
            keep = non_dominated_mask(-h) if h.shape[0] else torch.zeros(0, dtype=torch.bool)
            labels, returns = steps[keep], h[keep]
        else:
            best = c.argmax().view(1) if c.numel() else torch.zeros(0, dtype=torch.long)
            labels, returns, names = steps[best], c[best].view(-1, 1), ["reward"]
        return self.make_result(
            self.policy, returns, labels=labels, reward_names=names, history=h.clone()
        )

    def get_state(self) -> dict[str, Any]:
        return {
            "policy": self.policy.state_dict(),
            "opt": self.opt.state_dict(),
            "ref": None if self.ref is None else self.ref.state_dict(),
            "critic": None if self.critic is None else self.critic.state_dict(),
            "critic_opt": None if self.critic_opt is None else self.critic_opt.state_dict(),
            "history": self.history,
            "combined_history": self.combined_history,
            "reward_scale": self.reward_scale,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.opt.load_state_dict(state["opt"])
        if self.ref is not None:
            self.ref.load_state_dict(state["ref"])
        if self.critic is not None and self.critic_opt is not None:
            self.critic.load_state_dict(state["critic"])
            self.critic_opt.load_state_dict(state["critic_opt"])
        self.history, self.combined_history = state["history"], state["combined_history"]
        scale = state["reward_scale"]
        self.reward_scale = None if scale is None else scale.to(self.device)
