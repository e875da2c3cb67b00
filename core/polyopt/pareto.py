"""Pareto dominance, non-dominated sorting, crowding distance and a Pareto archive.

Conventions used throughout:

- every objective is **minimized**; ``f`` is an ``n x m`` float tensor;
- ``violation`` is an optional ``n`` tensor of total constraint violation: ``0`` is feasible, ``> 0`` is
  infeasible, ``+inf`` marks a failed evaluation. Negative values are treated as ``0`` and NaN as ``+inf``;
- NaN objective values are treated as ``+inf`` (the worst value), so a row with NaNs never dominates a
  finite row in that objective.

Constrained domination follows Deb (2000) as pymoo implements it (``pymoo.util.dominator.Dominator``):
``a`` dominates ``b`` when ``violation[a] < violation[b]``, or when the violations are equal (both feasible,
or both infeasible with exactly the same violation) and ``f[a]`` Pareto-dominates ``f[b]``.

Non-dominated sorting never builds an ``n x n x m`` tensor: the domination relation is accumulated one
objective at a time over blocks of rows (``_BLOCK_ELEMENTS`` entries per block), and fronts are peeled by
counting dominators (the "dominance count" method). On the CPU, without violations, sorting dispatches to
moocore's C kernel (``moocore.pareto_rank``), which is one to three orders of magnitude faster than the
torch path (see ``benchmarks/sorting_vs_moocore.py``); the two give identical ranks.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

__all__ = [
    "ParetoArchive",
    "crowding_distance",
    "dominates",
    "non_dominated_mask",
    "non_dominated_sort",
    "non_dominated_unique",
    "pareto_filter",
]

# Entries of one (rows x n) boolean block of the domination relation: 2**25 bools = 32 MiB per buffer.
_BLOCK_ELEMENTS = 1 << 25
# Below this many points the dense n x n relation is kept in memory during peeling.
_DENSE_MAX_POINTS = 4096
_MOOCORE_DTYPES = (
    torch.float16,
    torch.bfloat16,
    torch.float32,
    torch.float64,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.uint8,
    torch.bool,
)


def dominates(a: Tensor, b: Tensor) -> Tensor:
    """Whether ``a`` Pareto-dominates ``b`` (minimization), broadcasting over leading dimensions.

    Args:
        a: ``... x m`` objective vectors.
        b: ``... x m`` objective vectors, broadcastable against ``a``.

    Returns:
        Bool tensor of the broadcast leading shape: ``all(a <= b) & any(a < b)`` along the last dimension.
    """
    a, b = _nan_to_inf(a), _nan_to_inf(b)
    return (a <= b).all(dim=-1) & (a < b).any(dim=-1)


def _nan_to_inf(f: Tensor) -> Tensor:
    """Replace NaN by +inf (floating tensors only; others are returned as they are)."""
    if f.is_floating_point():
        return torch.where(torch.isnan(f), torch.full_like(f, math.inf), f)
    return f


def _clean_violation(violation: Tensor, n: int, device: torch.device) -> Tensor:
    """Violation as float64 on ``device``: negatives clamped to 0, NaN mapped to +inf."""
    v = torch.as_tensor(violation, device=device).to(torch.float64).reshape(-1)
    if v.numel() != n:
        raise ValueError(f"violation has {v.numel()} entries, expected one per row of f ({n})")
    return torch.where(torch.isnan(v), torch.full_like(v, math.inf), v.clamp(min=0.0))


def _domination_block(
    fa: Tensor, fb: Tensor, va: Tensor | None = None, vb: Tensor | None = None
) -> Tensor:
    """Domination relation between two sets, accumulated per objective.

    Args:
        fa: ``a x m`` objectives (NaN already mapped to inf).
        fb: ``b x m`` objectives.
        va: optional ``a`` violations; ``vb`` must then be given too.
        vb: optional ``b`` violations.

    Returns:
        ``a x b`` bool tensor, ``[i, j]`` is True when ``fa[i]`` dominates ``fb[j]``.
    """
    le = torch.ones(fa.shape[0], fb.shape[0], dtype=torch.bool, device=fa.device)
    lt = torch.zeros_like(le)
    buf = torch.empty_like(le)
    for k in range(fa.shape[1]):  # one a x b bool at a time, never a x b x m
        x, y = fa[:, k : k + 1], fb[:, k].unsqueeze(0)
        le &= torch.le(x, y, out=buf)
        lt |= torch.lt(x, y, out=buf)
    le &= lt
    if va is not None and vb is not None:
        va, vb = va.unsqueeze(1), vb.unsqueeze(0)
        le = (va < vb) | ((va == vb) & le)
    return le


def _block_rows(n_cols: int) -> int:
    return max(1, _BLOCK_ELEMENTS // max(1, n_cols))


def _dominator_counts(f: Tensor, v: Tensor | None, rows: Tensor, cols: Tensor) -> Tensor:
    """How many of the points ``rows`` dominate each of the points ``cols``, by blocks of rows.

    Args:
        f: ``n x m`` objectives.
        v: optional ``n`` violations.
        rows: ``r`` indices of the dominating candidates.
        cols: ``c`` indices of the points whose dominators are counted.

    Returns:
        ``c`` int64 counts.
    """
    counts = torch.zeros(cols.numel(), dtype=torch.int64, device=f.device)
    fc, vc = f[cols], (None if v is None else v[cols])
    step = _block_rows(cols.numel())
    for start in range(0, rows.numel(), step):  # at most _BLOCK_ELEMENTS relation entries at a time
        r = rows[start : start + step]
        counts += _domination_block(f[r], fc, None if v is None else v[r], vc).sum(dim=0)
    return counts


def _torch_rank(f: Tensor, v: Tensor | None, first_front_only: bool) -> Tensor:
    """Torch non-dominated sorting by dominance counts (the path used on GPUs).

    Each point's dominators are counted once; then the points with no dominator left form the next front,
    and only their domination of the still-unranked points is subtracted. Small sets keep the dense
    ``n x n`` relation; large ones recompute it per front in row blocks (about twice the comparisons,
    memory bounded by ``_BLOCK_ELEMENTS``).

    Args:
        f: ``n x m`` objectives, NaN already mapped to inf.
        v: optional ``n`` cleaned violations.
        first_front_only: rank 0 for the first front and 1 for all others.

    Returns:
        ``n`` int64 ranks.
    """
    n = f.shape[0]
    everyone = torch.arange(n, device=f.device)
    dense = _domination_block(f, f, v, v) if n <= _DENSE_MAX_POINTS else None
    counts = dense.sum(dim=0) if dense is not None else _dominator_counts(f, v, everyone, everyone)
    if first_front_only:
        return (counts > 0).long()
    ranks = torch.zeros(n, dtype=torch.int64, device=f.device)
    remaining, rank = everyone, 0
    while remaining.numel() > 0:  # one host sync per front (boolean indexing)
        in_front = counts == 0
        front, remaining, counts = remaining[in_front], remaining[~in_front], counts[~in_front]
        ranks[front] = rank
        if dense is not None:
            counts -= dense[front][:, remaining].sum(dim=0)
        else:
            counts -= _dominator_counts(f, v, front, remaining)
        rank += 1
    return ranks


def _moocore_rank(f: Tensor, first_front_only: bool) -> Tensor:
    """Pareto ranks from moocore's C kernel; ``f`` is a CPU tensor without NaN."""
    import moocore

    points = f.detach().cpu().to(torch.float64).numpy()
    if first_front_only:
        mask = moocore.is_nondominated(points, keep_weakly=True)
        return torch.from_numpy(~mask).long()
    return torch.from_numpy(moocore.pareto_rank(points)).long()


def _pareto_rank(f: Tensor, first_front_only: bool, backend: str) -> Tensor:
    """Unconstrained ranks, dispatching to moocore on the CPU when allowed."""
    use_moocore = backend == "moocore" or (
        backend == "auto"
        and f.device.type == "cpu"
        and f.dtype in _MOOCORE_DTYPES
        and f.shape[1] >= 1
    )
    if use_moocore and f.shape[0] > 1:
        return _moocore_rank(f, first_front_only)
    return _torch_rank(f, None, first_front_only)


def non_dominated_sort(
    f: Tensor,
    violation: Tensor | None = None,
    *,
    first_front_only: bool = False,
    backend: str = "auto",
) -> Tensor:
    """Rank points into non-dominated fronts (minimization, with constrained domination).

    Feasible points (``violation == 0``) always rank before infeasible ones; infeasible points with a
    lower violation dominate those with a higher one; equal violations fall back to Pareto domination of
    ``f``, as in pymoo. Identical points are mutually non-dominated and share a front. NaN objectives count
    as ``+inf``.

    Args:
        f: ``n x m`` objective values.
        violation: optional ``n`` total constraint violation (``0`` feasible, ``+inf`` failed).
        first_front_only: return 0 for the first front and 1 for every other point; cheaper than a full
            sort because no front is peeled.
        backend: ``"auto"`` (moocore's C kernel for CPU tensors, torch otherwise), ``"torch"`` or
            ``"moocore"`` (CPU only). All give identical ranks.

    Returns:
        ``n`` int64 tensor of front ranks on ``f``'s device, 0 = best.
    """
    if backend not in ("auto", "torch", "moocore"):
        raise ValueError(f"backend must be 'auto', 'torch' or 'moocore', got {backend!r}")
    if f.ndim != 2:
        raise ValueError(f"f must be an n x m tensor, got shape {tuple(f.shape)}")
    n = f.shape[0]
    f = _nan_to_inf(f.detach())
    if n == 0:
        return torch.zeros(0, dtype=torch.int64, device=f.device)
    if violation is None:
        return _pareto_rank(f, first_front_only, backend).to(f.device)
    v = _clean_violation(violation, n, f.device)
    return _constrained_rank(f, v, first_front_only, backend)


def _constrained_rank(f: Tensor, v: Tensor, first_front_only: bool, backend: str) -> Tensor:
    """Constrained ranks: feasible points sorted alone, infeasible points after them.

    Constrained domination is complete between different violation levels, so an infeasible point's rank is
    the number of feasible fronts plus its rank among the infeasible points (torch path, or a plain dense
    ranking of the violations when no two infeasible points share a violation).
    """
    feasible = v <= 0
    feas_idx, infeas_idx = feasible.nonzero().squeeze(1), (~feasible).nonzero().squeeze(1)
    ranks = torch.zeros(f.shape[0], dtype=torch.int64, device=f.device)
    n_feasible_fronts = 0
    if feas_idx.numel() > 0:
        feas_ranks = _pareto_rank(f[feas_idx], first_front_only, backend).to(f.device)
        ranks[feas_idx] = feas_ranks
        n_feasible_fronts = 1 if first_front_only else int(feas_ranks.max()) + 1
    if infeas_idx.numel() == 0:
        return ranks
    if first_front_only and n_feasible_fronts > 0:
        ranks[infeas_idx] = 1
        return ranks
    vi = v[infeas_idx]
    levels, level_of = torch.unique(vi, return_inverse=True)
    if (
        levels.numel() == vi.numel()
    ):  # all violations distinct: the order of violations is the ranking
        inf_ranks = level_of
    else:
        inf_ranks = _torch_rank(f[infeas_idx], vi, first_front_only)
    if first_front_only:
        inf_ranks = (inf_ranks > 0).long()
    ranks[infeas_idx] = n_feasible_fronts + inf_ranks
    return ranks


def non_dominated_mask(f: Tensor, violation: Tensor | None = None) -> Tensor:
    """Mask of the first front (the constrained non-dominated points).

    Args:
        f: ``n x m`` objective values.
        violation: optional ``n`` total constraint violation.

    Returns:
        ``n`` bool tensor, True for points of rank 0.
    """
    return non_dominated_sort(f, violation, first_front_only=True) == 0


def _front_bounds(sorted_ranks: Tensor, n_fronts: int) -> tuple[Tensor, Tensor]:
    """First and last sorted position of each point's front, given ranks sorted ascending (``n``)."""
    sizes = torch.bincount(sorted_ranks, minlength=n_fronts)
    ends = torch.cumsum(sizes, dim=0)
    first = (ends - sizes)[sorted_ranks]
    last = ends[sorted_ranks] - 1
    return first, last


def crowding_distance(f: Tensor, ranks: Tensor | None = None) -> Tensor:
    """NSGA-II crowding distance, computed within each front, vectorized over all fronts.

    For each objective the points of a front are sorted (stable, ties by index); a point's distance is
    ``(next - previous) / (max - min)`` summed over objectives and divided by ``m``, exactly as pymoo's
    ``calc_crowding_distance``. The two extremes of each objective get ``inf`` unless the front spans zero
    range in that objective, in which case that objective contributes 0 (pymoo's NaN-to-zero rule). Fronts
    of at most two points get ``inf`` for every point (as pymoo's NSGA-II survival). Duplicates are not
    filtered: of a group of identical points, the first and last in index order get the outer distances and
    inner copies get a zero-width gap on one side, identical to pymoo's ``"cd"`` crowding.

    Args:
        f: ``n x m`` objective values (NaN counts as ``+inf``).
        ranks: optional ``n`` front ranks (e.g. from :func:`non_dominated_sort`); all points form one
            front when omitted.

    Returns:
        ``n`` crowding distances in ``f``'s floating dtype (float32 for non-floating ``f``).
    """
    n, m = f.shape
    dtype = f.dtype if f.is_floating_point() else torch.float32
    f = _nan_to_inf(f.detach().to(dtype))
    if ranks is None:
        ranks = torch.zeros(n, dtype=torch.int64, device=f.device)
    ranks = ranks.to(device=f.device, dtype=torch.int64)
    if n == 0:
        return torch.zeros(0, dtype=dtype, device=f.device)
    order = torch.argsort(f, dim=0, stable=True)  # n x m, by f_j with ties by index
    by_rank = torch.argsort(ranks[order], dim=0, stable=True)  # then by rank, keeping f_j order
    order = order.gather(0, by_rank)  # n x m: sorted by (rank, f_j, index)
    fs = f.gather(0, order)  # n x m
    sorted_ranks = ranks[order[:, 0]]  # n, identical for every column
    first, last = _front_bounds(sorted_ranks, int(sorted_ranks[-1]) + 1)
    inf_row = torch.full((1, m), math.inf, dtype=dtype, device=f.device)
    gap = torch.cat([inf_row, fs[1:] - fs[:-1], inf_row])  # (n + 1) x m
    starts_front = torch.zeros(n + 1, dtype=torch.bool, device=f.device)
    starts_front[1:-1] = sorted_ranks[1:] != sorted_ranks[:-1]
    gap = gap.masked_fill(starts_front.unsqueeze(1), math.inf)  # a front's ends face inf
    norm = fs[last] - fs[first]  # n x m range of each point's front
    norm = torch.where(norm == 0, torch.full_like(norm, math.nan), norm)
    to_prev, to_next = gap[:-1] / norm, gap[1:] / norm  # n x m each
    # zero range (or inf - inf) gives NaN, which contributes nothing, as in pymoo
    cd_sorted = to_prev.masked_fill(torch.isnan(to_prev), 0.0) + to_next.masked_fill(
        torch.isnan(to_next), 0.0
    )
    cd = torch.zeros_like(cd_sorted).scatter_(0, order, cd_sorted).sum(dim=1) / m
    small = (last - first + 1) <= 2  # per sorted position: its front has at most two points
    small_points = torch.zeros(n, dtype=torch.bool, device=f.device)
    small_points[order[:, 0]] = small
    return cd.masked_fill(small_points, math.inf)


def _first_unique(f: Tensor) -> Tensor:
    """Indices (ascending) of the first occurrence of each distinct row of ``f`` (``n x m``)."""
    if f.shape[0] == 0:
        return torch.zeros(0, dtype=torch.int64, device=f.device)
    _, inverse = torch.unique(f, dim=0, return_inverse=True)
    n_unique = int(inverse.max()) + 1
    idx = torch.arange(f.shape[0], device=f.device)
    first = torch.full((n_unique,), f.shape[0], dtype=torch.int64, device=f.device)
    first = first.scatter_reduce(0, inverse, idx, reduce="amin")
    return torch.sort(first).values


def non_dominated_unique(f: Tensor, violation: Tensor | None = None) -> Tensor:
    """Indices (ascending) of the non-dominated rows of ``f`` (``n x m``), one per distinct objective vector
    (the first of identical rows); with ``violation``, constrained domination (see :func:`non_dominated_mask`).
    """
    keep = non_dominated_mask(f, violation).nonzero().squeeze(1)
    return keep[_first_unique(_nan_to_inf(f.detach()[keep]))]


def pareto_filter(
    f: Tensor, violation: Tensor | None = None, x: Tensor | None = None
) -> tuple[Tensor, Tensor | None]:
    """The non-dominated subset of ``f`` without duplicates (the feasible one when any point is feasible).

    Args:
        f: ``n x m`` objective values.
        violation: optional ``n`` total constraint violation; when no point is feasible, the least-violating
            non-dominated points are returned.
        x: optional ``n x d`` decision vectors to filter alongside ``f``.

    Returns:
        ``(f_nd, x_nd)``: ``k x m`` objectives and ``k x d`` decisions (``None`` when ``x`` is None), in
        their original order; of identical rows of ``f``, the first is kept.
    """
    keep = non_dominated_unique(f, violation)
    return f[keep], (None if x is None else x[keep])


class ParetoArchive:
    """An archive of non-dominated points (minimization), optionally bounded.

    Feasible non-dominated points are kept; while no feasible point has been seen, the least-violating
    non-dominated points are kept (constrained domination). Failed rows (violation ``+inf`` or NaN in
    ``f``) are dropped; if every row ever seen failed, the archive stays empty. Identical objective vectors
    are stored once (the oldest is kept). When ``max_size`` is exceeded, the most crowded points (smallest
    crowding distance, newest first among ties) are dropped, recomputing crowding as points leave.

    Args:
        n_objectives: number of objectives ``m``.
        max_size: maximum number of points kept, or None for unbounded.
    """

    def __init__(self, n_objectives: int, *, max_size: int | None = None) -> None:
        if n_objectives < 1:
            raise ValueError(f"n_objectives must be >= 1, got {n_objectives}")
        if max_size is not None and max_size < 1:
            raise ValueError(f"max_size must be >= 1 or None, got {max_size}")
        self.n_objectives = n_objectives
        self.max_size = max_size
        self._x: Tensor | None = None
        self._f: Tensor | None = None
        self._g: Tensor | None = None
        self._violation: Tensor | None = None

    def __len__(self) -> int:
        return 0 if self._f is None else int(self._f.shape[0])

    @property
    def x(self) -> Tensor:
        """``k x d`` decision vectors of the archived points (``0 x 0`` before the first point)."""
        return torch.zeros(0, 0) if self._x is None else self._x

    @property
    def f(self) -> Tensor:
        """``k x m`` objective values of the archived points."""
        return torch.zeros(0, self.n_objectives) if self._f is None else self._f

    @property
    def g(self) -> Tensor | None:
        """``k x c`` constraint values of the archived points, or None when no constraints were given."""
        return self._g

    @property
    def violation(self) -> Tensor:
        """``k`` total constraint violation of the archived points (float64, 0 = feasible)."""
        return torch.zeros(0, dtype=torch.float64) if self._violation is None else self._violation

    def update(
        self, x: Tensor, f: Tensor, g: Tensor | None = None, violation: Tensor | None = None
    ) -> None:
        """Merge a batch of evaluated points into the archive.

        Args:
            x: ``n x d`` decision vectors.
            f: ``n x m`` objective values (minimized).
            g: optional ``n x c`` constraint values (feasible when ``g <= 0``); once an archive has seen
                ``g``, every later update must pass it.
            violation: optional ``n`` total violation; derived from ``g`` as ``sum(clamp(g, min=0))`` when
                omitted, and 0 when both are None.
        """
        if f.ndim != 2 or f.shape[1] != self.n_objectives:
            raise ValueError(f"f must be n x {self.n_objectives}, got shape {tuple(f.shape)}")
        if x.shape[0] != f.shape[0]:
            raise ValueError(f"x has {x.shape[0]} rows but f has {f.shape[0]}")
        if (g is None) != (self._g is None) and self._f is not None:
            raise ValueError(
                "pass g on every update or on none (the archive stores constraint values)"
            )
        v = self._violation_of(f, g, violation)
        ok = torch.isfinite(v) & ~torch.isnan(f).any(dim=1)
        x, f, v = x[ok], f[ok], v[ok]
        g = None if g is None else g[ok]
        if f.shape[0] == 0:
            return
        if self._f is not None:
            assert self._x is not None and self._violation is not None  # set together with _f
            x = torch.cat([self._x, x.to(self._x)])
            f = torch.cat([self._f, f.to(self._f)])
            v = torch.cat([self._violation, v.to(self._violation.device)])
            if g is not None and self._g is not None:
                g = torch.cat([self._g, g.to(self._g)])
        keep = self._truncate(f, non_dominated_unique(f, v))
        self._x, self._f, self._violation = x[keep], f[keep], v[keep]
        self._g = None if g is None else g[keep]

    @staticmethod
    def _violation_of(f: Tensor, g: Tensor | None, violation: Tensor | None) -> Tensor:
        """``n`` float64 violation from the explicit value, from ``g``, or zeros."""
        if violation is not None:
            return _clean_violation(violation, f.shape[0], f.device)
        if g is not None:
            total = g.detach().to(torch.float64).clamp(min=0.0).sum(dim=1)
            return _clean_violation(total, f.shape[0], f.device)
        return torch.zeros(f.shape[0], dtype=torch.float64, device=f.device)

    def _truncate(self, f: Tensor, keep: Tensor) -> Tensor:
        """Drop the most crowded of ``keep`` (``k`` indices into ``f``) until at most ``max_size`` remain."""
        while self.max_size is not None and keep.numel() > self.max_size:
            excess = keep.numel() - self.max_size
            n_drop = min(
                excess, max(1, keep.numel() // 10)
            )  # a few at a time keeps crowding meaningful
            cd = crowding_distance(f[keep]).flip(
                0
            )  # flipped so that ties drop the newest point first
            drop = torch.argsort(cd, stable=True)[:n_drop]
            mask = torch.ones(keep.numel(), dtype=torch.bool, device=keep.device)
            mask[keep.numel() - 1 - drop] = False
            keep = keep[mask]
        return keep

    def state_dict(self) -> dict[str, Tensor | int | None]:
        """The archive's state: its sizes and tensors (None where empty)."""
        return {
            "n_objectives": self.n_objectives,
            "max_size": self.max_size,
            "x": self._x,
            "f": self._f,
            "g": self._g,
            "violation": self._violation,
        }

    def load_state_dict(self, state: dict[str, Tensor | int | None]) -> None:
        """Restore a state produced by :meth:`state_dict`.

        Args:
            state: mapping with keys ``n_objectives``, ``max_size``, ``x``, ``f``, ``g``, ``violation``.
        """
        if state["n_objectives"] != self.n_objectives:
            raise ValueError(
                f"state has {state['n_objectives']} objectives, archive has {self.n_objectives}"
            )
        self.max_size = state["max_size"]  # type: ignore[assignment]
        self._x, self._f = state["x"], state["f"]  # type: ignore[assignment]
        self._g, self._violation = state["g"], state["violation"]  # type: ignore[assignment]
