"""NSGA-II and NSGA-III: polyopt vs pymoo 0.6.2 on DTLZ2 (3 objectives, 12 variables) and ZDT1 (30 variables).

Same problem, same population, same number of evaluations (``pop * gens``: the initial population plus
``gens - 1`` generations of ``pop`` offspring), pymoo's default operators on both sides (NSGA-II: SBX
eta=15 prob=0.9, PM eta=20; NSGA-III: SBX eta=30 prob=1.0, PM eta=20, Das-Dennis directions with the most
partitions giving at most ``pop`` of them, population ``pop``), and duplicate elimination off and on,
matched on both sides. Each library evaluates its own implementation of the problem. Reported: seconds per
generation (wall time of the whole run / gens), final IGD against a dense true front and HV of the final
non-dominated set (reference point 1.1 per objective), and the ratio pymoo time / polyopt time (> 1 means
polyopt is faster). All in one process, runs alternating between the libraries.

Usage::

    python benchmarks/moea_vs_pymoo.py --quick
    python benchmarks/moea_vs_pymoo.py --pops 100 1000 10000 --gens 50 20 5 --threads 1
"""

from __future__ import annotations

import argparse
import math
import os
import platform
import time

import numpy as np
import torch

DEFAULT_GENS = {100: 50, 1000: 20, 10_000: 5}


def _partitions(pop: int, m: int) -> int:
    """Most Das-Dennis partitions giving at most ``pop`` directions."""
    h = 1
    while math.comb(h + 1 + m - 1, m - 1) <= pop:
        h += 1
    return h


def _front(problem: str) -> tuple[torch.Tensor, int]:
    import polyopt

    if problem == "dtlz2":
        return polyopt.make("objective", "dtlz2", n_obj=3, n_var=12).pareto_front(5000), 3
    return polyopt.make("objective", "zdt1").pareto_front(5000), 2


def _quality(f: np.ndarray, front: torch.Tensor) -> tuple[float, float]:
    from polyopt.metrics import hypervolume, igd

    ft = torch.as_tensor(np.asarray(f, dtype=np.float64))
    return igd(ft, front), hypervolume(ft, [1.1] * ft.shape[1])


def run_polyopt(
    algo: str, problem: str, pop: int, gens: int, dedupe: bool, seed: int
) -> tuple[float, np.ndarray]:
    import polyopt

    p = (
        polyopt.make("objective", "dtlz2", n_obj=3, n_var=12)
        if problem == "dtlz2"
        else polyopt.make("objective", "zdt1")
    )
    config: dict = {"pop_size": pop, "eliminate_duplicates": dedupe, "track_hypervolume": False}
    if algo == "nsga3":
        config["n_partitions"] = _partitions(pop, p.n_objectives)
    opt = polyopt.make("optimizer", algo, p, seed=seed, device="cpu", dtype=torch.float64, **config)
    start = time.perf_counter()
    result = polyopt.run(opt, polyopt.Budget(evaluations=pop * gens))
    return (time.perf_counter() - start) / gens, result.f.numpy()


def run_pymoo(
    algo: str, problem: str, pop: int, gens: int, dedupe: bool, seed: int
) -> tuple[float, np.ndarray]:
    from pymoo.algorithms.moo.nsga2 import NSGA2
    from pymoo.algorithms.moo.nsga3 import NSGA3
    from pymoo.optimize import minimize
    from pymoo.problems import get_problem
    from pymoo.util.ref_dirs import get_reference_directions

    p = get_problem("dtlz2", n_obj=3, n_var=12) if problem == "dtlz2" else get_problem("zdt1")
    if algo == "nsga3":
        dirs = get_reference_directions(
            "das-dennis", p.n_obj, n_partitions=_partitions(pop, p.n_obj)
        )
        algorithm = NSGA3(dirs, pop_size=pop, eliminate_duplicates=dedupe)
    else:
        algorithm = NSGA2(pop_size=pop, eliminate_duplicates=dedupe)
    start = time.perf_counter()
    res = minimize(p, algorithm, ("n_gen", gens), seed=seed)
    return (time.perf_counter() - start) / gens, res.F


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--quick", action="store_true", help="population 100 and 1,000, few generations"
    )
    parser.add_argument("--pops", type=int, nargs="+", default=[100, 1000, 10_000])
    parser.add_argument(
        "--gens",
        type=int,
        nargs="+",
        default=None,
        help="generations per population (one value for all, or one per --pops entry)",
    )
    parser.add_argument("--algos", nargs="+", default=["nsga2", "nsga3"])
    parser.add_argument("--problems", nargs="+", default=["dtlz2", "zdt1"])
    parser.add_argument("--dedupe", nargs="+", default=["off", "on"], choices=["off", "on"])
    parser.add_argument(
        "--threads", type=int, default=1, help="torch intra-op threads (1: no contention)"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    pops = [100, 1000] if args.quick else args.pops
    if args.gens is None:
        gens = [10 if args.quick else DEFAULT_GENS.get(p, 5) for p in pops]
    else:
        gens = args.gens * len(pops) if len(args.gens) == 1 else args.gens
    torch.set_num_threads(args.threads)
    os.environ["POLYOPT_THREADS"] = str(args.threads)  # polyopt.run's own default is 1 on the CPU
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"threads={args.threads}, load average at start {os.getloadavg()[0]:.1f}"
    )
    header = (
        f"{'algo':6} {'problem':6} {'pop':>6} {'gens':>4} {'dedup':>5} | {'pymoo s/gen':>11} "
        f"{'polyopt s/gen':>13} {'ratio':>6} | {'IGD pymoo':>9} {'IGD ours':>9} | {'HV pymoo':>8} {'HV ours':>8}"
    )
    print(header)
    print("-" * len(header))
    for algo in args.algos:
        for problem in args.problems:
            front, _ = _front(problem)
            for pop, gen in zip(pops, gens):
                for dedupe in args.dedupe:
                    on = dedupe == "on"
                    t_theirs, f_theirs = run_pymoo(algo, problem, pop, gen, on, args.seed)
                    t_ours, f_ours = run_polyopt(algo, problem, pop, gen, on, args.seed)
                    (igd_t, hv_t), (igd_o, hv_o) = (
                        _quality(f_theirs, front),
                        _quality(f_ours, front),
                    )
                    print(
                        f"{algo:6} {problem:6} {pop:>6} {gen:>4} {dedupe:>5} | {t_theirs:>11.4f} {t_ours:>13.4f} "
                        f"{t_theirs / t_ours:>5.1f}x | {igd_t:>9.4f} {igd_o:>9.4f} | {hv_t:>8.4f} {hv_o:>8.4f}",
                        flush=True,
                    )
    print(f"# load average at end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
