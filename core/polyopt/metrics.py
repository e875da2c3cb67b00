"""Quality indicators for sets of objective vectors (all objectives minimized).

Every function takes minimization-form ``f: n x m`` tensors on any device and returns a Python number
(or a tensor where stated). Exact hypervolume and contributions run on the CPU through moocore (imported
lazily); the distance indicators are torch, chunked so that 10,000 x 10,000 sets fit in memory.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from .pareto import pareto_filter
from .refdirs import das_dennis, n_das_dennis, riesz_energy_directions

__all__ = [
    "METRICS",
    "cardinality",
    "das_dennis",
    "expected_utility",
    "gd",
    "gd_plus",
    "hv_contributions",
    "hypervolume",
    "hypervolume_mc",
    "igd",
    "igd_plus",
    "r2",
    "riesz_energy_directions",
    "sparsity",
    "spacing",
]

_CHUNK_ELEMENTS = 1 << 24  # entries of one (rows x cols) distance block
_EXACT_MAX_OBJECTIVES = 6


def _as_ref(ref_point: Tensor | Sequence[float], f: Tensor) -> Tensor:
    ref = torch.as_tensor(ref_point, dtype=torch.float64, device=f.device).reshape(-1)
    if ref.numel() != f.shape[1]:
        raise ValueError(f"ref_point has {ref.numel()} entries, f has {f.shape[1]} objectives")
    return ref


def _inside(f: Tensor, ref: Tensor) -> Tensor:
    """Rows of ``f`` (float64) that strictly dominate ``ref`` (the others add no volume); NaN rows dropped."""
    f = f.detach().to(torch.float64)
    return f[(f < ref).all(dim=1)]


def _hv_2d(f: Tensor, ref: Tensor) -> Tensor:
    """Exact 2-D hypervolume by a sweep, on any device without host syncs (``f`` inside the box)."""
    order = torch.argsort(f[:, 1], stable=True)
    f = f[order]
    f = f[torch.argsort(f[:, 0], stable=True)]  # sorted by (f0, f1)
    best_before = torch.cummin(f[:, 1], dim=0).values
    prev = torch.cat([torch.full_like(best_before[:1], math.inf), best_before[:-1]])
    height = (prev.clamp(max=ref[1]) - f[:, 1]).clamp(
        min=0
    )  # new area each point adds above the sweep
    return ((ref[0] - f[:, 0]) * height).sum()


def hypervolume_mc(
    f: Tensor,
    ref_point: Tensor | Sequence[float],
    *,
    n_samples: int = 100_000,
    generator: torch.Generator | None = None,
) -> tuple[float, float]:
    """Monte Carlo hypervolume estimate with its standard error (any device).

    Samples uniformly in the box ``[ideal, ref]`` (``ideal`` = per-objective minimum of the points that
    dominate ``ref``) and counts the fraction dominated by at least one point, in chunks.

    Args:
        f: ``n x m`` objective values.
        ref_point: ``m`` reference point.
        n_samples: number of uniform samples.
        generator: random generator on ``f``'s device; a fresh one seeded with 0 when None.

    Returns:
        ``(estimate, standard_error)``, where the error is ``volume * sqrt(p (1 - p) / n_samples)``.
    """
    ref = _as_ref(ref_point, f)
    pts = _inside(f, ref)
    if pts.shape[0] == 0:
        return 0.0, 0.0
    ideal = pts.min(dim=0).values
    box = ref - ideal
    volume = box.prod()
    gen = generator if generator is not None else torch.Generator(device=f.device).manual_seed(0)
    hits = torch.zeros((), dtype=torch.int64, device=f.device)
    step = max(1, _CHUNK_ELEMENTS // pts.shape[0])
    for start in range(0, n_samples, step):
        size = min(step, n_samples - start)
        u = torch.rand(size, pts.shape[1], generator=gen, device=f.device, dtype=torch.float64)
        s = ideal + u * box  # size x m
        covered = torch.ones(size, pts.shape[0], dtype=torch.bool, device=f.device)
        for k in range(pts.shape[1]):  # size x n at a time
            covered &= pts[:, k].unsqueeze(0) <= s[:, k : k + 1]
        hits += covered.any(dim=1).sum()
    p = hits.to(torch.float64) / n_samples
    stderr = volume * torch.sqrt(p * (1 - p) / n_samples)
    return float(volume * p), float(stderr)


def hypervolume(
    f: Tensor,
    ref_point: Tensor | Sequence[float],
    *,
    method: str = "auto",
    n_samples: int = 100_000,
    generator: torch.Generator | None = None,
) -> float:
    """Hypervolume dominated by ``f`` and bounded by ``ref_point`` (minimization).

    Points that do not strictly dominate ``ref_point`` add nothing; an empty set gives 0.0.

    Methods: ``"exact"`` (moocore on the CPU; a torch sweep for 2 objectives on other devices),
    ``"mc"`` (Monte Carlo estimate, see :func:`hypervolume_mc` for its standard error), ``"auto"``: exact
    for ``m <= 6`` on the CPU and ``m == 2`` anywhere, Monte Carlo otherwise (so a CUDA tensor with
    ``m >= 3`` gets an estimate; copy it to the CPU for the exact value).

    Args:
        f: ``n x m`` objective values.
        ref_point: ``m`` reference point.
        method: ``"auto"``, ``"exact"`` or ``"mc"``.
        n_samples: Monte Carlo samples.
        generator: Monte Carlo random generator (on ``f``'s device).

    Returns:
        The hypervolume (or its estimate).
    """
    if method not in ("auto", "exact", "mc"):
        raise ValueError(f"method must be 'auto', 'exact' or 'mc', got {method!r}")
    ref = _as_ref(ref_point, f)
    m = f.shape[1]
    if method == "auto":
        exact = m == 2 or (f.device.type == "cpu" and m <= _EXACT_MAX_OBJECTIVES)
        method = "exact" if exact else "mc"
    if method == "mc":
        return hypervolume_mc(f, ref, n_samples=n_samples, generator=generator)[0]
    pts = _inside(f, ref)
    if pts.shape[0] == 0:
        return 0.0
    if m == 2 and f.device.type != "cpu":
        return float(_hv_2d(pts, ref))
    import moocore

    return float(moocore.hypervolume(pts.cpu().numpy(), ref=ref.cpu().numpy()))


def hv_contributions(f: Tensor, ref_point: Tensor | Sequence[float]) -> Tensor:
    """Exclusive hypervolume contribution of each point, ``HV(f) - HV(f without i)`` (exact, moocore).

    Dominated points, duplicates of another point and points not dominating ``ref_point`` contribute 0.
    moocore treats coordinates closer than about 1.2e-7 as equal, so a sliver thinner than that counts 0.

    Args:
        f: ``n x m`` objective values.
        ref_point: ``m`` reference point.

    Returns:
        ``n`` float64 tensor on ``f``'s device.
    """
    import moocore

    ref = _as_ref(ref_point, f)
    fd = f.detach().to(torch.float64)
    inside = (fd < ref).all(dim=1)
    out = torch.zeros(f.shape[0], dtype=torch.float64)
    idx = inside.cpu().nonzero().squeeze(1)
    if idx.numel() > 0:
        pts = fd[inside].cpu().numpy()
        # ignore_dominated=False: each value is HV(all) - HV(all without i), so dominated points get 0
        contrib = moocore.hv_contributions(pts, ref=ref.cpu().numpy(), ignore_dominated=False)
        out[idx] = torch.from_numpy(contrib)
    return out.to(f.device)


def _min_distances(a: Tensor, b: Tensor, mode: str) -> Tensor:
    """For each row of ``a``, its smallest distance to a row of ``b``, in chunks of rows of ``a``.

    Args:
        a: ``p x m`` points.
        b: ``q x m`` points.
        mode: ``"euclidean"``; ``"plus-ref"`` (``a`` are references ``z``, ``b`` solutions: distance
            ``|max(b - z, 0)|``, IGD+); ``"plus-sol"`` (``a`` are solutions, ``b`` references:
            ``|max(a - z, 0)|``, GD+).

    Returns:
        ``p`` float64 distances on ``a``'s device.
    """
    a = a.detach().to(torch.float64)
    b = b.detach().to(device=a.device, dtype=torch.float64)
    step = max(1, _CHUNK_ELEMENTS // max(1, b.shape[0]))
    sign = 1.0 if mode == "plus-ref" else -1.0
    out = []
    for start in range(0, a.shape[0], step):
        rows = a[start : start + step]
        if mode == "euclidean":
            out.append(torch.cdist(rows, b).min(dim=1).values)
            continue
        sq = torch.zeros(rows.shape[0], b.shape[0], dtype=torch.float64, device=a.device)
        for k in range(a.shape[1]):  # chunk x q per objective, never chunk x q x m
            sq += (sign * (b[:, k].unsqueeze(0) - rows[:, k : k + 1])).clamp(min=0).square()
        out.append(sq.min(dim=1).values.sqrt())
    return torch.cat(out)


def igd(f: Tensor, front: Tensor) -> float:
    """Inverted generational distance: mean over ``front`` of the Euclidean distance to the nearest ``f``.

    Args:
        f: ``n x m`` approximation set.
        front: ``k x m`` reference (Pareto) front.

    Returns:
        The IGD (pymoo's ``IGD`` with p = 1).
    """
    return float(_min_distances(front, f, "euclidean").mean())


def igd_plus(f: Tensor, front: Tensor) -> float:
    """IGD+: as :func:`igd` with the modified distance ``|max(f - z, 0)|`` from reference ``z`` to ``f``.

    Args:
        f: ``n x m`` approximation set.
        front: ``k x m`` reference front.

    Returns:
        The IGD+ (pymoo's ``IGDPlus``).
    """
    return float(_min_distances(front, f, "plus-ref").mean())


def gd(f: Tensor, front: Tensor) -> float:
    """Generational distance: mean over ``f`` of the Euclidean distance to the nearest front point.

    Args:
        f: ``n x m`` approximation set.
        front: ``k x m`` reference front.

    Returns:
        The GD (pymoo's ``GD`` with p = 1).
    """
    return float(_min_distances(f, front, "euclidean").mean())


def gd_plus(f: Tensor, front: Tensor) -> float:
    """GD+: mean over ``f`` of the smallest ``|max(a - z, 0)|`` over front points ``z``.

    Args:
        f: ``n x m`` approximation set.
        front: ``k x m`` reference front.

    Returns:
        The GD+ (pymoo's ``GDPlus``).
    """
    return float(_min_distances(f, front, "plus-sol").mean())


def spacing(f: Tensor) -> float:
    """Schott's spacing as pymoo computes it (``SpacingIndicator``).

    ``d_i`` is the Manhattan (L1) distance from point ``i`` to its nearest other point, and
    ``S = sqrt(sum_i (d_i - mean(d))^2 / n)`` (pymoo divides by ``n``; Schott's paper by ``n - 1``).
    0 means evenly spaced. Fewer than two points give 0.0.

    Args:
        f: ``n x m`` objective values.

    Returns:
        The spacing.
    """
    if f.shape[0] < 2:
        return 0.0
    x = f.detach().to(torch.float64)
    step = max(1, _CHUNK_ELEMENTS // x.shape[0])
    nearest = []
    for start in range(0, x.shape[0], step):
        d = torch.cdist(x[start : start + step], x, p=1.0)
        rows = torch.arange(d.shape[0], device=x.device)
        d[rows, rows + start] = math.inf  # exclude the point itself
        nearest.append(d.min(dim=1).values)
    d = torch.cat(nearest)
    return float(torch.sqrt(((d - d.mean()) ** 2).mean()))


def sparsity(f: Tensor) -> float:
    """Sparsity as in PGMORL / MORL-Baselines.

    Each objective is sorted independently; the squared gaps between consecutive values are summed over
    all objectives and divided by ``n - 1``. Lower is denser. Fewer than two points give 0.0.

    Args:
        f: ``n x m`` objective values (usually a non-dominated set).

    Returns:
        The sparsity.
    """
    if f.shape[0] < 2:
        return 0.0
    s = torch.sort(f.detach().to(torch.float64), dim=0).values
    return float((s[1:] - s[:-1]).square().sum() / (f.shape[0] - 1))


def cardinality(f: Tensor) -> int:
    """Number of distinct non-dominated points of ``f``.

    Args:
        f: ``n x m`` objective values.

    Returns:
        The size of the Pareto-filtered set (duplicates counted once).
    """
    return int(pareto_filter(f)[0].shape[0]) if f.shape[0] > 0 else 0


def _default_weights(n_weights: int, m: int) -> Tensor:
    """Das–Dennis directions with the most partitions giving at most ``n_weights`` of them."""
    h = 0
    while n_das_dennis(h + 1, m) <= n_weights and h < n_weights:
        h += 1
    return das_dennis(h, m) if m > 1 else torch.ones(1, 1, dtype=torch.float64)


def expected_utility(
    f: Tensor, weights: Tensor | None = None, *, n_weights: int = 100, utility: str = "linear"
) -> float:
    """Expected utility (EUM, Zintgraf et al.), as MORL-Baselines computes it.

    ``EUM = mean_w max_i u(w, r_i)`` with returns ``r = -f`` (``f`` is minimization form), so for the
    linear utility ``u = w . r = -(w . f)``: values are the *negated* MORL-Baselines values of the
    minimized objectives, i.e. equal to theirs on the original rewards. Higher is better.

    Args:
        f: ``n x m`` objective values (minimized; negated returns in RL).
        weights: ``w x m`` weight vectors; default: Das–Dennis directions with the largest number of
            partitions giving at most ``n_weights`` vectors (100 for m = 2, 91 for m = 3).
        n_weights: number of default weights.
        utility: only ``"linear"`` is supported.

    Returns:
        The expected utility.
    """
    if utility != "linear":
        raise ValueError(f"utility must be 'linear', got {utility!r}")
    if f.shape[0] == 0:
        raise ValueError("expected_utility needs at least one point")
    fd = f.detach().to(torch.float64)
    w = _default_weights(n_weights, f.shape[1]) if weights is None else weights
    w = torch.as_tensor(w, dtype=torch.float64, device=fd.device)
    scores = -(w @ fd.T)  # w x n utilities
    return float(scores.max(dim=1).values.mean())


def r2(
    f: Tensor, weights: Tensor | None = None, *, ideal: Tensor | None = None, n_weights: int = 500
) -> float:
    """The unary R2 indicator (Brockhoff, Wagner & Trautmann 2012) with weighted Chebyshev utilities.

    ``R2 = mean_w min_i max_j w_j |f_ij - z_j|``: how far, on average over the weights, the best point is from
    the ideal point ``z``. Lower is better; weakly Pareto-compliant (adding a point never raises it), and at
    ``O(w n m)`` cheap for any number of objectives, where hypervolume is not.

    Args:
        f: ``n x m`` objective values (minimized).
        weights: ``w x m`` weight vectors; default: Das-Dennis directions with the largest number of partitions
            giving at most ``n_weights`` vectors (500: with 5 objectives 495, some inside the simplex; at most
            100 would all lie on its boundary, where a front's edge points score 0).
        ideal: ``m`` ideal (utopian) point ``z``; default the origin (the ideal point of DTLZ, ZDT and WFG).
        n_weights: number of default weights.

    Returns:
        The R2 value.
    """
    if f.shape[0] == 0:
        raise ValueError("r2 needs at least one point")
    fd = f.detach().to(torch.float64)
    m = fd.shape[1]
    w = _default_weights(n_weights, m) if weights is None else weights
    w = torch.as_tensor(w, dtype=torch.float64, device=fd.device)
    z = torch.zeros(m, dtype=torch.float64, device=fd.device) if ideal is None else ideal
    gap = (fd - torch.as_tensor(z, dtype=torch.float64, device=fd.device)).abs()  # n x m
    utility = torch.zeros(w.shape[0], fd.shape[0], dtype=torch.float64, device=fd.device)
    for j in range(m):  # w x n at a time, never w x n x m
        utility = torch.maximum(utility, w[:, j : j + 1] * gap[:, j].unsqueeze(0))
    return float(utility.min(dim=1).values.mean())


r2.higher_is_better = False  # type: ignore[attr-defined]  # read by study reports for a verdict

METRICS: dict[str, Callable[..., float | int]] = {
    "hypervolume": hypervolume,
    "igd": igd,
    "igd-plus": igd_plus,
    "gd": gd,
    "gd-plus": gd_plus,
    "spacing": spacing,
    "sparsity": sparsity,
    "cardinality": cardinality,
    "expected-utility": expected_utility,
    "r2": r2,
}
"""Indicator functions by registry name (lowercase, hyphenated, as registry names are)."""
