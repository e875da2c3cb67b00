"""The capacitated vehicle routing problem (CVRP) and its open variant (OCVRP).

Node 0 is the depot, nodes ``1..n`` are customers with demands; every vehicle has the same capacity and there
are as many vehicles as needed. In the open variant a vehicle ends its route at its last customer (it does not
return), so an arc into the depot costs nothing: ``distances`` holds those arc costs, ``distances[i, 0] = 0``.

As an :class:`~polyopt.Objective` a point is a giant tour, a :class:`~polyopt.Permutation` of the customers
(item ``k`` is customer ``k + 1``), cut into routes by the optimal split (Prins 2004: the best partition of the
order into consecutive routes that fit the capacity, a shortest path over the order). ``f`` is the total
length of those routes (minimized); :meth:`CVRP.routes` and :meth:`CVRP.sequences` show them. Every giant tour
is feasible, so the permutation operators of the MOEA family apply unchanged.

As an :class:`~polyopt.Environment`, :class:`CVRPEnv` builds routes one node a step: action 0 returns to the
depot (a new route), action ``k`` serves customer ``k`` (masked once served or when it no longer fits). The
episode ends back at the depot with every customer served; each step's reward is minus the arc's cost.

Random instances follow the standard uniform setting (Nazari et al. 2018, Kool et al. 2019): depot and
customers uniform in the unit square, integer demands uniform in ``1..9``, capacity by size
(:func:`default_capacity`: 20, 30, 40, 50 for 10, 20, 50, 100 customers).
"""

from __future__ import annotations

import bisect
from pathlib import Path

import torch
from torch import Tensor

from polyopt import Box, Evaluation, Integer, Objective, Permutation
from polyopt.errors import ConfigError
from polyopt_envs._common import check_int
from polyopt_envs.co._construct import ConstructiveEnv
from polyopt_envs.co.tsp import euclidean_distances
from polyopt_envs.co.tsplib import read_tsplib

__all__ = [
    "CVRP",
    "CVRPEnv",
    "OpenCVRP",
    "OpenCVRPEnv",
    "arc_costs",
    "default_capacity",
    "sequence_cost",
    "split",
    "split_sequences",
    "uniform_cvrp",
]

#: Capacities of the standard uniform instances by number of customers (RL4CO's table; Kool et al. for 10, 20,
#: 50, 100); other sizes interpolate linearly and keep the end values beyond the table.
_CAPACITY = {
    10: 20.0,
    15: 25.0,
    20: 30.0,
    30: 33.0,
    40: 37.0,
    50: 40.0,
    60: 43.0,
    75: 45.0,
    100: 50.0,
    125: 55.0,
    150: 60.0,
    200: 70.0,
    500: 100.0,
    1000: 150.0,
}
_MAX_DEMAND = 9


def default_capacity(n: int) -> float:
    """Vehicle capacity of the standard uniform instances with ``n`` customers."""
    sizes = sorted(_CAPACITY)
    if n <= sizes[0]:
        return _CAPACITY[sizes[0]]
    if n >= sizes[-1]:
        return _CAPACITY[sizes[-1]]
    hi = bisect.bisect_left(sizes, n)
    a, b = sizes[hi - 1], sizes[hi]
    return _CAPACITY[a] + (_CAPACITY[b] - _CAPACITY[a]) * (n - a) / (b - a)


def uniform_cvrp(
    num: int, n: int, *, generator: torch.Generator, device: torch.device | str | None = None
) -> dict[str, Tensor]:
    """``num`` standard uniform instances of ``n`` customers.

    Returns:
        ``locs: num x (n+1) x 2`` (depot first), ``demands: num x (n+1)`` (depot 0), ``capacity: num``, all
        float64.
    """
    gen_dev = generator.device
    dev = gen_dev if device is None else torch.device(device)
    locs = torch.rand(num, n + 1, 2, generator=generator, device=gen_dev, dtype=torch.float64)
    demands = torch.randint(1, _MAX_DEMAND + 1, (num, n), generator=generator, device=gen_dev)
    demands = torch.cat([torch.zeros(num, 1, device=gen_dev), demands.to(torch.float64)], dim=1)
    capacity = torch.full((num,), default_capacity(n), dtype=torch.float64, device=gen_dev)
    return {"locs": locs.to(dev), "demands": demands.to(dev), "capacity": capacity.to(dev)}


def arc_costs(distances: Tensor, open_routes: bool) -> Tensor:
    """Arc costs from distances (``... x (n+1) x (n+1)``): arcs into the depot are free for open routes."""
    if not open_routes:
        return distances
    costs = distances.clone()
    costs[..., 1:, 0] = 0.0
    return costs


def _arcs(costs: Tensor, a: Tensor, b: Tensor) -> Tensor:
    """``costs[a, b]`` for index tensors ``a, b`` of shape ``B x k``; ``costs`` is ``N x N`` or ``B x N x N``."""
    if costs.dim() == 2:
        return costs[a, b]
    rows = torch.arange(a.shape[0], device=a.device).unsqueeze(1)
    return costs[rows, a, b]


def split(
    perm: Tensor, costs: Tensor, demands: Tensor, capacity: Tensor | float
) -> tuple[Tensor, Tensor]:
    """Optimal split of giant tours into capacity-feasible routes (Prins 2004), batched.

    Args:
        perm: ``B x n`` customer orders (item ``k`` is node ``k + 1``).
        costs: ``(n+1) x (n+1)`` or ``B x (n+1) x (n+1)`` arc costs (see :func:`arc_costs`).
        demands: ``n+1`` or ``B x (n+1)`` demands, depot first.
        capacity: a number or ``B`` capacities.

    Returns:
        ``(cost: B, starts: B x n bool)``: the least total cost, and which positions of ``perm`` start a route.
    """
    b, n = perm.shape
    nodes = perm.long() + 1
    dem = demands[nodes] if demands.dim() == 1 else demands.gather(1, nodes)
    zero = torch.zeros(b, 1, dtype=costs.dtype, device=perm.device)
    load = torch.cat([zero, dem.to(costs.dtype).cumsum(dim=1)], dim=1)  # B x (n+1)
    inner = _arcs(costs, nodes[:, :-1], nodes[:, 1:])  # B x (n-1)
    along = torch.cat([zero, inner.cumsum(dim=1)], dim=1)  # B x n: arcs walked up to position k
    depot = torch.zeros_like(nodes)
    out_of_depot = _arcs(costs, depot, nodes)
    into_depot = _arcs(costs, nodes, depot)
    cap = torch.as_tensor(capacity, dtype=costs.dtype, device=perm.device).reshape(-1, 1)
    value = torch.full((b, n + 1), float("inf"), dtype=costs.dtype, device=perm.device)
    value[:, 0] = 0.0
    pred = torch.zeros(b, n + 1, dtype=torch.long, device=perm.device)
    for j in range(n):  # value[j + 1]: the best split of the first j + 1 customers
        route = out_of_depot[:, : j + 1] + (along[:, j : j + 1] - along[:, : j + 1])
        total = value[:, : j + 1] + route + into_depot[:, j : j + 1]
        fits = load[:, j + 1 : j + 2] - load[:, : j + 1] <= cap * (1 + 1e-12)
        best, arg = torch.where(fits, total, float("inf")).min(dim=1)
        value[:, j + 1] = best
        pred[:, j + 1] = arg
    starts = torch.zeros(b, n, dtype=torch.bool, device=perm.device)
    cur = torch.full((b,), n, dtype=torch.long, device=perm.device)
    for _ in range(n):
        active = cur > 0
        if not bool(active.any()):
            break
        start = pred.gather(1, cur.unsqueeze(1)).squeeze(1)
        starts |= torch.nn.functional.one_hot(start, n + 1)[:, :n].bool() & active.unsqueeze(1)
        cur = torch.where(active, start, cur)
    return value[:, n], starts


def split_sequences(perm: Tensor, starts: Tensor) -> Tensor:
    """Node sequences of split giant tours: ``B x (2n+1)`` int64, routes separated by depot visits (0), padded
    with zeros (a depot-to-depot arc costs nothing).

    Args:
        perm: ``B x n`` customer orders.
        starts: ``B x n`` bool route starts (from :func:`split`).
    """
    b, n = perm.shape
    where = torch.arange(n, device=perm.device) + starts.long().cumsum(
        dim=1
    )  # B x n output positions
    seq = torch.zeros(b, 2 * n + 1, dtype=torch.long, device=perm.device)
    return seq.scatter(1, where, perm.long() + 1)


def sequence_cost(seq: Tensor, costs: Tensor) -> Tensor:
    """Total arc cost of node sequences ``B x L`` (depot 0 between routes) under ``costs`` (``N x N`` or
    ``B x N x N``); returns ``B``."""
    return _arcs(costs, seq[:, :-1], seq[:, 1:]).sum(dim=1)


class CVRP(Objective):
    """A CVRP instance as an objective over giant tours (see the module docstring).

    Args:
        n: customers of a random standard instance, ``>= 2``.
        seed: seed of the random instance.
        capacity: vehicle capacity (default: :func:`default_capacity` for generated instances).
        vrplib: path of a CVRPLIB/TSPLIB ``CVRP`` file to read instead (EUC_2D distances are rounded).
        locs: ``(n+1) x 2`` coordinates, depot first, with ``demands`` (``n+1``, depot 0), instead.
        demands: see ``locs``.
        open_routes: vehicles do not return to the depot (open CVRP).
        optimum: the known optimal (or best known) cost, if any.

    Attributes:
        distances: ``(n+1) x (n+1)`` float64 arc costs (into the depot 0 when open).
        locs: ``(n+1) x 2`` coordinates; ``demands``: ``n+1``; ``capacity``: a float.
    """

    name = "cvrp"
    default_open = False

    def __init__(
        self,
        n: int = 20,
        *,
        seed: int = 0,
        capacity: float | None = None,
        vrplib: str | Path | None = None,
        locs: Tensor | None = None,
        demands: Tensor | None = None,
        open_routes: bool | None = None,
        optimum: float | None = None,
    ) -> None:
        self.open = self.default_open if open_routes is None else bool(open_routes)
        self.instance_name = f"uniform{n}-seed{seed}"
        if vrplib is not None:
            locs, demands, dist, cap, name = _read_vrp(vrplib)
            self.instance_name = name
            capacity = cap if capacity is None else capacity
        elif locs is None:
            check_int("n", n, 2)
            gen = torch.Generator().manual_seed(check_int("seed", seed, 0))
            inst = uniform_cvrp(1, n, generator=gen)
            locs, demands = inst["locs"][0], inst["demands"][0]
            capacity = float(inst["capacity"][0]) if capacity is None else capacity
            dist = euclidean_distances(locs)
        else:
            dist = None
        self.locs, self.demands = _check_instance(locs, demands)
        if dist is None:
            dist = euclidean_distances(self.locs)
        if capacity is None or not float(capacity) > 0:
            raise ConfigError(f"capacity={capacity!r}; expected a positive number")
        self.capacity = float(capacity)
        too_big = self.demands > self.capacity
        if bool(too_big.any()):
            k = int(too_big.nonzero()[0])
            raise ConfigError(
                f"customer {k} has demand {float(self.demands[k])} > capacity {self.capacity}; "
                "expected every demand to fit one vehicle"
            )
        self.distances = arc_costs(dist, self.open)
        self.optimum = None if optimum is None else float(optimum)
        self.space = Permutation(self.n)

    @property
    def n(self) -> int:
        """Number of customers."""
        return int(self.locs.shape[0]) - 1

    def split(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """:func:`split` of giant tours ``x`` (``B x n``) on this instance: ``(cost: B, starts: B x n)``."""
        dev = x.device
        return split(x, self.distances.to(dev), self.demands.to(dev), self.capacity)

    def sequences(self, x: Tensor) -> Tensor:
        """Depot-separated node sequences (``B x (2n+1)`` int64) of the optimal split of ``x``."""
        _, starts = self.split(x)
        return split_sequences(x, starts)

    def routes(self, x: Tensor) -> list[list[list[int]]]:
        """The routes of each giant tour as lists of customer nodes (``1..n``)."""
        out = []
        for seq in self.sequences(x).tolist():
            routes: list[list[int]] = [[]]
            for node in seq[1:]:
                if node == 0:
                    routes.append([])
                else:
                    routes[-1].append(node)
            out.append([r for r in routes if r])
        return out

    def evaluate(self, x: Tensor) -> Evaluation:
        """Total route cost of the optimal split of each giant tour; ``f: B x 1`` in ``x``'s dtype."""
        cost, _ = self.split(x)
        return Evaluation(
            f=cost.to(x.dtype if x.is_floating_point() else torch.float64).unsqueeze(-1)
        )

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.instance_name}, n={self.n}, capacity={self.capacity:g})"
        )


class OpenCVRP(CVRP):
    """The open CVRP: as :class:`CVRP`, but vehicles end at their last customer."""

    name = "ocvrp"
    default_open = True


def _check_instance(locs: Tensor | None, demands: Tensor | None) -> tuple[Tensor, Tensor]:
    if locs is None or demands is None:
        raise ConfigError("locs= needs demands= (and the reverse); expected both, depot first")
    xy = torch.as_tensor(locs, dtype=torch.float64)
    dem = torch.as_tensor(demands, dtype=torch.float64)
    if xy.dim() != 2 or xy.shape[1] != 2 or xy.shape[0] < 3:
        raise ConfigError(f"locs of shape {tuple(xy.shape)}; expected (n+1, 2) with n >= 2")
    if tuple(dem.shape) != (xy.shape[0],):
        raise ConfigError(f"demands of shape {tuple(dem.shape)}; expected ({xy.shape[0]},)")
    if float(dem[0]) != 0.0 or bool((dem[1:] <= 0).any()):
        raise ConfigError("demands: expected 0 for the depot (first) and > 0 for every customer")
    return xy, dem


def _read_vrp(path: str | Path) -> tuple[Tensor, Tensor, Tensor, float, str]:
    inst = read_tsplib(path)
    if inst.type != "CVRP" or inst.demands is None or inst.capacity is None or inst.depot is None:
        raise ConfigError(f"{path}: TYPE {inst.type}; expected a CVRP file")
    order = [inst.depot] + [i for i in range(inst.dimension) if i != inst.depot]
    idx = torch.tensor(order)
    dist = inst.distances()[idx][:, idx]
    return inst.coords[idx], inst.demands[idx], dist, inst.capacity, inst.name


class CVRPEnv(ConstructiveEnv):
    """Batched route construction for (open) CVRP (see the module docstring).

    Args:
        num_envs: instances built at once.
        n: customers of generated instances (standard uniform setting), ``>= 2``.
        device: where instances and state live.
        open_routes: vehicles do not return (arcs into the depot are free).
        instances: fixed instances instead of generated ones: ``locs`` (``num_envs x (n+1) x 2``), ``demands``
            (``num_envs x (n+1)``), ``capacity`` (``num_envs``), optionally ``distances``.
        autoreset: the core contract's next-step auto-reset, or ended rows stay ended (policy rollouts).

    State: ``instances`` (``locs``, ``demands``, ``capacity``, ``distances`` as arc costs), :attr:`current`
    (``num_envs`` int64, 0 at the depot), :attr:`used` (load of the current route), :attr:`visited`
    (``num_envs x (n+1)`` bool, the depot column always False).
    """

    name = "cvrp-construct"
    state_fields = ("current", "used", "visited")

    def __init__(
        self,
        num_envs: int = 1,
        n: int = 20,
        *,
        device: torch.device | str = "cpu",
        open_routes: bool = False,
        instances: dict[str, Tensor] | None = None,
        autoreset: bool = True,
    ) -> None:
        super().__init__(num_envs, device, autoreset, fixed=instances is not None)
        self.open = bool(open_routes)
        if instances is not None:
            self.instances = self._fixed(instances)
            n = int(self.instances["locs"].shape[1]) - 1
        self.n = check_int("n", n, 2)
        self.n_actions = self.n + 1
        self.observation_space = Box(0.0, 1.0, dim=4 * (self.n + 1) + 1)
        self.action_space = Integer(0, self.n)
        self.reward_dim = 1
        self.current = torch.zeros(self.num_envs, dtype=torch.long, device=self.device)
        self.used = torch.zeros(self.num_envs, dtype=torch.float64, device=self.device)
        self.visited = torch.zeros(self.num_envs, self.n + 1, dtype=torch.bool, device=self.device)

    def _fixed(self, instances: dict[str, Tensor]) -> dict[str, Tensor]:
        out = {
            k: torch.as_tensor(v, dtype=torch.float64, device=self.device)
            for k, v in instances.items()
        }
        missing = {"locs", "demands", "capacity"} - set(out)
        if missing:
            raise ConfigError(
                f"instances lacks {sorted(missing)}; expected locs, demands, capacity"
            )
        b = self.num_envs
        if out["locs"].dim() != 3 or out["locs"].shape[0] != b:
            raise ConfigError(
                f"instances['locs'] of shape {tuple(out['locs'].shape)}; expected ({b}, n+1, 2)"
            )
        if "distances" not in out:
            out["distances"] = euclidean_distances(out["locs"])
        out["distances"] = arc_costs(out["distances"], self.open)
        out["capacity"] = out["capacity"].reshape(b)
        return out

    def sample_instances(self, k: int) -> dict[str, Tensor]:
        inst = uniform_cvrp(k, self.n, generator=self.generator, device=self.device)
        inst["distances"] = arc_costs(euclidean_distances(inst["locs"]), self.open)
        return inst

    def reset_rows(self, rows: Tensor) -> None:
        self.current = torch.where(rows, 0, self.current)
        self.used = torch.where(rows, 0.0, self.used)
        self.visited = self.visited & ~rows.unsqueeze(1)

    def action_mask(self) -> Tensor:
        """``num_envs x (n+1)`` bool: customers not served that fit the vehicle, and the depot unless the
        vehicle is there with customers left (an ended row allows only the depot)."""
        left = self.instances["capacity"] - self.used  # num_envs
        fits = self.instances["demands"] <= left.unsqueeze(1) * (1 + 1e-12)
        customers = fits & ~self.visited
        customers[:, 0] = False
        all_served = self.visited[:, 1:].all(dim=1)
        depot = (self.current != 0) | all_served
        return torch.cat([depot.unsqueeze(1), customers[:, 1:]], dim=1)

    def transition(self, action: Tensor, active: Tensor) -> tuple[Tensor, Tensor]:
        rows = torch.arange(self.num_envs, device=self.device)
        arc = self.instances["distances"][rows, self.current, action]
        reward = torch.where(active, -arc, 0.0)
        demand = self.instances["demands"].gather(1, action.unsqueeze(1)).squeeze(1)
        at_depot = action == 0
        self.used = torch.where(active, torch.where(at_depot, 0.0, self.used + demand), self.used)
        serve = torch.nn.functional.one_hot(action, self.n + 1).bool() & active.unsqueeze(1)
        serve[:, 0] = False
        self.visited = self.visited | serve
        self.current = torch.where(active, action, self.current)
        complete = self.visited[:, 1:].all(dim=1) & (self.current == 0)
        return reward.to(torch.float32).unsqueeze(1), complete

    def observe(self) -> Tensor:
        locs = self.instances["locs"]
        lo = locs.amin(dim=1, keepdim=True)
        span = (locs.amax(dim=1, keepdim=True) - lo).amax(dim=2, keepdim=True).clamp_min(1e-12)
        cap = self.instances["capacity"].unsqueeze(1)
        current = torch.nn.functional.one_hot(self.current, self.n + 1).bool()
        parts = [
            ((locs - lo) / span).flatten(1),
            self.instances["demands"] / cap,
            self.visited,
            current,
            (self.used.unsqueeze(1) / cap),
        ]
        return torch.cat([p.to(torch.float64) for p in parts], dim=1).to(torch.float32)


class OpenCVRPEnv(CVRPEnv):
    """:class:`CVRPEnv` for the open CVRP: arcs into the depot are free (a vehicle ends at its last
    customer)."""

    name = "ocvrp-construct"

    def __init__(
        self,
        num_envs: int = 1,
        n: int = 20,
        *,
        device: torch.device | str = "cpu",
        instances: dict[str, Tensor] | None = None,
        autoreset: bool = True,
    ) -> None:
        super().__init__(
            num_envs, n, device=device, open_routes=True, instances=instances, autoreset=autoreset
        )
