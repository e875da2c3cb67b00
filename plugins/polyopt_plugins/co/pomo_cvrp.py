"""POMO for the CVRP and the open CVRP: the attention model of Kool et al. (2019) for routing with
capacities, trained with REINFORCE and POMO's shared multi-start baseline (Kwon et al. 2020).

The depot and the customers have their own embeddings (the depot's coordinates; a customer's coordinates and
demand divided by the capacity), then the shared Transformer encoder. The decoder's query is the graph
embedding plus a projection of the current node's embedding joined with the remaining capacity (as a
fraction of the capacity); glimpse and pointer are the shared ones (:mod:`._pomo`). Rollouts run in
:class:`polyopt_envs.co.CVRPEnv`, whose masks (a customer once served or once it no longer fits; the depot
not twice in a row while customers are left) are the policy's: each of ``B`` instances is built ``P = n``
times, rollout ``p`` going first to customer ``p + 1``; the return is minus the total route length. The open
variant is the environment's ``open_routes`` flag (arcs into the depot cost nothing, so a vehicle's way back
is free); a policy remembers which variant it was trained on.

At inference (:meth:`CVRPPolicy.solve`) every instance is also decoded in its 8 symmetric copies
(``x <-> y``, ``x -> 1 - x``, ``y -> 1 - y``) from every start, greedily, and the cheapest solution is kept,
costed in float64 on the original coordinates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from polyopt import TrainerResult
from polyopt.errors import ConfigError
from polyopt_envs.co import CVRPEnv, uniform_cvrp
from polyopt_plugins.co._pomo import (
    EVAL_SEED,
    LOADERS_HINT,
    ModelConfig,
    PointerAttention,
    POMOTrainer,
    augment_xy,
    gather_nodes,
    read_checkpoint,
    select_actions,
    write_checkpoint,
)

__all__ = [
    "CVRP_CHECKPOINT_FORMAT",
    "CVRP_CHECKPOINT_VERSION",
    "CVRPAttentionModel",
    "CVRPPolicy",
    "POMOCVRP",
    "cvrp_rollout",
    "load_cvrp_policy",
    "route_costs",
]

CVRP_CHECKPOINT_FORMAT = "polyopt.co.pomo-cvrp"
CVRP_CHECKPOINT_VERSION = 1
_ROWS_X_NODES2 = (
    2**24
)  # at most this many rows x (n+1)^2 float64 distances per solve chunk (128 MiB)


class CVRPAttentionModel(PointerAttention):
    """Encoder-decoder attention policy over the depot and customers (see the module docstring)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        d = cfg.d_model
        self.embed_depot = nn.Linear(2, d)
        self.embed = nn.Linear(3, d)  # x, y, demand / capacity
        self.encoder = self.encoder_stack()
        self.context = nn.Linear(d + 1, d, bias=False)  # current node, remaining capacity
        self.init_heads()

    def encode(self, locs: Tensor, demand: Tensor) -> dict[str, Tensor]:
        """Embeddings and keys of ``B`` instances: ``locs`` ``B x (n+1) x 2`` (depot first), ``demand``
        ``B x (n+1)`` as fractions of the capacity."""
        customers = torch.cat([locs[:, 1:], demand[:, 1:].unsqueeze(2)], dim=2)
        h0 = torch.cat([self.embed_depot(locs[:, :1]), self.embed(customers)], dim=1)
        return self.encode_embeddings(h0)

    def logits(self, enc: dict[str, Tensor], current: Tensor, left: Tensor, mask: Tensor) -> Tensor:
        """Masked pointer logits ``B x P x (n+1)`` (``current``: ``B x P`` nodes; ``left``: ``B x P``
        remaining capacity fractions; ``mask``: ``B x P x (n+1)`` allowed nodes, the depot first)."""
        here = torch.cat([gather_nodes(enc["h"], current), left.unsqueeze(2)], dim=2)
        return self.attend(enc, enc["graph"] + self.context(here), mask)


def route_costs(locs: Tensor, seq: Tensor, open_routes: bool) -> Tensor:
    """Total Euclidean length of node sequences ``seq`` (``R x L``, depot 0 between routes) on ``locs``
    (``R x (n+1) x 2``); arcs into the depot are free when ``open_routes``."""
    pts = locs.gather(1, seq.unsqueeze(2).expand(-1, -1, 2))
    arcs = (pts[:, 1:] - pts[:, :-1]).norm(dim=2)
    if open_routes:
        arcs = torch.where(seq[:, 1:] == 0, 0.0, arcs)
    return arcs.sum(dim=1)


def cvrp_rollout(
    model: CVRPAttentionModel,
    instances: dict[str, Tensor],
    *,
    open_routes: bool,
    greedy: bool,
    generator: torch.Generator | None = None,
    views: Tensor | None = None,
) -> tuple[Tensor, Tensor, Tensor, int]:
    """Build ``P = n`` solutions per instance in :class:`CVRPEnv`, rollout ``p`` first serving customer
    ``p + 1``.

    Args:
        model: the policy.
        instances: ``locs`` (``B x (n+1) x 2``, depot first), ``demands`` (``B x (n+1)``), ``capacity``
            (``B``): what the environment measures.
        open_routes: the open CVRP (arcs into the depot are free).
        greedy: take the most likely node (else sample from ``generator``).
        views: the coordinates the policy sees instead of ``locs`` (an augmented copy).

    Returns:
        ``(sequences: B x P x L, returns: B x P, log_probs: B x P, env_steps)``: node sequences starting
        and ending at the depot (padded with depot visits, which cost nothing), returns minus their length.
    """
    locs = instances["locs"]
    b, n1, _ = locs.shape
    n = p = n1 - 1
    dev, dtype = locs.device, next(model.parameters()).dtype
    cap = instances["capacity"].reshape(b, 1)
    env = CVRPEnv(
        b * p,
        device=dev,
        open_routes=open_routes,
        instances={k: v.repeat_interleave(p, 0) for k, v in instances.items()},
        autoreset=False,
    )
    env.reset()
    seen = locs if views is None else views
    enc = model.encode(seen.to(dtype), (instances["demands"] / cap).to(dtype))
    capacity = env.instances["capacity"]
    start = torch.arange(1, n + 1, device=dev).repeat(b)  # B*P: customer p + 1 first
    returns = env.step(start).reward[:, 0]
    log_prob = torch.zeros(b * p, device=dev, dtype=dtype)
    actions = [torch.zeros_like(start), start]
    steps = b * p
    for _ in range(2 * n):  # n customers and at most n returns to the depot in all
        active = ~env.done
        if not bool(active.any()):
            break
        mask = env.action_mask().view(b, p, n1)
        left = ((capacity - env.used) / capacity).to(dtype).view(b, p)
        logp = model.logits(enc, env.current.view(b, p), left, mask).log_softmax(dim=-1)
        action, chosen = select_actions(logp.view(b * p, n1), greedy, generator)
        action = torch.where(active, action, 0)
        log_prob = log_prob + torch.where(active, chosen, 0.0)
        returns = returns + env.step(action).reward[:, 0]
        actions.append(action)
        steps += int(active.sum())
    seq = torch.stack(actions, dim=1).view(b, p, -1)
    return seq, returns.view(b, p).to(dtype), log_prob.view(b, p), steps


def _check_instances(locs: Tensor, demands: Tensor, capacity: Tensor | float) -> dict[str, Tensor]:
    xy = torch.as_tensor(locs, dtype=torch.float64)
    if xy.dim() != 3 or xy.shape[2] != 2 or xy.shape[1] < 3:
        raise ConfigError(f"locs of shape {tuple(xy.shape)}; expected (B, n+1, 2), depot first")
    b, n1 = xy.shape[:2]
    dem = torch.as_tensor(demands, dtype=torch.float64, device=xy.device)
    if tuple(dem.shape) != (b, n1):
        raise ConfigError(f"demands of shape {tuple(dem.shape)}; expected ({b}, {n1})")
    cap = torch.as_tensor(capacity, dtype=torch.float64, device=xy.device).reshape(-1)
    cap = cap.expand(b) if cap.numel() == 1 else cap
    if tuple(cap.shape) != (b,):
        raise ConfigError(f"capacity of shape {tuple(cap.shape)}; expected a number or ({b},)")
    if bool((dem[:, 1:] > cap.unsqueeze(1)).any()) or bool((dem[:, 1:] <= 0).any()):
        raise ConfigError("demands: expected every customer's in (0, capacity]")
    return {"locs": xy, "demands": dem, "capacity": cap.contiguous()}


class CVRPPolicy(nn.Module):
    """A trained POMO CVRP policy: :meth:`solve` instances, :meth:`save` a versioned checkpoint.

    Args:
        model: the attention model.
        open_routes: the variant it was trained on (the open CVRP when True).
    """

    def __init__(self, model: CVRPAttentionModel, open_routes: bool = False) -> None:
        super().__init__()
        self.model = model
        self.open_routes = bool(open_routes)

    @torch.no_grad()
    def solve(
        self, locs: Tensor, demands: Tensor, capacity: Tensor | float, *, augment: bool = True
    ) -> tuple[Tensor, Tensor]:
        """Greedy multi-start decoding (and the 8 symmetric copies with ``augment``) of unit-square
        instances.

        Args:
            locs: ``B x (n+1) x 2`` coordinates in the unit square, the depot first.
            demands: ``B x (n+1)`` demands (the depot's 0).
            capacity: the vehicle capacity, a number or ``B``.

        Returns:
            ``(sequences: B x (2n+1), costs: B)``: the cheapest solution found per instance as a node
            sequence from the depot, routes separated by depot visits (0) and padded with 0, and its float64
            length (free arcs into the depot when open).
        """
        self.model.eval()
        dev = next(self.model.parameters()).device
        inst = {k: v.to(dev) for k, v in _check_instances(locs, demands, capacity).items()}
        b, n1 = inst["demands"].shape
        n = n1 - 1
        k = 8 if augment else 1
        chunk = max(1, _ROWS_X_NODES2 // (k * n * n1 * n1))
        seqs, costs = [], []
        for lo in range(0, b, chunk):
            part = {key: v[lo : lo + chunk] for key, v in inst.items()}
            c = part["locs"].shape[0]
            views = augment_xy(part["locs"]) if augment else part["locs"]
            rep = {key: torch.cat([v] * k) for key, v in part.items()}
            seq, _, _, _ = cvrp_rollout(
                self.model, rep, open_routes=self.open_routes, greedy=True, views=views
            )
            seq = seq.view(k, c, n, -1).transpose(0, 1).reshape(c, k * n, -1)
            cost = route_costs(
                part["locs"].repeat_interleave(k * n, 0),
                seq.reshape(c * k * n, -1),
                self.open_routes,
            ).view(c, k * n)
            best, arg = cost.min(dim=1)
            pick = seq[torch.arange(c), arg]
            seqs.append(torch.nn.functional.pad(pick, (0, 2 * n + 1 - pick.shape[1])))
            costs.append(best)
        return torch.cat(seqs), torch.cat(costs)

    def save(self, path: str | Path) -> None:
        """Write a checkpoint: format, version, model config, the variant and weights."""
        write_checkpoint(
            path,
            CVRP_CHECKPOINT_FORMAT,
            CVRP_CHECKPOINT_VERSION,
            self.model,
            open_routes=self.open_routes,
        )


def load_cvrp_policy(path: str | Path, *, device: torch.device | str = "cpu") -> CVRPPolicy:
    """Load a :meth:`CVRPPolicy.save` checkpoint.

    Raises:
        ConfigError: not a POMO CVRP checkpoint, or one of another version.
    """
    data = read_checkpoint(
        path, CVRP_CHECKPOINT_FORMAT, CVRP_CHECKPOINT_VERSION, device, LOADERS_HINT
    )
    model = CVRPAttentionModel(ModelConfig(**data["model"]))
    model.load_state_dict(data["state_dict"])
    return CVRPPolicy(model.to(device), open_routes=bool(data["open_routes"]))


class POMOCVRP(POMOTrainer):
    """POMO on a random-uniform :class:`~polyopt_envs.co.CVRPEnv` or
    :class:`~polyopt_envs.co.OpenCVRPEnv` (its ``n`` and ``open`` set the training size and variant)."""

    train_metric = "train_cost"
    train_sign = -1.0

    problem: CVRPEnv
    model: CVRPAttentionModel

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super().compatibility(problem)
        if reason is None and not (isinstance(problem, CVRPEnv) and not problem.fixed):
            return (
                "it trains on a CVRPEnv or OpenCVRPEnv of random uniform instances "
                "(polyopt_envs.co.CVRPEnv; pomo trains TSP, pomo-knapsack the knapsack)"
            )
        return reason

    def build_model(self, cfg: ModelConfig) -> CVRPAttentionModel:
        return CVRPAttentionModel(cfg)

    def train_rollout(self) -> tuple[Tensor, Tensor, int]:
        inst = uniform_cvrp(self.config.batch_size, self.problem.n, generator=self.generator)
        inst = {k: v.to(self.device) for k, v in inst.items()}
        _, returns, log_prob, steps = cvrp_rollout(
            self.model,
            inst,
            open_routes=self.problem.open,
            greedy=False,
            generator=self.generator,
        )
        return returns, log_prob, steps

    def evaluation(self) -> dict[str, float]:
        """Mean cost on the fixed evaluation instances: greedy from all starts, and with x8
        augmentation."""
        gen = torch.Generator(device=self.device).manual_seed(EVAL_SEED)
        inst = uniform_cvrp(self.config.eval_instances, self.problem.n, generator=gen)
        policy = CVRPPolicy(self.model, self.problem.open)
        args = (inst["locs"], inst["demands"], inst["capacity"])
        _, plain = policy.solve(*args, augment=False)
        _, aug = policy.solve(*args, augment=True)
        return {"eval_cost": float(plain.mean()), "eval_cost_aug": float(aug.mean())}

    def result(self) -> TrainerResult:
        """The policy and minus its x8-augmented mean cost on the evaluation instances (``1 x 1``)."""
        metrics = self.evaluation()
        policy = CVRPPolicy(self.model, self.problem.open)
        return self.finish(policy, -metrics["eval_cost_aug"], "-length", metrics)
