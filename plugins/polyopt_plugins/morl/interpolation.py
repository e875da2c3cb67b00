"""PD-MORL's preference interpolation: from a few key preferences and the return vectors that solve them, the
direction in value space any preference should lead to.

Basaklar, Gumussoy and Ogras, 'PD-MORL: Preference-Driven Multi-Objective Reinforcement Learning Algorithm'
(ICLR 2023), section 4: the key preferences are the corners of the simplex and its centre; each key's solution is
the return vector that maximizes its utility (from the known front on discrete benchmarks, from evaluations of the
agent otherwise); every other preference is mapped to a unit direction by radial-basis interpolation with a linear
kernel (the authors use SciPy's ``RBFInterpolator(kernel="linear")``: ``phi(r) = -r`` and a constant term, which
reproduces every key's direction exactly).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["PreferenceInterpolator", "key_preferences"]


def key_preferences(m: int) -> Tensor:
    """``(m + 1) x m`` float64: the ``m`` corners of the simplex, then its centre (the paper's keys)."""
    return torch.cat([torch.eye(m, dtype=torch.float64), torch.full((1, m), 1.0 / m).double()])


class PreferenceInterpolator:
    """``w -> `` a unit direction in value space, interpolated between the keys' solution directions.

    Args:
        keys: ``k x m`` key preferences.
        solutions: ``k x m`` their solution return vectors, measured from the origin the caller chose (PD-MORL
            measures directions from a point every return dominates; see :class:`PDMORLConfig.value_offset`).
    """

    def __init__(self, keys: Tensor, solutions: Tensor) -> None:
        self.keys = keys.detach().to(torch.float64).cpu()
        k = self.keys.shape[0]
        directions = solutions.detach().to(torch.float64).cpu()
        directions = directions / directions.norm(dim=1, keepdim=True).clamp_min(1e-12)
        # [[Phi, 1], [1^T, 0]] [a; b] = [y; 0], Phi_ij = -|key_i - key_j|
        system = torch.zeros(k + 1, k + 1, dtype=torch.float64)
        system[:k, :k] = -torch.cdist(self.keys, self.keys)
        system[:k, k] = 1.0
        system[k, :k] = 1.0
        rhs = torch.cat([directions, torch.zeros(1, directions.shape[1], dtype=torch.float64)])
        self.coefficients = torch.linalg.solve(system, rhs)  # (k + 1) x m

    def __call__(self, w: Tensor) -> Tensor:
        """``n x m`` unit directions for ``n x m`` preferences (on ``w``'s device and dtype)."""
        keys = self.keys.to(w.device)
        coefficients = self.coefficients.to(w.device)
        phi = -torch.cdist(w.to(torch.float64), keys)  # n x k
        out = phi @ coefficients[:-1] + coefficients[-1]
        out = out / out.norm(dim=1, keepdim=True).clamp_min(1e-12)
        return out.to(w.dtype)
