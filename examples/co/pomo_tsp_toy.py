"""Train a POMO policy for TSP on a CPU in minutes, save a checkpoint, load it and measure its gap.

The policy trains on random uniform TSP instances of ``--n`` cities for ``--minutes`` (or ``--steps``), then
solves ``--eval`` fixed instances greedily from every start city, with and without the 8 symmetric copies,
and compares with a reference: LKH-3 through elkai when it is installed (``pip install polyopt[baselines]``),
else polyopt's ant colony with local search.

Usage::

    python examples/co/pomo_tsp_toy.py --n 20 --minutes 5 --checkpoint pomo_tsp20.pt
    python examples/co/pomo_tsp_toy.py --n 8 --steps 3 --eval 4      # a smoke run
"""

from __future__ import annotations

import argparse
import time

import torch

import polyopt
from polyopt_envs.co import TSPEnv, euclidean_distances, tour_length, uniform_tsp
from polyopt_plugins.co.pomo import load_policy


def reference(locs: torch.Tensor) -> tuple[torch.Tensor, str]:
    """Near-optimal lengths: LKH-3 (elkai) if installed, else MAX-MIN ants with 2-opt/Or-opt."""
    dist = euclidean_distances(locs)
    try:
        import elkai
    except ImportError:
        from polyopt_plugins.co.aco import solve_tsp

        _, lengths = solve_tsp(dist, generator=torch.Generator().manual_seed(0), iterations=100)
        return lengths, "polyopt MMAS + 2-opt/Or-opt, 100 iterations"
    lengths = []
    for d in dist:
        tour = elkai.DistanceMatrix((d * 1e6).round().long().tolist()).solve_tsp(runs=5)[:-1]
        lengths.append(tour_length(torch.tensor([tour]), d)[0])
    return torch.stack(lengths), "LKH-3 (elkai, 5 runs)"


def main() -> None:
    parser = argparse.ArgumentParser(description="POMO on TSP, CPU toy recipe")
    parser.add_argument("--n", type=int, default=20, help="cities")
    parser.add_argument("--minutes", type=float, default=5.0, help="training wall time")
    parser.add_argument("--steps", type=int, default=None, help="or a number of training steps")
    parser.add_argument("--batch-size", type=int, default=64, help="instances per step")
    parser.add_argument("--lr", type=float, default=1e-4, help="Adam step size (POMO: 1e-4)")
    parser.add_argument("--eval", type=int, default=100, help="evaluation instances")
    parser.add_argument("--checkpoint", default=None, help="where to save the policy")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    budget = (
        polyopt.Budget(steps=args.steps)
        if args.steps
        else polyopt.Budget(seconds=60.0 * args.minutes)
    )
    start = time.perf_counter()
    result = polyopt.optimize(
        "pomo",
        TSPEnv(n=args.n),
        budget=budget,
        seed=args.seed,
        batch_size=args.batch_size,
        learning_rate=args.lr,
    )
    trained = time.perf_counter() - start
    print(f"trained {result.n_steps} steps ({result.n_env_steps} env steps) in {trained:.0f} s")

    policy = result.policy
    if args.checkpoint:
        policy.save(args.checkpoint)
        policy = load_policy(args.checkpoint)  # what a user ships and reloads
        print(f"checkpoint written to {args.checkpoint} and reloaded")
    locs = uniform_tsp(args.eval, args.n, generator=torch.Generator().manual_seed(12345))
    _, greedy = policy.solve(locs, augment=False)
    t0 = time.perf_counter()
    _, augmented = policy.solve(locs, augment=True)
    took = time.perf_counter() - t0
    ref, name = reference(locs)
    for label, lengths in (("greedy, all starts", greedy), ("x8 augmented", augmented)):
        gap = 100 * float((lengths / ref - 1).mean())
        print(f"POMO {label:18}: mean {float(lengths.mean()):.4f}, gap {gap:.2f} % vs {name}")
    print(
        f"reference mean {float(ref.mean()):.4f}; x8 inference on {args.eval} instances took {took:.2f} s"
    )


if __name__ == "__main__":
    main()
