"""Differential evolution, tensorized: rand/1/bin and current-to-pbest/1/bin, with JADE's adaptation.

A generation makes one trial vector per target (``pop_size`` rows, row ``i`` for target ``i``): a mutant from
distinct random members (never the target), binomial crossover with at least one mutant coordinate, then the
mutant coordinates that left the box are set halfway between the target and the bound they crossed (JADE's
repair, keeps the trial inside without piling points on the faces; ``bounds="clip"`` puts them on the face
instead, as EvoX's DE does, which pays where the optimum lies on the faces). Selection is one-to-one: a trial
replaces its target when it is no worse.

- ``strategy="rand/1"``: ``v = x_r1 + F (x_r2 - x_r3)`` (Storn & Price 1997).
- ``strategy="current-to-pbest/1"``: ``v = x_i + F (x_pbest - x_i) + F (x_r1 - x~_r2)`` with ``x_pbest`` one of
  the best ``ceil(p * pop_size)`` members and ``x~_r2`` drawn from the population and the archive of replaced
  targets (Zhang & Sanderson 2009).
- ``adaptation="jade"``: per-trial ``CR_i ~ N(mu_CR, 0.1)`` clipped to ``[0, 1]`` and ``F_i ~ Cauchy(mu_F, 0.1)``
  redrawn while ``<= 0`` and capped at 1, drawn exactly as such: the Cauchy truncated to ``(0, inf)`` by its
  inverse CDF, one uniform per trial; after selection ``mu_CR`` moves to the mean and ``mu_F`` to the Lehmer
  mean of the successful values at rate ``c``. ``"none"`` uses the fixed ``F`` and ``CR``.

The archive holds at most ``pop_size`` replaced targets; when more arrive, a random ``pop_size`` of the old
and new ones stays (JADE's random removal). ``x_pbest``'s pool is a set (``topk``, no sort); ``mu_F`` and
``mu_CR`` live on the device and move without a branch, so adapting them never waits for the host.

The meta-evolved DE of issue 21 (MetaDE: a parameterized DE whose strategy an outer DE evolves) is
:mod:`~polyopt_plugins.evolution.metade`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt_plugins.evolution.base import Generation, GenerationalOptimizer

__all__ = [
    "DEConfig",
    "DifferentialEvolution",
    "JADE",
    "cauchy_F",
    "distinct_index_columns",
    "distinct_indices",
    "repair",
]

#: JADE's scale of the Cauchy F and the normal CR draws
_SCALE = 0.1


@dataclass
class DEConfig:
    pop_size: int = 100
    """Members (and trial vectors per generation)."""
    strategy: str = "rand/1"
    """``"rand/1"`` or ``"current-to-pbest/1"`` (both with binomial crossover)."""
    F: float = 0.5
    """Differential weight (the initial ``mu_F`` under JADE's adaptation)."""
    CR: float = 0.9
    """Crossover rate (the initial ``mu_CR`` under JADE's adaptation)."""
    adaptation: str = "none"
    """``"none"`` (fixed F and CR) or ``"jade"`` (per-trial F and CR, adapted means)."""
    p_best: float = 0.05
    """Share of the population ``x_pbest`` is drawn from (current-to-pbest; JADE's 5 %)."""
    archive: bool = True
    """Keep replaced targets (up to ``pop_size``) as extra ``x~_r2`` donors (current-to-pbest)."""
    c: float = 0.1
    """JADE's learning rate of ``mu_F`` and ``mu_CR``."""
    bounds: str = "midpoint"
    """Trial coordinates outside the box: ``"midpoint"`` (halfway between the target and the bound crossed,
    JADE's repair) or ``"clip"`` (onto the bound). Over 11 seeds at population 1,000, midpoint was better on
    Rosenbrock and CEC 2022 F1, F4, F6 and clip on F12, whose good region lies on the faces (benchmarks/RESULTS.md,
    issue 21)."""

    def __post_init__(self) -> None:
        if self.pop_size < 4:
            raise ValueError(
                f"pop_size={self.pop_size}; expected at least 4 (three donors + target)"
            )
        if self.strategy not in ("rand/1", "current-to-pbest/1"):
            raise ValueError(
                f"strategy={self.strategy!r}; expected 'rand/1' or 'current-to-pbest/1'"
            )
        if self.adaptation not in ("none", "jade"):
            raise ValueError(f"adaptation={self.adaptation!r}; expected 'none' or 'jade'")
        if self.bounds not in ("midpoint", "clip"):
            raise ValueError(f"bounds={self.bounds!r}; expected 'midpoint' or 'clip'")
        if not 0.0 < self.F <= 2.0:
            raise ValueError(f"F={self.F}; expected 0 < F <= 2")
        if not 0.0 <= self.CR <= 1.0:
            raise ValueError(f"CR={self.CR}; expected a probability in [0, 1]")
        if not 0.0 < self.p_best <= 1.0:
            raise ValueError(f"p_best={self.p_best}; expected a share in (0, 1]")
        if not 0.0 <= self.c <= 1.0:
            raise ValueError(f"c={self.c}; expected a rate in [0, 1]")


def distinct_indices(n: int, k: int, exclude: Tensor, generator: torch.Generator) -> Tensor:
    """For each row, ``k`` distinct indices of ``range(n)`` that differ from ``exclude`` and each other.

    Draws ``k`` distinct offsets of ``1 .. n - 1`` without replacement by skipping (the ``j``-th is uniform over
    the ``n - 1 - j`` offsets left, shifted past the already chosen ones in ascending order; no ``n x n``
    matrix) and returns ``(exclude + offset) mod n``.

    Args:
        n: the range.
        k: indices per row (``k <= n - 1``).
        exclude: ``m`` int64, each row's forbidden index.
        generator: the random source.

    Returns:
        ``m x k`` int64.
    """
    return distinct_index_columns(n, k, exclude, generator).t()


def distinct_index_columns(n: int, k: int, exclude: Tensor, generator: torch.Generator) -> Tensor:
    """:func:`distinct_indices` as ``k x m`` (contiguous: ``.view(-1)`` lists the first choices, then the
    second ones, ...); the same draws."""
    m = exclude.shape[0]
    if k > _NETWORK_MAX:
        return _distinct_by_counting(n, k, exclude, generator)
    chosen: list[Tensor] = []  # the offsets so far, kept sorted column-wise
    out = []
    for j in range(k):
        r = torch.randint(1, n - j, (m,), generator=generator, device=exclude.device)
        for col in chosen:  # ascending: each skip can only push past larger ones
            r = r + (r >= col)
        out.append(r)
        if j + 1 < k:  # insert r into the sorted columns with min/max (a sorting network step)
            carry = r
            merged = []
            for col in chosen:
                merged.append(torch.minimum(col, carry))
                carry = torch.maximum(col, carry)
            chosen = [*merged, carry]
    return torch.remainder(torch.stack(out) + exclude, n)


#: above this many indices per row, :func:`distinct_index_columns` counts instead of a min/max network
_NETWORK_MAX = 3


def _distinct_by_counting(n: int, k: int, exclude: Tensor, generator: torch.Generator) -> Tensor:
    """The same draws and indices as the skipping network in a fixed number of elementwise ops per index,
    no sort: skipping ``r`` past the chosen offsets in ascending order moves it by the number of chosen
    ``c`` whose ``c - rank(c) <= r`` (``rank``: how many chosen are smaller; these keys never decrease
    along the sorted order, and each skip enables the next). A new offset gets the key ``r`` it was drawn
    as, and the keys of the chosen ones above it drop by one."""
    m = exclude.shape[0]
    dev = exclude.device
    chosen = torch.empty(k, m, dtype=torch.int64, device=dev)
    key = torch.empty(k, m, dtype=torch.int64, device=dev)
    for j in range(k):
        r = torch.randint(1, n - j, (m,), generator=generator, device=dev)
        if j:
            placed = r + (key[:j] <= r).sum(dim=0)
            key[:j] -= (chosen[:j] > placed).long()
            chosen[j] = placed
        else:
            chosen[j] = r
        key[j] = r
    return torch.remainder(chosen + exclude, n)


def cauchy_F(u: Tensor, mu_F: Tensor) -> Tensor:
    """JADE's ``F``: ``Cauchy(mu_F, 0.1)`` drawn again while ``<= 0``, capped at 1, from one uniform each.

    Redrawing while ``<= 0`` gives the Cauchy truncated to ``(0, inf)``; by its inverse CDF,
    ``F = mu_F + 0.1 tan(a)`` with ``a`` uniform on ``(atan(-mu_F / 0.1), pi / 2)``. It is computed as
    ``mu_F + 0.1 / tan(theta)`` with ``theta = pi / 2 - a`` uniform on ``(0, pi / 2 + atan(mu_F / 0.1)]``,
    where floating point cannot go wrong: values near ``theta = 0`` are huge (capped), and near
    ``theta = pi / 2``, where ``tan`` may come out with either sign, ``1 / tan`` is 0 either way.

    Args:
        u: ``n`` uniforms on ``[0, 1)``.
        mu_F: 0-dim, the location, ``> 0``.

    Returns:
        ``n`` values in ``(0, 1]``.
    """
    width = torch.atan(mu_F / _SCALE).add_(math.pi / 2)
    theta = torch.addcmul(width, u, width, value=-1.0)  # width (1 - u), on (0, width]
    F = torch.add(mu_F, theta.tan_().reciprocal_(), alpha=_SCALE)
    # rounding may leave F a hair below 0 next to theta = width (where F = 0): keep it in (0, 1]
    return F.clamp_(torch.finfo(F.dtype).tiny, 1.0)


def repair(
    trial: Tensor, x: Tensor, lower: Tensor | float, upper: Tensor | float, clip: bool = False
) -> Tensor:
    """JADE's repair: a coordinate of ``trial`` outside ``[lower, upper]`` goes halfway between the target ``x``
    and the bound it crossed (one pass, no division; ``x`` inside the box keeps the result inside), or onto the
    bound with ``clip``. The bounds are ``d`` tensors, or numbers where every column has the same (a cheaper
    clamp, the same result)."""
    # the bound crossed, where one was (torch.clamp takes numbers or tensors; its stubs not their union)
    bound = torch.clamp(trial, lower, upper)  # type: ignore[arg-type]
    if clip:
        return bound
    return torch.where(bound != trial, torch.add(bound, x).mul_(0.5), trial)


class DifferentialEvolution(GenerationalOptimizer):
    """Differential evolution on a box (see the module docstring)."""

    Config = DEConfig
    proposals_in_box = True
    config: DEConfig

    def init_state(self) -> None:
        n = self.config.pop_size
        self.pop_x: Tensor | None = None  # (n, d) once the initial sample is told
        self.pop_f = torch.full((n,), math.inf, **self.like)
        self.archive = torch.zeros(0, self.dim, **self.like)
        #: ``(mu_F, mu_CR)``, kept on the device: JADE's update never waits for the host
        self._mu = torch.tensor([float(self.config.F), float(self.config.CR)], **self.like)
        self.trial_F = torch.full((n,), float(self.config.F), **self.like)
        self.trial_CR = torch.full((n,), float(self.config.CR), **self.like)
        self._target = torch.arange(n, device=self.device)
        #: the box's bounds for :func:`repair`: numbers where all columns share them (a cheaper clamp)
        self._repair_bounds = (_same_or_all(self.lower), _same_or_all(self.upper))

    def generation_size(self) -> int:
        return self.config.pop_size

    @property
    def mu_F(self) -> float:
        """JADE's location of the Cauchy ``F`` draws (the fixed ``F`` without adaptation)."""
        return float(self._mu[0])

    @property
    def mu_CR(self) -> float:
        """JADE's mean of the normal ``CR`` draws (the fixed ``CR`` without adaptation)."""
        return float(self._mu[1])

    # ---- trial vectors -----------------------------------------------------------------------------------
    def propose(self) -> Tensor:
        if self.pop_x is None:
            return self.uniform(self.config.pop_size)
        c = self.config
        n = c.pop_size
        x = self.pop_x
        F, CR = self._parameters()
        target = self._target
        # fixed F and CR are plain numbers: no per-row broadcast
        Fs: Tensor | float = F.unsqueeze(1) if c.adaptation == "jade" else float(c.F)
        CRs: Tensor | float = CR.unsqueeze(1).float() if c.adaptation == "jade" else float(c.CR)
        if c.strategy == "rand/1":
            r = distinct_index_columns(n, 3, target, self.generator)
            donors = x.index_select(0, r.view(-1)).view(3, n, self.dim)  # one gather
            mutant = donors[0] + Fs * (donors[1] - donors[2])
        else:
            mutant = self._current_to_pbest(x, F, target)
        # single-precision uniforms are plenty for a comparison with CR, and half the work at large n x d
        u = torch.rand(n, self.dim, generator=self.generator, device=self.device)
        j_rand = torch.randint(0, self.dim, (n, 1), generator=self.generator, device=self.device)
        mask = (u < CRs).scatter_(1, j_rand, True)  # and coordinate j_rand always from the mutant
        clip = c.bounds == "clip"
        return repair(torch.where(mask, mutant, x), x, *self._repair_bounds, clip=clip)

    def _parameters(self) -> tuple[Tensor, Tensor]:
        """Per-trial ``F`` and ``CR`` (``pop_size`` each), remembered for JADE's update."""
        n = self.config.pop_size
        if self.config.adaptation == "none":
            return self.trial_F, self.trial_CR
        g = self.generator
        mu_F, mu_CR = self._mu.unbind()
        cr = torch.add(mu_CR, torch.randn(n, generator=g, **self.like), alpha=_SCALE).clamp_(
            0.0, 1.0
        )
        self.trial_F = cauchy_F(torch.rand(n, generator=g, **self.like), mu_F)
        self.trial_CR = cr
        return self.trial_F, self.trial_CR

    def _current_to_pbest(self, x: Tensor, F: Tensor, target: Tensor) -> Tensor:
        c = self.config
        n = c.pop_size
        g = self.generator
        dev = self.device
        n_best = max(1, math.ceil(c.p_best * n))
        top = torch.topk(self.pop_f, n_best, largest=False, sorted=False).indices  # a set: no sort
        pbest = top[torch.randint(0, n_best, (n,), generator=g, device=dev)]
        r1 = distinct_index_columns(n, 1, target, g)[0]
        donors = torch.cat([x, self.archive]) if c.archive else x
        n_donors = donors.shape[0]
        # r2 from population + archive, distinct from the target and r1 (both population rows)
        r2 = torch.randint(0, n_donors - 2, (n,), generator=g, device=dev)
        low = torch.minimum(target, r1)
        high = torch.maximum(target, r1)
        r2 = r2.add_(r2 >= low)
        r2 = r2.add_(r2 >= high)
        # x_pbest, x_r1 and x~_r2 in one gather (the population is the donors' first rows)
        picked = donors.index_select(0, torch.cat([pbest, r1, r2])).view(3, n, self.dim)
        # x + F (x_pbest - x) + F (x_r1 - x~_r2), with one product
        step = picked[0].sub_(x).add_(picked[1]).sub_(picked[2])
        return torch.addcmul(x, F.unsqueeze(1), step)

    # ---- selection ---------------------------------------------------------------------------------------
    def advance(self, generation: Generation) -> None:
        n = self.config.pop_size
        if self.pop_x is None:
            order = generation.f.argsort(stable=True)[
                :n
            ]  # the first sample (and any extra) seeds the pop
            self.pop_x = generation.x[order]
            self.pop_f = generation.f[order]
            if self.pop_x.shape[0] < n:  # fewer told than asked: fill with copies of the best
                fill = n - self.pop_x.shape[0]
                self.pop_x = torch.cat([self.pop_x, self.pop_x[:1].expand(fill, -1)])
                self.pop_f = torch.cat([self.pop_f, self.pop_f[:1].expand(fill)])
            return
        if generation.in_order:  # row i is target i's trial: masks, no indexing
            f = generation.f
            win = f <= self.pop_f
            self._learn(win, f < self.pop_f)
            self.pop_x = torch.where(win.unsqueeze(1), generation.x, self.pop_x)
            self.pop_f = torch.where(win, f, self.pop_f)
            return
        rows, tag = generation.best_rows()
        f_trial = generation.f[rows]
        win = f_trial <= self.pop_f[tag]
        winners = tag[win]
        replaced = winners[f_trial[win] < self.pop_f[winners]]
        self._learn(self._mask(winners), self._mask(replaced))
        self.pop_x[winners] = generation.x[rows[win]]
        self.pop_f[winners] = f_trial[win]

    def _mask(self, rows: Tensor) -> Tensor:
        """``pop_size`` bool, True at ``rows``."""
        mask = torch.zeros(self.config.pop_size, dtype=torch.bool, device=self.device)
        return mask.index_fill_(0, rows, True)

    def _learn(self, won: Tensor, replaced: Tensor) -> None:
        """What a selection teaches (``pop_size`` bool masks, before the population changes): the targets
        ``replaced`` (trial strictly better) join the archive, the F and CR that ``won`` move JADE's means."""
        if self._uses_archive():
            self._archive(replaced)
        if self.config.adaptation == "jade":
            self._adapt(won)

    def _uses_archive(self) -> bool:
        return self.config.archive and self.config.strategy == "current-to-pbest/1"

    def _archive(self, replaced: Tensor) -> None:
        """Add the targets ``replaced`` (``pop_size`` bool); beyond ``pop_size`` rows, random ones leave.

        A fixed-shape, sync-free alternative (reservoir sampling into a ``pop_size x d`` buffer, the same
        distribution) took about twice as long per generation on the CPU at ``pop_size`` 1,000: its ~20
        small ops cost more than one permutation.
        """
        assert self.pop_x is not None
        archive = torch.cat([self.archive, self.pop_x[replaced]])
        n = self.config.pop_size
        if archive.shape[0] > n:
            keep = torch.randperm(archive.shape[0], generator=self.generator, device=self.device)
            archive = archive.index_select(0, keep[:n])
        self.archive = archive

    def _adapt(self, won: Tensor) -> None:
        """JADE: move ``mu_CR`` to the mean and ``mu_F`` to the Lehmer mean of the successful values
        (``won``: ``pop_size`` bool; JADE weighs successes equally, SHADE by the gain); none, no move."""
        F = self.trial_F
        stats = torch.stack([F * F, self.trial_CR, F, torch.ones_like(F)])  # 4 x n
        sums = stats.mv(won.to(F.dtype))  # sum(F^2), sum(CR), sum(F), count over the successes
        means = sums[:2] / sums[2:].clamp_min(1e-12)  # (Lehmer mean of F, mean of CR)
        rate = (sums[3] > 0).to(F.dtype) * self.config.c
        self._mu = torch.lerp(self._mu, means, rate)

    # ---- metrics and state -------------------------------------------------------------------------------
    def algorithm_metrics(self) -> dict[str, float]:
        if self.config.adaptation == "jade":
            mu_F, mu_CR = self._mu.tolist()
            return {"mu_F": mu_F, "mu_CR": mu_CR}
        return {}

    def algorithm_state(self) -> dict[str, Any]:
        return {
            "pop_x": self.pop_x,
            "pop_f": self.pop_f,
            "archive": self.archive,
            "mu_F": self._mu[0],
            "mu_CR": self._mu[1],
            "trial_F": self.trial_F,
            "trial_CR": self.trial_CR,
        }

    def load_algorithm_state(self, state: dict[str, Any]) -> None:
        self.pop_x = state["pop_x"]
        self.pop_f = state["pop_f"]
        self.archive = state["archive"]
        self._mu = torch.tensor([float(state["mu_F"]), float(state["mu_CR"])], **self.like)
        self.trial_F = state["trial_F"]
        self.trial_CR = state["trial_CR"]


def _same_or_all(bound: Tensor) -> Tensor | float:
    """A box bound as a number where every column has the same, else the ``d`` tensor."""
    first = float(bound[0])
    return first if bool((bound == first).all()) else bound


class JADE(DifferentialEvolution):
    """JADE: current-to-pbest/1/bin with an archive and adapted F and CR (Zhang & Sanderson 2009)."""

    @dataclass
    class Config(DEConfig):
        strategy: str = "current-to-pbest/1"
        """``"current-to-pbest/1"`` by default here; see :class:`DEConfig`."""
        adaptation: str = "jade"
        """``"jade"`` by default here; see :class:`DEConfig`."""
        CR: float = 0.9
        """The initial ``mu_CR``. The paper starts at 0.5; 0.9 (DE's usual rate) is kept because ``mu_CR`` moves
        slowly (``c`` = 0.1): at population 1,000 and 100 generations, 0.5 gave higher final errors on
        Rosenbrock and CEC 2022 F1, F4, F6 and F12 (F1 1924 vs 0.011, 11 seeds each) and a lower one only on the
        separable Rastrigin (11.5 vs 20.5); benchmarks/RESULTS.md, issue 21. ``CR=0.5`` gives the paper's start."""
