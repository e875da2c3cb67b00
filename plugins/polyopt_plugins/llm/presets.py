"""Named algorithms as presets of the one trainer: each is a config subclass with other defaults, nothing more.

| name | advantage | policy loss | aggregation | other defaults |
|---|---|---|---|---|
| ``grpo`` | grpo | ppo-clip | seq-mean-token-mean | no KL (as TRL today) |
| ``dr-grpo`` | dr-grpo | ppo-clip | seq-mean-token-sum-norm | |
| ``rloo`` | rloo | ppo-clip | seq-mean-token-mean | |
| ``remax`` | remax | ppo-clip | seq-mean-token-mean | greedy baseline |
| ``ppo`` | gae | ppo-clip | token-mean | critic, k1 KL 0.05 in the reward, 2 epochs |
| ``reinforce-pp`` | reinforce-pp | ppo-clip | token-mean | k1 KL 0.01 in the reward |
| ``reinforce-pp-baseline`` | reinforce-pp-baseline | ppo-clip | token-mean | k3 KL 0.01 in the loss |
| ``dapo`` | grpo | clip-higher (0.2/0.28) | token-mean | dynamic sampling, truncation masking |
| ``bnpo`` | bnpo | ppo-clip | seq-mean-token-mean | |
| ``ngrpo`` | ngrpo | clip-higher (0.2/0.28) | token-mean | |
| ``gspo`` | grpo | gspo | seq-mean-token-mean | clip 3e-4/4e-4, 2 epochs |
"""

from __future__ import annotations

from dataclasses import dataclass

from polyopt_plugins.llm.config import TrainerConfig
from polyopt_plugins.llm.trainer import PolicyGradientTrainer

__all__ = [
    "GRPO",
    "DrGRPO",
    "RLOO",
    "ReMax",
    "PPO",
    "ReinforcePP",
    "ReinforcePPBaseline",
    "DAPO",
    "BNPO",
    "NGRPO",
    "GSPO",
]


class GRPO(PolicyGradientTrainer):
    """GRPO (Shao et al. 2024): group-normalized advantages, clipped ratio, sequence-mean aggregation."""

    Config = TrainerConfig


@dataclass
class DrGRPOConfig(TrainerConfig):
    advantage: str = "dr-grpo"
    loss_aggregation: str = "seq-mean-token-sum-norm"


class DrGRPO(PolicyGradientTrainer):
    """Dr. GRPO (Liu et al. 2025): no std normalization, no length normalization."""

    Config = DrGRPOConfig


@dataclass
class RLOOConfig(TrainerConfig):
    advantage: str = "rloo"


class RLOO(PolicyGradientTrainer):
    """RLOO (Ahmadian et al. 2024): leave-one-out baseline."""

    Config = RLOOConfig


@dataclass
class ReMaxConfig(TrainerConfig):
    advantage: str = "remax"


class ReMax(PolicyGradientTrainer):
    """ReMax (Li et al. 2024): the greedy completion's reward is the baseline; no critic."""

    Config = ReMaxConfig


@dataclass
class PPOConfig(TrainerConfig):
    advantage: str = "gae"
    loss_aggregation: str = "token-mean"
    kl_estimator: str = "k1"
    kl_coef: float = 0.05
    kl_in: str = "reward"
    update_epochs: int = 2


class PPO(PolicyGradientTrainer):
    """PPO for language models (Ouyang et al. 2022): learned critic, GAE, KL penalty in the reward."""

    Config = PPOConfig


@dataclass
class ReinforcePPConfig(TrainerConfig):
    advantage: str = "reinforce-pp"
    loss_aggregation: str = "token-mean"
    kl_estimator: str = "k1"
    kl_coef: float = 0.01
    kl_in: str = "reward"


class ReinforcePP(PolicyGradientTrainer):
    """REINFORCE++ (Hu 2025): KL in the token rewards, batch-whitened returns."""

    Config = ReinforcePPConfig


@dataclass
class ReinforcePPBaselineConfig(TrainerConfig):
    advantage: str = "reinforce-pp-baseline"
    loss_aggregation: str = "token-mean"
    kl_estimator: str = "k3"
    kl_coef: float = 0.01
    kl_in: str = "loss"


class ReinforcePPBaseline(PolicyGradientTrainer):
    """REINFORCE++-baseline: group-mean baseline, then batch whitening; k3 KL in the loss."""

    Config = ReinforcePPBaselineConfig


@dataclass
class DAPOConfig(TrainerConfig):
    policy_loss: str = "clip-higher"
    clip_high: float = 0.28
    loss_aggregation: str = "token-mean"
    dynamic_sampling: bool = True
    mask_truncated: bool = True


class DAPO(PolicyGradientTrainer):
    """DAPO (Yu et al. 2025): clip-higher, token-mean loss, dynamic sampling, overlong masking."""

    Config = DAPOConfig


@dataclass
class BNPOConfig(TrainerConfig):
    advantage: str = "bnpo"


class BNPO(PolicyGradientTrainer):
    """BNPO (Xiao et al. 2025): Beta-density normalized advantages."""

    Config = BNPOConfig


@dataclass
class NGRPOConfig(TrainerConfig):
    advantage: str = "ngrpo"
    policy_loss: str = "clip-higher"
    clip_high: float = 0.28
    loss_aggregation: str = "token-mean"


class NGRPO(PolicyGradientTrainer):
    """NGRPO (Nan et al. 2025): advantage calibration with a virtual max-reward sample, asymmetric clipping."""

    Config = NGRPOConfig


@dataclass
class GSPOConfig(TrainerConfig):
    policy_loss: str = "gspo"
    clip_low: float = 3e-4
    clip_high: float = 4e-4
    update_epochs: int = 2


class GSPO(PolicyGradientTrainer):
    """GSPO (Zheng et al. 2025): sequence-level importance ratio and clipping."""

    Config = GSPOConfig
