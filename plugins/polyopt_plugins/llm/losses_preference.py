"""Offline preference losses (kind ``preference_loss``): ``loss(batch, params) -> n`` per-row losses.

With ``h = (log pi(y_w) - log ref(y_w)) - (log pi(y_l) - log ref(y_l))`` (sequence log-probabilities summed
over completion tokens, as in the papers and TRL):

| name | loss | reference |
|---|---|---|
| ``dpo`` | ``-log sigmoid(beta h)`` (Rafailov et al. 2023) | yes |
| ``cdpo`` | ``-(1-e) log sigmoid(beta h) - e log sigmoid(-beta h)``, conservative DPO under label noise ``e`` | yes |
| ``robust-dpo`` | ``[(1-e) l(h) - e l(-h)] / (1 - 2e)``, ``l = -log sigmoid(beta .)``, unbiased (Chowdhury et al. 2024) | yes |
| ``ipo`` | ``(h - 1 / (2 beta))^2`` (Azar et al. 2023) | yes |
| ``slic`` | ``max(0, 1 - beta h)``, SLiC-HF's hinge on the log-ratio margin (Zhao et al. 2023, as in TRL) | yes |
| ``simpo`` | ``-log sigmoid(beta (log pi(y_w) / abs(y_w) - log pi(y_l) / abs(y_l)) - gamma)`` (Meng et al. 2024) | no |
| ``orpo`` | ``-log pi(y_w) / abs(y_w) - lambda log sigmoid(log odds(y_w) - log odds(y_l))`` (Hong et al. 2024) | no |
| ``kto`` | ``lambda_D (1 - sigmoid(beta (r_w - z0)))`` / ``lambda_U (1 - sigmoid(beta (z0 - r_l)))`` (Ethayarajh et al. 2024) | yes |
| ``modpo`` | ``-log sigmoid((beta h - sum_{j>0} w_j margin_j) / w_0)`` (Zhou et al. 2024) | yes |

KTO takes unpaired rows; its reference point ``z0 = max(0, mean(log pi - log ref))`` over mismatched
prompt/completion pairs of the batch is detached, as in the paper and TRL.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from polyopt.components import PreferenceBatch, PreferenceParams, preference_needs

__all__ = ["cdpo", "dpo", "ipo", "kto", "modpo", "orpo", "robust_dpo", "simpo", "slic"]


def _h(b: PreferenceBatch) -> Tensor:
    chosen, rejected = b.logratios()
    return chosen - rejected


@preference_needs("reference")
def dpo(b: PreferenceBatch, p: PreferenceParams) -> Tensor:
    """DPO's sigmoid loss."""
    return -F.logsigmoid(p.beta * _h(b))


@preference_needs("reference")
def cdpo(b: PreferenceBatch, p: PreferenceParams) -> Tensor:
    """Conservative DPO: the sigmoid loss against labels smoothed by ``label_smoothing``."""
    z = p.beta * _h(b)
    return -(1 - p.label_smoothing) * F.logsigmoid(z) - p.label_smoothing * F.logsigmoid(-z)


@preference_needs("reference")
def robust_dpo(b: PreferenceBatch, p: PreferenceParams) -> Tensor:
    """Robust DPO: an unbiased estimate of the clean-label loss when labels flip with ``label_smoothing``."""
    e, z = p.label_smoothing, p.beta * _h(b)
    return (-(1 - e) * F.logsigmoid(z) + e * F.logsigmoid(-z)) / (1 - 2 * e)


@preference_needs("reference")
def ipo(b: PreferenceBatch, p: PreferenceParams) -> Tensor:
    """IPO: regress the log-ratio margin to ``1 / (2 beta)``."""
    return (_h(b) - 1 / (2 * p.beta)) ** 2


@preference_needs("reference")
def slic(b: PreferenceBatch, p: PreferenceParams) -> Tensor:
    """SLiC hinge on the calibrated log-ratio margin."""
    return torch.relu(1 - p.beta * _h(b))


@preference_needs()
def simpo(b: PreferenceBatch, p: PreferenceParams) -> Tensor:
    """SimPO: length-normalized log-probabilities as the reward, a target margin, no reference."""
    chosen = b.chosen_logp / b.chosen_tokens.clamp_min(1)
    rejected = b.rejected_logp / b.rejected_tokens.clamp_min(1)
    return -F.logsigmoid(p.beta * (chosen - rejected) - p.gamma)


def _log1mexp(x: Tensor) -> Tensor:
    """``log(1 - exp(x))`` for ``x < 0``, stable at both ends (Maechler 2012)."""
    return torch.where(x > -math.log(2), torch.log(-torch.expm1(x)), torch.log1p(-torch.exp(x)))


@preference_needs()
def orpo(b: PreferenceBatch, p: PreferenceParams) -> Tensor:
    """ORPO: the chosen completion's mean NLL plus ``odds_ratio_weight`` times the log-odds-ratio loss."""
    chosen = (b.chosen_logp / b.chosen_tokens.clamp_min(1)).clamp_max(-1e-6)  # mean log P, < 0
    rejected = (b.rejected_logp / b.rejected_tokens.clamp_min(1)).clamp_max(-1e-6)
    log_odds = (chosen - _log1mexp(chosen)) - (rejected - _log1mexp(rejected))
    return -chosen - p.odds_ratio_weight * F.logsigmoid(log_odds)


@preference_needs("reference", "mismatched", unpaired=True)
def kto(b: PreferenceBatch, p: PreferenceParams) -> Tensor:
    """KTO: a prospect-theoretic value of each completion's implicit reward around a KL reference point."""
    assert b.mismatched_logp is not None and b.mismatched_ref is not None
    assert b.chosen_ref is not None and b.rejected_ref is not None
    z0 = (b.mismatched_logp - b.mismatched_ref).mean().clamp_min(0).detach()
    good = 1 - torch.sigmoid(p.beta * (b.chosen_logp - b.chosen_ref - z0))
    bad = 1 - torch.sigmoid(p.beta * (z0 - (b.rejected_logp - b.rejected_ref)))
    return p.desirable_weight * good * b.has_chosen + p.undesirable_weight * bad * b.has_rejected


@preference_needs("reference", "margins")
def modpo(b: PreferenceBatch, p: PreferenceParams) -> Tensor:
    """MODPO: DPO on dimension 0's labels, with the other dimensions' weighted margins subtracted."""
    assert b.margins is not None
    m = b.margins.shape[1]
    w = torch.tensor(p.weights or (1.0,) * m, dtype=b.margins.dtype, device=b.margins.device)
    if w.numel() != m:
        raise ValueError(f"weights={p.weights}; expected {m} (one per preference dimension)")
    others = (b.margins[:, 1:] * w[1:]).sum(-1)
    return -F.logsigmoid((p.beta * _h(b) - others) / w[0])
