"""Named offline preference algorithms as presets of the one trainer: a config subclass with other defaults.

| name | loss | other defaults |
|---|---|---|
| ``dpo`` | dpo | beta 0.1 |
| ``cdpo`` | cdpo | label smoothing 0.1 |
| ``robust-dpo`` | robust-dpo | label smoothing 0.1 |
| ``ipo`` | ipo | beta 0.1 |
| ``slic`` | slic | beta 0.1 |
| ``simpo`` | simpo | beta 2, gamma 0.5 (the paper's ranges), no reference |
| ``orpo`` | orpo | lambda 0.1, no reference |
| ``kto`` | kto | beta 0.1, lambda_D = lambda_U = 1 |
| ``modpo`` | modpo | beta 0.1, equal weights |
"""

from __future__ import annotations

from dataclasses import dataclass

from polyopt_plugins.llm.preference import PreferenceConfig, PreferenceTrainer

__all__ = ["CDPO", "DPO", "IPO", "KTO", "MODPO", "ORPO", "RobustDPO", "SLiC", "SimPO"]


class DPO(PreferenceTrainer):
    """DPO (Rafailov et al. 2023): the policy's log-ratio to the reference as an implicit Bradley-Terry reward."""

    Config = PreferenceConfig


@dataclass
class CDPOConfig(PreferenceConfig):
    loss: str = "cdpo"
    label_smoothing: float = 0.1


class CDPO(PreferenceTrainer):
    """Conservative DPO: DPO against labels smoothed by the assumed flip rate."""

    Config = CDPOConfig


@dataclass
class RobustDPOConfig(PreferenceConfig):
    loss: str = "robust-dpo"
    label_smoothing: float = 0.1


class RobustDPO(PreferenceTrainer):
    """Robust DPO (Chowdhury et al. 2024): an unbiased loss under a known label-flip rate."""

    Config = RobustDPOConfig


@dataclass
class IPOConfig(PreferenceConfig):
    loss: str = "ipo"


class IPO(PreferenceTrainer):
    """IPO (Azar et al. 2023): squared loss on the log-ratio margin, no Bradley-Terry assumption."""

    Config = IPOConfig


@dataclass
class SLiCConfig(PreferenceConfig):
    loss: str = "slic"


class SLiC(PreferenceTrainer):
    """SLiC-HF (Zhao et al. 2023): hinge loss on the calibrated log-ratio margin."""

    Config = SLiCConfig


@dataclass
class SimPOConfig(PreferenceConfig):
    loss: str = "simpo"
    beta: float = 2.0
    gamma: float = 0.5


class SimPO(PreferenceTrainer):
    """SimPO (Meng et al. 2024): length-normalized log-probability as the reward, no reference model."""

    Config = SimPOConfig


@dataclass
class ORPOConfig(PreferenceConfig):
    loss: str = "orpo"


class ORPO(PreferenceTrainer):
    """ORPO (Hong et al. 2024): NLL on the chosen completion plus an odds-ratio penalty, no reference."""

    Config = ORPOConfig


@dataclass
class KTOConfig(PreferenceConfig):
    loss: str = "kto"


class KTO(PreferenceTrainer):
    """KTO (Ethayarajh et al. 2024): desirable/undesirable examples, paired or not."""

    Config = KTOConfig


@dataclass
class MODPOConfig(PreferenceConfig):
    loss: str = "modpo"


class MODPO(PreferenceTrainer):
    """MODPO (Zhou et al. 2024): DPO on one dimension's labels with the other dimensions' weighted margins."""

    Config = MODPOConfig
