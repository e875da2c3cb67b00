"""The travelling salesman problem: an Objective over tours and a constructive Environment.

As an :class:`~polyopt.Objective`, :class:`TSP` is one instance (random uniform in the unit square, or a
TSPLIB file) whose points are tours: a :class:`~polyopt.Permutation` row visits its cities in order and
returns to the first; ``f`` is the tour length (minimized). The MOEA family's permutation operators (``ox``,
``pmx``, ``swap-mutation``, ``inversion-mutation``) apply to it, and solvers read its ``distances``.

As an :class:`~polyopt.Environment`, :class:`TSPEnv` builds ``num_envs`` tours at once: the first action picks
the start city, every next one an unvisited city (the mask), and the last step closes the tour. The reward
of a step is minus the length it adds, so an episode's return is minus the tour length.

Example:
    >>> import torch, polyopt
    >>> tsp = polyopt.make("objective", "tsp", n=5, seed=0)
    >>> tour = torch.arange(5.0).unsqueeze(0)
    >>> bool(polyopt.evaluate(tsp, tour).f[0, 0] > 0)
    True
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor

from polyopt import Box, Evaluation, Integer, Objective, Permutation
from polyopt.errors import ConfigError
from polyopt_envs._common import check_int
from polyopt_envs.co._construct import ConstructiveEnv
from polyopt_envs.co.tsplib import read_tsplib, tsplib_distances

__all__ = ["TSP", "TSPEnv", "euclidean_distances", "tour_length", "tsplib_env", "uniform_tsp"]


def uniform_tsp(
    num: int, n: int, *, generator: torch.Generator, device: torch.device | str | None = None
) -> Tensor:
    """``num`` instances of ``n`` cities uniform in the unit square: ``num x n x 2`` float64."""
    dev = generator.device if device is None else torch.device(device)
    locs = torch.rand(num, n, 2, generator=generator, device=generator.device, dtype=torch.float64)
    return locs.to(dev)


def euclidean_distances(locs: Tensor) -> Tensor:
    """Pairwise Euclidean distances: ``... x n x 2`` coordinates to ``... x n x n``."""
    return torch.cdist(locs, locs)


def tour_length(tours: Tensor, distances: Tensor) -> Tensor:
    """Closed-tour lengths.

    Args:
        tours: ``B x n`` city orders (any integer-valued dtype).
        distances: ``n x n`` (one instance for every tour) or ``B x n x n`` (one per tour).

    Returns:
        ``B`` lengths in ``distances``' dtype.
    """
    src = tours.long()
    dst = src.roll(-1, dims=1)
    if distances.dim() == 2:
        return distances[src, dst].sum(dim=1)
    rows = torch.arange(src.shape[0], device=src.device).unsqueeze(1)
    return distances[rows, src, dst].sum(dim=1)


class TSP(Objective):
    """A TSP instance as an objective over tours (``Permutation(n)``, tour length minimized).

    Args:
        n: cities of a random instance (uniform in the unit square), ``>= 3``.
        seed: seed of the random instance.
        tsplib: path of a TSPLIB file to read instead (EUC_2D, CEIL_2D, ATT or GEO); ``optimum`` comes from
            a TSPLIB ``solutions`` file next to it when there is one.
        coords: ``n x 2`` coordinates to use instead (Euclidean distances, not rounded).
        optimum: the known optimal length (overrides the one found next to a TSPLIB file).

    Attributes:
        distances: ``n x n`` float64 distance matrix (what solvers read).
        coords: ``n x 2`` float64 coordinates.
    """

    name = "tsp"

    def __init__(
        self,
        n: int = 20,
        *,
        seed: int = 0,
        tsplib: str | Path | None = None,
        coords: Tensor | None = None,
        optimum: float | None = None,
    ) -> None:
        if tsplib is not None and coords is not None:
            raise ConfigError("tsplib= and coords= were both given; expected one instance source")
        self.instance_name = f"uniform{n}-seed{seed}"
        if tsplib is not None:
            inst = read_tsplib(tsplib)
            if inst.type != "TSP":
                raise ConfigError(f"{tsplib}: TYPE {inst.type}; expected a TSP file")
            self.coords = inst.coords
            self.distances = inst.distances()
            self.instance_name = inst.name
            self.optimum = inst.optimum if optimum is None else float(optimum)
            self.edge_weight_type = inst.edge_weight_type
        else:
            if coords is None:
                check_int("n", n, 3)
                gen = torch.Generator().manual_seed(check_int("seed", seed, 0))
                coords = uniform_tsp(1, n, generator=gen)[0]
            self.coords = _check_coords(coords)
            self.distances = euclidean_distances(self.coords)
            self.optimum = None if optimum is None else float(optimum)
            self.edge_weight_type = "EUC"
        self.space = Permutation(self.coords.shape[0])

    @property
    def n(self) -> int:
        """Number of cities."""
        return int(self.coords.shape[0])

    def evaluate(self, x: Tensor) -> Evaluation:
        """Tour lengths of ``x`` (``B x n`` city orders); ``f: B x 1`` in ``x``'s dtype and device."""
        dist = self.distances.to(x.device)
        length = tour_length(x, dist).to(x.dtype if x.is_floating_point() else torch.float64)
        return Evaluation(f=length.unsqueeze(-1))

    def __repr__(self) -> str:
        return f"TSP({self.instance_name}, n={self.n})"


def _check_coords(coords: Tensor) -> Tensor:
    t = torch.as_tensor(coords, dtype=torch.float64)
    if t.dim() != 2 or t.shape[1] != 2 or t.shape[0] < 3:
        raise ConfigError(f"coords of shape {tuple(t.shape)}; expected (n, 2) with n >= 3")
    if not bool(torch.isfinite(t).all()):
        raise ConfigError("coords has non-finite values; expected finite coordinates")
    return t


class TSPEnv(ConstructiveEnv):
    """Batched tour construction (see the module docstring).

    Args:
        num_envs: instances built at once.
        n: cities of generated instances (uniform in the unit square), ``>= 3``.
        device: where instances and state live.
        locs: ``num_envs x n x 2`` (or ``n x 2``, shared) fixed coordinates instead of generated ones;
            arc lengths are Euclidean, computed from them step by step, unless ``distances`` are given.
        distances: ``num_envs x n x n`` (or ``n x n``) fixed distances, e.g. a TSPLIB instance's rounded ones.
        autoreset: the core contract's next-step auto-reset, or ended rows stay ended (policy rollouts).

    State (for policies): ``instances["locs"]`` (``num_envs x n x 2``), ``instances["distances"]`` (only when
    given), :attr:`first`, :attr:`current` (``num_envs`` int64, -1 before the first
    step), :attr:`visited` (``num_envs x n`` bool) and :attr:`t` (steps taken).
    Observations: ``num_envs x 4n`` float32 = scaled coordinates (``2n``), visited (``n``), current one-hot
    (``n``).
    """

    name = "tsp-construct"
    state_fields = ("first", "current", "visited", "t")

    def __init__(
        self,
        num_envs: int = 1,
        n: int = 20,
        *,
        device: torch.device | str = "cpu",
        locs: Tensor | None = None,
        distances: Tensor | None = None,
        autoreset: bool = True,
    ) -> None:
        super().__init__(num_envs, device, autoreset, fixed=locs is not None)
        if locs is None and distances is not None:
            raise ConfigError("distances= needs locs= (the coordinates policies see)")
        if locs is not None:
            self.instances = _fixed_instances(locs, distances, self.num_envs, self.device)
            n = int(self.instances["locs"].shape[1])
        self.n = check_int("n", n, 3)
        self.n_actions = self.n
        self.observation_space = Box(0.0, 1.0, dim=4 * self.n)
        self.action_space = Integer(0, self.n - 1)
        self.reward_dim = 1
        self.first = torch.full((self.num_envs,), -1, dtype=torch.long, device=self.device)
        self.current = self.first.clone()
        self.visited = torch.zeros(self.num_envs, self.n, dtype=torch.bool, device=self.device)
        self.t = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)

    def sample_instances(self, k: int) -> dict[str, Tensor]:
        # Euclidean lengths come from the coordinates step by step: no n x n matrix per instance
        return {"locs": uniform_tsp(k, self.n, generator=self.generator, device=self.device)}

    def reset_rows(self, rows: Tensor) -> None:
        self.first = torch.where(rows, -1, self.first)
        self.current = torch.where(rows, -1, self.current)
        self.visited = self.visited & ~rows.unsqueeze(1)
        self.t = torch.where(rows, 0, self.t)

    def action_mask(self) -> Tensor:
        """``num_envs x n`` bool: unvisited cities (all of them in an ended row, whose actions are ignored)."""
        complete = self.visited.all(dim=1, keepdim=True)
        return torch.where(complete, torch.ones_like(self.visited), ~self.visited)

    def _length(self, a: Tensor, b: Tensor) -> Tensor:
        """``num_envs`` arc lengths from city ``a`` to ``b``: the given distances, else Euclidean."""
        rows = torch.arange(self.num_envs, device=self.device)
        if "distances" in self.instances:
            return self.instances["distances"][rows, a, b]
        locs = self.instances["locs"]
        return (locs[rows, a] - locs[rows, b]).norm(dim=1)

    def transition(self, action: Tensor, active: Tensor) -> tuple[Tensor, Tensor]:
        started = self.current >= 0
        step_len = torch.where(started, self._length(self.current.clamp_min(0), action), 0.0)
        # the step that visits the last city also closes the tour, so an episode is exactly n steps
        last = self.visited.sum(dim=1) == self.n - 1
        close_len = torch.where(last, self._length(action, self.first.clamp_min(0)), 0.0)
        reward = torch.where(active, -(step_len + close_len), 0.0)
        visit = torch.nn.functional.one_hot(action, self.n).bool() & active.unsqueeze(1)
        self.visited = self.visited | visit
        self.first = torch.where(active & ~started, action, self.first)
        self.current = torch.where(active, action, self.current)
        self.t = self.t + active.long()
        complete = self.visited.all(dim=1)
        return reward.to(torch.float32).unsqueeze(1), complete

    def observe(self) -> Tensor:
        locs = self.instances["locs"]
        lo = locs.amin(dim=1, keepdim=True)
        span = (locs.amax(dim=1, keepdim=True) - lo).amax(dim=2, keepdim=True).clamp_min(1e-12)
        scaled = ((locs - lo) / span).flatten(1)
        current = torch.nn.functional.one_hot(self.current.clamp_min(0), self.n).bool()
        current = current & (self.current >= 0).unsqueeze(1)
        return torch.cat([scaled, self.visited, current], dim=1).to(torch.float32)


def _fixed_instances(
    locs: Tensor, distances: Tensor | None, num_envs: int, device: torch.device
) -> dict[str, Tensor]:
    t = torch.as_tensor(locs, dtype=torch.float64, device=device)
    if t.dim() == 2:
        t = t.unsqueeze(0).expand(num_envs, -1, -1)
    if t.dim() != 3 or t.shape[0] != num_envs or t.shape[2] != 2 or t.shape[1] < 3:
        raise ConfigError(
            f"locs of shape {tuple(t.shape)}; expected ({num_envs}, n, 2) or (n, 2) with n >= 3"
        )
    if distances is None:
        return {"locs": t.contiguous()}  # Euclidean, computed step by step
    d = torch.as_tensor(distances, dtype=torch.float64, device=device)
    if d.dim() == 2:
        d = d.unsqueeze(0).expand(num_envs, -1, -1)
    n = t.shape[1]
    if tuple(d.shape) != (num_envs, n, n):
        raise ConfigError(
            f"distances of shape {tuple(d.shape)}; expected ({num_envs}, {n}, {n}) or ({n}, {n})"
        )
    return {"locs": t.contiguous(), "distances": d.contiguous()}


def tsplib_env(path: str | Path, num_envs: int = 1, **options: object) -> TSPEnv:
    """A :class:`TSPEnv` on a TSPLIB instance: its coordinates and its (rounded) distances."""
    inst = read_tsplib(path)
    return TSPEnv(
        num_envs,
        locs=inst.coords,
        distances=tsplib_distances(inst.coords, inst.edge_weight_type),
        **options,  # type: ignore[arg-type]  # device / autoreset, checked by TSPEnv
    )
