"""MetaDE: differential evolution whose strategy is evolved by differential evolution.

Chen, Feng & Cheng, "MetaDE: Evolving Differential Evolution by Differential Evolution" (IEEE TEVC 2025,
arXiv:2502.10470). A *parameterized DE* (PDE) is DE with its whole strategy written as six numbers:

- ``F`` in [0, 1] and ``CR`` in [0, 1];
- two base-vector choices ``bl`` and ``br`` among rand, best, pbest (one of the best ``p_best`` share) and
  current; the base vector is ``x_bl + F (x_br - x_bl)`` (rand/best/current-to-best/... are special cases);
- ``dn`` in 1..4 difference vectors, each ``F (x_a - x_b)`` from distinct random members;
- the crossover ``cs``: binomial, exponential (a run of coordinates from a random start, continued while a
  uniform is below ``CR``) or arithmetic (``x + CR (v - x)``).

An outer DE (rand/1/bin with ``outer_F``, ``outer_CR``) evolves these vectors on the task itself: each outer
generation runs ``n_instances`` PDEs side by side, one per strategy, every one from a fresh uniform population of
``pop_size // n_instances`` members for ``inner_generations`` generations, and a strategy's fitness is the
best value its run found; the outer DE keeps a trial strategy when its run did no worse than its target's.
The inner PDEs are one tensor program over ``instances x members x d``: a polyopt generation asks all
``pop_size`` points of one inner generation of every instance at once. The result is the best point any run
found; ``result().extras["strategy"]`` is the best strategy so far, decoded.

Genes are encoded as in the paper (the discrete ones are floors of continuous genes), so the outer DE works
on a plain box. Out-of-box trial coordinates are repaired as in :mod:`~polyopt_plugins.evolution.de`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt import Result
from polyopt_plugins.evolution.base import Generation, GenerationalOptimizer
from polyopt_plugins.evolution.de import distinct_index_columns, distinct_indices, repair

__all__ = ["MetaDE", "MetaDEConfig", "BASES", "CROSSOVERS", "decode"]

#: base-vector choices, in gene order
BASES = ("rand", "best", "pbest", "current")
#: crossovers, in gene order
CROSSOVERS = ("bin", "exp", "arith")
#: the strategy genes' box: F, CR, bl, br, dn, cs (floors of the last four are the discrete choices)
_GENE_LOWER = (0.0, 0.0, 0.0, 0.0, 1.0, 0.0)
_GENE_UPPER = (1.0, 1.0, 4.0, 4.0, 5.0, 3.0)
#: most difference vectors: the donors per trial are 1 (rand base) + 2 * this
_MAX_DIFFS = 4


@dataclass
class MetaDEConfig:
    pop_size: int = 1000
    """Points per generation: ``n_instances`` inner populations of ``pop_size // n_instances`` members."""
    n_instances: int = 10
    """PDE instances run side by side: the outer DE's population of strategies (at least 4)."""
    inner_generations: int = 20
    """Generations of one PDE run (the first is its uniform initial sample); then the outer DE steps."""
    outer_F: float = 0.5
    """The outer DE's differential weight."""
    outer_CR: float = 0.9
    """The outer DE's crossover rate."""
    p_best: float = 0.05
    """Share of an inner population the ``pbest`` base vector is drawn from."""

    def __post_init__(self) -> None:
        if self.n_instances < 4:
            raise ValueError(f"n_instances={self.n_instances}; expected at least 4 (outer DE)")
        if self.pop_size % self.n_instances:
            raise ValueError(
                f"pop_size={self.pop_size} is not a multiple of n_instances={self.n_instances}"
            )
        if self.pop_size // self.n_instances < 2 + 2 * _MAX_DIFFS:
            raise ValueError(
                f"pop_size={self.pop_size} gives {self.pop_size // self.n_instances} members per "
                f"instance; expected at least {2 + 2 * _MAX_DIFFS} (target + 9 distinct donors)"
            )
        if self.inner_generations < 2:
            raise ValueError(f"inner_generations={self.inner_generations}; expected at least 2")
        if not 0.0 < self.outer_F <= 2.0:
            raise ValueError(f"outer_F={self.outer_F}; expected 0 < outer_F <= 2")
        if not 0.0 <= self.outer_CR <= 1.0:
            raise ValueError(f"outer_CR={self.outer_CR}; expected a probability in [0, 1]")
        if not 0.0 < self.p_best <= 1.0:
            raise ValueError(f"p_best={self.p_best}; expected a share in (0, 1]")


def decode(genes: Tensor) -> dict[str, Tensor]:
    """Strategy genes (``k x 6``) -> ``F``, ``CR`` (floats) and ``bl``, ``br``, ``dn``, ``cs`` (int64)."""
    floor = genes[:, 2:].floor().long()
    top = torch.tensor([3, 3, _MAX_DIFFS, 2], device=genes.device)
    low = torch.tensor([0, 0, 1, 0], device=genes.device)
    floor = torch.minimum(torch.maximum(floor, low), top)
    return {
        "F": genes[:, 0],
        "CR": genes[:, 1],
        "bl": floor[:, 0],
        "br": floor[:, 1],
        "dn": floor[:, 2],
        "cs": floor[:, 3],
    }


class MetaDE(GenerationalOptimizer):
    """MetaDE on a box (see the module docstring)."""

    Config = MetaDEConfig
    proposals_in_box = True
    config: MetaDEConfig

    def init_state(self) -> None:
        c = self.config
        k = c.n_instances
        self.members = c.pop_size // k
        self.gene_lower = torch.tensor(_GENE_LOWER, **self.like)
        self.gene_upper = torch.tensor(_GENE_UPPER, **self.like)
        u = torch.rand(k, len(_GENE_LOWER), generator=self.generator, **self.like)
        #: the strategies whose runs are going on now (the outer DE's trials after the first generation)
        self.strategies = self.gene_lower + u * (self.gene_upper - self.gene_lower)
        self.outer_x: Tensor | None = None
        self.outer_f = torch.full((k,), math.inf, **self.like)
        self.inner_x: Tensor | None = None  # k x members x d once a run's initial sample is told
        self.inner_f = torch.full((k, self.members), math.inf, **self.like)
        self.run_best = torch.full((k,), math.inf, **self.like)
        self.inner_generation = 0
        self.outer_generations = 0
        dev = self.device
        #: constants of the shapes: each row's member, each instance's first row, the columns
        self._target = torch.arange(self.members, device=dev).repeat(k)
        self._offset = (torch.arange(k, device=dev) * self.members).view(k, 1)
        self._columns = torch.arange(self.dim, device=dev).view(1, 1, self.dim)
        self._decoding: tuple[Tensor, dict[str, Tensor]] | None = None

    def _decoded(self) -> dict[str, Tensor]:
        """:func:`decode` of the current strategies, once per outer generation."""
        if self._decoding is None or self._decoding[0] is not self.strategies:
            self._decoding = (self.strategies, decode(self.strategies))
        return self._decoding[1]

    def generation_size(self) -> int:
        return self.config.pop_size

    # ---- the inner PDEs ----------------------------------------------------------------------------------
    def propose(self) -> Tensor:
        if self.inner_x is None:
            return self.uniform(self.config.pop_size)
        k, n, d = self.config.n_instances, self.members, self.dim
        g = self.generator
        dev = self.device
        s = self._decoded()
        x = self.inner_x
        flat = x.reshape(k * n, d)
        target, offset = self._target, self._offset
        donors = distinct_index_columns(n, 1 + 2 * _MAX_DIFFS, target, g).view(-1, k, n)
        n_best = max(1, math.ceil(self.config.p_best * n))
        top = self.inner_f.argsort(dim=1, stable=True)[:, :n_best]
        pbest = top.gather(1, torch.randint(0, n_best, (k, n), generator=g, device=dev))
        choices = torch.stack(
            [donors[0], top[:, :1].expand(k, n), pbest, target.view(k, n)]
        )  # 4 x k x n: the row each base choice points at
        left = choices.gather(0, s["bl"].view(1, k, 1).expand(1, k, n))[0]
        right = choices.gather(0, s["br"].view(1, k, 1).expand(1, k, n))[0]
        # one gather: the left base vectors, then a_1, b_1, ..., a_4, b_4 (8 x k x n rows)
        rows = torch.cat([(left + offset).view(1, k, n), donors[1:] + offset])
        picked = flat.index_select(0, rows.view(-1)).view(-1, k, n, d)
        base_l = picked[0]
        ends = picked[1:].view(_MAX_DIFFS, 2, k, n, d)
        used = torch.arange(_MAX_DIFFS, device=dev).view(_MAX_DIFFS, 1) < s["dn"].view(1, k)
        diff = ends[:, 0] - ends[:, 1]  # 4 x k x n x d
        diff_sum = (diff * used.to(x.dtype).view(_MAX_DIFFS, k, 1, 1)).sum(dim=0)
        base_r = flat.index_select(0, (right + offset).reshape(-1)).view(k, n, d)
        F = s["F"].view(k, 1, 1)
        mutant = base_l + F * (base_r - base_l) + F * diff_sum
        return repair(self._crossover(x, mutant, s), x, self.lower, self.upper).view(k * n, d)

    def _crossover(self, x: Tensor, mutant: Tensor, s: dict[str, Tensor]) -> Tensor:
        """Each instance's crossover of its targets ``x`` and mutants (both ``k x n x d``)."""
        k, n, d = x.shape
        g = self.generator
        CR = s["CR"].view(k, 1, 1)
        u = torch.rand(k, n, d, generator=g, **self.like)
        start = torch.randint(0, d, (k, n, 1), generator=g, device=self.device)
        col = self._columns
        # binomial: each coordinate with probability CR, the start coordinate always
        binomial = (u < CR) | (col == start)
        # exponential: from the start, 1 + the run of leading uniforms below CR (u[..., 0] is unused)
        run = (u[..., 1:] < CR).to(torch.int64).cumprod(dim=2).sum(dim=2, keepdim=True)
        exponential = (col - start) % d <= run
        cs = s["cs"].view(k, 1, 1)
        mask = torch.where(cs == 1, exponential, binomial)
        crossed = torch.where(mask, mutant, x)
        return torch.where(cs == 2, x + CR * (mutant - x), crossed)

    def advance(self, generation: Generation) -> None:
        k, n, d = self.config.n_instances, self.members, self.dim
        if generation.in_order:
            f, x = generation.f, generation.x
        else:  # rows not told keep their target (or, in a first sample, the box's centre) at +inf
            rows, tag = generation.best_rows()
            f = torch.full((k * n,), math.inf, **self.like)
            if self.inner_x is None:
                x = (self.lower + 0.5 * self.width).expand(k * n, d).clone()
            else:
                x = self.inner_x.reshape(k * n, d).clone()
            f[tag] = generation.f[rows]
            x[tag] = generation.x[rows]
        f = f.view(k, n)
        x = x.view(k, n, d)
        if self.inner_x is None:
            self.inner_x, self.inner_f = x, f
        else:
            win = f <= self.inner_f
            self.inner_x = torch.where(win.unsqueeze(2), x, self.inner_x)
            self.inner_f = torch.where(win, f, self.inner_f)
        self.run_best = torch.minimum(self.run_best, f.amin(dim=1))
        self.inner_generation += 1
        if self.inner_generation >= self.config.inner_generations:
            self._outer_step()

    # ---- the outer DE ------------------------------------------------------------------------------------
    def _outer_step(self) -> None:
        """Select strategies by their runs' best values, propose the next trials, restart the runs."""
        c = self.config
        k = c.n_instances
        if self.outer_x is None:
            ox, self.outer_f = self.strategies, self.run_best
        else:
            win = self.run_best <= self.outer_f
            ox = torch.where(win.unsqueeze(1), self.strategies, self.outer_x)
            self.outer_f = torch.where(win, self.run_best, self.outer_f)
        self.outer_x = ox
        g = self.generator
        target = torch.arange(k, device=self.device)
        r = distinct_indices(k, 3, target, g)
        mutant = ox[r[:, 0]] + c.outer_F * (ox[r[:, 1]] - ox[r[:, 2]])
        mask = torch.rand(k, ox.shape[1], generator=g, device=self.device) < c.outer_CR
        mask[target, torch.randint(0, ox.shape[1], (k,), generator=g, device=self.device)] = True
        trial = torch.where(mask, mutant, ox)
        self.strategies = repair(trial, ox, self.gene_lower, self.gene_upper)
        self.inner_x = None
        self.inner_f = torch.full((k, self.members), math.inf, **self.like)
        self.run_best = torch.full((k,), math.inf, **self.like)
        self.inner_generation = 0
        self.outer_generations += 1

    def best_strategy(self) -> dict[str, float | str | int]:
        """The best strategy evaluated so far (the first run's strategies until an outer generation ends)."""
        if self.outer_x is None:
            genes, value = self.strategies, self.run_best
        else:
            genes, value = self.outer_x, self.outer_f
        i = int(value.argmin())
        s = {key: v[i] for key, v in decode(genes).items()}
        return {
            "F": float(s["F"]),
            "CR": float(s["CR"]),
            "base_left": BASES[int(s["bl"])],
            "base_right": BASES[int(s["br"])],
            "difference_vectors": int(s["dn"]),
            "crossover": CROSSOVERS[int(s["cs"])],
        }

    # ---- results, metrics and state ----------------------------------------------------------------------
    def result(self) -> Result:
        result = super().result()
        result.extras["strategy"] = self.best_strategy()
        return result

    def algorithm_metrics(self) -> dict[str, float]:
        return {"outer_generations": float(self.outer_generations)}

    def algorithm_state(self) -> dict[str, Any]:
        return {
            "strategies": self.strategies,
            "outer_x": self.outer_x,
            "outer_f": self.outer_f,
            "inner_x": self.inner_x,
            "inner_f": self.inner_f,
            "run_best": self.run_best,
            "inner_generation": self.inner_generation,
            "outer_generations": self.outer_generations,
        }

    def load_algorithm_state(self, state: dict[str, Any]) -> None:
        self.strategies = state["strategies"]
        self.outer_x = state["outer_x"]
        self.outer_f = state["outer_f"]
        self.inner_x = state["inner_x"]
        self.inner_f = state["inner_f"]
        self.run_best = state["run_best"]
        self.inner_generation = int(state["inner_generation"])
        self.outer_generations = int(state["outer_generations"])
