"""The CEC 2022 single-objective bound-constrained suite: twelve functions on ``[-100, 100]^d``, batched.

F1-F5 are shifted and fully rotated basic functions (Zakharov, Rosenbrock, Schaffer F7, Rastrigin, Levy), F6-F8
hybrid functions (the shifted, rotated and shuffled variables cut into pieces, each piece fed to another
function), F9-F12 composition functions (a distance-weighted mix of shifted, rotated components with biases).
The definitions follow the competition's C code (Kumar, Price, Mohamed, Hadi & Suganthan 2021), including
its departures from the technical report (F3 uses Schaffer's F7, F4 the plain Rastrigin). The optimum value is
the function's bias (300, 400, 600, 800, 900, 1800, 2000, 2200, 2300, 2400, 2600, 2700) at the first shift
vector; errors are ``f - optimum``.

Data: the official shift vectors, rotation matrices and shuffles are files we do not ship and cannot download
at run time. Each instance generates its own deterministically from ``seed`` (shifts uniform in
``[-80, 80]^d`` as the official ones, rotations Haar-random orthogonal, shuffles uniform), so results on these
instances are comparable with each other, not with published CEC 2022 tables. Passing ``data=`` uses any
given data instead; the tests load the official files from a pip-installed package that ships them and check
that these functions reproduce that package's values (the package is a test reference only).
Dimensions are the suite's: 2, 10 or 20 (the hybrid functions F6-F8: 10 or 20).
"""

from __future__ import annotations

import math
import os
import pathlib
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from polyopt import Box, Evaluation, Objective
from polyopt.errors import ConfigError

__all__ = ["CEC2022", "CEC2022Data", "cec2022_class"]

Basic = Callable[[Tensor], Tensor]

BIAS = {1: 300, 2: 400, 3: 600, 4: 800, 5: 900, 6: 1800, 7: 2000, 8: 2200}
BIAS.update({9: 2300, 10: 2400, 11: 2600, 12: 2700})


# ---- basic functions: ``n x d`` -> ``n`` ----------------------------------------------------------------------
def zakharov(z: Tensor) -> Tensor:
    s2 = (0.5 * torch.arange(1, z.shape[1] + 1, dtype=z.dtype, device=z.device) * z).sum(1)
    return (z**2).sum(1) + s2**2 + s2**4


def rosenbrock(z: Tensor) -> Tensor:
    z = z + 1.0  # the C code's shift to the origin
    return (100.0 * (z[:, :-1] ** 2 - z[:, 1:]) ** 2 + (z[:, :-1] - 1.0) ** 2).sum(1)


def schaffer_f7(z: Tensor) -> Tensor:
    s = torch.hypot(z[:, :-1], z[:, 1:])
    return ((s.sqrt() * (1.0 + torch.sin(50.0 * s**0.2) ** 2)).mean(1)) ** 2


def rastrigin(z: Tensor) -> Tensor:
    return (z**2 - 10.0 * torch.cos(2 * math.pi * z) + 10.0).sum(1)


def levy(z: Tensor) -> Tensor:
    w = 1.0 + z / 4.0
    head = torch.sin(math.pi * w[:, 0]) ** 2
    body = ((w[:, :-1] - 1) ** 2 * (1 + 10 * torch.sin(math.pi * w[:, :-1] + 1) ** 2)).sum(1)
    tail = (w[:, -1] - 1) ** 2 * (1 + torch.sin(2 * math.pi * w[:, -1]) ** 2)
    return head + body + tail


def bent_cigar(z: Tensor) -> Tensor:
    return z[:, 0] ** 2 + 1e6 * (z[:, 1:] ** 2).sum(1)


def discus(z: Tensor) -> Tensor:
    return 1e6 * z[:, 0] ** 2 + (z[:, 1:] ** 2).sum(1)


def ellipsoid(z: Tensor) -> Tensor:
    d = z.shape[1]
    powers = 6.0 * torch.arange(d, dtype=z.dtype, device=z.device) / max(d - 1, 1)
    return (10.0**powers * z**2).sum(1)


def hgbat(z: Tensor) -> Tensor:
    z = z - 1.0
    r2 = (z**2).sum(1)
    s = z.sum(1)
    return (r2**2 - s**2).abs().sqrt() + (0.5 * r2 + s) / z.shape[1] + 0.5


def happycat(z: Tensor) -> Tensor:
    z = z - 1.0
    d = z.shape[1]
    r2 = (z**2).sum(1)
    return (r2 - d).abs() ** 0.25 + (0.5 * r2 + z.sum(1)) / d + 0.5


def katsuura(z: Tensor) -> Tensor:
    d = z.shape[1]
    powers = 2.0 ** torch.arange(1, 33, dtype=z.dtype, device=z.device)  # (32,)
    scaled = z.unsqueeze(2) * powers  # (n, d, 32)
    inner = ((scaled - torch.floor(scaled + 0.5)).abs() / powers).sum(2)
    index = torch.arange(1, d + 1, dtype=z.dtype, device=z.device)
    prod = ((1.0 + index * inner) ** (10.0 / d**1.2)).prod(1)
    return (prod - 1.0) * 10.0 / d / d


def ackley(z: Tensor) -> Tensor:
    first = -20.0 * torch.exp(-0.2 * (z**2).mean(1).sqrt())
    return first - torch.exp(torch.cos(2 * math.pi * z).mean(1)) + 20.0 + math.e


def schwefel(z: Tensor) -> Tensor:
    d = z.shape[1]
    t = z + 420.9687462275036
    rest = 500.0 - torch.fmod(t.abs(), 500.0)
    fold = rest * torch.sin(rest.abs().sqrt())
    inside = -t * torch.sin(t.abs().sqrt())
    above = -fold + (t - 500.0) ** 2 / 10000.0 / d
    below = fold + (t + 500.0) ** 2 / 10000.0 / d
    terms = torch.where(t > 500.0, above, torch.where(t < -500.0, below, inside))
    return terms.sum(1) + 418.9828872724338 * d


def griewank(z: Tensor) -> Tensor:
    index = torch.arange(1, z.shape[1] + 1, dtype=z.dtype, device=z.device)
    return (z**2).sum(1) / 4000.0 - torch.cos(z / index.sqrt()).prod(1) + 1.0


def griewank_rosenbrock(z: Tensor) -> Tensor:
    z = z + 1.0
    nxt = z.roll(-1, dims=1)
    t = 100.0 * (z**2 - nxt) ** 2 + (z - 1.0) ** 2
    return (t**2 / 4000.0 - torch.cos(t) + 1.0).sum(1)


def expanded_schaffer_f6(z: Tensor) -> Tensor:
    r2 = z**2 + z.roll(-1, dims=1) ** 2
    return (0.5 + (torch.sin(r2.sqrt()) ** 2 - 0.5) / (1.0 + 0.001 * r2) ** 2).sum(1)


# ---- the suite's table --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Part:
    """One basic function inside a function: its input scale, rotation flag and output factor."""

    fn: Basic
    rate: float = 1.0
    rotate: bool = True
    factor: float = 1.0


#: F1-F5: one part, shifted and rotated
_SIMPLE = {
    1: _Part(zakharov),
    2: _Part(rosenbrock, 2.048e-2),
    3: _Part(schaffer_f7),
    4: _Part(rastrigin, 5.12e-2),
    5: _Part(levy),
}
#: F6-F8: (share of the variables, part) per piece, after shift, rotation and shuffle
_HYBRID = {
    6: [(0.4, _Part(bent_cigar)), (0.4, _Part(hgbat, 0.05)), (0.2, _Part(rastrigin, 5.12e-2))],
    7: [
        (0.1, _Part(hgbat, 0.05)),
        (0.2, _Part(katsuura, 0.05)),
        (0.2, _Part(ackley)),
        (0.2, _Part(rastrigin, 5.12e-2)),
        (0.1, _Part(schwefel, 10.0)),
        (0.2, _Part(schaffer_f7)),
    ],
    8: [
        (0.3, _Part(katsuura, 0.05)),
        (0.2, _Part(happycat, 0.05)),
        (0.2, _Part(griewank_rosenbrock, 0.05)),
        (0.1, _Part(schwefel, 10.0)),
        (0.2, _Part(ackley)),
    ],
}
#: F9-F12: (part, delta, bias) per component
_COMPOSITION = {
    9: [
        (_Part(rosenbrock, 2.048e-2), 10, 0),
        (_Part(ellipsoid, factor=1e-6), 20, 200),
        (_Part(bent_cigar, factor=1e-26), 30, 300),
        (_Part(discus, factor=1e-6), 40, 100),
        (_Part(ellipsoid, rotate=False, factor=1e-6), 50, 400),
    ],
    10: [
        (_Part(schwefel, 10.0, rotate=False), 20, 0),
        (_Part(rastrigin, 5.12e-2), 10, 200),
        (_Part(hgbat, 0.05), 10, 100),
    ],
    11: [
        (_Part(expanded_schaffer_f6, factor=5e-4), 20, 0),
        (_Part(schwefel, 10.0), 20, 200),
        (_Part(griewank, 6.0, factor=10.0), 30, 300),
        (_Part(rosenbrock, 2.048e-2), 30, 400),
        (_Part(rastrigin, 5.12e-2, factor=10.0), 20, 200),
    ],
    12: [
        (_Part(hgbat, 0.05, factor=10.0), 10, 0),
        (_Part(rastrigin, 5.12e-2, factor=10.0), 20, 300),
        (_Part(schwefel, 10.0, factor=2.5), 30, 500),
        (_Part(bent_cigar, factor=1e-26), 40, 100),
        (_Part(ellipsoid, factor=1e-6), 50, 400),
        (_Part(expanded_schaffer_f6, factor=5e-4), 60, 200),
    ],
}


def n_components(function: int) -> int:
    """Shift vectors and rotations ``function`` uses (1, or its composition's components)."""
    return len(_COMPOSITION[function]) if function in _COMPOSITION else 1


@dataclass
class CEC2022Data:
    """A function's transformation data.

    Attributes:
        shift: ``k x d`` shift vectors (``k`` = 1, or the composition's components); the optimum is ``shift[0]``.
        rotation: ``k x d x d`` rotations, ``z = M y`` (the official files' row-major ``M``).
        shuffle: ``d`` int64 permutation of the variables (hybrid functions), else None.
    """

    shift: Tensor
    rotation: Tensor
    shuffle: Tensor | None = None

    @classmethod
    def generate(cls, function: int, dim: int, seed: int = 0) -> CEC2022Data:
        """Deterministic data for ``function`` in ``dim`` dimensions (the official files are not shipped)."""
        gen = torch.Generator().manual_seed(1_000_003 * seed + 100 * function + dim)
        k = n_components(function)
        shift = -80.0 + 160.0 * torch.rand(k, dim, generator=gen, dtype=torch.float64)
        gauss = torch.randn(k, dim, dim, generator=gen, dtype=torch.float64)
        q, r = torch.linalg.qr(gauss)
        # sign fix: Haar-distributed orthogonal matrices (Mezzadri 2007)
        rotation = q * torch.sign(torch.diagonal(r, dim1=1, dim2=2)).unsqueeze(1)
        shuffle = torch.randperm(dim, generator=gen) if function in _HYBRID else None
        return cls(shift=shift, rotation=rotation, shuffle=shuffle)

    @classmethod
    def load(cls, folder: str | os.PathLike[str], function: int, dim: int) -> CEC2022Data:
        """The competition's data files in ``folder`` (``M_<f>_D<d>.txt``, ``shift_data_<f>.txt``,
        ``shuffle_data_<f>_D<d>.txt``: row-major ``M``, 1-based shuffles), float64.

        Raises:
            ConfigError: a file is missing or holds too few numbers.
        """
        k = n_components(function)
        path = pathlib.Path(folder)

        def numbers(name: str, need: int) -> list[str]:
            file = path / name
            if not file.is_file():
                raise ConfigError(f"CEC 2022 data file {str(file)!r} not found")
            values = file.read_text().split()
            if len(values) < need:
                raise ConfigError(f"{str(file)!r} holds {len(values)} numbers; expected >= {need}")
            return values

        rotation = torch.tensor(
            [float(v) for v in numbers(f"M_{function}_D{dim}.txt", k * dim * dim)[: k * dim * dim]],
            dtype=torch.float64,
        ).view(k, dim, dim)
        numbers(f"shift_data_{function}.txt", k * dim)
        lines = (path / f"shift_data_{function}.txt").read_text().splitlines()
        rows = [line.split() for line in lines if line.strip()]
        if k > 1:  # one line per component: its shift is the line's first dim values
            raw = [float(v) for row in rows[:k] for v in row[:dim]]
        else:
            raw = [float(v) for row in rows for v in row][:dim]
        if len(raw) != k * dim:
            raise ConfigError(
                f"shift_data_{function}.txt gives {len(raw)} values; expected {k} lines of >= {dim}"
            )
        shift = torch.tensor(raw, dtype=torch.float64).view(k, dim)
        shuffle = None
        if function in _HYBRID:
            order = numbers(f"shuffle_data_{function}_D{dim}.txt", dim)[:dim]
            shuffle = torch.tensor([int(float(v)) - 1 for v in order], dtype=torch.int64)
        return cls(shift=shift, rotation=rotation, shuffle=shuffle)


class CEC2022(Objective):
    """One function of the CEC 2022 suite on ``[-100, 100]^dim`` (see the module docstring).

    Args:
        function: 1 to 12.
        dim: 2, 10 or 20 (10 or 20 for F6-F8).
        seed: which generated instance (shifts, rotations, shuffle).
        data: the transformation data to use instead of generated data.
    """

    def __init__(
        self, function: int = 1, dim: int = 10, seed: int = 0, data: CEC2022Data | None = None
    ) -> None:
        if function not in BIAS:
            raise ConfigError(f"function={function!r}; expected 1 to 12")
        dims = (10, 20) if function in _HYBRID else (2, 10, 20)
        if dim not in dims:
            raise ConfigError(f"dim={dim!r}; CEC 2022 F{function} is defined for dim in {dims}")
        self.function = function
        self.dim = dim
        self.name = f"cec2022-f{function}"
        self.optimum = float(BIAS[function])
        self.space = Box(-100.0, 100.0, dim=dim)
        self.data = data or CEC2022Data.generate(function, dim, seed)
        k = n_components(function)
        if self.data.shift.shape != (k, dim) or self.data.rotation.shape != (k, dim, dim):
            raise ConfigError(
                f"data for F{function} in {dim} dimensions needs shift {k} x {dim} and rotation "
                f"{k} x {dim} x {dim}; got {tuple(self.data.shift.shape)} and "
                f"{tuple(self.data.rotation.shape)}"
            )

    @property
    def optimizers(self) -> tuple[tuple[float, ...], ...]:
        """The global minimizer (the first shift vector)."""
        return (tuple(self.data.shift[0].tolist()),)

    def _tensors(self, x: Tensor) -> _Tensors:
        """``self.data`` in ``x``'s dtype and device, converted once (again when ``data`` is replaced)."""
        cached = self.__dict__.get("_converted")
        if cached is None or cached[0] is not self.data or cached[1] != (x.dtype, x.device):
            cached = (self.data, (x.dtype, x.device), _Tensors.build(self.data, self.function, x))
            self.__dict__["_converted"] = cached
        tensors: _Tensors = cached[2]
        return tensors

    def _transform(self, x: Tensor, i: int, rate: float, rotate: bool) -> Tensor:
        """``M_i (rate (x - o_i))`` (rows), or without the rotation."""
        data = self._tensors(x)
        y = x - data.shift[i]
        if rate != 1.0:  # a product by 1 is exact: skipping it changes no value
            y = rate * y
        return y @ data.rotation_t[i] if rotate else y

    def evaluate(self, x: Tensor) -> Evaluation:
        """Evaluate ``x`` (``n x d``); returns ``f: n x 1``."""
        fn = self.function
        if fn in _SIMPLE:
            part = _SIMPLE[fn]
            f = part.fn(self._transform(x, 0, part.rate, True))
        elif fn in _HYBRID:
            f = self._hybrid(x, _HYBRID[fn])
        else:
            f = self._composition(x, _COMPOSITION[fn])
        return Evaluation(f=(f + float(BIAS[fn])).unsqueeze(1))

    def _hybrid(self, x: Tensor, pieces: list[tuple[float, _Part]]) -> Tensor:
        z = self._transform(x, 0, 1.0, True)
        shuffle = self._tensors(x).shuffle
        assert shuffle is not None
        z = z.index_select(1, shuffle)
        d = self.dim
        sizes = [math.ceil(share * d) for share, _ in pieces[:-1]]
        sizes.append(d - sum(sizes))
        total = torch.zeros(x.shape[0], dtype=x.dtype, device=x.device)
        start = 0
        for size, (_, part) in zip(sizes, pieces, strict=True):
            total = total + part.fn(part.rate * z[:, start : start + size])
            start += size
        return total

    def _composition(self, x: Tensor, components: list[tuple[_Part, int, int]]) -> Tensor:
        data = self._tensors(x)
        fits, dist2 = [], []
        # one component at a time: at 10^4 points its n x d pieces stay in cache, k x n x d would not
        for i, (part, _, bias) in enumerate(components):
            diff = x - data.shift[i]
            y = part.rate * diff if part.rate != 1.0 else diff  # a product by 1 is exact
            fit = part.fn(y @ data.rotation_t[i] if part.rotate else y)
            if part.factor != 1.0:
                fit = part.factor * fit
            fits.append(fit + bias if bias else fit)
            dist2.append(diff.square().sum(1))
        # all components' weights at once, (n, k): w = dist^-1 exp(-dist^2 / (2 d delta^2)), in logs (no
        # underflow to an all-zero row); at a component's own optimum (distance 0) its weight is infinite
        d2 = torch.stack(dist2, dim=1)
        log_w = -0.5 * d2.log() - d2 / data.spread
        log_w = torch.where(d2 > 0, log_w, torch.finfo(x.dtype).max)
        weights = torch.softmax(log_w, dim=1)  # rows sum to 1
        return (weights * torch.stack(fits, dim=1)).sum(1)


@dataclass
class _Tensors:
    """A function's data as the evaluation uses it, in one dtype and device."""

    shift: Tensor  # (k, d)
    rotation_t: Tensor  # (k, d, d): M_i transposed, for ``y @ M_i^T``
    shuffle: Tensor | None
    #: compositions: ``2 d delta_i^2`` per component (a row of k)
    spread: Tensor

    @classmethod
    def build(cls, data: CEC2022Data, function: int, x: Tensor) -> _Tensors:
        dtype, device = x.dtype, x.device
        d = data.shift.shape[1]
        spread = [2 * d * delta**2 for _, delta, _ in _COMPOSITION.get(function, [])]
        return cls(
            shift=data.shift.to(dtype=dtype, device=device),
            rotation_t=data.rotation.to(dtype=dtype, device=device).transpose(1, 2).contiguous(),
            shuffle=None if data.shuffle is None else data.shuffle.to(device),
            spread=torch.tensor(spread, dtype=dtype, device=device),
        )


def cec2022_class(function: int) -> type[CEC2022]:
    """A :class:`CEC2022` subclass for one function (what the registry names ``cec2022-f<k>`` build)."""

    def __init__(
        self: CEC2022, dim: int = 10, seed: int = 0, data: CEC2022Data | None = None
    ) -> None:
        CEC2022.__init__(self, function, dim, seed, data)

    doc = (
        f"CEC 2022 F{function} on ``[-100, 100]^dim`` (dim 2, 10 or 20); optimum {BIAS[function]}."
    )
    return type(f"CEC2022F{function}", (CEC2022,), {"__init__": __init__, "__doc__": doc})


CEC2022F1 = cec2022_class(1)
CEC2022F2 = cec2022_class(2)
CEC2022F3 = cec2022_class(3)
CEC2022F4 = cec2022_class(4)
CEC2022F5 = cec2022_class(5)
CEC2022F6 = cec2022_class(6)
CEC2022F7 = cec2022_class(7)
CEC2022F8 = cec2022_class(8)
CEC2022F9 = cec2022_class(9)
CEC2022F10 = cec2022_class(10)
CEC2022F11 = cec2022_class(11)
CEC2022F12 = cec2022_class(12)
