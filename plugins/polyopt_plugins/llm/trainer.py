"""The one policy-gradient trainer for language models; GRPO, RLOO, PPO, DAPO, ... are presets of it.

``step()`` = collect -> update:

1. collect: the ``prompt_sampler`` picks ``prompts_per_step`` prompts and how many completions each gets
   (``uniform``: ``completions_per_prompt`` each; DAPO's refill keeps only groups whose rewards vary); a
   prompt's completions are contiguous: a *group*. They are scored with every reward function (``n x m``);
   ``guidance`` may hint, inject or queue supervised pairs for groups nobody solved; the ``replay`` buffer
   adds groups of earlier steps; the rewards are combined; exactly what the advantage estimator and the loss
   ``require`` is computed (a greedy rollout, critic values, reference or old log-probabilities) and then the
   advantages, which an ``advantage_shaping`` may reshape with per-token entropy or a baseline it keeps
   across steps.
2. update: ``update_epochs`` optimizer steps over the batch, each accumulating ``micro_batches`` backward
   passes over whole groups; the loss is the policy loss (its ratio clipped to the ``clip_range``) plus
   (optionally) the KL estimate and an entropy bonus, aggregated with normalizers of the whole batch so the
   gradient does not depend on the split. The scoring forward is fused into the update: with one epoch the
   old log-probabilities of fresh rows are the update's own (detached) ones; replayed rows use the
   log-probabilities of the policy that sampled them.

Every axis defaults to a component that changes nothing. ``n_env_steps`` counts generated completions
(sampled, refilled, hinted and greedy ones); the ``tokens`` metric counts generated tokens and ``entropy`` is
the mean entropy of the sampling distribution over them. The rewards are combined with weights a
``reward_weighting`` sets each step (``static``: the configured ones). The result is the best training step by
mean combined reward, or, with ``multi_objective`` or a dynamic weighting, the non-dominated steps by their mean
reward vectors (the reward front);
``metrics`` hold the last step's main metrics and, with ``eval_prompts``, held-out greedy accuracy and pass@k.
"""

from __future__ import annotations

import copy
import time
from typing import Any

import torch
from torch import Tensor

import polyopt
from polyopt.components import (
    REQUIREMENTS,
    AdvantageParams,
    LossParams,
    Rollout,
)
from polyopt.errors import ConfigError
from polyopt.optimizer import Trainer
from polyopt.result import TrainerResult
from polyopt_plugins.llm import axes
from polyopt_plugins.llm.advantage import _last_token
from polyopt_plugins.llm.aggregation import aggregate, batch_totals
from polyopt_plugins.llm.batch import Tasks, cat
from polyopt_plugins.llm.config import TrainerConfig
from polyopt_plugins.llm.critic import Critic
from polyopt_plugins.llm.kl import exact_kl as kl_exact
from polyopt_plugins.llm.models import warm_policy
from polyopt_plugins.llm.policy import completion_logprobs
from polyopt_plugins.llm.reward_mix import combine
from polyopt_plugins.llm.sampler import Generation, SamplingParams, generate
from polyopt_plugins.llm.sft import decode_completions

__all__ = ["PolicyGradientTrainer", "TrainerConfig"]

_TASK_METHODS = ("sample", "score", "sft_batch", "reward_names")
#: the last step's metrics a result reports (when the step logged them)
_RESULT_METRICS = ("reward", "entropy", "kl_estimate", "clip_fraction", "truncated")


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
        self.shaping_fn = reg.get("advantage_shaping", cfg.advantage_shaping)
        self.clip_fn = reg.get("clip_range", cfg.clip_range)
        self.needs = frozenset(getattr(self.advantage_fn, "requires", ()))
        self.loss_needs = frozenset(getattr(self.loss_fn, "requires", ()))
        #: rows per group in the loss's micro-batches (0: rows are not grouped)
        self.loss_group_size = cfg.completions_per_prompt
        self._check_requirements()
        self.sampler, self.replay, self.guidance = axes.build_axes(cfg)
        axes.check_unequal_groups(self)
        #: ``n`` group index of each row when the prompt sampler gave groups unequal sizes, else None
        self.group_ids: Tensor | None = None
        self.reward_fns = self._resolve_rewards()
        weights = cfg.reward_weights or axes.default_weights(self)
        if len(weights) != len(self.reward_fns):
            raise ConfigError(
                f"reward_weights={weights}; expected {len(self.reward_fns)} weights for rewards "
                f"{list(self.reward_fns)}"
            )
        self.weights = torch.tensor(weights, dtype=torch.float32, device=self.device)
        self.base_weights = self.weights.clone()
        self.weighting_fn = reg.get("reward_weighting", cfg.reward_weighting)
        self.weighting_state: dict[str, Tensor] = {}
        if cfg.reward_weighting != "static" and not all(w > 0 for w in weights):
            raise ConfigError(
                f"reward_weights={weights} with reward_weighting={cfg.reward_weighting!r}; expected "
                "positive weights (a dynamic weighting redistributes their sum)"
            )
        self.max_new = cfg.max_new_tokens or int(getattr(self.problem, "completion_len", 16))
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # the model's initial weights follow the run seed
            self.policy = warm_policy(
                cfg,
                self.problem,
                lora_rank=cfg.lora_rank,
                device=self.device,
                generator=self.generator,
            )
            self.critic = Critic(self.policy).to(self.device) if "values" in self.needs else None
        self.want_ref = cfg.kl_coef > 0 or bool(
            {"ref_logp", "ref_scores"} & (self.needs | self.loss_needs)
        )
        self.ref = self._snapshot() if self.want_ref else None
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
        self.shaping_state: dict[str, Any] = {}
        self.last_metrics: dict[str, float] = {}
        self._evaluation: tuple[int, dict[str, float]] | None = None
        self._sft_pending: list[tuple[str, str]] = []
        if cfg.value_pretrain_steps:
            axes.pretrain_values(self)

    def _check_requirements(self) -> None:
        cfg, k = self.config, self.config.completions_per_prompt
        if self.needs - REQUIREMENTS:
            raise ConfigError(
                f"advantage {cfg.advantage!r} requires {sorted(self.needs - REQUIREMENTS)}; the "
                f"trainer provides {sorted(REQUIREMENTS)}"
            )
        grouped = "groups" in self.needs | self.loss_needs
        if (grouped or cfg.dynamic_sampling) and k < 2:
            raise ConfigError(
                f"completions_per_prompt={k} with advantage {cfg.advantage!r}, policy loss "
                f"{cfg.policy_loss!r}/dynamic sampling; expected at least 2 (groups are compared)"
            )
        rollouts = {"greedy", "ref_scores"} & self.needs  # a greedy or reference rollout, scored
        if rollouts and cfg.reward_normalization != "none":
            raise ConfigError(
                f"reward_normalization={cfg.reward_normalization!r} with advantage {cfg.advantage!r}; "
                "expected 'none' (its greedy or reference rollout must be scored like the samples)"
            )
        if rollouts and cfg.replay != "none":
            raise ConfigError(
                f"replay={cfg.replay!r} with advantage {cfg.advantage!r}: its greedy or reference "
                "rollout needs the task fields of every prompt, which replayed groups do not keep; "
                "expected replay='none'"
            )
        if cfg.value_pretrain_steps and "values" not in self.needs:
            raise ConfigError(
                f"value_pretrain_steps={cfg.value_pretrain_steps} with advantage {cfg.advantage!r}, "
                "which has no critic; expected 0 or an estimator that requires values (gae, ...)"
            )

    def _resolve_rewards(self) -> dict[str, Any]:
        """The reward functions by name (a subclass with rewards of its own overrides this)."""
        return axes.resolve_rewards(self)

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

    def _generate(self, prompts: list[str], temperature: float, model: Any = None) -> Generation:
        ids, mask = self.policy.tokenizer.batch_encode(prompts, self.device)
        params = SamplingParams(
            max_new_tokens=self.max_new, temperature=temperature, top_p=self.config.top_p
        )
        gen = generate(
            self.policy if model is None else model,
            ids,
            mask,
            params,
            stop_ids=(self.policy.tokenizer.eos_id,),
            generator=self.generator,
        )
        self.n_env_steps += len(prompts)
        return gen

    def _collect(
        self, timer: dict[str, float], *, record: bool = True
    ) -> tuple[Tensor, Tensor, Generation, Tensor, Rollout]:
        """Sample and score a batch; return prompt ids and mask (``n x P``), the generation, the raw rewards
        (``n x m``) and the rollout the estimator reads. The batch itself is kept as ``self.batch``."""
        cfg, k = self.config, self.config.completions_per_prompt
        parts, n_groups = axes.sample_groups(self, cfg.prompts_per_step, timer)
        batch = cat(parts, n_groups * k, k)
        if cfg.guidance != "none":
            from polyopt_plugins.llm.guided import apply_guidance

            batch = apply_guidance(self, batch, timer)
        self.fresh_rows = batch.raw.shape[0]
        batch = axes.mix_replay(self, batch)
        self.batch = batch
        n_groups = batch.raw.shape[0] // k
        raw, gen = batch.raw, batch.gen
        ids, pmask = self.policy.tokenizer.batch_encode(batch.tasks.model_prompts(), self.device)
        axes.reweight(self, raw[: self.fresh_rows], ids, pmask, gen)
        score, self.reward_scale = combine(
            raw, self.weights, cfg.reward_normalization, n_groups, self.reward_scale
        )
        mask = gen.mask.float()
        rollout = Rollout(
            scores=score,
            token_rewards=score.unsqueeze(-1) * _last_token(mask),
            mask=mask,
            n_groups=n_groups,
            group_ids=self.group_ids,
        )
        t0 = time.perf_counter()
        self._fill_requirements(
            rollout, batch.tasks.rows(list(range(0, n_groups * k, k))), ids, pmask, gen
        )
        timer["scoring"] += time.perf_counter() - t0
        if record:
            self._record(raw[: self.fresh_rows], score[: self.fresh_rows])
        return ids, pmask, gen, raw, rollout

    @torch.no_grad()
    def _fill_requirements(
        self, r: Rollout, unique: Tasks, ids: Tensor, pmask: Tensor, gen: Generation
    ) -> None:
        """Compute what the estimator and the loss require — and the KL pieces the config asks for."""
        cfg, k = self.config, self.config.completions_per_prompt
        if "greedy" in self.needs:
            greedy = self._generate(unique.prompts, 0.0)
            raw = self._score(unique, decode_completions(self.policy, greedy.tokens, greedy.mask))
            r.greedy_scores = (raw @ self.weights).repeat_interleave(k)
        if "values" in self.needs:
            assert self.critic is not None
            r.values = self.critic(ids, pmask, gen.tokens, gen.mask)
        if "ref_scores" in self.needs:
            r.ref_scores = axes.reference_scores(self)
        kl_in_reward = cfg.kl_coef > 0 and cfg.kl_in == "reward"
        if "old_logp" in self.needs or cfg.update_epochs > 1 or kl_in_reward:
            r.old_logp, _ = self._logprobs(self.policy, ids, pmask, gen.tokens, gen.mask)
        if self.ref is not None or (cfg.lora_rank and self.want_ref):
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

    def _chunks(self, n: int) -> tuple[Tensor, ...]:
        """Row indices of each micro-batch: whole groups, so group-level losses see their group."""
        k = self.config.completions_per_prompt
        groups = torch.arange(n // k, device=self.device).chunk(self.config.micro_batches)
        within = torch.arange(k, device=self.device)
        return tuple((g.unsqueeze(-1) * k + within).flatten() for g in groups)

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
        chunks = self._chunks(ids.shape[0])
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
        cfg, mask = self.config, lmask[rows]
        exact = first and cfg.log_exact_kl and r.ref_logp is not None and self.ref is not None
        logp, full = self._logprobs(
            self.policy, ids, pmask, comp, cmask, full=exact or cfg.entropy_coef > 0
        )
        old, weight = axes.old_logp(self, logp, r, rows)
        ratio = torch.exp(logp.detach() - old)
        params = axes.loss_params(self, ratio, old, adv[rows], mask, r, rows)
        token_loss = self.loss_fn(logp, old, adv[rows], mask, params)
        if weight is not None:
            token_loss = token_loss * weight
        out = {
            "policy_loss": aggregate(token_loss, mask, cfg.loss_aggregation, totals, self.max_new)
        }
        loss = out["policy_loss"]
        if r.ref_logp is not None:
            kl = self.kl_fn(logp, r.ref_logp[rows]) * mask
            out["kl_estimate"] = aggregate(kl, mask, "token-mean", totals, self.max_new)
            if cfg.kl_coef > 0 and cfg.kl_in == "loss":
                loss = loss + cfg.kl_coef * aggregate(
                    kl, mask, cfg.loss_aggregation, totals, self.max_new
                )
        if cfg.entropy_coef > 0:
            assert full is not None
            entropy = -(full.exp() * full).sum(-1) * mask  # (b, T) the policy's, with its gradient
            out["policy_entropy"] = aggregate(entropy, mask, "token-mean", totals, self.max_new)
            bonus = aggregate(entropy, mask, cfg.loss_aggregation, totals, self.max_new)
            loss = loss - cfg.entropy_coef * bonus
        if exact:
            with torch.no_grad():
                _, ref_full = self._logprobs(self.ref, ids, pmask, comp, cmask, full=True)
                true_kl = kl_exact(full, ref_full) * mask  # type: ignore[arg-type]
            out["kl_exact"] = aggregate(true_kl, mask, "token-mean", totals, self.max_new)
        low, high = params.clip_low, params.clip_high
        clipped = ((ratio < 1 - low) | (ratio > 1 + high)).float() * mask
        out["clip_fraction"] = aggregate(clipped, mask, "token-mean", totals, self.max_new)
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
        adv = self.shaping_fn(adv, axes.step_context(self, rollout))
        t0 = time.perf_counter()
        stats = self._update(ids, pmask, gen, rollout, adv, targets)
        if self._sft_pending:
            stats["sft_loss"] = axes.supervised_step(self)
        timer["update"] = time.perf_counter() - t0
        k, fresh = self.config.completions_per_prompt, self.fresh_rows
        if self.group_ids is None:
            self.sampler.observe(
                self.batch.tasks.prompts[:fresh:k], raw[:fresh].view(fresh // k, k, -1)
            )
        else:  # unequal groups: one observation per group
            axes.observe_unequal(self, raw)
        metrics: dict[str, Tensor | float] = {
            "reward": rollout.scores[:fresh].mean(),
            "tokens": gen.mask[:fresh].sum(),
            "groups": float(rollout.n_groups),
            "truncated": gen.truncated[:fresh].float().mean(),
            **stats,
        }
        if gen.entropy is not None:
            mask = gen.mask[:fresh]
            metrics["entropy"] = gen.entropy[:fresh].sum() / mask.sum().clamp_min(1)
        metrics.update(
            {f"reward/{name}": raw[:fresh, j].mean() for j, name in enumerate(self.reward_fns)}
        )
        if self.config.reward_weighting != "static":
            metrics.update({f"weight/{n}": self.weights[j] for j, n in enumerate(self.reward_fns)})
        out = {k_: float(v) for k_, v in metrics.items()}  # the one host sync of the step
        out.update({f"time/{k_}": v for k_, v in timer.items()})
        out["completions"] = float(self.n_env_steps - steps_before)
        self.last_metrics = out
        return out

    def evaluate(self) -> dict[str, float]:
        """Held-out greedy accuracy (and pass@``eval_k``) on ``eval_prompts`` prompts drawn from a generator
        of their own (the same prompts at every call, none of the training RNG), cached per step."""
        cfg = self.config
        if not cfg.eval_prompts:
            return {}
        if self._evaluation is not None and self._evaluation[0] == self.n_steps:
            return self._evaluation[1]
        from polyopt_plugins.llm.evaluate import evaluate

        was_training = self.policy.training
        self.policy.eval()
        metrics = evaluate(
            self.policy,
            self.problem,
            prompts=cfg.eval_prompts,
            k=cfg.eval_k,
            temperature=cfg.temperature or 1.0,
            seed=self.seed + 1_000_003,
            max_new_tokens=self.max_new,
        )
        self.policy.train(was_training)
        self._evaluation = (self.n_steps, metrics)
        return metrics

    def result(self) -> TrainerResult:
        """The best step by mean combined reward, or the reward front (``multi_objective``): the steps whose
        mean reward vectors are non-dominated. ``labels`` are those steps; ``policy`` is the current model;
        ``metrics`` the last step's reward, entropy, KL and clip fraction (``last_step/...``) and the held-out
        evaluation (``eval/...``, with ``eval_prompts``)."""
        from polyopt.pareto import non_dominated_mask

        h, c = self.history, self.combined_history
        steps = torch.arange(h.shape[0])
        names = list(self.reward_fns)
        front = self.config.multi_objective or self.config.reward_weighting != "static"
        if front and h.shape[1] > 1:
            keep = non_dominated_mask(-h) if h.shape[0] else torch.zeros(0, dtype=torch.bool)
            labels, returns = steps[keep], h[keep]
        else:
            best = c.argmax().view(1) if c.numel() else torch.zeros(0, dtype=torch.long)
            labels, returns, names = steps[best], c[best].view(-1, 1), ["reward"]
        metrics = {
            f"last_step/{key}": self.last_metrics[key]
            for key in _RESULT_METRICS
            if key in self.last_metrics
        }
        metrics.update({f"eval/{key}": value for key, value in self.evaluate().items()})
        return self.make_result(
            self.policy,
            returns,
            labels=labels,
            reward_names=names,
            history=h.clone(),
            metrics=metrics,
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
            "weights": self.weights,
            "weighting": self.weighting_state,
            "shaping": self.shaping_state,
            "sampler": self.sampler.state_dict(),
            "replay": self.replay.state_dict(),
            "guidance": self.guidance.state_dict(),
            "last_metrics": self.last_metrics,
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
        self.shaping_state = axes.to_device(state.get("shaping", {}), self.device)
        self.weights = state.get("weights", self.weights).to(self.device)
        self.weighting_state = axes.to_device(state.get("weighting", {}), self.device)
        self.sampler.load_state_dict(axes.to_device(state.get("sampler", {}), self.device))
        self.replay.load_state_dict(axes.to_device(state.get("replay", {}), self.device))
        self.guidance.load_state_dict(axes.to_device(state.get("guidance", {}), self.device))
        self.last_metrics = dict(state.get("last_metrics", {}))
