"""Options of the actor-critic trainers: :class:`ActorCriticConfig` (PPO, CleanRL's ``ppo.py`` defaults) and
:class:`A2CConfig` (the same fields with A2C's defaults)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = ["A2CConfig", "ActorCriticConfig"]


@dataclass
class ActorCriticConfig:
    """Options of :class:`PPO`; defaults are CleanRL's ``ppo.py`` (the PPO paper's Atari/classic-control
    settings, with the implementation details of Huang et al. 2022)."""

    rollout_steps: int = 128
    """Steps of every sub-environment per iteration (the batch is ``rollout_steps x num_envs``)."""
    learning_rate: float = 2.5e-4
    """Initial learning rate."""
    anneal_lr: bool = True
    """Decay the learning rate linearly to 0 over ``anneal_env_steps``."""
    anneal_env_steps: int = 0
    """Horizon of the decay in environment steps; 0 takes the run's ``Budget(env_steps=...)`` (and keeps the
    rate constant when the run has none)."""
    gamma: float = 0.99
    """Discount."""
    lam: float = 0.95
    """GAE lambda."""
    num_minibatches: int = 4
    """Minibatches per epoch."""
    update_epochs: int = 4
    """Passes over each batch."""
    normalize_advantages: bool = True
    """Standardize advantages within each minibatch."""
    policy_loss: str = "ppo-clip"
    """Registered ``policy_loss`` (``ppo-clip``, ``clip-higher``, ``dual-clip``, ``reinforce``, a plugin's)."""
    policy_loss_options: dict[str, Any] | None = None
    """Options for a plugin's policy loss, passed as ``LossParams.options``."""
    clip_low: float = 0.2
    """Ratio clipped below at ``1 - clip_low`` (PPO's epsilon)."""
    clip_high: float = 0.2
    """Ratio clipped above at ``1 + clip_high`` (``clip-higher``/``dual-clip``; ``ppo-clip`` uses clip_low)."""
    dual_clip: float = 3.0
    """Dual-clip bound for ``dual-clip``."""
    value_clip: float | None = 0.2
    """Clip the value update to this range around the old values (None: plain squared error)."""
    ent_coef: float = 0.01
    """Entropy bonus coefficient."""
    vf_coef: float = 0.5
    """Value loss coefficient."""
    max_grad_norm: float = 0.5
    """Clip the global gradient norm (0 = off)."""
    optimizer: str = "adam"
    """``"adam"`` (eps ``optimizer_eps``) or ``"rmsprop"`` (alpha 0.99, as A2C's paper setup)."""
    optimizer_eps: float = 1e-5
    """Epsilon of the optimizer's denominator."""
    hidden_sizes: list[int] = field(default_factory=lambda: [64, 64])
    """Hidden widths of the actor and of the critic (separate networks)."""
    activation: str = "tanh"
    """``"tanh"`` or ``"relu"``."""
    preference: list[float] | None = None
    """Weights scalarizing a vector reward's advantages (MO-PPO); None weighs the components equally."""
    eval_episodes: int = 10
    """Episodes the result evaluates (rounded up to a multiple of ``num_envs``; 0: no evaluation, the result
    reports the recent training episodes)."""
    eval_deterministic: bool = True
    """Evaluate the most likely actions (False: sample, from a generator seeded by the run seed)."""
    eval_max_steps: int = 10_000
    """Per-episode step limit of an evaluation, for environments without a time limit."""
    episode_log: int = 10_000
    """Most recent training episodes kept (end step, length, return vector) for the result."""


@dataclass
class A2CConfig(ActorCriticConfig):
    """Options of :class:`A2C`: PPO's with one epoch over one minibatch of 5 steps per environment, no
    clipping, no advantage normalization and RMSprop (defaults of Stable-Baselines3's A2C)."""

    rollout_steps: int = 5
    learning_rate: float = 7e-4
    anneal_lr: bool = False
    lam: float = 1.0
    num_minibatches: int = 1
    update_epochs: int = 1
    normalize_advantages: bool = False
    value_clip: float | None = None
    ent_coef: float = 0.0
    optimizer: str = "rmsprop"
