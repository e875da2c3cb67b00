"""POMO on CVRP and the 0/1 knapsack, the CPU toy recipe: train for minutes, save and reload the checkpoint,
then measure the gap to PyVRP (CVRP) and to the exact dynamic program (knapsack), and solutions per second.

- **cvrp**: ``pomo-cvrp`` trains on random uniform CVRP``--cvrp-train-n`` for ``--cvrp-minutes``; the
  reloaded policy then solves ``--instances`` seeded instances ``polyopt_envs.co.CVRP(n, seed=s)`` of each
  size in ``--cvrp-eval-n`` greedily from every start, plain and with x8 augmentation; PyVRP gets
  ``--pyvrp-seconds`` per instance (co_vs_anchors.py's helper: coordinates x1000 rounded); every solution is
  checked feasible and costed in float distances by the same helper. The untrained policy's plain cost is
  printed for context. ``--open``: the open CVRP, against OR-Tools' guided local search (same seconds).
- **knapsack**: ``pomo-knapsack`` trains on random knapsack``--kp-n`` for ``--kp-minutes``; the reloaded
  policy solves ``--kp-instances`` seeded ``polyopt_envs.co.Knapsack(n, seed=s)``; the reference is the exact
  DP optimum; the greedy value-to-weight heuristic and the untrained policy are printed for context.

Solutions per second count every rollout built (instances x starts, x8 with augmentation) over the wall time
of the batched greedy decode. One torch thread (``--threads``).

Usage::

    python benchmarks/pomo_co_toy.py --cvrp-minutes 4 --kp-minutes 3
    python benchmarks/pomo_co_toy.py --quick      # a smoke run (seconds)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
# the anchors' runs (PyVRP, OR-Tools) and the feasibility-checked cost of routes
from co_vs_anchors import _pyvrp, _routes_cost, machine, ortools_routing


def _routes(seq: list[int]) -> list[list[int]]:
    routes: list[list[int]] = [[]]
    for node in seq[1:]:
        if node == 0:
            routes.append([])
        else:
            routes[-1].append(node)
    return [r for r in routes if r]


def _train(name: str, env: Any, args: argparse.Namespace, minutes: float, batch: int) -> Any:
    import polyopt

    opt = polyopt.make(
        "optimizer",
        name,
        env,
        seed=args.seed,
        device="cpu",
        batch_size=batch,
        learning_rate=args.lr,
        eval_instances=args.train_eval,
    )
    start = time.perf_counter()
    budget = polyopt.Budget(steps=2) if args.quick else polyopt.Budget(seconds=60.0 * minutes)
    result = polyopt.run(opt, budget)
    assert isinstance(result, polyopt.TrainerResult)
    took = time.perf_counter() - start
    print(
        f"{name}: trained {result.n_steps} steps ({result.n_env_steps} env steps) in {took:.0f} s "
        f"(batch {batch}, lr {args.lr}); its own evaluation: {result.metrics}",
        flush=True,
    )
    return result.policy


def part_cvrp(args: argparse.Namespace) -> None:
    from polyopt_envs.co import CVRP, CVRPEnv, OpenCVRP, OpenCVRPEnv
    from polyopt_plugins.co.pomo_cvrp import CVRPAttentionModel, CVRPPolicy, load_cvrp_policy

    env_cls, problem_cls = (OpenCVRPEnv, OpenCVRP) if args.open else (CVRPEnv, CVRP)
    ref_name = "OR-Tools GLS" if args.open else "PyVRP"
    kind = problem_cls.name.upper()
    print(f"\n## {kind}: train on n={args.cvrp_train_n}, evaluate on n={args.cvrp_eval_n}")
    policy = _train(
        "pomo-cvrp", env_cls(n=args.cvrp_train_n), args, args.cvrp_minutes, args.cvrp_batch
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pomo_cvrp.pt"
        policy.save(path)
        policy = load_cvrp_policy(path)
        print(f"checkpoint written to {path} and reloaded")
    with torch.random.fork_rng():
        torch.manual_seed(args.seed)  # the trainer's initial weights
        untrained = CVRPPolicy(CVRPAttentionModel(policy.model.cfg), open_routes=args.open)
    for n in args.cvrp_eval_n:
        problems = [problem_cls(n=n, seed=s) for s in range(args.instances)]
        locs = torch.stack([p.locs for p in problems])
        demands = torch.stack([p.demands for p in problems])
        capacity = torch.tensor([p.capacity for p in problems])
        costs: dict[str, list[float]] = {}
        rates = {}
        for label, pol, aug in (
            ("untrained", untrained, False),
            ("greedy", policy, False),
            ("x8", policy, True),
        ):
            start = time.perf_counter()
            seq, cost = pol.solve(locs, demands, capacity, augment=aug)
            took = time.perf_counter() - start
            rates[label] = len(problems) * n * (8 if aug else 1) / took
            checked = [
                _routes_cost(p, _routes(s)) for p, s in zip(problems, seq.tolist())
            ]  # asserts every customer once and every route within the capacity
            assert all(abs(a - b) < 1e-6 for a, b in zip(checked, cost.tolist()))
            costs[label] = checked
        ref = [_routes_cost(p, _reference(p, args)) for p in problems]
        mean_ref = sum(ref) / len(ref)
        print(f"{kind}{n}, {len(problems)} instances (seeds 0-{len(problems) - 1}):")
        print(f"  {ref_name} {args.pyvrp_seconds:g} s each: mean {mean_ref:.4f}")
        for label, vals in costs.items():
            gap = sum(100 * (v / r - 1) for v, r in zip(vals, ref)) / len(ref)
            print(
                f"  POMO {label:9}: mean {sum(vals) / len(vals):.4f}, gap {gap:+.2f} % vs {ref_name}, "
                f"{rates[label]:,.0f} solutions/s",
                flush=True,
            )


def _reference(problem: Any, args: argparse.Namespace) -> list[list[int]]:
    """PyVRP's routes, or OR-Tools' for the open CVRP (PyVRP is not set up for open routes here)."""
    if not args.open:
        return _pyvrp(problem, args.pyvrp_seconds, 0)
    cost = (problem.distances * 1000).round().long().tolist()
    demands = problem.demands.long().tolist()
    routes, _ = ortools_routing(
        cost, args.pyvrp_seconds, demands=demands, capacity=int(problem.capacity)
    )
    return routes


def part_knapsack(args: argparse.Namespace) -> None:
    from polyopt_envs.co import Knapsack, KnapsackEnv
    from polyopt_plugins.co.knapsack import knapsack_greedy
    from polyopt_plugins.co.pomo_knapsack import (
        KnapsackAttentionModel,
        KnapsackPolicy,
        load_knapsack_policy,
    )

    print(f"\n## Knapsack: train and evaluate on n={args.kp_n}")
    policy = _train("pomo-knapsack", KnapsackEnv(n=args.kp_n), args, args.kp_minutes, args.kp_batch)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "pomo_knapsack.pt"
        policy.save(path)
        policy = load_knapsack_policy(path)
        print(f"checkpoint written to {path} and reloaded")
    problems = [Knapsack(n=args.kp_n, seed=s) for s in range(args.kp_instances)]
    weights = torch.stack([p.weights for p in problems])
    values = torch.stack([p.values for p in problems])
    capacity = torch.tensor([p.capacity for p in problems])
    optimum = torch.tensor([p.optimum for p in problems], dtype=torch.float64)
    with torch.random.fork_rng():
        torch.manual_seed(args.seed)  # the trainer's initial weights
        untrained = KnapsackPolicy(KnapsackAttentionModel(policy.model.cfg))
    greedy, _ = knapsack_greedy(weights, values[:, 0], capacity)
    line = f"knapsack{args.kp_n}, {len(problems)} instances: DP optimum mean {float(optimum.mean()):.2f}"
    print(f"{line}; greedy value/weight ratio {_kp_gaps(greedy, optimum)}")
    for label, pol in (("untrained", untrained), ("trained", policy)):
        start = time.perf_counter()
        packed, value = pol.solve(weights, values, capacity)
        took = time.perf_counter() - start
        assert bool(((packed * weights).sum(dim=1) <= capacity).all())
        print(
            f"  POMO {label:9}: {_kp_gaps(value, optimum)}, "
            f"{len(problems) * args.kp_n / took:,.0f} solutions/s",
            flush=True,
        )


def _kp_gaps(value: torch.Tensor, optimum: torch.Tensor) -> str:
    gap = 100 * (1 - value / optimum)
    return (
        f"mean {float(value.mean()):.2f}, gap {float(gap.mean()):.3f} % (max {float(gap.max()):.3f} %, "
        f"{int((gap.abs() < 1e-9).sum())} optimal)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--parts", nargs="+", default=["cvrp", "knapsack"])
    parser.add_argument("--cvrp-train-n", type=int, default=20)
    parser.add_argument("--cvrp-eval-n", nargs="+", type=int, default=[20, 50])
    parser.add_argument("--cvrp-minutes", type=float, default=4.0)
    parser.add_argument("--cvrp-batch", type=int, default=32)
    parser.add_argument("--instances", type=int, default=20, help="CVRP instances per size")
    parser.add_argument("--pyvrp-seconds", type=float, default=1.0, help="reference's seconds")
    parser.add_argument("--open", action="store_true", help="open CVRP, against OR-Tools")
    parser.add_argument("--kp-n", type=int, default=50)
    parser.add_argument("--kp-minutes", type=float, default=3.0)
    parser.add_argument("--kp-batch", type=int, default=16)
    parser.add_argument("--kp-instances", type=int, default=100)
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam step size (POMO: 1e-4)")
    parser.add_argument("--train-eval", type=int, default=8, help="the trainer's own eval set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--quick", action="store_true", help="2 training steps, small evaluation")
    args = parser.parse_args()
    if args.quick:
        args.cvrp_train_n, args.cvrp_eval_n, args.instances, args.pyvrp_seconds = 8, [8], 2, 0.1
        args.kp_n, args.kp_instances, args.train_eval = 10, 4, 2
    torch.set_num_threads(args.threads)
    print(f"# pomo_co_toy: {machine()}; pid {os.getpid()}")
    for part in args.parts:
        {"cvrp": part_cvrp, "knapsack": part_knapsack}[part](args)
    print(f"# done: {machine()}")


if __name__ == "__main__":
    main()
