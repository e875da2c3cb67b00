"""HypE on a many-objective problem: polyopt's HypE and NSGA-III vs pymoo 0.6.2's NSGA-III and SMS-EMOA.

pymoo has no HypE (nor does any Python library we could install: PlatEMO's reference is MATLAB), so the anchors
are pymoo's many-objective algorithms on the same problem, population and evaluations. DTLZ2 with 5
objectives and ``n_var = m + 9 = 14`` variables; population 100 (NSGA-III: Das-Dennis directions with the
most partitions giving at most 100, i.e. 70, population 100 as pymoo runs it); SBX and polynomial mutation
at pymoo's defaults on every side; ``gens`` generations of 100 offspring. Each library evaluates its own
DTLZ2. Reported per algorithm, median over the seeds: seconds per generation, HV of the final non-dominated
set (exact, moocore, reference point 1.1 per objective; the last line gives the HV of 5,000 true-front
points), IGD+ against 5,000 true-front points, and R2 (its default 495 Das-Dennis weights, ideal point 0;
lower is better). Runs alternate between the algorithms within each seed, all in one process.

Usage::

    python benchmarks/hype_many_objective.py --gens 100 --seeds 3
    python benchmarks/hype_many_objective.py --quick
"""

from __future__ import annotations

import argparse
import functools
import math
import os
import platform
import statistics
import time
from collections.abc import Callable

import numpy as np
import torch

M, N_VAR, POP = 5, 14, 100
REF = [1.1] * M


def _partitions(pop: int, m: int) -> int:
    """Most Das-Dennis partitions giving at most ``pop`` directions."""
    h = 1
    while math.comb(h + 1 + m - 1, m - 1) <= pop:
        h += 1
    return h


def run_polyopt(algo: str, gens: int, seed: int, n_samples: int) -> tuple[float, np.ndarray]:
    import polyopt

    problem = polyopt.make("objective", "dtlz2", n_obj=M, n_var=N_VAR)
    config: dict = {"pop_size": POP, "track_hypervolume": False}
    if algo == "hype":
        config["n_samples"] = n_samples
    if algo in ("sms-emoa", "sms-emoa-mc"):
        config["n_samples"] = n_samples
    if algo == "sms-emoa-mc":  # Monte Carlo contributions at every number of objectives
        algo, config["exact_objectives"] = "sms-emoa", 0
    if algo == "nsga3":
        config["n_partitions"] = _partitions(POP, M)
    opt = polyopt.make(
        "optimizer", algo, problem, seed=seed, device="cpu", dtype=torch.float64, **config
    )
    start = time.perf_counter()
    result = polyopt.run(opt, polyopt.Budget(evaluations=POP * gens))
    assert isinstance(result, polyopt.Result)
    return (time.perf_counter() - start) / gens, result.f.numpy()


def run_pymoo(algo: str, gens: int, seed: int) -> tuple[float, np.ndarray]:
    from pymoo.algorithms.moo.nsga3 import NSGA3
    from pymoo.algorithms.moo.sms import SMSEMOA
    from pymoo.optimize import minimize
    from pymoo.problems import get_problem
    from pymoo.util.ref_dirs import get_reference_directions

    problem = get_problem("dtlz2", n_obj=M, n_var=N_VAR)
    if algo == "nsga3":
        dirs = get_reference_directions("das-dennis", M, n_partitions=_partitions(POP, M))
        algorithm = NSGA3(dirs, pop_size=POP)
    else:
        algorithm = SMSEMOA(pop_size=POP)
    start = time.perf_counter()
    res = minimize(problem, algorithm, ("n_gen", gens), seed=seed)
    return (time.perf_counter() - start) / gens, np.asarray(res.F)


def quality(f: np.ndarray, front: torch.Tensor) -> tuple[float, float, float]:
    """HV (exact), IGD+ and R2 of the non-dominated rows of ``f``."""
    from polyopt.metrics import hypervolume, igd_plus, r2
    from polyopt.pareto import non_dominated_mask

    ft = torch.as_tensor(np.asarray(f, dtype=np.float64))
    ft = ft[non_dominated_mask(ft)]
    return hypervolume(ft, REF), igd_plus(ft, front), r2(ft)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gens", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument(
        "--n-samples", type=int, default=10_000, help="HypE/SMS-EMOA Monte Carlo samples"
    )
    parser.add_argument(
        "--algos",
        nargs="+",
        default=["polyopt:hype", "polyopt:nsga3", "pymoo:nsga3", "pymoo:sms-emoa"],
        help="library:algorithm (polyopt: hype, nsga3, sms-emoa, sms-emoa-mc (Monte Carlo "
        "contributions); pymoo: nsga3, sms-emoa)",
    )
    parser.add_argument("--quick", action="store_true", help="10 generations, 1 seed")
    args = parser.parse_args()
    gens, seeds = (10, 1) if args.quick else (args.gens, args.seeds)
    torch.set_num_threads(1)
    os.environ["POLYOPT_THREADS"] = "1"
    import polyopt
    from polyopt.metrics import hypervolume

    front = polyopt.make("objective", "dtlz2", n_obj=M, n_var=N_VAR).pareto_front(5000)
    print(
        f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"threads=1, load average at start {os.getloadavg()[0]:.1f}"
    )
    print(
        f"# DTLZ2, {M} objectives, {N_VAR} variables, population {POP}, {gens} generations, {seeds} seeds"
    )
    runners: dict[str, Callable[[int], tuple[float, np.ndarray]]] = {}
    for spec in args.algos:
        lib, _, algo = spec.partition(":")
        if lib == "polyopt":
            runners[spec] = functools.partial(run_polyopt, algo, gens, n_samples=args.n_samples)
        elif lib == "pymoo":
            runners[spec] = functools.partial(run_pymoo, algo, gens)
        else:
            raise SystemExit(f"--algos {spec!r}: expected polyopt:NAME or pymoo:NAME")
    rows: dict[str, list[tuple[float, float, float, float]]] = {k: [] for k in runners}
    for seed in range(seeds):
        for spec, run in runners.items():
            seconds, f = run(seed)
            hv, igdp, r2v = quality(f, front)
            rows[spec].append((seconds, hv, igdp, r2v))
            print(
                f"  seed {seed} {spec:16s} {seconds:8.4f} s/gen  HV {hv:.4f}  IGD+ {igdp:.4f}  R2 {r2v:.5f}"
            )
    header = f"{'algorithm':16s} | {'s/gen':>8} | {'HV':>7} | {'IGD+':>7} | {'R2':>7}   (medians over {seeds} seeds)"
    print(header)
    print("-" * len(header))
    for spec, values in rows.items():
        med = [statistics.median(v[i] for v in values) for i in range(4)]
        print(f"{spec:16s} | {med[0]:8.4f} | {med[1]:7.4f} | {med[2]:7.4f} | {med[3]:7.5f}")
    print(
        f"# true front (5,000 points) HV {hypervolume(front, REF):.4f}; load at end {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    main()
