"""High-dimensional BO: polyopt's TuRBO-1 / TuRBO-m (and optionally EGO with a SAAS GP) vs Optuna's GPSampler and
TPESampler on Ackley-20 and a hidden 30-D problem, at equal evaluations.

``hidden30`` is Levy in 6 dimensions seen through a fixed random rotation of ``[-1, 1]^30`` and a hidden shift:
``f(x) = levy(1 + 5 A (x - x0))`` with ``A`` a ``6 x 30`` matrix of orthonormal rows and ``x0`` in
``[-0.5, 0.5]^30`` (seed 2026); its minimum 0 is attained on the 24-dimensional affine set ``A (x - x0) = 0``.
The optimizers see a 30-D box and nothing else.

polyopt's methods: ``turbo`` (TuRBO-1, Thompson sampling in the region as in the paper), ``turbo-ei`` (TuRBO-1
with LogEI in the region), ``turbo-m-ei`` (TuRBO-m with 2 regions of 5 initial points each, LogEI); also
``turbo-m`` (2 regions, Thompson), ``ego`` and ``ego-saas`` (EGO with the SAAS GP). Every method starts from 10
quasi-random points. Reported per problem and method over seeds: median and
quartiles of the final regret (best value minus the optimum), seconds per model-based iteration (median over
seeds of each run's mean), and the two-sided rank-sum p-value of each method's regrets against ``--reference``.
Every job runs in its own process on one torch and one BLAS thread.

Usage: ``python benchmarks/bo_highdim.py [--seeds 5] [--jobs 2] [--budget 100] [--methods ...]``
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from concurrent.futures import ProcessPoolExecutor
from typing import Any

PROBLEMS = ("ackley20", "hidden30")
METHODS = ("turbo", "turbo-ei", "turbo-m-ei", "optuna-gp", "optuna-tpe")
EXTRA_METHODS = ("turbo-m", "ego", "ego-saas")
N_INITIAL = 10


def make_problem(name: str) -> Any:
    import polyopt

    if name == "ackley20":
        return polyopt.make("objective", "ackley", dim=20)
    if name == "hidden30":
        return hidden30()
    raise ValueError(f"problem={name!r}; expected one of {', '.join(PROBLEMS)}")


def hidden30() -> Any:
    """Levy-6 behind a hidden rotation and shift of ``[-1, 1]^30`` (see the module docstring)."""
    import torch

    import polyopt
    from polyopt_envs.bo_problems import Levy

    gen = torch.Generator().manual_seed(2026)
    q, _ = torch.linalg.qr(torch.randn(30, 6, generator=gen, dtype=torch.float64))
    rotation = q.T  # 6 x 30, orthonormal rows
    shift = torch.rand(30, generator=gen, dtype=torch.float64) - 0.5
    levy = Levy(dim=6)

    @polyopt.objective(bounds=([-1.0] * 30, [1.0] * 30), name="hidden30")
    def fn(x: torch.Tensor) -> torch.Tensor:
        z = 1.0 + 5.0 * (x.to(torch.float64) - shift) @ rotation.T  # n x 6
        return levy.evaluate(z).f[:, 0].to(x.dtype)

    fn.optimum = 0.0
    return fn


def run_polyopt(problem: Any, method: str, budget: int, seed: int) -> tuple[Any, list[float]]:
    import polyopt

    config: dict[str, Any] = {"n_initial": N_INITIAL}
    name = "ego" if method.startswith("ego") else "turbo"
    if method.startswith("turbo-m"):  # the same 10 initial points, split between the regions
        config = {"n_initial": N_INITIAL // 2, "n_regions": 2}
    # named explicitly: turbo's default became LogEI after this benchmark's first run
    if method.startswith("turbo"):
        config["acquisition"] = "log-ei" if method.endswith("-ei") else "thompson"
    if method == "ego-saas":
        config["model"] = "saas"
    opt = polyopt.make("optimizer", name, problem, seed=seed, **config)
    opt.evaluation_limit = budget
    times = []
    while opt.n_evaluations < budget:
        start = time.perf_counter()
        metrics = opt.step()
        if "fit_seconds" in metrics:
            times.append(time.perf_counter() - start)
    return opt.f_all, times


def run_optuna(problem: Any, budget: int, seed: int, sampler_name: str) -> tuple[Any, list[float]]:
    import optuna
    import torch

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    bounds = problem.space.bounds.to(torch.float64)
    sampler = (
        optuna.samplers.GPSampler(seed=seed, n_startup_trials=N_INITIAL)
        if sampler_name == "gp"
        else optuna.samplers.TPESampler(seed=seed, n_startup_trials=N_INITIAL)
    )
    study = optuna.create_study(sampler=sampler)
    fs, stamps = [], []

    def objective(trial: Any) -> float:
        x = torch.tensor(
            [
                [
                    trial.suggest_float(f"x{i}", float(bounds[0, i]), float(bounds[1, i]))
                    for i in range(bounds.shape[1])
                ]
            ],
            dtype=torch.float64,
        )
        f = problem.evaluate(x).f
        fs.append(f)
        stamps.append(time.perf_counter())
        return float(f[0, 0])

    study.optimize(objective, n_trials=budget)
    gaps = [b - a for a, b in zip(stamps[N_INITIAL - 1 :], stamps[N_INITIAL:])]
    return torch.cat(fs), gaps


def job(args: tuple[str, str, int, int]) -> dict[str, Any]:
    import warnings

    import torch

    warnings.simplefilter("ignore")
    torch.set_num_threads(1)
    method, problem_name, seed, budget = args
    problem = make_problem(problem_name)
    if method.startswith("optuna"):
        f, times = run_optuna(problem, budget, seed, method.split("-")[1])
    else:
        f, times = run_polyopt(problem, method, budget, seed)
    return {
        "method": method,
        "problem": problem_name,
        "seed": seed,
        "regret": float(f[:, 0].min()) - problem.optimum,
        "iter": statistics.fmean(times) if times else math.nan,
        "n": int(f.shape[0]),
    }


def quartiles(values: list[float]) -> tuple[float, float, float]:
    v = sorted(values)
    if len(v) == 1:
        return v[0], v[0], v[0]
    q = statistics.quantiles(v, n=4, method="inclusive")
    return q[0], statistics.median(v), q[2]


def rank_sum_p(a: list[float], b: list[float]) -> float:
    from scipy.stats import mannwhitneyu

    return float(mannwhitneyu(a, b).pvalue) if min(len(a), len(b)) >= 3 else math.nan


def report(rows: list[dict[str, Any]], methods: list[str], reference: str) -> None:
    print(
        f"{'problem':9s} {'method':11s} {'median':>8s} {'quartiles':>19s} {'s/iter':>7s} "
        f"{'x optuna-gp':>11s} {'p vs ' + reference:>14s}"
    )
    for p in dict.fromkeys(r["problem"] for r in rows):
        ref = [r["regret"] for r in rows if r["problem"] == p and r["method"] == reference]
        gp = [r["iter"] for r in rows if r["problem"] == p and r["method"] == "optuna-gp"]
        gp_iter = statistics.median(gp) if gp else math.nan
        for m in methods:
            sel = [r for r in rows if r["problem"] == p and r["method"] == m]
            if not sel:
                continue
            regrets = [r["regret"] for r in sel]
            lo, med, hi = quartiles(regrets)
            it = statistics.median(r["iter"] for r in sel)
            p_value = rank_sum_p(ref, regrets) if m != reference else math.nan
            print(
                f"{p:9s} {m:11s} {med:8.3f} [{lo:8.3f}, {hi:8.3f}] {it:7.3f} {it / gp_iter:11.2f} "
                f"{p_value:14.3f}"
            )
    print(
        "regret: best value found minus the optimum (lower is better); s/iter: model-based iterations"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--jobs", type=int, default=1, help="processes running jobs side by side")
    parser.add_argument("--budget", type=int, default=100, help="evaluations per run")
    parser.add_argument("--problems", default=",".join(PROBLEMS))
    parser.add_argument(
        "--methods", default=",".join(METHODS), help=f"also: {', '.join(EXTRA_METHODS)}"
    )
    parser.add_argument("--reference", default="turbo-m-ei", help="method the p-values compare to")
    args = parser.parse_args()
    for m in args.methods.split(","):
        if m not in METHODS + EXTRA_METHODS:
            parser.error(f"method {m!r}; expected one of {', '.join(METHODS + EXTRA_METHODS)}")
    # one BLAS thread in every job, set before a job imports NumPy (see bo_vs_anchors.py)
    os.environ["OPENBLAS_NUM_THREADS"] = os.environ["OMP_NUM_THREADS"] = "1"
    problems, methods = args.problems.split(","), args.methods.split(",")
    jobs = [(m, p, s, args.budget) for p in problems for s in range(args.seeds) for m in methods]
    rows = []
    with ProcessPoolExecutor(max_workers=args.jobs) as pool:
        for row in pool.map(job, jobs):
            rows.append(row)
            print(
                f"# {row['problem']} {row['method']} seed {row['seed']}: regret {row['regret']:.4f}, "
                f"{row['iter']:.3f} s/iter",
                flush=True,
            )
    report(rows, methods, args.reference)


if __name__ == "__main__":
    main()
