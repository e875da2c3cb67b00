"""Duplicate elimination without an ``N x N`` distance matrix: rows are hashed and the hashes sorted.

Each value's bit pattern (``-0.0`` folded into ``0.0``) is mixed with its column index by splitmix64's
finalizer, and the row hash is the wrapping sum over columns: ``O(N d)`` to hash and ``O(N log N)`` to find
repeats, on any device. Two different rows collide with probability about ``2^-64``; a collision only drops
one offspring. Rows are duplicates when they are bitwise equal (pymoo uses a distance below 1e-16).
"""

from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["row_hash", "is_new"]

_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as a signed int64
_MIX1 = -4658895280553007687  # 0xBF58476D1CE4E5B9
_MIX2 = -7723592293110705685  # 0x94D049BB133111EB


def _mix(z: Tensor) -> Tensor:
    """splitmix64's finalizer on int64 (wrapping arithmetic)."""
    z = z ^ (z >> 30)
    z = z * _MIX1
    z = z ^ (z >> 27)
    z = z * _MIX2
    return z ^ (z >> 31)


def row_hash(x: Tensor) -> Tensor:
    """64-bit hash of each row of ``x`` (``n x d``, any float dtype); equal rows hash equally.

    Returns:
        ``n`` int64 hashes.
    """
    bits = (x.to(torch.float64) + 0.0).view(torch.int64)  # + 0.0 turns -0.0 into 0.0
    cols = torch.arange(1, x.shape[1] + 1, device=x.device, dtype=torch.int64) * _GOLDEN
    return _mix(bits + cols).sum(dim=1)


def is_new(candidates: Tensor, existing: Tensor) -> Tensor:
    """Which candidates are neither in ``existing`` nor a repeat of an earlier candidate.

    Args:
        candidates: ``n x d`` rows.
        existing: ``k x d`` rows already present (population, queued and told points).

    Returns:
        ``n`` bool mask, True for the first copy of each row that ``existing`` does not hold.
    """
    h = row_hash(torch.cat([existing, candidates]))
    _, inverse = torch.unique(h, return_inverse=True)
    first = torch.full((h.shape[0],), h.shape[0], dtype=torch.int64, device=h.device)
    first = first.scatter_reduce(
        0, inverse, torch.arange(h.shape[0], device=h.device), reduce="amin"
    )
    own = torch.arange(existing.shape[0], h.shape[0], device=h.device)
    return first[inverse[existing.shape[0] :]] == own
