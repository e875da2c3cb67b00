"""Solutions constructed per second: polyopt's POMO and ant colony vs RL4CO 0.7's on the same machine.

Both libraries get the same seeded random uniform instances (TSP``--n``; CVRP``--n`` with
``polyopt_envs.co.CVRP``'s demands and capacity, which RL4CO receives divided by the capacity, as its env
expects), the same batch sizes, the same torch intra-op threads (``--threads``) and run interleaved, each
measurement repeated ``--repeats`` times after one excluded warm-up; the median wall time is reported.

- **POMO** (untrained weights: throughput does not depend on them). polyopt: ``POMOPolicy`` /
  ``CVRPPolicy.solve`` with an attention model of d=128, 8 heads, ff 512 and ``--layers`` encoder layers
  (default 6, RL4CO's POMO default); greedy from every start (n starts), plain and with the x8 dihedral
  augmentation, best tour per instance. RL4CO: ``POMO(env).policy`` (its AttentionModelPolicy with POMO's
  defaults: 6 layers, instance norm, no graph context; ``--layers`` is passed to it), ``multistart_greedy``
  with ``num_starts = n`` on its own env, ``StateAugmentation(8, dihedral8)`` for x8, best per instance as
  ``POMO.shared_step`` takes it. Solutions counted: instances x n starts (x8).
- **Ant colony** (TSP): polyopt's ``AntColony`` (the construction and trail update of ``ant-system`` /
  ``mmas``; Ant System variant) vs RL4CO's ``AntSystem`` (``rl4co.models.zoo.deepaco.antsystem``, the
  non-neural ACO under DeepACO) with the plain heuristic ``log(1 / d)``, alpha 1, beta 3 on both, every
  ant starting at a random city (RL4CO: DeepACO's multistart sampling). Two numbers each: construction only
  (polyopt ``construct``; RL4CO ``_sampling``, which also computes the tours' rewards) and a full iteration
  (construction, lengths, best-so-far and pheromone update: polyopt ``construct`` + ``tour_length`` +
  ``update``; RL4CO ``_one_step``). Solutions counted: instances x ants.

RL4CO 0.7.0 is not in the ``baselines`` extra: it was installed here package by package without pip's
resolver (torchrl 0.14.1 needs tensordict < 0.15, and rl4co imports hydra and lightning), so an install
through an extra is untested. What ran::

    pip install --no-deps rl4co==0.7.0 torchrl==0.14.1 tensordict==0.14.3 lightning pytorch-lightning \
        lightning-utilities torchmetrics hydra-core omegaconf antlr4-python3-runtime==4.9.3 pyrootutils \
        einops pyvers hoptorch robust-downloader

Usage::

    python benchmarks/co_throughput_vs_rl4co.py                  # TSP50 and CVRP50, 1 thread
    python benchmarks/co_throughput_vs_rl4co.py --quick          # a smoke run (seconds)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from co_vs_anchors import machine


def _time(fns: dict[str, Callable[[], Any]], repeats: int) -> dict[str, float]:
    """Median seconds of each callable; one warm-up each; the repeats interleave the callables."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - start)
    return {k: statistics.median(v) for k, v in times.items()}


def _report(title: str, counts: dict[str, int], secs: dict[str, float], pairs: list[tuple]) -> None:
    print(f"\n{title}")
    rates = {k: counts[k] / secs[k] for k in secs}
    for k in secs:
        print(f"  {k:<34} {secs[k] * 1e3:9.1f} ms  {rates[k]:12,.0f} solutions/s")
    for a, b in pairs:
        print(f"  ratio {a} / {b}: {rates[a] / rates[b]:.2f}x")


def _rl4co_pomo(env: Any, layers: int) -> Any:
    from rl4co.models import POMO

    torch.manual_seed(0)
    return POMO(env, policy_kwargs={"num_encoder_layers": layers}).policy.eval()


def _rl4co_decode(policy: Any, env: Any, td0: Any, augment: bool) -> torch.Tensor:
    from rl4co.data.transforms import StateAugmentation
    from rl4co.utils.ops import unbatchify

    td = env.reset(td0.clone())
    n_start = env.get_num_starts(td)
    n_aug = 8 if augment else 1
    if augment:
        td = StateAugmentation(num_augment=8, augment_fn="dihedral8")(td)
    out = policy(td, env, phase="test", decode_type="multistart_greedy", num_starts=n_start)
    reward = unbatchify(out["reward"], (n_aug, n_start) if augment else n_start)
    best = reward.max(dim=-1).values
    return best.max(dim=-1).values if augment else best


def part_tsp_pomo(args: argparse.Namespace) -> None:
    from rl4co.envs import TSPEnv
    from tensordict import TensorDict

    from polyopt_envs.co import uniform_tsp
    from polyopt_plugins.co._pomo import ModelConfig
    from polyopt_plugins.co.pomo import AttentionModel, POMOPolicy

    b, n = args.batch, args.n
    locs = uniform_tsp(b, n, generator=torch.Generator().manual_seed(args.seed))
    torch.manual_seed(0)
    ours = POMOPolicy(AttentionModel(ModelConfig(n_layer=args.layers)))
    env = TSPEnv(generator_params={"num_loc": n})
    theirs = _rl4co_pomo(env, args.layers)
    td0 = TensorDict({"locs": locs.float()}, batch_size=[b])
    fns: dict[str, Callable[[], Any]] = {}
    counts: dict[str, int] = {}
    for aug in (False, True):
        tag = "x8" if aug else "greedy"
        fns[f"polyopt POMO {tag}"] = partial(ours.solve, locs, augment=aug)
        fns[f"RL4CO POMO {tag}"] = partial(_rl4co_decode, theirs, env, td0, aug)
        counts[f"polyopt POMO {tag}"] = counts[f"RL4CO POMO {tag}"] = b * n * (8 if aug else 1)
    with torch.inference_mode():
        secs = _time(fns, args.repeats)
    n_ours = sum(p.numel() for p in ours.parameters())
    n_theirs = sum(p.numel() for p in theirs.parameters())
    _report(
        f"## TSP{n} POMO, {b} instances, {args.layers} encoder layers (parameters: polyopt "
        f"{n_ours:,}, RL4CO {n_theirs:,})",
        counts,
        secs,
        [("polyopt POMO greedy", "RL4CO POMO greedy"), ("polyopt POMO x8", "RL4CO POMO x8")],
    )


def part_cvrp_pomo(args: argparse.Namespace) -> None:
    from rl4co.envs import CVRPEnv
    from tensordict import TensorDict

    from polyopt_envs.co import CVRP
    from polyopt_plugins.co._pomo import ModelConfig
    from polyopt_plugins.co.pomo_cvrp import CVRPAttentionModel, CVRPPolicy

    b, n = args.batch, args.n
    problems = [CVRP(n=n, seed=args.seed + s) for s in range(b)]
    locs = torch.stack([p.locs for p in problems]).float()
    demands = torch.stack([p.demands for p in problems]).float()
    capacity = torch.tensor([p.capacity for p in problems]).float()
    torch.manual_seed(0)
    ours = CVRPPolicy(CVRPAttentionModel(ModelConfig(n_layer=args.layers)))
    env = CVRPEnv(generator_params={"num_loc": n})
    theirs = _rl4co_pomo(env, args.layers)
    td0 = TensorDict(
        {
            "depot": locs[:, 0],
            "locs": locs[:, 1:],
            "demand": demands[:, 1:] / capacity[:, None],
            "capacity": torch.ones(b, 1),
        },
        batch_size=[b],
    )
    fns: dict[str, Callable[[], Any]] = {}
    counts: dict[str, int] = {}
    for aug in (False, True):
        tag = "x8" if aug else "greedy"
        fns[f"polyopt POMO {tag}"] = partial(ours.solve, locs, demands, capacity, augment=aug)
        fns[f"RL4CO POMO {tag}"] = partial(_rl4co_decode, theirs, env, td0, aug)
        counts[f"polyopt POMO {tag}"] = counts[f"RL4CO POMO {tag}"] = b * n * (8 if aug else 1)
    with torch.inference_mode():
        secs = _time(fns, args.repeats)
    _report(
        f"## CVRP{n} POMO, {b} instances (capacity {problems[0].capacity:g}), {args.layers} layers",
        counts,
        secs,
        [("polyopt POMO greedy", "RL4CO POMO greedy"), ("polyopt POMO x8", "RL4CO POMO x8")],
    )


def part_tsp_aco(args: argparse.Namespace) -> None:
    from rl4co.envs import TSPEnv
    from rl4co.models.zoo.deepaco.antsystem import AntSystem as RL4COAntSystem
    from tensordict import TensorDict

    from polyopt_envs.co import euclidean_distances, tour_length, uniform_tsp
    from polyopt_plugins.co.aco import AntColony

    b, n, ants = args.aco_batch, args.n, args.ants
    locs = uniform_tsp(b, n, generator=torch.Generator().manual_seed(args.seed))
    dist = euclidean_distances(locs.float())
    gen = torch.Generator().manual_seed(args.seed)
    colony = AntColony(dist, variant="as", alpha=1.0, beta=3.0, rho=0.5)
    flat_dist = dist.repeat_interleave(ants, 0)

    def ours_iteration() -> None:
        tours = colony.construct(ants, gen)
        lengths = tour_length(tours.view(b * ants, n), flat_dist).view(b, ants)
        colony.update(tours, lengths)

    env = TSPEnv(generator_params={"num_loc": n})
    td0 = env.reset(TensorDict({"locs": locs.float()}, batch_size=[b]))
    eye = torch.eye(n, dtype=torch.bool)
    log_h = torch.where(eye, -1e9, -dist.clamp_min(1e-10).log())  # log(1/d); no self-loops
    theirs = RL4COAntSystem(log_h, n_ants=ants, alpha=1.0, beta=3.0, decay=0.5)

    def start_nodes(td: Any, env: Any, num_starts: int) -> torch.Tensor:  # DeepACO's random starts
        return torch.multinomial(td["action_mask"].float(), num_starts, replacement=True).view(-1)

    kw = {"select_best": False, "multistart": True, "select_start_nodes_fn": start_nodes}
    kw["num_starts"] = ants
    fns: dict[str, Callable[[], Any]] = {
        "polyopt construct": lambda: colony.construct(ants, gen),
        "RL4CO construct": lambda: theirs._sampling(td0.clone(), env, kw),
        "polyopt iteration": ours_iteration,
        "RL4CO iteration": lambda: theirs._one_step(td0.clone(), env, kw),
    }
    with torch.inference_mode():
        secs = _time(fns, args.repeats)
    _report(
        f"## TSP{n} ant colony (Ant System), {b} instances x {ants} ants",
        dict.fromkeys(fns, b * ants),
        secs,
        [("polyopt construct", "RL4CO construct"), ("polyopt iteration", "RL4CO iteration")],
    )


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=50, help="cities (TSP) / customers (CVRP)")
    ap.add_argument("--batch", type=int, default=32, help="instances per POMO batch")
    ap.add_argument("--aco-batch", type=int, default=32, help="instances per ant-colony batch")
    ap.add_argument("--ants", type=int, default=48, help="ants per instance (RL4CO's test default)")
    ap.add_argument("--layers", type=int, default=6, help="encoder layers of both POMO models")
    ap.add_argument("--threads", type=int, default=1, help="torch intra-op threads for both")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--parts", nargs="+", default=["tsp-pomo", "cvrp-pomo", "tsp-aco"])
    ap.add_argument("--quick", action="store_true", help="tiny sizes, one repeat (a smoke run)")
    args = ap.parse_args(argv)
    if args.quick:
        args.n, args.batch, args.aco_batch, args.ants, args.repeats = 10, 4, 4, 8, 1
    parts = {"tsp-pomo": part_tsp_pomo, "cvrp-pomo": part_cvrp_pomo, "tsp-aco": part_tsp_aco}
    bad = [p for p in args.parts if p not in parts]
    if bad:
        sys.exit(f"unknown --parts {bad}; expected some of {sorted(parts)}")
    torch.set_num_threads(args.threads)
    import rl4co

    print(f"# {machine()}; rl4co {rl4co.__version__}")
    for p in args.parts:
        parts[p](args)


if __name__ == "__main__":
    main()
