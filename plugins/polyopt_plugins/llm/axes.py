"""How the policy-gradient trainer runs its further axes: building the components, the prompt sampler's
rounds, replay, the advantage shaping's context, the loss's ratio denominators and clip range, value
pretraining and interleaved supervised steps. Functions of the trainer, so that ``trainer.py`` reads as
collect -> update; every one leaves the run unchanged when its axis is at its default.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

import polyopt
from polyopt.components import (
    AdvantageParams,
    ClipContext,
    LossParams,
    Rollout,
    SampledGroups,
    StepContext,
    WeightingContext,
)
from polyopt.errors import ConfigError
from polyopt_plugins.llm.advantage import _returns
from polyopt_plugins.llm.aggregation import batch_totals
from polyopt_plugins.llm.batch import Batch, Tasks, cat, from_groups, select, to_groups
from polyopt_plugins.llm.sampler import Generation
from polyopt_plugins.llm.sft import decode_completions, nll_step

if TYPE_CHECKING:
    from polyopt_plugins.llm.trainer import PolicyGradientTrainer

__all__ = [
    "build_component",
    "build_axes",
    "check_unequal_groups",
    "sample_groups",
    "observe_unequal",
    "mix_replay",
    "step_context",
    "old_logp",
    "loss_params",
    "pretrain_values",
    "supervised_step",
    "to_device",
    "policy_gradients",
    "reweight",
    "reference_scores",
    "resolve_rewards",
    "default_weights",
]


def build_component(kind: str, name: str, options: dict[str, Any] | None) -> Any:
    """``registry.get(kind, name)(**options)``, with bad options reported as a config error."""
    factory = polyopt.registry().get(kind, name)
    try:
        return factory(**(options or {}))
    except TypeError as exc:
        raise ConfigError(f"{kind.replace('_', ' ')} {name!r}: {exc}") from None


def build_axes(cfg: Any) -> tuple[Any, Any, Any]:
    """The prompt sampler (``dynamic_sampling=True`` is the ``dapo`` sampler), replay buffer and guidance."""
    sampler, options = cfg.prompt_sampler, dict(cfg.prompt_sampler_options or {})
    if cfg.dynamic_sampling:
        if sampler not in ("uniform", "dapo"):
            raise ConfigError(
                f"dynamic_sampling=True with prompt_sampler={sampler!r}; dynamic sampling is the "
                "'dapo' prompt sampler: set one or the other"
            )
        sampler = "dapo"
        options.setdefault("max_refills", cfg.max_refills)
    return (
        build_component("prompt_sampler", sampler, options),
        build_component("replay", cfg.replay, cfg.replay_options),
        build_component("guidance", cfg.guidance, cfg.guidance_options),
    )


def check_unequal_groups(trainer: PolicyGradientTrainer) -> None:
    """A sampler with an ``allocation`` (unequal groups) needs an estimator that takes them, and axes that
    keep groups of ``k`` rows (group losses, replay, guidance, shaping, per-group rewards) at their default."""
    cfg = trainer.config
    if not hasattr(trainer.sampler, "allocation"):
        return
    clashes = {
        f"advantage={cfg.advantage!r}": not getattr(trainer.advantage_fn, "ragged_groups", False),
        f"policy_loss={cfg.policy_loss!r}": "groups" in trainer.loss_needs,
        f"replay={cfg.replay!r}": cfg.replay != "none",
        f"guidance={cfg.guidance!r}": cfg.guidance != "none",
        f"advantage_shaping={cfg.advantage_shaping!r}": cfg.advantage_shaping != "none",
        f"reward_normalization={cfg.reward_normalization!r}": cfg.reward_normalization
        == "per-reward",
        f"reward_weighting={cfg.reward_weighting!r}": cfg.reward_weighting != "static",
        "several sampling rounds": trainer.sampler.rounds != 1,
    }
    bad = [name for name, clash in clashes.items() if clash]
    if bad:
        raise ConfigError(
            f"prompt_sampler={cfg.prompt_sampler!r} gives groups unequal sizes, which {', '.join(bad)} "
            "cannot take; expected an estimator that takes them (grpo, dr-grpo, rloo, aapo) and the "
            "other axes at their defaults"
        )


def _unequal_round(
    trainer: PolicyGradientTrainer,
    sampled: Any,
    refs: list[str] | None,
    sizes: Tensor,
    timer: dict[str, float],
) -> Batch:
    """One round whose ``G`` prompts get ``sizes`` completions each (``G * k`` in all); sets the trainer's
    ``group_ids``."""
    k, n = trainer.config.completions_per_prompt, len(sampled.prompts)
    if sizes.shape != (n,) or int(sizes.sum()) != n * k or int(sizes.min()) < 1:
        raise ValueError(f"allocation {sizes.tolist()}; expected {n} sizes >= 1 summing to {n * k}")
    t0 = time.perf_counter()
    idx = torch.arange(n).repeat_interleave(sizes.cpu()).tolist()
    fields = {key: [v[i] for i in idx] for key, v in sampled.fields.items()}
    tasks = Tasks([sampled.prompts[i] for i in idx], fields)
    gen = trainer._generate(tasks.prompts, trainer.config.temperature)
    texts = decode_completions(trainer.policy, gen.tokens, gen.mask)
    t1 = time.perf_counter()
    raw = trainer._score(tasks, texts)
    timer["generation"] += t1 - t0
    timer["scoring"] += time.perf_counter() - t1
    trainer.group_ids = torch.tensor(idx, dtype=torch.long, device=trainer.device)
    return Batch(tasks, raw, gen, None, refs)


def observe_unequal(trainer: PolicyGradientTrainer, raw: Tensor) -> None:
    """The prompt sampler's observation of unequal groups, one ``1 x N_i x m`` group at a time."""
    assert trainer.group_ids is not None
    ids, prompts = trainer.group_ids, trainer.batch.tasks.prompts
    for g in range(int(ids.max()) + 1):
        rows = (ids == g).nonzero().flatten()
        trainer.sampler.observe([prompts[int(rows[0])]], raw[rows].unsqueeze(0))


def _identity(groups: int, k: int, like: Tensor) -> Tensor:
    """``groups x k`` rows ``0 .. k-1`` of every group."""
    return torch.arange(k, device=like.device).expand(groups, k)


def sample_groups(
    trainer: PolicyGradientTrainer, n_prompts: int, timer: dict[str, float]
) -> tuple[list[Batch], int]:
    """Sample rounds of groups until the prompt sampler has kept ``n_prompts`` (or its rounds are spent);
    return the kept parts and how many groups they hold."""
    sampler, k = trainer.sampler, trainer.config.completions_per_prompt
    kept: list[Batch] = []
    need, last, rows, width = n_prompts, None, None, k
    trainer.group_ids = None
    for round_ in range(sampler.rounds):
        t0 = time.perf_counter()
        sampled, refs = sampler.sample(
            trainer.problem, need, trainer.generator, trainer.guidance.needs_references
        )
        if hasattr(sampler, "allocation"):  # a rollout budget per prompt: groups of unequal sizes
            return [_unequal_round(trainer, sampled, refs, sampler.allocation(k), timer)], need
        width = sampler.group_size(k)
        repeated = sampled.repeat(width)
        tasks = Tasks(repeated.prompts, repeated.fields)
        gen = trainer._generate(tasks.prompts, trainer.config.temperature)
        texts = decode_completions(trainer.policy, gen.tokens, gen.mask)
        t1 = time.perf_counter()
        raw = trainer._score(tasks, texts)
        timer["generation"] += t1 - t0
        timer["scoring"] += time.perf_counter() - t1
        last = Batch(tasks, raw, gen, None, refs)
        lengths = gen.mask.sum(-1).view(need, width)
        view = SampledGroups(sampled.prompts, raw.view(need, width, -1), lengths, round_)
        keep, rows = sampler.select(view, k)
        if width == k and bool(keep.all()) and torch.equal(rows, _identity(need, k, rows)):
            return [*kept, last], n_prompts  # every group as sampled (e.g. the uniform sampler)
        offsets = torch.arange(need, device=rows.device).unsqueeze(-1) * width
        chosen = (rows + offsets)[keep].flatten()
        if chosen.numel():
            kept.append(select(last, chosen, k))
        need -= int(keep.sum())
        if need <= 0:
            break
    if not kept:  # nothing kept: train on the last round (e.g. every group advantage is zero)
        assert last is not None and rows is not None
        offsets = torch.arange(rows.shape[0], device=rows.device).unsqueeze(-1) * width
        return [select(last, (rows + offsets).flatten(), k)], rows.shape[0]
    return kept, n_prompts - max(need, 0)


def mix_replay(trainer: PolicyGradientTrainer, batch: Batch) -> Batch:
    """Fresh groups plus those the replay buffer draws (stale rows); the fresh ones go into the buffer."""
    if trainer.config.replay == "none":
        return batch
    k, step = trainer.config.completions_per_prompt, trainer.n_steps
    drawn = trainer.replay.draw(trainer.generator, step)
    trainer.replay.add(to_groups(batch, k, step))
    if drawn is None or not drawn.prompts:
        return batch
    fresh = Batch(batch.tasks, batch.raw, batch.gen, torch.zeros_like(batch.gen.truncated), None)
    stale = from_groups(drawn, batch)
    return cat([fresh, stale], batch.raw.shape[0] + stale.raw.shape[0], k)


def step_context(trainer: PolicyGradientTrainer, r: Rollout) -> StepContext:
    """What the advantage shaping sees: the rollout, sampling entropy, prompts, its state."""
    cfg, k = trainer.config, trainer.config.completions_per_prompt
    entropy = trainer.batch.gen.entropy
    options = dict(cfg.advantage_shaping_options or {})
    return StepContext(
        rollout=r,
        entropy=r.mask * (entropy if entropy is not None else 0.0),
        prompts=trainer.batch.tasks.prompts[::k],
        step=trainer.n_steps,
        state=trainer.shaping_state,
        params=AdvantageParams(gamma=cfg.gamma, lam=cfg.lam, options=options),
        fresh=trainer.fresh_rows // k,
    )


def old_logp(
    trainer: PolicyGradientTrainer, logp: Tensor, r: Rollout, rows: Tensor
) -> tuple[Tensor, Tensor | None]:
    """The ratio's denominator for these rows (replayed rows: their behaviour policy's), and the truncated
    importance weight of fresh rows (``tis_cap``) or None."""
    old = r.old_logp[rows] if r.old_logp is not None else logp.detach()
    batch = getattr(trainer, "batch", None)
    behaviour = None if batch is None or batch.gen.logp is None else batch.gen.logp[rows]
    stale = None if batch is None or batch.stale is None else batch.stale[rows].unsqueeze(-1)
    if stale is not None and behaviour is not None:
        old = torch.where(stale, behaviour, old)
    cap = trainer.config.tis_cap
    if cap <= 0 or behaviour is None:
        return old, None
    weight = torch.exp(old - behaviour).clamp(max=cap)
    return old, weight if stale is None else torch.where(stale, 1.0, weight)


def loss_params(
    trainer: PolicyGradientTrainer,
    ratio: Tensor,
    old: Tensor,
    adv: Tensor,
    mask: Tensor,
    r: Rollout,
    rows: Tensor,
) -> LossParams:
    """The loss's parameters for a micro-batch: the clip range's bounds, reference log-probabilities,
    sampling entropy and group size."""
    cfg = trainer.config
    batch = getattr(trainer, "batch", None)
    entropy = None if batch is None or batch.gen.entropy is None else batch.gen.entropy[rows]
    options = dict(cfg.clip_range_options or {})
    configured = LossParams(cfg.clip_low, cfg.clip_high, cfg.dual_clip, options=options)
    seen = entropy if entropy is not None else torch.zeros_like(mask)
    low, high = trainer.clip_fn(ClipContext(ratio, old, adv, mask, seen, configured))
    return LossParams(
        low,
        high,
        cfg.dual_clip,
        options=dict(cfg.policy_loss_options or {}),
        ref_logp=None if r.ref_logp is None else r.ref_logp[rows],
        entropy=entropy,
        group_size=trainer.loss_group_size,
    )


@torch.no_grad()
def pretrain_values(trainer: PolicyGradientTrainer) -> None:
    """VC-PPO/VAPO value pretraining: critic-only steps on rollouts of the initial policy, regressed on their
    Monte-Carlo returns (GAE with lambda 1); the policy does not move."""
    cfg = trainer.config
    timer = {"generation": 0.0, "scoring": 0.0, "update": 0.0}
    for _ in range(cfg.value_pretrain_steps):
        ids, pmask, gen, _, r = trainer._collect(timer, record=False)
        targets = _returns(r.token_rewards, r.mask, cfg.gamma)
        chunks = trainer._chunks(ids.shape[0])
        with torch.enable_grad():
            trainer._critic_update(ids, pmask, gen, targets, r.mask, batch_totals(r.mask), chunks)


def supervised_step(trainer: PolicyGradientTrainer) -> Tensor:
    """One NLL step on the pairs guidance queued (interleaved fine-tuning), with the policy's optimizer,
    scaled by the guidance option ``sft_coef`` (1)."""
    pairs, trainer._sft_pending = trainer._sft_pending, []
    prompts, answers = [p for p, _ in pairs], [a for _, a in pairs]
    loss = nll_step(trainer.policy, prompts, answers, trainer.device)
    scale = float(dict(trainer.config.guidance_options or {}).get("sft_coef", 1.0))
    trainer.opt.zero_grad(set_to_none=True)
    (scale * loss).backward()
    trainer._clip_and_step(trainer.policy, trainer.opt)
    return loss.detach()


def to_device(value: Any, device: torch.device) -> Any:
    """``value`` with every tensor in it on ``device`` (containers rebuilt)."""
    if isinstance(value, Tensor):
        return value.to(device)
    if isinstance(value, dict):
        return {k: to_device(v, device) for k, v in value.items()}
    if isinstance(value, list):
        return [to_device(v, device) for v in value]
    if isinstance(value, tuple):
        return tuple(to_device(v, device) for v in value)
    return value


def policy_gradients(
    trainer: PolicyGradientTrainer, ids: Tensor, pmask: Tensor, gen: Generation
) -> Callable[..., Tensor]:
    """``WeightingContext.policy_gradients`` of the batch's first ``n`` rows (``coef`` is ``n x c``): the
    gradients of ``sum_i coef[i, j] * log pi(y_i | x_i) / n``, flattened, ``c x P``. ``"trainable"``: with
    respect to every trainable parameter (one forward, ``c`` backward passes); ``"head"``: to the output layer's
    weight ``W`` (``logits = h W^T``), in closed form ``sum_t coef (onehot(y_t) - p_t) h_t^T / temperature``
    from one forward without a graph."""
    policy, temperature = trainer.policy, trainer.config.temperature or 1.0

    def gradients(coef: Tensor, scope: str = "trainable") -> Tensor:
        n = coef.shape[0]
        if coef.dim() != 2 or not 0 < n <= ids.shape[0]:
            raise ValueError(
                f"coef of shape {tuple(coef.shape)}; expected (n, c), n <= {ids.shape[0]}"
            )
        coef = coef.to(trainer.device, torch.float32) / n
        rows = (ids[:n], pmask[:n], gen.tokens[:n], gen.mask[:n])
        if scope == "head":
            with torch.no_grad():
                hidden = policy.completion_hidden(*rows).float()  # (n, L, d)
                p = torch.softmax(policy.head(hidden).float() / temperature, -1)  # (n, L, V)
                resid = torch.nn.functional.one_hot(rows[2], p.shape[-1]).to(p) - p
                resid = resid * rows[3].unsqueeze(-1) / temperature
                return torch.einsum("nlv,nld,nc->cvd", resid, hidden, coef).flatten(1)
        if scope != "trainable":
            raise ValueError(f"scope={scope!r}; expected 'trainable' or 'head'")
        params = [q for q in policy.parameters() if q.requires_grad]
        with torch.enable_grad():
            seq = trainer._logprobs(policy, *rows)[0].sum(-1)  # (n,) sequence log-probabilities
            out = []
            for j in range(coef.shape[1]):
                grads = torch.autograd.grad(
                    (coef[:, j] * seq).sum(), params, retain_graph=True, allow_unused=True
                )
                flat = [torch.zeros_like(q) if g is None else g for g, q in zip(grads, params)]
                out.append(torch.cat([g.flatten() for g in flat]))
        return torch.stack(out)

    return gradients


def reweight(
    trainer: PolicyGradientTrainer, fresh: Tensor, ids: Tensor, pmask: Tensor, gen: Generation
) -> None:
    """This step's reward weights from the ``reward_weighting`` (``static``: the configured ones); ``fresh``
    are the first rows of ``ids``/``gen``, whose policy gradients the weighting may ask for."""
    ctx = WeightingContext(
        rewards=fresh,
        n_groups=fresh.shape[0] // trainer.config.completions_per_prompt,
        weights=trainer.weights,
        base=trainer.base_weights,
        history=trainer.history.to(trainer.device),
        state=trainer.weighting_state,
        options=dict(trainer.config.reward_weighting_options or {}),
        policy_gradients=policy_gradients(trainer, ids, pmask, gen),
    )
    trainer.weights = trainer.weighting_fn(ctx).to(trainer.device, torch.float32)


def reference_scores(trainer: PolicyGradientTrainer) -> Tensor:
    """One completion of the reference policy per row (its prompt, the sampling temperature), scored
    with the combined reward (AAPO); counted as generated completions."""
    tasks = trainer.batch.tasks
    if trainer.ref is not None:
        gen = trainer._generate(tasks.prompts, trainer.config.temperature, trainer.ref)
    else:
        with trainer.policy.adapters_disabled():  # type: ignore[operator]  # a LoRA (peft) policy's
            gen = trainer._generate(tasks.prompts, trainer.config.temperature)
    texts = decode_completions(trainer.policy, gen.tokens, gen.mask)  # the same tokenizer
    return trainer._score(Tasks(tasks.prompts, tasks.fields), texts) @ trainer.weights


def resolve_rewards(trainer: PolicyGradientTrainer) -> dict[str, Any]:
    """The trainer's reward functions by name: the task's own, else registered ``reward`` components."""
    own = dict(getattr(trainer.problem, "reward_fns", {}))
    names = trainer.config.rewards or list(own)
    return {
        name: own[name] if name in own else polyopt.registry().get("reward", name) for name in names
    }


def default_weights(trainer: PolicyGradientTrainer) -> list[float]:
    """The task's default reward weights when it names its own rewards, else equal weights."""
    defaults = list(getattr(trainer.problem, "default_weights", ()))
    if not trainer.config.rewards and len(defaults) == len(trainer.reward_fns):
        return defaults
    return [1.0] * len(trainer.reward_fns)
