"""Search spaces.

Every point is a row of a float tensor: a space of ``dim`` columns holds ``n`` points as ``n x dim``. Discrete
spaces store integral values in that float tensor (an Integer's value, a Categorical's choice index, a Binary's
0/1, a Permutation's item order), so operators and storage treat all spaces alike. ``encode``/``decode`` map to
and from a continuous unit cube ``n x encoded_dim`` for surrogate models (one-hot for categories, random keys for
permutations).

Example:
    >>> import torch
    >>> space = Product({"lr": Box([1e-4], [1e-1]), "layers": Integer(1, 4), "act": Categorical(["relu", "tanh"])})
    >>> x = space.sample(5, generator=torch.Generator().manual_seed(0))
    >>> x.shape
    torch.Size([5, 3])
    >>> space.unflatten(x)["act"].shape
    torch.Size([5, 1])
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from polyopt.errors import SpaceError

__all__ = [
    "Space",
    "Box",
    "Integer",
    "Categorical",
    "Binary",
    "Permutation",
    "Product",
    "SobolSampler",
]

Number = float | int


def _vector(value: Number | Sequence[Number] | Tensor, name: str) -> Tensor:
    t = torch.as_tensor(value, dtype=torch.float64).flatten()
    if t.numel() == 0:
        raise SpaceError(f"{name} is empty; expected at least one bound")
    if not torch.isfinite(t).all():
        raise SpaceError(
            f"{name}={t.tolist()} has non-finite values; bounds must be finite numbers"
        )
    return t


class Space(ABC):
    """A set of points, stored as rows of an ``n x dim`` float tensor."""

    #: ``"continuous"``, ``"integer"``, ``"categorical"``, ``"binary"``, ``"permutation"`` or ``"mixed"``.
    kind: str = ""

    @property
    @abstractmethod
    def dim(self) -> int:
        """Number of columns of a point."""

    @property
    def encoded_dim(self) -> int:
        """Number of columns of the continuous encoding (see :meth:`encode`)."""
        return self.dim

    @property
    @abstractmethod
    def bounds(self) -> Tensor:
        """``2 x dim`` float64 tensor: the lowest and highest value of each column."""

    @abstractmethod
    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        """Draw ``n`` points uniformly. Returns ``n x dim`` on the generator's device unless ``device`` is given."""

    @abstractmethod
    def contains(self, x: Tensor) -> Tensor:
        """Return a bool tensor ``n``: whether each row of ``x`` (``n x dim``) lies in the space."""

    @abstractmethod
    def repair(self, x: Tensor) -> Tensor:
        """Return the nearest valid points to ``x`` (``n x dim``): clipped, rounded or re-ordered."""

    def encode(self, x: Tensor) -> Tensor:
        """Map points ``n x dim`` to the unit cube ``n x encoded_dim``."""
        lower, upper = self.bounds.to(x)
        return (x - lower) / (upper - lower)

    def decode(self, z: Tensor) -> Tensor:
        """Map unit-cube points ``n x encoded_dim`` back to valid points ``n x dim``."""
        lower, upper = self.bounds.to(z)
        return self.repair(lower + z.clamp(0, 1) * (upper - lower))

    @property
    def is_continuous(self) -> bool:
        """True when every column is continuous (gradient-based methods apply directly)."""
        return self.kind == "continuous"

    def validate(self, x: Tensor) -> None:
        """Raise :class:`SpaceError` naming the first offending row unless every row of ``x`` is in the space."""
        if not isinstance(x, Tensor) or x.dim() != 2 or x.shape[1] != self.dim:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise SpaceError(f"points have shape {shape}; expected (n, {self.dim}) for {self!r}")
        inside = self.contains(x)
        if not bool(inside.all()):
            row = int((~inside).nonzero()[0])
            raise SpaceError(f"point {row} = {x[row].tolist()} is outside {self!r}")

    def _device_of(
        self, generator: torch.Generator | None, device: torch.device | str | None
    ) -> torch.device:
        if device is not None:
            return torch.device(device)
        return generator.device if generator is not None else torch.device("cpu")

    def _uniform(
        self,
        n: int,
        generator: torch.Generator | None,
        dtype: torch.dtype | None,
        device: torch.device | str | None,
    ) -> Tensor:
        dev = self._device_of(generator, device)
        gen_dev = generator.device if generator is not None else dev
        u = torch.rand(
            n,
            self.dim,
            generator=generator,
            device=gen_dev,
            dtype=dtype or torch.get_default_dtype(),
        )
        return u.to(dev)


class Box(Space):
    """A continuous box ``lower <= x <= upper``.

    Args:
        lower: lower bounds, a number or one per dimension.
        upper: upper bounds, a number or one per dimension.
        dim: the number of dimensions when both bounds are numbers.
    """

    kind = "continuous"

    def __init__(
        self,
        lower: Number | Sequence[Number] | Tensor,
        upper: Number | Sequence[Number] | Tensor,
        dim: int | None = None,
    ) -> None:
        lo, hi = _vector(lower, "lower"), _vector(upper, "upper")
        if dim is not None:
            if dim < 1:
                raise SpaceError(f"dim={dim}; expected a positive number of dimensions")
            lo, hi = (t.expand(dim).clone() if t.numel() == 1 else t for t in (lo, hi))
        if lo.numel() == 1 and hi.numel() > 1:
            lo = lo.expand_as(hi).clone()
        if hi.numel() == 1 and lo.numel() > 1:
            hi = hi.expand_as(lo).clone()
        if lo.shape != hi.shape or (dim is not None and lo.numel() != dim):
            raise SpaceError(
                f"lower has {lo.numel()} values and upper {hi.numel()} (dim={dim}); expected equal"
            )
        bad = (lo >= hi).nonzero().flatten().tolist()
        if bad:
            i = bad[0]
            raise SpaceError(
                f"bound {i}: lower={lo[i].item()} >= upper={hi[i].item()}; expected lower < upper"
            )
        self.lower, self.upper = lo, hi

    @property
    def dim(self) -> int:
        return self.lower.numel()

    @property
    def bounds(self) -> Tensor:
        return torch.stack([self.lower, self.upper])

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        u = self._uniform(n, generator, dtype, device)
        lower, upper = self.bounds.to(u)
        return lower + u * (upper - lower)

    def contains(self, x: Tensor) -> Tensor:
        lower, upper = self.bounds.to(x)
        return ((x >= lower) & (x <= upper)).all(dim=-1)

    def repair(self, x: Tensor) -> Tensor:
        lower, upper = self.bounds.to(x)
        return torch.maximum(torch.minimum(x, upper), lower)

    def __repr__(self) -> str:
        return f"Box(lower={self.lower.tolist()}, upper={self.upper.tolist()})"


class Integer(Box):
    """Integers ``lower <= x <= upper`` (inclusive), one or more dimensions."""

    kind = "integer"

    def __init__(
        self,
        lower: int | Sequence[int] | Tensor,
        upper: int | Sequence[int] | Tensor,
        dim: int | None = None,
    ) -> None:
        lo, hi = _vector(lower, "lower"), _vector(upper, "upper")
        for name, t in (("lower", lo), ("upper", hi)):
            if not torch.equal(t, t.round()):
                raise SpaceError(f"{name}={t.tolist()} has non-integer values; expected integers")
        if bool((lo > hi).any()) if lo.shape == hi.shape else False:
            i = int((lo > hi).nonzero()[0])
            raise SpaceError(
                f"bound {i}: lower={int(lo[i])} > upper={int(hi[i])}; expected lower <= upper"
            )
        # Box requires lower < upper; an integer range may be a single value, so widen by half a step.
        super().__init__(lo - 0.5, hi + 0.5, dim)
        self.lower, self.upper = self.lower + 0.5, self.upper - 0.5

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        u = self._uniform(n, generator, dtype, device)
        lower, upper = self.bounds.to(u)
        return torch.floor(lower + u * (upper - lower + 1)).clamp_max(upper)

    def contains(self, x: Tensor) -> Tensor:
        return super().contains(x) & (x == x.round()).all(dim=-1)

    def repair(self, x: Tensor) -> Tensor:
        return super().repair(x.round())

    def encode(self, x: Tensor) -> Tensor:
        lower, upper = self.bounds.to(x)
        return (x - lower + 0.5) / (upper - lower + 1)

    def decode(self, z: Tensor) -> Tensor:
        lower, upper = self.bounds.to(z)
        return self.repair(torch.floor(lower + z.clamp(0, 1) * (upper - lower + 1)))

    def __repr__(self) -> str:
        return (
            f"Integer(lower={[int(v) for v in self.lower]}, upper={[int(v) for v in self.upper]})"
        )


class Categorical(Space):
    """One choice among ``choices``; a point holds the choice's index. Encoded one-hot.

    Args:
        choices: the values to choose from (any objects; at least one, no duplicates).
    """

    kind = "categorical"

    def __init__(self, choices: Sequence[Any]) -> None:
        choices = list(choices)
        if not choices:
            raise SpaceError("choices=[] is empty; expected at least one choice")
        if len({repr(c) for c in choices}) != len(choices):
            raise SpaceError(f"choices={choices!r} has duplicates; expected distinct choices")
        self.choices = choices

    @property
    def dim(self) -> int:
        return 1

    @property
    def encoded_dim(self) -> int:
        return len(self.choices)

    @property
    def bounds(self) -> Tensor:
        return torch.tensor([[0.0], [len(self.choices) - 1.0]], dtype=torch.float64)

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        u = self._uniform(n, generator, dtype, device)
        return torch.floor(u * len(self.choices)).clamp_max(len(self.choices) - 1)

    def contains(self, x: Tensor) -> Tensor:
        return ((x >= 0) & (x <= len(self.choices) - 1) & (x == x.round())).all(dim=-1)

    def repair(self, x: Tensor) -> Tensor:
        return x.round().clamp(0, len(self.choices) - 1)

    def encode(self, x: Tensor) -> Tensor:
        return torch.nn.functional.one_hot(x[:, 0].long(), len(self.choices)).to(x.dtype)

    def decode(self, z: Tensor) -> Tensor:
        return z.argmax(dim=-1, keepdim=True).to(z.dtype)

    def value(self, index: int | float | Tensor) -> Any:
        """Return the choice stored as ``index``."""
        return self.choices[int(index)]

    def __repr__(self) -> str:
        return f"Categorical({self.choices!r})"


class Binary(Integer):
    """``n`` bits, each 0 or 1."""

    kind = "binary"

    def __init__(self, n: int) -> None:
        if not isinstance(n, int) or n < 1:
            raise SpaceError(f"n={n!r}; expected a positive number of bits")
        super().__init__(0, 1, dim=n)

    def encode(self, x: Tensor) -> Tensor:
        return x.clone()

    def decode(self, z: Tensor) -> Tensor:
        return (z > 0.5).to(z.dtype)

    def __repr__(self) -> str:
        return f"Binary({self.dim})"


class Permutation(Space):
    """Orderings of ``n`` items: a point is a row holding each of ``0..n-1`` once.

    Encoded as random keys: item ``p[j]`` gets key ``j / (n - 1)``, and ``decode`` is ``argsort``.
    """

    kind = "permutation"

    def __init__(self, n: int) -> None:
        if not isinstance(n, int) or n < 2:
            raise SpaceError(f"n={n!r}; expected at least 2 items to permute")
        self.n = n

    @property
    def dim(self) -> int:
        return self.n

    @property
    def bounds(self) -> Tensor:
        return torch.tensor([[0.0] * self.n, [self.n - 1.0] * self.n], dtype=torch.float64)

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        keys = self._uniform(n, generator, dtype, device)
        return keys.argsort(dim=-1).to(keys.dtype)

    def contains(self, x: Tensor) -> Tensor:
        ref = torch.arange(self.n, device=x.device, dtype=x.dtype)
        return (x.sort(dim=-1).values == ref).all(dim=-1)

    def repair(self, x: Tensor) -> Tensor:
        # Rows that are not permutations become the order of their values (stable), which keeps valid rows as is.
        ranks = x.argsort(dim=-1, stable=True).argsort(dim=-1, stable=True).to(x.dtype)
        return torch.where(self.contains(x).unsqueeze(-1), x, ranks)

    def encode(self, x: Tensor) -> Tensor:
        keys = torch.empty_like(x)
        steps = torch.arange(self.n, device=x.device, dtype=x.dtype).expand_as(x) / (self.n - 1)
        return keys.scatter_(1, x.long(), steps)

    def decode(self, z: Tensor) -> Tensor:
        return z.argsort(dim=-1, stable=True).to(z.dtype)

    def __repr__(self) -> str:
        return f"Permutation({self.n})"


class Product(Space):
    """A mixed space: named parts side by side. A point's columns are the parts' columns in order.

    Args:
        parts: ``{name: space}``; names must be distinct, at least one part.
    """

    kind = "mixed"

    def __init__(self, parts: Mapping[str, Space]) -> None:
        if not parts:
            raise SpaceError("parts={} is empty; expected at least one named space")
        for name, part in parts.items():
            if not isinstance(part, Space):
                raise SpaceError(f"part {name!r} is {part!r}; expected a Space")
        self.parts = dict(parts)
        self.slices: dict[str, slice] = {}
        self.encoded_slices: dict[str, slice] = {}
        start = enc = 0
        for name, part in self.parts.items():
            self.slices[name] = slice(start, start + part.dim)
            self.encoded_slices[name] = slice(enc, enc + part.encoded_dim)
            start, enc = start + part.dim, enc + part.encoded_dim
        kinds = {p.kind for p in self.parts.values()}
        self.kind = kinds.pop() if len(kinds) == 1 else "mixed"

    @property
    def dim(self) -> int:
        return sum(p.dim for p in self.parts.values())

    @property
    def encoded_dim(self) -> int:
        return sum(p.encoded_dim for p in self.parts.values())

    @property
    def bounds(self) -> Tensor:
        return torch.cat([p.bounds for p in self.parts.values()], dim=1)

    def _map(self, fn_name: str, x: Tensor, slices: dict[str, slice]) -> Tensor:
        return torch.cat(
            [getattr(p, fn_name)(x[:, slices[k]]) for k, p in self.parts.items()], dim=1
        )

    def sample(
        self,
        n: int,
        *,
        generator: torch.Generator | None = None,
        dtype: torch.dtype | None = None,
        device: torch.device | str | None = None,
    ) -> Tensor:
        return torch.cat(
            [
                p.sample(n, generator=generator, dtype=dtype, device=device)
                for p in self.parts.values()
            ],
            dim=1,
        )

    def contains(self, x: Tensor) -> Tensor:
        inside = [p.contains(x[:, self.slices[k]]) for k, p in self.parts.items()]
        return torch.stack(inside).all(dim=0)

    def repair(self, x: Tensor) -> Tensor:
        return self._map("repair", x, self.slices)

    def encode(self, x: Tensor) -> Tensor:
        return self._map("encode", x, self.slices)

    def decode(self, z: Tensor) -> Tensor:
        return torch.cat(
            [p.decode(z[:, self.encoded_slices[k]]) for k, p in self.parts.items()], dim=1
        )

    def unflatten(self, x: Tensor) -> dict[str, Tensor]:
        """Split ``n x dim`` points into ``{name: n x part.dim}``."""
        return {k: x[:, s] for k, s in self.slices.items()}

    def __repr__(self) -> str:
        return "Product({" + ", ".join(f"{k!r}: {p!r}" for k, p in self.parts.items()) + "})"


def _log_volume(space: Space) -> float:  # used by tests and reports to compare space sizes
    if isinstance(space, Permutation):
        return math.lgamma(space.n + 1)
    lower, upper = space.bounds
    return float(torch.log(upper - lower + (0 if space.kind == "continuous" else 1)).sum())


class SobolSampler:
    """Points of a scrambled Sobol sequence in a space's unit-cube encoding, decoded to valid points, whose
    state (a seed and a count) resumes the sequence exactly.

    Args:
        space: the space to sample.
        generator: draws the scrambling seed (an optimizer's ``self.generator``).
    """

    def __init__(self, space: Space, generator: torch.Generator) -> None:
        self.space = space
        self.seed = int(
            torch.randint(0, 2**31 - 1, (), generator=generator, device=generator.device)
        )
        self.drawn = 0
        self._engine = self._new_engine()

    def _new_engine(self) -> torch.quasirandom.SobolEngine:
        return torch.quasirandom.SobolEngine(self.space.encoded_dim, scramble=True, seed=self.seed)

    def draw(self, n: int, *, dtype: torch.dtype, device: torch.device | str = "cpu") -> Tensor:
        """The next ``n`` points, ``n x dim`` (drawn in float64 on the CPU, then moved)."""
        z = self._engine.draw(n, dtype=torch.float64)
        self.drawn += n
        return self.space.decode(z).to(device=device, dtype=dtype)

    def state_dict(self) -> dict[str, int]:
        """The seed and the number of points drawn so far."""
        return {"seed": self.seed, "drawn": self.drawn}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Continue the sequence of :meth:`state_dict` exactly."""
        self.seed = int(state["seed"])
        self.drawn = int(state["drawn"])
        self._engine = self._new_engine()
        self._engine.fast_forward(self.drawn)
