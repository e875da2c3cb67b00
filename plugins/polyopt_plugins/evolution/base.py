"""What the single-objective evolution strategies share, as an ask/tell optimizer over a box.

Life of a generation: ``ask`` hands out rows of the current *proposal* (:meth:`GenerationalOptimizer.propose`:
CMA-ES samples, DE trial vectors, PSO/CBO moved particles), each tagged with its row (the DE target, the
particle); ``tell`` collects evaluations, and once a generation's worth has arrived
(:meth:`GenerationalOptimizer.generation_size`) :meth:`GenerationalOptimizer.advance` updates the algorithm
from them. Asking more than a generation before telling proposes again from the same state (pending points);
unasked proposals are dropped when a generation completes.

A proposal is a *genotype* that may leave the box (CMA-ES samples a Gaussian); the points handed out are its
projection onto the box, and ``advance`` gets both, so CMA-ES can update from the genotype and penalize the
distance (pycma's repair-and-penalize idea). Points told that were not asked get their own projection as
genotype and the tag -1.

Failed evaluations (and NaN) rank as ``+inf``. Every step is a fixed-shape tensor program on the optimizer's
device: no per-individual Python loops, no host round trips beyond the metrics.

A step of :func:`polyopt.run` with nothing pending and a whole generation left in the budget skips the
ask/tell bookkeeping (queues, pending rows, tags, the comparison of told points with asked ones): it proposes,
evaluates and advances directly, with the same random draws and the same result as ``ask`` then ``tell``.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from typing import Any, ClassVar

import torch
from torch import Tensor

from polyopt import AskTellOptimizer, Evaluation, Result
from polyopt.errors import ConfigError

__all__ = ["Generation", "GenerationalOptimizer", "best_per_tag"]

_BASE_STATE = (
    "queue",
    "queue_geno",
    "queue_tag",
    "pending_geno",
    "pending_tag",
    "told_x",
    "told_geno",
    "told_f",
    "told_tag",
    "best_x",
    "best_f",
    "n_generations",
)


class Generation:
    """A generation's evaluated points (``n`` rows; ``n`` may exceed the generation size when points were
    pending).

    Attributes:
        x: ``n x d`` points evaluated (inside the box).
        genotype: ``n x d`` what the algorithm proposed (``x`` is its projection onto the box).
        f: ``n`` objective values to minimize; failed or NaN rows are ``+inf``.
        tag: ``n`` int64, the proposal row each point came from (-1: told without asking).
        in_order: True when the rows are exactly one whole proposal, row ``i`` from proposal row ``i`` (the
            usual ask-all, tell-all generation): :meth:`best_rows` needs no sorting then.
    """

    def __init__(
        self, x: Tensor, genotype: Tensor, f: Tensor, tag: Tensor, in_order: bool = False
    ) -> None:
        self.x = x
        self.genotype = genotype
        self.f = f
        self.tag = tag
        self.in_order = in_order

    def best_rows(self) -> tuple[Tensor, Tensor]:
        """``(rows, tags)``: the best row of each proposal row that was told, and that proposal row."""
        if self.in_order:
            return self.tag, self.tag  # tag == arange(n)
        rows = best_per_tag(self.f, self.tag)
        return rows, self.tag[rows]


def best_per_tag(f: Tensor, tag: Tensor) -> Tensor:
    """Indices of the best row (smallest ``f``) of each tag ``>= 0``, one per tag present, tags ascending.

    Args:
        f: ``n`` values.
        tag: ``n`` int64 tags.

    Returns:
        int64 indices into the rows (deterministic, no scatter with repeated indices).
    """
    order = f.argsort(stable=True)
    order = order[tag[order].argsort(stable=True)]
    sorted_tag = tag[order]
    first = torch.ones_like(sorted_tag, dtype=torch.bool)
    first[1:] = sorted_tag[1:] != sorted_tag[:-1]
    return order[first & (sorted_tag >= 0)]


class GenerationalOptimizer(AskTellOptimizer):
    """Base of the single-objective population methods on a :class:`~polyopt.Box` (see the module docstring).

    A subclass implements :meth:`generation_size`, :meth:`propose`, :meth:`advance`, and
    :meth:`algorithm_state` / :meth:`load_algorithm_state`; it sets up its own state in :meth:`init_state`.
    """

    space_kinds = frozenset({"continuous"})
    max_objectives = 1
    supports_constraints = False
    #: True when :meth:`propose` never leaves the box (DE's repair, PSO/CBO's projection): no projection pass
    proposals_in_box: ClassVar[bool] = False

    # ---- hooks -------------------------------------------------------------------------------------------
    @abstractmethod
    def generation_size(self) -> int:
        """Points a generation needs before :meth:`advance` (the population or offspring size now)."""

    @abstractmethod
    def propose(self) -> Tensor:
        """A new proposal from the current state: ``generation_size() x d`` genotypes (may leave the box)."""

    @abstractmethod
    def advance(self, generation: Generation) -> None:
        """Update the algorithm from a generation's evaluated points."""

    def init_state(self) -> None:
        """Set up the algorithm's own state (``self.lower``/``self.upper`` are ready)."""

    def algorithm_state(self) -> dict[str, Any]:
        """The algorithm's own mutable state (tensors, numbers, containers)."""
        return {}

    def load_algorithm_state(self, state: dict[str, Any]) -> None:
        """Restore :meth:`algorithm_state` (tensors already on :attr:`device`)."""

    def algorithm_metrics(self) -> dict[str, float]:
        """Extra step metrics (e.g. CMA-ES's step size); called after every step."""
        return {}

    # ---- building blocks ---------------------------------------------------------------------------------
    def uniform(self, n: int) -> Tensor:
        """``n x d`` uniform points in the box, from :attr:`generator`."""
        u = torch.rand(n, self.dim, generator=self.generator, **self.like)
        return self.lower + u * self.width

    def project(self, x: Tensor) -> Tensor:
        """``x`` clipped into the box."""
        return torch.clamp(x, self.lower, self.upper)

    # ---- setup and ask/tell ------------------------------------------------------------------------------
    def setup(self) -> None:
        space = self.problem.space
        if space.dim < 1:
            raise ConfigError("the problem's space has no columns")
        self.dim = space.dim
        #: +1 to minimize, -1 to maximize: metrics are reported in the user's direction
        self._sign = float(self.problem.signs[0])
        bounds = space.bounds.to(**self.like)
        self.lower = bounds[0]
        self.upper = bounds[1]
        self.width = self.upper - self.lower
        d = self.dim
        self._queue = torch.zeros(0, d, **self.like)
        self._queue_geno = torch.zeros(0, d, **self.like)
        self._queue_tag = torch.zeros(0, dtype=torch.int64, device=self.device)
        self._pending_geno = torch.zeros(0, d, **self.like)
        self._pending_tag = torch.zeros(0, dtype=torch.int64, device=self.device)
        self._told_x = torch.zeros(0, d, **self.like)
        self._told_geno = torch.zeros(0, d, **self.like)
        self._told_f = torch.zeros(0, **self.like)
        self._told_tag = torch.zeros(0, dtype=torch.int64, device=self.device)
        #: the best point told so far (``0 x d`` until one finite value arrives) and its value
        self.best_x = torch.zeros(0, d, **self.like)
        self.best_f = torch.full((1,), math.inf, **self.like)
        self.n_generations = 0
        self._need: int | None = None
        self._whole = False
        self._last_out: Tensor | None = None
        #: the last told evaluation and its values with failed rows at +inf (reused by step_metrics)
        self._told_values: tuple[Evaluation, Tensor] | None = None
        self._tags = torch.zeros(0, dtype=torch.int64, device=self.device)
        self.init_state()

    @property
    def batch_size(self) -> int:
        return self.generation_size()

    def iterate(self) -> dict[str, float]:
        n = self.generation_size()
        left = None if self.evaluation_limit is None else self.evaluation_limit - self.n_evaluations
        idle = (
            self._queue.shape[0] == 0
            and self._pending_tag.shape[0] == 0
            and self._told_f.shape[0] == 0
        )
        if not idle or (left is not None and left < n):
            return super().iterate()
        # a whole generation, nothing pending: what ask(n) then tell would do, without the bookkeeping
        geno = self.propose()
        x = geno if self.proposals_in_box else self.project(geno)
        evaluation = self.evaluate(x)  # checked: failed_mask covers NaN and infinite values
        f = evaluation.f[:, 0].to(**self.like)
        f = torch.where(evaluation.failed_mask.to(self.device), math.inf, f)
        self._remember_best(x, f)
        self._told_values = (evaluation, f)
        if self._tags.shape[0] != n:
            self._tags = torch.arange(n, device=self.device)
        self.advance(Generation(x, geno, f, self._tags, in_order=True))
        self.n_generations += 1
        return self.step_metrics(x, evaluation)

    def ask(self, n: int | None = None) -> Tensor:
        n = self.batch_size if n is None else n
        if n < 1:
            raise ValueError(f"ask(n={n}); expected n >= 1")
        if self._need is None:
            self._need = self.generation_size()
        whole = self._queue.shape[0] == 0 and self._pending_tag.shape[0] == 0
        while self._queue.shape[0] < n:
            geno = self.propose()
            tag = torch.arange(geno.shape[0], device=self.device)
            if self._queue.shape[0] == 0:  # no copies in the usual ask-a-generation case
                self._queue_geno = geno
                self._queue = geno if self.proposals_in_box else self.project(geno)
                self._queue_tag = tag
                continue
            self._queue_geno = torch.cat([self._queue_geno, geno])
            self._queue = torch.cat([self._queue, self.project(geno)])
            self._queue_tag = torch.cat([self._queue_tag, tag])
        out = self._queue[:n]
        #: the last ask handed out one whole fresh proposal, nothing else pending (see Generation.in_order)
        self._whole = whole and n == self._queue.shape[0] and n == self._need
        self._last_out = out
        self._pending_geno = self._cat(self._pending_geno, self._queue_geno[:n])
        self._pending_tag = self._cat(self._pending_tag, self._queue_tag[:n])
        self._queue = self._queue[n:]
        self._queue_geno = self._queue_geno[n:]
        self._queue_tag = self._queue_tag[n:]
        return out

    @staticmethod
    def _cat(a: Tensor, b: Tensor) -> Tensor:
        """``torch.cat([a, b])`` without a copy when ``a`` is empty."""
        return b if a.shape[0] == 0 else torch.cat([a, b])

    def tell(self, x: Tensor, evaluation: Evaluation) -> None:
        k = x.shape[0]
        # the points just asked, as handed out, and nothing else pending: no need to compare them
        same = x is self._last_out and self._pending_tag.shape[0] == k
        x = x.to(**self.like)
        geno = self._pending_geno[:k]
        tag = self._pending_tag[:k]
        self._pending_geno = self._pending_geno[k:]
        self._pending_tag = self._pending_tag[k:]
        in_order = same and self._whole and self._told_f.shape[0] == 0
        if not same and (geno.shape[0] < k or not torch.equal(self.project(geno), x)):
            geno = x  # not the points asked (or not in that order): they count as unasked
            tag = torch.full((k,), -1, dtype=torch.int64, device=self.device)
        f = evaluation.f[:, 0].to(**self.like)
        bad = evaluation.failed_mask.to(self.device) | torch.isnan(f)
        f = torch.where(bad, math.inf, f)
        self._remember_best(x, f)
        self._told_values = (evaluation, f)
        self._last_out = None
        self._told_x = self._cat(self._told_x, x)
        self._told_geno = self._cat(self._told_geno, geno)
        self._told_f = self._cat(self._told_f, f)
        self._told_tag = self._cat(self._told_tag, tag)
        need = self.generation_size() if self._need is None else self._need
        if self._told_f.shape[0] >= need:
            in_order = in_order and self._told_f.shape[0] == need
            generation = Generation(
                self._told_x, self._told_geno, self._told_f, self._told_tag, in_order
            )
            self._told_x = self._told_x[:0]
            self._told_geno = self._told_geno[:0]
            self._told_f = self._told_f[:0]
            self._told_tag = self._told_tag[:0]
            self._queue = self._queue[:0]  # proposed from the old state
            self._queue_geno = self._queue_geno[:0]
            self._queue_tag = self._queue_tag[:0]
            self._need = None
            self.advance(generation)
            self.n_generations += 1

    def _remember_best(self, x: Tensor, f: Tensor) -> None:
        i = f.argmin().view(1)
        f_i = f.index_select(0, i)
        if self.best_x.shape[0] == 0:
            if bool(torch.isfinite(f_i)):
                self.best_x = x.index_select(0, i)
                self.best_f = f_i
            return
        # branch-free update: no host sync on the device
        better = f_i < self.best_f
        self.best_x = torch.where(better, x.index_select(0, i), self.best_x)
        self.best_f = torch.where(better, f_i, self.best_f)

    # ---- results, metrics, state -------------------------------------------------------------------------
    def result(self) -> Result:
        """The best point told so far, in the user's direction."""
        n = self.best_x.shape[0]
        ev = Evaluation(f=self.best_f[:n].unsqueeze(1))
        return self.make_result(self.best_x, ev, extras={"n_generations": self.n_generations})

    def step_metrics(self, x: Tensor, evaluation: Evaluation) -> dict[str, float]:
        """The base's metrics (evaluations, failures, the step's best) plus ``best`` so far and the
        algorithm's own, read from the device in one transfer."""
        failed = evaluation.failed_mask
        told = self._told_values
        self._told_values = None
        if told is not None and told[0] is evaluation:  # the values just told: failed rows at +inf
            values = told[1]
        else:
            f = evaluation.f[:, 0]
            values = torch.where(failed | torch.isnan(f), math.inf, f)
        n_failed, step_best_value, best = torch.stack(
            [failed.sum().to(values), values.min(), self.best_f[0].to(values)]
        ).tolist()
        metrics = {"n_evaluations": float(self.n_evaluations), "n_failed": n_failed}
        if math.isfinite(step_best_value):
            metrics["step_best"] = step_best_value * self._sign
        if self.best_x.shape[0]:
            metrics["best"] = best * self._sign
        metrics["n_generations"] = float(self.n_generations)
        metrics.update(self.algorithm_metrics())
        return metrics

    def get_state(self) -> dict[str, Any]:
        own = self.algorithm_state()
        clash = sorted(set(own) & set(_BASE_STATE))
        if clash:
            raise RuntimeError(f"algorithm_state() keys {clash} are the base's; choose other names")
        return {
            "queue": self._queue,
            "queue_geno": self._queue_geno,
            "queue_tag": self._queue_tag,
            "pending_geno": self._pending_geno,
            "pending_tag": self._pending_tag,
            "told_x": self._told_x,
            "told_geno": self._told_geno,
            "told_f": self._told_f,
            "told_tag": self._told_tag,
            "best_x": self.best_x,
            "best_f": self.best_f,
            "n_generations": self.n_generations,
            "need": self._need,
            **own,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        moved = _to_device(state, self.device)
        self._queue = moved["queue"]
        self._queue_geno = moved["queue_geno"]
        self._queue_tag = moved["queue_tag"]
        self._pending_geno = moved["pending_geno"]
        self._pending_tag = moved["pending_tag"]
        self._told_x = moved["told_x"]
        self._told_geno = moved["told_geno"]
        self._told_f = moved["told_f"]
        self._told_tag = moved["told_tag"]
        self.best_x = moved["best_x"]
        self.best_f = moved["best_f"]
        self.n_generations = int(moved["n_generations"])
        self._need = None if moved["need"] is None else int(moved["need"])
        own = {k: v for k, v in moved.items() if k not in _BASE_STATE and k != "need"}
        self.load_algorithm_state(own)


def _to_device(obj: Any, device: torch.device) -> Any:
    """Move the tensors of a nested state to ``device``."""
    if isinstance(obj, Tensor):
        return obj.to(device)
    if isinstance(obj, dict):
        return {k: _to_device(v, device) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_to_device(v, device) for v in obj]
    return obj
