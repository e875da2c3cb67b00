"""Report figures (matplotlib, Agg backend), returned as PNG bytes. One color per optimizer across every figure.

Text is never parsed as mathtext, so a label with ``$`` in it is drawn as written. The fronts of one problem
share one axis range (covering the true front, and the fronts up to the reference point), so panels compare at
a glance and a far-off front does not shrink the true one to a dot.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

__all__ = ["convergence_png", "front_limits", "fronts_png", "log_evaluation_axis", "palette"]

_COLORS = [
    "#4C72B0",
    "#DD8452",
    "#55A868",
    "#C44E52",
    "#8172B3",
    "#937860",
    "#DA8BC3",
    "#8C8C8C",
    "#CCB974",
    "#64B5CD",
]


def palette(labels: Sequence[str]) -> dict[str, str]:
    """A fixed color per optimizer label, in the study's order."""
    return {label: _COLORS[i % len(_COLORS)] for i, label in enumerate(labels)}


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    plt.rcParams.update(
        {
            "font.size": 9,
            "axes.spines.top": False,
            "axes.spines.right": False,
            "axes.grid": True,
            "grid.alpha": 0.25,
            "axes.titleweight": "bold",
            "axes.titlesize": 10,
            "legend.frameon": False,
            "text.parse_math": False,  # labels are the user's: "$" is a dollar sign, not mathtext
        }
    )
    return plt


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(fig)
    return buf.getvalue()


def log_evaluation_axis(curves: Mapping[str, Mapping[str, np.ndarray]]) -> bool:
    """Whether the curves' last evaluation counts differ by 20x or more (and all counts are positive)."""
    xs = [np.asarray(c["x"], dtype=float) for c in curves.values() if len(c["x"])]
    if not xs:
        return False
    ends = [float(x.max()) for x in xs]
    return min(float(x.min()) for x in xs) > 0 and max(ends) >= 20 * min(ends)


def convergence_png(
    curves: Mapping[str, Mapping[str, np.ndarray]],
    colors: Mapping[str, str],
    metric: str,
    title: str,
) -> bytes:
    """Median line and interquartile band of ``metric`` against evaluations, one per optimizer. The evaluation
    axis is logarithmic when the optimizers' budgets differ by 20x or more (a 30-evaluation BO run beside
    5,000-evaluation evolutionary ones would otherwise be a few pixels wide).

    Args:
        curves: optimizer label -> ``{"x": k, "median": k, "q25": k, "q75": k}`` arrays.
        colors: optimizer label -> color.
        metric: the metric's display name (y axis).
        title: figure title.
    """
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    for label, c in curves.items():
        ax.plot(c["x"], c["median"], color=colors[label], lw=1.8, label=label)
        ax.fill_between(c["x"], c["q25"], c["q75"], color=colors[label], alpha=0.18, lw=0)
    log = log_evaluation_axis(curves)
    if log:
        from matplotlib.ticker import FuncFormatter, NullFormatter

        ax.set_xscale("log")
        # plain numbers: the default log labels are mathtext, which is off (see _pyplot)
        ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:,.0f}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("evaluations (log scale)" if log else "evaluations")
    ax.set_ylabel(metric)
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    return _png(fig)


def front_limits(
    fronts: Mapping[str, np.ndarray],
    true_front: np.ndarray | None,
    ref_point: np.ndarray | None = None,
    directions: Sequence[str] = (),
) -> np.ndarray | None:
    """One ``2 x m`` axis range (low row, high row) for every front of a problem.

    It covers the true front and every front's points, but not beyond the reference point (points there add
    no hypervolume), with a 5 % margin. None when there is nothing to show.
    """
    parts = [f for f in fronts.values() if f.ndim == 2 and f.shape[0]]
    if true_front is not None and true_front.size:
        parts.append(true_front)
    if not parts:
        return None
    allf = np.concatenate(parts)
    lo, hi = allf.min(axis=0), allf.max(axis=0)
    if ref_point is not None and len(ref_point) == allf.shape[1]:
        ref = np.asarray(ref_point, dtype=np.float64)
        maximize = np.array([d == "maximize" for d in directions] or [False] * ref.size)
        known = allf if true_front is None else true_front
        # never cut the true front; cut other points at the reference point
        hi = np.where(maximize, hi, np.minimum(hi, np.maximum(ref, known.max(axis=0))))
        lo = np.where(maximize, np.maximum(lo, np.minimum(ref, known.min(axis=0))), lo)
    span = np.where(hi > lo, hi - lo, np.maximum(np.abs(hi), 1.0))
    return np.stack([lo - 0.05 * span, hi + 0.05 * span])


def fronts_png(
    fronts: Mapping[str, np.ndarray],
    colors: Mapping[str, str],
    *,
    true_front: np.ndarray | None,
    title: str,
    names: Sequence[str] | None = None,
    limits: np.ndarray | None = None,
) -> bytes:
    """Final fronts (user's direction): a 2-D scatter, 3-D projections, or parallel coordinates beyond.

    Args:
        fronts: optimizer label -> ``k x m`` front (the run with the median final metric).
        colors: optimizer label -> color.
        true_front: ``q x m`` known Pareto front, drawn in grey, or None.
        title: figure title.
        names: objective names (default f1, f2, ...).
        limits: ``2 x m`` axis range shared by every panel (see :func:`front_limits`); default: all points.
    """
    m = next((f.shape[1] for f in fronts.values() if f.ndim == 2 and f.shape[0]), 2)
    names = list(names or [f"f{i + 1}" for i in range(m)])
    if limits is None:
        limits = front_limits(fronts, true_front)
    if m == 2:
        return _scatter_2d(fronts, colors, true_front, title, names, limits)
    if m == 3:
        return _scatter_3d(fronts, colors, true_front, title, names, limits)
    return _parallel(fronts, colors, true_front, title, names, limits)


def _hidden(fronts: Mapping[str, np.ndarray], limits: np.ndarray | None) -> int:
    """How many front points lie outside ``limits`` (beyond the reference point)."""
    if limits is None:
        return 0
    return sum(
        int((((f < limits[0]) | (f > limits[1])).any(axis=1)).sum())
        for f in fronts.values()
        if f.ndim == 2 and f.shape[0]
    )


def _with_hidden(title: str, fronts: Mapping[str, np.ndarray], limits: np.ndarray | None) -> str:
    n = _hidden(fronts, limits)
    return f"{title} ({n} points beyond the reference point not shown)" if n else title


def _scatter_2d(
    fronts: Mapping[str, np.ndarray],
    colors: Mapping[str, str],
    true_front: np.ndarray | None,
    title: str,
    names: Sequence[str],
    limits: np.ndarray | None,
) -> bytes:
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5.0, 3.6))
    if true_front is not None:
        # dots, not a line: a disconnected front (ZDT3, C2-DTLZ2) must not look connected
        ax.scatter(
            true_front[:, 0],
            true_front[:, 1],
            s=4,
            color="#8C8C8C",
            alpha=0.6,
            edgecolors="none",
            label="Pareto front",
            zorder=1,
        )
    for label, f in fronts.items():
        if f.shape[0]:
            ax.scatter(
                f[:, 0],
                f[:, 1],
                s=12,
                color=colors[label],
                alpha=0.8,
                label=label,
                edgecolors="none",
                zorder=2,
            )
    if limits is not None:
        ax.set_xlim(limits[0, 0], limits[1, 0])
        ax.set_ylim(limits[0, 1], limits[1, 1])
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    ax.set_title(_with_hidden(title, fronts, limits))
    ax.legend(loc="best", fontsize=8)
    return _png(fig)


def _scatter_3d(
    fronts: Mapping[str, np.ndarray],
    colors: Mapping[str, str],
    true_front: np.ndarray | None,
    title: str,
    names: Sequence[str],
    limits: np.ndarray | None,
) -> bytes:
    plt = _pyplot()
    k = max(1, len(fronts))
    cols = k if k <= 2 else 2  # a 2-column grid keeps the figure beside the convergence plot
    rows = -(-k // cols)
    fig = plt.figure(figsize=(2.7 * cols, 2.5 * rows + 0.4))
    for i, (label, f) in enumerate(fronts.items()):
        ax = fig.add_subplot(rows, cols, i + 1, projection="3d")
        if true_front is not None:
            ax.scatter(*true_front.T[:3], s=3, color="#8C8C8C", alpha=0.45, depthshade=False)
        if f.shape[0]:
            inside = f if limits is None else f[((f >= limits[0]) & (f <= limits[1])).all(axis=1)]
            ax.scatter(*inside.T[:3], s=8, color=colors[label], alpha=0.9, depthshade=False)
        if limits is not None:
            ax.set_xlim(limits[0, 0], limits[1, 0])
            ax.set_ylim(limits[0, 1], limits[1, 1])
            ax.set_zlim(limits[0, 2], limits[1, 2])
        ax.set_title(label, fontsize=9, color=colors[label])
        ax.set_xlabel(names[0], labelpad=-8)
        ax.set_ylabel(names[1], labelpad=-8)
        ax.set_zlabel(names[2], labelpad=-8)
        ax.tick_params(labelsize=6, pad=-2)
        ax.view_init(elev=25, azim=45)
    grey = " (grey: Pareto front)" if true_front is not None else ""
    fig.suptitle(_with_hidden(title + grey, fronts, limits), fontweight="bold", fontsize=10)
    return _png(fig)


def _parallel(
    fronts: Mapping[str, np.ndarray],
    colors: Mapping[str, str],
    true_front: np.ndarray | None,
    title: str,
    names: Sequence[str],
    limits: np.ndarray | None,
) -> bytes:
    plt = _pyplot()
    if limits is None:
        limits = np.stack([np.zeros(len(names)), np.ones(len(names))])
    lo, hi = limits[0], limits[1]
    span = np.where(hi > lo, hi - lo, 1.0)
    fig, ax = plt.subplots(figsize=(5.6, 3.6))
    xs = np.arange(len(names))
    if true_front is not None:
        for row in (true_front - lo) / span:
            ax.plot(xs, row, color="#8C8C8C", alpha=0.08, lw=0.8)
        ax.plot([], [], color="#8C8C8C", label="Pareto front")
    for label, f in fronts.items():
        z = (f - lo) / span
        for row in z:  # one polyline per point: a report figure, not a hot loop
            ax.plot(xs, row, color=colors[label], alpha=0.25, lw=0.8)
        ax.plot([], [], color=colors[label], label=label)
    ax.set_xticks(xs, names)
    ax.set_ylim(0.0, 1.0)
    ax.set_ylabel("value, scaled to the problem's range")
    ax.set_title(_with_hidden(title, fronts, limits))
    ax.legend(loc="best", fontsize=8)
    return _png(fig)
