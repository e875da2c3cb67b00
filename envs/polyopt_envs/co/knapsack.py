"""0/1 knapsack and multi-objective knapsack, with exact dynamic-programming references.

As an :class:`~polyopt.Objective` a point is a :class:`~polyopt.Binary` row (item ``i`` packed or not);
``f`` is the packed value (maximized; one column per value vector for :class:`MOKnapsack`) and the one
constraint ``g = weight - capacity`` must be ``<= 0``. Weights are integers, so the dynamic programs are exact:
:func:`knapsack_dp` (batched over instances, ``O(n C)``) gives :attr:`Knapsack.optimum`, and
:func:`pareto_knapsack` (Nemhauser-Ullmann: every non-dominated (weight, values) state, item by item) gives
:meth:`MOKnapsack.pareto_front`.

As an :class:`~polyopt.Environment`, :class:`KnapsackEnv` packs one item a step (masked once packed or when it
no longer fits) until the policy takes the stop action ``n`` or nothing else fits; the reward is the packed
item's value vector.

Random instances: integer weights and values uniform in ``1..max_value`` (uncorrelated, Pisinger's class 1),
capacity ``ratio`` times the total weight (rounded down).
"""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt import Binary, Box, Evaluation, Integer, Objective
from polyopt.errors import ConfigError
from polyopt.objective import Direction
from polyopt.pareto import non_dominated_mask
from polyopt_envs._common import check_int
from polyopt_envs.co._construct import ConstructiveEnv

__all__ = [
    "Knapsack",
    "KnapsackEnv",
    "MOKnapsack",
    "knapsack_dp",
    "pareto_knapsack",
    "uniform_knapsack",
]


def uniform_knapsack(
    num: int,
    n: int,
    *,
    generator: torch.Generator,
    n_values: int = 1,
    max_value: int = 100,
    ratio: float = 0.5,
    device: torch.device | str | None = None,
) -> dict[str, Tensor]:
    """``num`` uncorrelated instances of ``n`` items.

    Returns:
        ``weights: num x n``, ``values: num x n_values x n``, ``capacity: num`` (float64, integer-valued).
    """
    if not 0.0 < ratio < 1.0:
        raise ConfigError(f"ratio={ratio!r}; expected a fraction of the total weight in (0, 1)")
    gen_dev = generator.device
    dev = gen_dev if device is None else torch.device(device)
    weights = torch.randint(1, max_value + 1, (num, n), generator=generator, device=gen_dev)
    values = torch.randint(
        1, max_value + 1, (num, n_values, n), generator=generator, device=gen_dev
    )
    capacity = torch.floor(weights.sum(dim=1).to(torch.float64) * ratio)
    return {
        "weights": weights.to(dev, torch.float64),
        "values": values.to(dev, torch.float64),
        "capacity": capacity.to(dev),
    }


def knapsack_dp(weights: Tensor, values: Tensor, capacity: Tensor) -> tuple[Tensor, Tensor]:
    """Exact 0/1 knapsack by dynamic programming over capacities, batched over instances.

    Args:
        weights: ``B x n`` non-negative integer-valued weights.
        values: ``B x n`` values.
        capacity: ``B`` non-negative integer-valued capacities.

    Returns:
        ``(best: B values, x: B x n float 0/1 packings achieving them)``.
    """
    b, n = weights.shape
    w = weights.round().long()
    cap = capacity.round().long()
    if bool((w < 0).any()) or bool((cap < 0).any()):
        raise ConfigError("knapsack_dp: expected non-negative integer weights and capacities")
    top = int(cap.max())
    dev = weights.device
    c = torch.arange(top + 1, device=dev)  # capacities 0..C
    table = torch.zeros(b, top + 1, dtype=values.dtype, device=dev)
    take = torch.zeros(b, n, top + 1, dtype=torch.bool, device=dev)
    for i in range(n):
        wi = w[:, i : i + 1]  # B x 1
        prev = c.unsqueeze(0) - wi  # B x (C+1): capacity left before packing item i
        with_item = table.gather(1, prev.clamp_min(0)) + values[:, i : i + 1]
        better = (prev >= 0) & (with_item > table)
        take[:, i] = better
        table = torch.where(better, with_item, table)
    rows = torch.arange(b, device=dev)
    left = cap.clone()
    x = torch.zeros(b, n, dtype=values.dtype, device=dev)
    for i in range(n - 1, -1, -1):
        packed = take[rows, i, left]
        x[:, i] = packed.to(values.dtype)
        left = left - torch.where(packed, w[:, i], 0)
    return table[rows, cap], x


def pareto_knapsack(weights: Tensor, values: Tensor, capacity: float) -> Tensor:
    """Exact Pareto front of a multi-objective knapsack with one capacity (Nemhauser-Ullmann).

    Keeps every state (weight, value vector) not dominated by a lighter-or-equal, better-or-equal one, item by
    item; the front is the states' non-dominated value vectors. Exact; exponential in the worst case, fine for
    a few dozen items.

    Args:
        weights: ``n`` weights.
        values: ``m x n`` values (maximized).
        capacity: the capacity.

    Returns:
        ``k x m`` float64 non-dominated value vectors, sorted by the first.
    """
    m, n = values.shape
    states = torch.zeros(1, 1 + m, dtype=torch.float64)  # columns: weight, values
    for i in range(n):
        item = torch.cat([weights[i : i + 1], values[:, i]]).to(torch.float64)
        grown = states + item
        grown = grown[grown[:, 0] <= capacity]
        merged = torch.unique(torch.cat([states, grown]), dim=0)
        # minimize weight, maximize values
        keep = non_dominated_mask(torch.cat([merged[:, :1], -merged[:, 1:]], dim=1))
        states = merged[keep]
    front = torch.unique(states[:, 1:], dim=0)
    front = front[non_dominated_mask(-front)]
    return front[front[:, 0].argsort()]


class Knapsack(Objective):
    """0/1 knapsack: maximize packed value subject to the capacity (one constraint).

    Args:
        n: items of a random instance, ``>= 1``.
        seed: seed of the random instance.
        weights: ``n`` integer weights, with ``values`` and ``capacity``, instead of a random instance.
        values: ``n`` values.
        capacity: the capacity (default for random instances: half the total weight).
        max_value: largest weight and value of random instances.

    Attributes:
        weights: ``n`` float64; values: ``n_values x n`` float64; capacity: a float; optimum: the DP optimum.
    """

    name = "knapsack"
    n_constraints = 1
    n_values = 1

    def __init__(
        self,
        n: int = 50,
        *,
        seed: int = 0,
        weights: Tensor | None = None,
        values: Tensor | None = None,
        capacity: float | None = None,
        max_value: int = 100,
    ) -> None:
        self.instance_name = f"uniform{n}-seed{seed}"
        if weights is None and values is None:
            check_int("n", n, 1)
            gen = torch.Generator().manual_seed(check_int("seed", seed, 0))
            inst = uniform_knapsack(
                1,
                n,
                generator=gen,
                n_values=self.n_values,
                max_value=check_int("max_value", max_value, 1),
            )
            weights, values = inst["weights"][0], inst["values"][0]
            capacity = float(inst["capacity"][0]) if capacity is None else capacity
        self.weights, self.values = self._check(weights, values)
        if capacity is None or not float(capacity) >= 0:
            raise ConfigError(f"capacity={capacity!r}; expected a non-negative number")
        self.capacity = float(capacity)
        self.space = Binary(self.n)
        self.n_objectives = self.n_values
        maximize: Direction = "maximize"
        self.directions = (maximize,) * self.n_values
        self._optimum: float | None = None

    def _check(self, weights: Tensor | None, values: Tensor | None) -> tuple[Tensor, Tensor]:
        if weights is None or values is None:
            raise ConfigError("weights= needs values= (and the reverse); expected both")
        w = torch.as_tensor(weights, dtype=torch.float64).flatten()
        v = torch.as_tensor(values, dtype=torch.float64).reshape(self.n_values, -1)
        if v.shape[1] != w.numel() or w.numel() < 1:
            raise ConfigError(
                f"weights has {w.numel()} items and values shape {tuple(v.shape)}; expected "
                f"({self.n_values}, {w.numel()}) values for at least one item"
            )
        if not torch.equal(w, w.round()) or bool((w < 0).any()):
            raise ConfigError("weights: expected non-negative integers (the DP reference is exact)")
        return w, v

    @property
    def n(self) -> int:
        """Number of items."""
        return int(self.weights.numel())

    @property
    def optimum(self) -> float | None:  # type: ignore[override]  # computed on first use
        """The optimal packed value (exact DP); None for several value vectors."""
        if self.n_values != 1:
            return None
        if self._optimum is None:
            best, _ = knapsack_dp(
                self.weights.unsqueeze(0), self.values, torch.tensor([self.capacity])
            )
            self._optimum = float(best[0])
        return self._optimum

    def evaluate(self, x: Tensor) -> Evaluation:
        """``f: B x n_values`` packed values, ``g: B x 1`` weight minus capacity, in ``x``'s dtype."""
        dtype = x.dtype if x.is_floating_point() else torch.float64
        bits = x.to(torch.float64)
        f = bits @ self.values.to(x.device).T
        g = bits @ self.weights.to(x.device) - self.capacity
        return Evaluation(f=f.to(dtype), g=g.to(dtype).unsqueeze(-1))

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}({self.instance_name}, n={self.n}, capacity={self.capacity:g})"
        )


class MOKnapsack(Knapsack):
    """Multi-objective 0/1 knapsack: ``n_obj`` value vectors maximized, one capacity.

    Args:
        n: items of a random instance (the exact front is computed on first use: keep ``n`` to a few dozen).
        n_obj: value vectors (objectives), ``>= 2``.
        seed: as for :class:`Knapsack`.
        weights: as for :class:`Knapsack`.
        values: ``n_obj x n``, as for :class:`Knapsack`.
        capacity: as for :class:`Knapsack`.
        max_value: as for :class:`Knapsack`.
    """

    name = "mo-knapsack"

    def __init__(
        self,
        n: int = 20,
        *,
        n_obj: int = 2,
        seed: int = 0,
        weights: Tensor | None = None,
        values: Tensor | None = None,
        capacity: float | None = None,
        max_value: int = 100,
    ) -> None:
        self.n_values = check_int("n_obj", n_obj, 2)
        super().__init__(
            n, seed=seed, weights=weights, values=values, capacity=capacity, max_value=max_value
        )
        self.ref_point = (0.0,) * self.n_values
        self._front: Tensor | None = None

    def pareto_front(self, n: int = 0) -> Tensor:
        """The exact Pareto front (all of it, ``k x n_obj``, maximized values; ``n`` is ignored)."""
        if self._front is None:
            self._front = pareto_knapsack(self.weights, self.values, self.capacity)
        return self._front


class KnapsackEnv(ConstructiveEnv):
    """Batched item-by-item packing (see the module docstring).

    Args:
        num_envs: instances packed at once.
        n: items of generated instances.
        n_obj: value vectors (the reward's dimension).
        device: where instances and state live.
        instances: fixed ``weights`` (``num_envs x n``), ``values`` (``num_envs x n_obj x n``), ``capacity``.
        autoreset: the core contract's next-step auto-reset, or ended rows stay ended (policy rollouts).

    State: ``instances``, :attr:`packed` (``num_envs x n`` bool), :attr:`load` (``num_envs``).
    """

    name = "knapsack-construct"
    state_fields = ("packed", "load")

    def __init__(
        self,
        num_envs: int = 1,
        n: int = 50,
        *,
        n_obj: int = 1,
        device: torch.device | str = "cpu",
        instances: dict[str, Tensor] | None = None,
        autoreset: bool = True,
    ) -> None:
        super().__init__(num_envs, device, autoreset, fixed=instances is not None)
        if instances is not None:
            self.instances = {
                k: torch.as_tensor(v, dtype=torch.float64, device=self.device)
                for k, v in instances.items()
            }
            n = int(self.instances["weights"].shape[1])
            n_obj = int(self.instances["values"].shape[1])
        self.n = check_int("n", n, 1)
        self.n_obj = check_int("n_obj", n_obj, 1)
        self.n_actions = self.n + 1
        self.observation_space = Box(0.0, 1.0, dim=(2 + self.n_obj) * self.n + 1)
        self.action_space = Integer(0, self.n)
        self.reward_dim = self.n_obj
        self.reward_directions = ("maximize",) * self.n_obj
        self.packed = torch.zeros(self.num_envs, self.n, dtype=torch.bool, device=self.device)
        self.load = torch.zeros(self.num_envs, dtype=torch.float64, device=self.device)

    def sample_instances(self, k: int) -> dict[str, Tensor]:
        return uniform_knapsack(
            k, self.n, generator=self.generator, n_values=self.n_obj, device=self.device
        )

    def reset_rows(self, rows: Tensor) -> None:
        self.packed = self.packed & ~rows.unsqueeze(1)
        self.load = torch.where(rows, 0.0, self.load)

    def _fits(self) -> Tensor:
        left = (self.instances["capacity"] - self.load).unsqueeze(1)
        return ~self.packed & (self.instances["weights"] <= left)

    def action_mask(self) -> Tensor:
        """``num_envs x (n+1)`` bool: items not packed that fit, and the stop action ``n`` (always)."""
        stop = torch.ones(self.num_envs, 1, dtype=torch.bool, device=self.device)
        return torch.cat([self._fits(), stop], dim=1)

    def transition(self, action: Tensor, active: Tensor) -> tuple[Tensor, Tensor]:
        stop = action == self.n
        item = action.clamp_max(self.n - 1)
        pack = active & ~stop
        value = self.instances["values"].gather(2, item.view(-1, 1, 1).expand(-1, self.n_obj, 1))
        reward = torch.where(pack.unsqueeze(1), value.squeeze(2), 0.0)
        weight = self.instances["weights"].gather(1, item.unsqueeze(1)).squeeze(1)
        self.load = torch.where(pack, self.load + weight, self.load)
        self.packed = self.packed | (
            torch.nn.functional.one_hot(item, self.n).bool() & pack.unsqueeze(1)
        )
        complete = stop | ~self._fits().any(dim=1)
        return reward.to(torch.float32), complete

    def observe(self) -> Tensor:
        scale = self.instances["weights"].amax(dim=1, keepdim=True).clamp_min(1e-12)
        vscale = self.instances["values"].amax(dim=2, keepdim=True).clamp_min(1e-12)
        cap = self.instances["capacity"].clamp_min(1e-12)
        parts = [
            self.instances["weights"] / scale,
            (self.instances["values"] / vscale).flatten(1),
            self.packed.to(torch.float64),
            ((cap - self.load) / cap).unsqueeze(1),
        ]
        return torch.cat(parts, dim=1).clamp(0.0, 1.0).to(torch.float32)
