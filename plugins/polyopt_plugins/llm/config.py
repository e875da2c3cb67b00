"""The trainer's configuration; the presets (``grpo``, ``rloo``, ``ppo``, ...) subclass it with other defaults."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from polyopt_plugins.llm import aggregation, reward_mix

__all__ = ["TrainerConfig"]


@dataclass
class TrainerConfig:
    """Options of :class:`~polyopt_plugins.llm.trainer.PolicyGradientTrainer` (defaults: GRPO)."""

    model: str = "tiny"
    """``"tiny"`` (the builtin character-level GPT) or a local directory holding a Hugging Face causal LM."""
    n_layer: int = 2
    """Tiny model: transformer blocks."""
    n_head: int = 4
    """Tiny model: attention heads."""
    d_model: int = 64
    """Tiny model: width."""
    init_from: str = ""
    """Tiny model: a ``torch.save``'d state dict to start from (e.g. after :func:`~polyopt_plugins.llm.sft.sft`)."""
    lora_rank: int = 0
    """Hugging Face models: train LoRA adapters of this rank through peft (0 trains every weight)."""
    sft_steps: int = 0
    """Supervised warm-start steps on the task's reference completions before RL (0 = none)."""
    sft_lr: float = 1e-3
    """Peak learning rate of the warm start (warm-up, cosine decay and clipping; see :func:`sft`)."""
    prompts_per_step: int = 8
    """Prompts (groups) per step."""
    completions_per_prompt: int = 4
    """Completions sampled per prompt (the group size)."""
    max_new_tokens: int = 0
    """Completion length limit; 0 uses the task's ``completion_len``."""
    temperature: float = 0.5
    """Sampling temperature of the rollouts; the ratio, loss and KL use the log-probabilities of the same tempered
    distribution. Below 1 more of a weak model's samples are right and the improved policy is closer to the
    greedy one (measured in benchmarks/RESULTS.md); 0 gives identical completions, so groups carry no signal, and
    a model whose samples already agree may need 1."""
    top_p: float = 1.0
    """Nucleus sampling mass (1 = off)."""
    advantage: str = "grpo"
    """Registered ``advantage`` estimator."""
    advantage_options: dict[str, Any] | None = None
    """Options for a plugin's advantage estimator, passed as ``AdvantageParams.options``."""
    policy_loss: str = "ppo-clip"
    """Registered ``policy_loss``."""
    policy_loss_options: dict[str, Any] | None = None
    """Options for a plugin's policy loss, passed as ``LossParams.options``."""
    loss_aggregation: str = "seq-mean-token-mean"
    """``token-mean``, ``seq-mean-token-mean`` or ``seq-mean-token-sum-norm``."""
    clip_low: float = 0.2
    """Lower clip range of the ratio."""
    clip_high: float = 0.2
    """Upper clip range (``clip-higher`` and ``dual-clip``)."""
    dual_clip: float = 3.0
    """Dual-clip constant (> 1)."""
    kl_estimator: str = "k3"
    """Registered ``kl_estimator`` (``k1``, ``k2``, ``k3``)."""
    kl_coef: float = 0.0
    """KL penalty coefficient; 0 skips the reference model entirely."""
    kl_in: str = "loss"
    """Where the KL penalty goes: ``"loss"`` (added per token) or ``"reward"`` (subtracted per token)."""
    log_exact_kl: bool = True
    """Also log the exact KL over the vocabulary (when a reference model exists)."""
    gamma: float = 1.0
    """Discount (GAE, REINFORCE++)."""
    lam: float = 0.95
    """GAE lambda."""
    dynamic_sampling: bool = False
    """DAPO: drop groups whose rewards are all equal and refill with new prompts."""
    max_refills: int = 4
    """Dynamic sampling: at most this many extra sampling rounds per step."""
    mask_truncated: bool = False
    """Exclude completions that hit ``max_new_tokens`` without a stop token from the loss."""
    rewards: list[str] | None = None
    """Reward functions: names of the task's own or registered ``reward`` entries; None = all of the task's."""
    reward_weights: list[float] | None = None
    """Weights combining the rewards; None = the task's defaults (or all 1)."""
    reward_normalization: str = "none"
    """``none``, ``per-reward`` (GDPO-style, each reward normalized in its group) or ``dynamic``."""
    reward_weighting: str = "static"
    """Registered ``reward_weighting``: ``static`` keeps ``reward_weights``; ``hypervolume``, ``gradient``
    (per-reward policy gradients), ``mgda`` and ``advantage-influence`` move them every step (dynamic reward
    weighting; the result is then the reward front)."""
    reward_weighting_options: dict[str, Any] | None = None
    """Options for the reward weighting (``WeightingContext.options``; e.g. ``lr``, ``floor``)."""
    multi_objective: bool = False
    """Report the reward front (non-dominated steps by mean reward vector) instead of the best step."""
    lr: float = 5e-6
    """Policy learning rate (AdamW, no warm-up). Adam moves every weight by about ``lr`` per step whatever the
    gradient's signal-to-noise ratio, so policy-gradient steps must be small (TRL defaults to 1e-6); 3e-5 and
    above collapsed the SFT'd char model in benchmarks/RESULTS.md. Short runs on the untrained tiny model move
    faster with 3e-5."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping (0 = off)."""
    update_epochs: int = 1
    """Optimizer steps per batch (more than one makes the update off-policy: old log-probs are computed)."""
    micro_batches: int = 1
    """Gradient-accumulation chunks per optimizer step (the gradient does not depend on it)."""
    critic_lr: float = 1e-3
    """Critic learning rate (estimators that require values)."""
    value_pretrain_steps: int = 0
    """Critic-only updates on rollouts of the initial policy before RL, regressed on Monte-Carlo returns
    (VC-PPO/VAPO value pretraining; estimators that require values)."""
    advantage_shaping: str = "none"
    """Registered ``advantage_shaping`` applied after the estimator: entropy-aware advantages, or a baseline
    kept across steps; ``none`` leaves the advantages as they are."""
    advantage_shaping_options: dict[str, Any] | None = None
    """Options for the advantage shaping (``StepContext.params.options``)."""
    clip_range: str = "fixed"
    """Registered ``clip_range``: ``fixed`` clips at ``clip_low``/``clip_high``; others set the range per
    token (dynamic, entropy-aware, adaptive). Clipping acts on stale tokens only (replay, several epochs)."""
    clip_range_options: dict[str, Any] | None = None
    """Options for the clip range (``ClipContext.params.options``)."""
    entropy_coef: float = 0.0
    """Entropy bonus: ``entropy_coef`` times the policy's aggregated per-token entropy is subtracted from the
    loss (0 = none). The sampling distribution's entropy is logged every step either way (``entropy``)."""
    replay: str = "none"
    """Registered ``replay`` buffer: scored groups of earlier steps trained on again beside the fresh ones,
    importance-corrected through their behaviour log-probabilities; ``none`` replays nothing."""
    replay_options: dict[str, Any] | None = None
    """Options for the replay buffer's factory."""
    tis_cap: float = 0.0
    """Behaviour-vs-train correction: each fresh token's loss is weighted by ``min(pi_train / pi_sampler,
    tis_cap)`` (truncated importance sampling) for samplers whose log-probabilities differ from the
    trainer's; 0 = off."""
    prompt_sampler: str = "uniform"
    """Registered ``prompt_sampler``: which prompts each step trains on and how many completions each gets
    (``uniform``: fresh prompts from the task, ``completions_per_prompt`` each)."""
    prompt_sampler_options: dict[str, Any] | None = None
    """Options for the prompt sampler's factory."""
    guidance: str = "none"
    """Registered ``guidance`` for groups the policy cannot solve: hints, injected reference or earlier
    correct completions, interleaved supervised steps; ``none`` gives none."""
    guidance_options: dict[str, Any] | None = None
    """Options for the guidance's factory."""
    eval_prompts: int = 0
    """Held-out prompts (drawn from a separate seeded generator) evaluated when the result is taken:
    greedy accuracy, and pass@``eval_k`` when ``eval_k`` > 1; 0 = no evaluation."""
    eval_k: int = 0
    """Samples per prompt for the pass@k evaluation (at the sampling temperature); 0 or 1 = greedy only."""

    def __post_init__(self) -> None:
        positive = {
            "prompts_per_step": self.prompts_per_step,
            "update_epochs": self.update_epochs,
            "micro_batches": self.micro_batches,
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "d_model": self.d_model,
            "completions_per_prompt": self.completions_per_prompt,
        }
        for key, value in positive.items():
            if value < 1:
                raise ValueError(f"{key}={value}; expected at least 1")
        nonneg: dict[str, float] = {
            "max_new_tokens": self.max_new_tokens,
            "sft_steps": self.sft_steps,
            "kl_coef": self.kl_coef,
            "lora_rank": self.lora_rank,
            "max_refills": self.max_refills,
            "temperature": self.temperature,
            "max_grad_norm": self.max_grad_norm,
            "entropy_coef": self.entropy_coef,
            "tis_cap": self.tis_cap,
            "value_pretrain_steps": self.value_pretrain_steps,
            "eval_prompts": self.eval_prompts,
            "eval_k": self.eval_k,
        }
        for key, amount in nonneg.items():
            if amount < 0:
                raise ValueError(f"{key}={amount}; expected >= 0")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"top_p={self.top_p}; expected in (0, 1]")
        if self.kl_in not in ("loss", "reward"):
            raise ValueError(f"kl_in={self.kl_in!r}; expected 'loss' or 'reward'")
        if self.loss_aggregation not in aggregation.MODES:
            raise ValueError(
                f"loss_aggregation={self.loss_aggregation!r}; expected one of {aggregation.MODES}"
            )
        if self.reward_normalization not in reward_mix.MODES:
            raise ValueError(
                f"reward_normalization={self.reward_normalization!r}; expected one of "
                f"{reward_mix.MODES}"
            )
