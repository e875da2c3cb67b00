"""Bi-objective pseudo-Boolean benchmarks over ``Binary(n)``, the problems runtime analyses of MOEAs use.

Both objectives are maximized; every problem knows its whole Pareto front (``pareto_front()``, ``k x 2``).

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
    """Two maximized objectives of an ``n``-bit string; the reference point ``(-1, -1)`` is dominated by
    every point."""

    n_objectives = 2
    directions = (_MAXIMIZE, _MAXIMIZE)

    def __init__(self, n: int = 30) -> None:
        self.n = check_int("n", n, 2)
        self.space = Binary(self.n)
        self.ref_point = (-1.0, -1.0)

    def values(self, x: Tensor) -> Tensor:
        """``n_points x 2`` objective values of ``x`` (``n_points x n`` bits as 0/1)."""
        raise NotImplementedError

    def evaluate(self, x: Tensor) -> Evaluation:
        dtype = x.dtype if x.is_floating_point() else torch.float64
        return Evaluation(f=self.values(x.to(dtype)))

    def front_ones(self) -> Tensor:
        """Numbers of ones ``a`` of the front's points (``f`` as a function of ``a``; see subclasses)."""
        return torch.arange(self.n + 1, dtype=torch.float64)

    def pareto_front(self, n: int = 0) -> Tensor:
        """The whole Pareto front (``k x 2``, maximized; ``n`` is ignored: the front is finite)."""
        a = self.front_ones()
        return torch.stack([a, self.n - a], dim=-1)


class OneMinMax(_PseudoBoolean):
    """OneMinMax: ``(|x|_1, |x|_0)``; every string is Pareto optimal.

    Args:
        n: bits, ``>= 2``.
    """

    name = "one-min-max"

    def values(self, x: Tensor) -> Tensor:
        ones = x.sum(dim=-1)
        return torch.stack([ones, self.n - ones], dim=-1)


class LeadingOnesTrailingZeros(_PseudoBoolean):
    """LOTZ: (leading ones, trailing zeros).

    Args:
        n: bits, ``>= 2``.
    """

    name = "lotz"

    def values(self, x: Tensor) -> Tensor:
        leading = torch.cumprod(x, dim=-1).sum(dim=-1)
        trailing = torch.cumprod((1 - x).flip(-1), dim=-1).sum(dim=-1)
        return torch.stack([leading, trailing], dim=-1)


class CountingOnesCountingZeros(_PseudoBoolean):
    """COCZ: (ones, ones of the first half + zeros of the second half).

    Args:
        n: bits, even and ``>= 2``.
    """

    name = "cocz"

    def __init__(self, n: int = 30) -> None:
        super().__init__(n)
        if self.n % 2:
            raise ConfigError(f"n={n}; COCZ splits the string in halves, expected an even n")

    def values(self, x: Tensor) -> Tensor:
        half = self.n // 2
        ones = x.sum(dim=-1)
        second = x[:, :half].sum(dim=-1) + (1 - x[:, half:]).sum(dim=-1)
        return torch.stack([ones, second], dim=-1)

    def pareto_front(self, n: int = 0) -> Tensor:
        """The whole Pareto front ``(n/2 + j, n - j)``, ``j = 0..n/2`` (``n`` is ignored)."""
        j = torch.arange(self.n // 2 + 1, dtype=torch.float64)
        return torch.stack([self.n // 2 + j, self.n - j], dim=-1)


class OneJumpZeroJump(_PseudoBoolean):
    """OneJumpZeroJump: OneMinMax whose ends sit behind a gap of ``k`` bits.

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

    def values(self, x: Tensor) -> Tensor:
        n, k = self.n, self.k
        ones = x.sum(dim=-1)
        zeros = n - ones
        f1 = torch.where((ones <= n - k) | (ones == n), k + ones, n - ones)
        f2 = torch.where((zeros <= n - k) | (zeros == n), k + zeros, n - zeros)
        return torch.stack([f1, f2], dim=-1)

    def front_ones(self) -> Tensor:
        inner = torch.arange(self.k, self.n - self.k + 1, dtype=torch.float64)
        ends = torch.tensor([0.0, float(self.n)], dtype=torch.float64)
        return torch.cat([ends[:1], inner, ends[1:]]).unique()

    def pareto_front(self, n: int = 0) -> Tensor:
        """The whole Pareto front ``(k + a, k + n - a)`` (``n`` is ignored)."""
        a = self.front_ones()
        return torch.stack([self.k + a, self.k + self.n - a], dim=-1)
