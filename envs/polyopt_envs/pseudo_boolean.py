"""Pseudo-Boolean multi-objective benchmarks over ``Binary(n)``, the problems runtime analyses of MOEAs use.

All objectives are maximized; every problem knows its whole Pareto front (``pareto_front()``). OneMinMax,
LOTZ and COCZ take ``n_obj`` (even): the string is cut into ``n_obj / 2`` blocks, each scored as the
bi-objective problem (mOneMinMax, mLOTZ, mCOCZ), for many-objective tests on the Binary space.

- :class:`OneMinMax` (Giel & Lehre 2010): ones and zeros. Every bit string is Pareto optimal; the front is
  ``(i, n - i)``, ``i = 0..n``, so the task is to cover it.
- :class:`LeadingOnesTrailingZeros` (LOTZ, Laumanns, Thiele & Zitzler 2004): leading ones and trailing zeros;
  the front ``(i, n - i)`` is reached only by ``1^i 0^(n-i)``.
- :class:`CountingOnesCountingZeros` (COCZ, Laumanns et al. 2004): ones, and ones of the first half plus
  zeros of the second; the front is ``(n/2 + j, n - j)``, ``j = 0..n/2``.
- :class:`OneJumpZeroJump` (Doerr & Zheng 2021): OneMinMax with a fitness valley of width ``k`` next to each
  end, so the extreme points need a jump of ``k`` bits; the front is ``(k + a, k + n - a)`` for
  ``a`` ones in ``{0, n}`` or ``k..n-k``.

Example:
    >>> import polyopt
    >>> problem = polyopt.make("objective", "lotz", n=20)
    >>> problem.pareto_front().shape
    torch.Size([21, 2])
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.errors import ConfigError
from polyopt.objective import Direction, Evaluation, Objective
from polyopt.spaces import Binary
from polyopt_envs._common import check_int

__all__ = [
    "CountingOnesCountingZeros",
    "LeadingOnesTrailingZeros",
    "OneJumpZeroJump",
    "OneMinMax",
]

_MAXIMIZE: Direction = "maximize"


class _PseudoBoolean(Objective):
    """Maximized objectives of an ``n``-bit string. With ``n_obj = 2k`` objectives the string is cut into
    ``k`` blocks of ``2n / n_obj`` bits and each block gives the bi-objective values of its own bits (the
    m-objective versions of Laumanns, Thiele & Zitzler 2004 and Zheng & Doerr); the front is the product of
    the blocks' fronts. The reference point ``(-1, ..., -1)`` is dominated by every point."""

    def __init__(self, n: int = 30, n_obj: int = 2) -> None:
        self.n = check_int("n", n, 2)
        m = check_int("n_obj", n_obj, 2)
        if m % 2 or self.n % (m // 2):
            raise ConfigError(
                f"n_obj={n_obj} with n={n}; expected an even n_obj whose half divides n (one block of "
                "bits per pair of objectives)"
            )
        self.n_objectives = m
        self.directions = (_MAXIMIZE,) * m
        self.block = self.n // (m // 2)
        self.space = Binary(self.n)
        self.ref_point = (-1.0,) * m

    def block_values(self, x: Tensor) -> Tensor:
        """``... x 2`` values of blocks ``x`` (``... x b`` bits as 0/1)."""
        raise NotImplementedError

    def block_front(self) -> Tensor:
        """``k x 2`` Pareto front of one block of ``self.block`` bits."""
        a = torch.arange(self.block + 1, dtype=torch.float64)
        return torch.stack([a, self.block - a], dim=-1)

    def values(self, x: Tensor) -> Tensor:
        """``n_points x n_obj`` objective values of ``x`` (``n_points x n`` bits as 0/1)."""
        blocks = x.reshape(x.shape[0], -1, self.block)  # points x blocks x b
        return self.block_values(blocks).reshape(x.shape[0], -1)

    def evaluate(self, x: Tensor) -> Evaluation:
        dtype = x.dtype if x.is_floating_point() else torch.float64
        return Evaluation(f=self.values(x.to(dtype)))

    def pareto_front(self, n: int = 0) -> Tensor:
        """The whole Pareto front (``k x n_obj``, maximized; ``n`` is ignored: the front is finite)."""
        front = self.block_front()
        n_blocks = self.n_objectives // 2
        if n_blocks == 1:
            return front
        rows = torch.cartesian_prod(*[torch.arange(front.shape[0])] * n_blocks)  # k^blocks x blocks
        return front[rows].reshape(rows.shape[0], -1)


class OneMinMax(_PseudoBoolean):
    """OneMinMax: ``(|x|_1, |x|_0)``; every string is Pareto optimal.

    Args:
        n: bits, ``>= 2``.
        n_obj: objectives (even; ``n_obj / 2`` blocks of bits, each its own OneMinMax: mOneMinMax).
    """

    name = "one-min-max"

    def block_values(self, x: Tensor) -> Tensor:
        ones = x.sum(dim=-1)
        return torch.stack([ones, self.block - ones], dim=-1)


class LeadingOnesTrailingZeros(_PseudoBoolean):
    """LOTZ: (leading ones, trailing zeros).

    Args:
        n: bits, ``>= 2``.
        n_obj: objectives (even; ``n_obj / 2`` blocks of bits, each its own LOTZ: mLOTZ).
    """

    name = "lotz"

    def block_values(self, x: Tensor) -> Tensor:
        leading = torch.cumprod(x, dim=-1).sum(dim=-1)
        trailing = torch.cumprod((1 - x).flip(-1), dim=-1).sum(dim=-1)
        return torch.stack([leading, trailing], dim=-1)


class CountingOnesCountingZeros(_PseudoBoolean):
    """COCZ: (ones, ones of the first half + zeros of the second half).

    Args:
        n: bits, ``>= 2``; each block's length must be even.
        n_obj: objectives (even; ``n_obj / 2`` blocks of bits, each its own COCZ: mCOCZ).
    """

    name = "cocz"

    def __init__(self, n: int = 30, n_obj: int = 2) -> None:
        super().__init__(n, n_obj)
        if self.block % 2:
            raise ConfigError(
                f"n={n}, n_obj={n_obj}: blocks of {self.block} bits; COCZ splits each block in halves, "
                "expected an even block length"
            )

    def block_values(self, x: Tensor) -> Tensor:
        half = self.block // 2
        ones = x.sum(dim=-1)
        second = x[..., :half].sum(dim=-1) + (1 - x[..., half:]).sum(dim=-1)
        return torch.stack([ones, second], dim=-1)

    def block_front(self) -> Tensor:
        """``(b/2 + j, b - j)``, ``j = 0..b/2``, for blocks of ``b`` bits."""
        b = self.block
        j = torch.arange(b // 2 + 1, dtype=torch.float64)
        return torch.stack([b // 2 + j, b - j], dim=-1)


class OneJumpZeroJump(_PseudoBoolean):
    """OneJumpZeroJump: OneMinMax whose ends sit behind a gap of ``k`` bits (two objectives).

    ``f1 = k + |x|_1`` if ``|x|_1 <= n - k`` or ``x = 1^n``, else ``n - |x|_1``; ``f2`` the same with zeros.

    Args:
        n: bits, ``>= 2``.
        k: the jump size, ``1 <= k <= n / 2``.
    """

    name = "one-jump-zero-jump"

    def __init__(self, n: int = 30, k: int = 2) -> None:
        super().__init__(n)
        self.k = check_int("k", k, 1)
        if 2 * self.k > self.n:
            raise ConfigError(f"k={k} with n={n}; expected 1 <= k <= n / 2")

    def block_values(self, x: Tensor) -> Tensor:
        n, k = self.n, self.k
        ones = x.sum(dim=-1)
        zeros = n - ones
        f1 = torch.where((ones <= n - k) | (ones == n), k + ones, n - ones)
        f2 = torch.where((zeros <= n - k) | (zeros == n), k + zeros, n - zeros)
        return torch.stack([f1, f2], dim=-1)

    def block_front(self) -> Tensor:
        """``(k + a, k + n - a)`` for ``a`` ones in ``{0, n}`` or ``k..n-k``."""
        inner = torch.arange(self.k, self.n - self.k + 1, dtype=torch.float64)
        ends = torch.tensor([0.0, float(self.n)], dtype=torch.float64)
        a = torch.cat([ends[:1], inner, ends[1:]]).unique()
        return torch.stack([self.k + a, self.k + self.n - a], dim=-1)
