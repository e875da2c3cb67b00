"""Single-objective evolution at population >= 1,000 on CPU: polyopt vs pycma, evosax and EvoX (issue 21).

Every method gets the same problem, population, number of generations and seeds; runs are interleaved (for
each seed and problem, polyopt then its anchors) so machine load hits all alike. Every method evaluates the
same batched torch function (anchors' arrays are converted, points clipped to the box where the anchor has no
bounds); the wall time covers the whole optimization loop, evaluations included. evosax compiles with JAX on
its first ask/tell (once per population and dimension): a 3-generation warm-up before each run is timed
separately (``compile_s``) and left out of ``seconds``.
Every library runs on one CPU thread (environment variables set before numpy/JAX load; polyopt.optimize does the
same for its steps).

Pairs: cma-es vs pycma ``CMAEvolutionStrategy`` (same sigma0 and bounds), evosax ``CMA_ES`` and EvoX
``CMAES``; de (rand/1/bin) vs EvoX ``DE``; jade vs EvoX ``JaDE``; pso vs EvoX ``PSO``; metade (10 PDE
instances of 100) vs EvoX ``DE`` and ``JaDE`` (EvoX 1.4 ships no MetaDE; the authors' package is separate and
JAX-first). CBO has no anchor here. EvoX's DE, JaDE and PSO keep their points in the box themselves, so their
points are not clipped again. By default polyopt runs in float64 and EvoX in its default float32 (its points
converted to float64 to evaluate); ``--dtype float64`` (or ``float32``) runs both in one dtype.

Anchors: ``pip install cma evosax evox`` (the ``baselines`` extra). Missing anchors are skipped with a note.

    python benchmarks/so_evolution_vs_anchors.py --pop 1000 --generations 100 --seeds 3 --dim 10
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

import polyopt

Fn = Callable[[Tensor], Tensor]

# One thread for everyone: polyopt.optimize runs CPU steps on one intra-op thread (faster on a shared 2-core
# machine); the anchors get the same (numpy's BLAS, XLA's CPU client, torch for EvoX).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)


#: the floating dtype of polyopt's and EvoX's populations (``--dtype``; pycma and evosax run in float64)
DTYPE = {"polyopt": torch.float64, "evox": torch.float32}


def _problem(name: str, dim: int) -> polyopt.Objective:
    return polyopt.make("objective", name, dim=dim)


def _fn(problem: polyopt.Objective, clip: bool = True) -> Fn:
    """``n x d`` -> ``n`` float64, clipped into the box (``clip``: for anchors without bounds handling)."""
    lower, upper = problem.space.bounds.to(torch.float64)

    def f(x: Tensor) -> Tensor:
        x = x.to(torch.float64)
        if clip:
            x = torch.minimum(torch.maximum(x, lower), upper)
        return problem.evaluate(x).f[:, 0]

    return f


def run_polyopt(
    name: str, problem: polyopt.Objective, pop: int, gens: int, seed: int
) -> dict[str, Any]:
    start = time.perf_counter()
    result = polyopt.optimize(
        name,
        problem,
        budget=polyopt.Budget(evaluations=pop * gens),
        seed=seed,
        device="cpu",
        dtype=DTYPE["polyopt"],
        pop_size=pop,
    )
    assert isinstance(result, polyopt.Result)
    return {"best": result.f_best, "seconds": time.perf_counter() - start}


def run_pycma(problem: polyopt.Objective, pop: int, gens: int, seed: int) -> dict[str, Any]:
    import cma
    import numpy as np

    lower, upper = problem.space.bounds.to(torch.float64)
    f = _fn(problem)
    rng = np.random.default_rng(seed)
    x0 = (lower + torch.from_numpy(rng.random(problem.space.dim)) * (upper - lower)).numpy()
    sigma0 = 0.3 * float((upper - lower).mean())
    start = time.perf_counter()
    es = cma.CMAEvolutionStrategy(
        x0,
        sigma0,
        {
            "popsize": pop,
            "bounds": [lower.tolist(), upper.tolist()],
            "seed": seed + 1,
            "verbose": -9,
            "maxiter": gens,
            "tolfun": 0,
            "tolx": 0,
            "tolfunhist": 0,
            "tolstagnation": 10**9,
        },
    )
    best = math.inf
    for _ in range(gens):
        xs = es.ask()
        values = f(torch.from_numpy(np.asarray(xs))).numpy()
        best = min(best, float(values.min()))
        es.tell(xs, values.tolist())
    return {"best": best, "seconds": time.perf_counter() - start}


_EVOSAX: dict[tuple[int, int], Any] = {}


def run_evosax(problem: polyopt.Objective, pop: int, gens: int, seed: int) -> dict[str, Any]:
    import jax
    import jax.numpy as jnp
    import numpy as np
    from evosax.algorithms import CMA_ES

    jax.config.update("jax_enable_x64", True)
    lower, upper = problem.space.bounds.to(torch.float64)
    f = _fn(problem)
    d = problem.space.dim
    if (pop, d) not in _EVOSAX:  # one instance per shape: JAX compiles once, not once per run
        _EVOSAX[(pop, d)] = CMA_ES(population_size=pop, solution=jnp.zeros(d))
    es = _EVOSAX[(pop, d)]
    params = es.default_params.replace(std_init=0.3 * float((upper - lower).mean()))
    rng = np.random.default_rng(seed)
    mean = jnp.asarray((lower + torch.from_numpy(rng.random(d)) * (upper - lower)).numpy())

    def loop(key: Any, n: int) -> float:
        best = math.inf
        state = es.init(key, mean, params)
        for _ in range(n):
            key, k_ask, k_tell = jax.random.split(key, 3)
            x, state = es.ask(k_ask, state, params)
            values = f(torch.from_numpy(np.array(x)))
            best = min(best, float(values.min()))
            state, _ = es.tell(k_tell, x, jnp.asarray(values.numpy()), state, params)
        jax.block_until_ready(state)
        return best

    start = time.perf_counter()
    loop(
        jax.random.key(10_000 + seed), 3
    )  # compiles init/ask/tell for these shapes (cached per es)
    compile_s = time.perf_counter() - start
    start = time.perf_counter()
    best = loop(jax.random.key(seed), gens)
    return {"best": best, "seconds": time.perf_counter() - start, "compile_s": compile_s}


def run_evox(
    algo: str, problem: polyopt.Objective, pop: int, gens: int, seed: int
) -> dict[str, Any]:
    from evox.algorithms import CMAES, DE, PSO, JaDE
    from evox.core import Problem
    from evox.workflows import StdWorkflow

    lower, upper = problem.space.bounds.to(torch.float64)
    f = _fn(problem, clip=algo == "cma-es")  # EvoX's DE, JaDE and PSO clamp to the box themselves
    tracker = {"best": math.inf}

    class Wrapped(Problem):
        def evaluate(self, pop_x: Tensor) -> Tensor:
            values = f(pop_x)
            tracker["best"] = min(tracker["best"], float(values.min()))
            return values

    torch.manual_seed(seed)  # EvoX draws from torch's global RNG
    lb, ub = lower.to(DTYPE["evox"]), upper.to(DTYPE["evox"])
    if algo == "cma-es":
        mean = lb + torch.rand(problem.space.dim) * (ub - lb)
        algorithm: Any = CMAES(mean_init=mean, sigma=0.3 * float((ub - lb).mean()), pop_size=pop)
    elif algo == "de":
        algorithm = DE(pop_size=pop, lb=lb, ub=ub)
    elif algo == "jade":
        algorithm = JaDE(pop_size=pop, lb=lb, ub=ub)
    else:
        algorithm = PSO(pop_size=pop, lb=lb, ub=ub)
    start = time.perf_counter()
    workflow = StdWorkflow(algorithm, Wrapped())
    workflow.init_step()
    for _ in range(gens - 1):
        workflow.step()
    return {"best": tracker["best"], "seconds": time.perf_counter() - start}


_ANCHORS: dict[str, list[tuple[str, Callable[..., dict[str, Any]]]]] = {
    "cma-es": [
        ("pycma", run_pycma),
        ("evosax", run_evosax),
        ("evox", lambda *a: run_evox("cma-es", *a)),
    ],
    "de": [("evox", lambda *a: run_evox("de", *a))],
    "jade": [("evox", lambda *a: run_evox("jade", *a))],
    "pso": [("evox", lambda *a: run_evox("pso", *a))],
    "metade": [
        ("evox-de", lambda *a: run_evox("de", *a)),
        ("evox-jade", lambda *a: run_evox("jade", *a)),
    ],
    "cbo": [],
}


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pop", type=int, default=1000)
    parser.add_argument("--generations", type=int, default=100)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--dim", type=int, default=10)
    parser.add_argument("--problems", default="rastrigin,rosenbrock,ackley")
    parser.add_argument("--algorithms", default="cma-es,de,jade,pso,metade,cbo")
    parser.add_argument(
        "--dtype",
        default="float64/float32",
        help="polyopt's/EvoX's population dtype: 'float64/float32' (each its default) or one for both",
    )
    args = parser.parse_args()
    names = args.dtype.split("/")
    for key, name in zip(("polyopt", "evox"), names * 2 if len(names) == 1 else names):
        DTYPE[key] = getattr(torch, name)
    print(f"dtypes: {DTYPE}", flush=True)
    torch.set_num_threads(1)
    print(f"load at the start: {os.getloadavg()}", flush=True)
    rows: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    for seed in range(args.seeds):
        for pname in args.problems.split(","):
            problem = _problem(pname, args.dim)
            optimum = float(getattr(problem, "optimum", 0.0) or 0.0)
            for algo in args.algorithms.split(","):
                ours = ("polyopt", lambda p, n, g, s, a=algo: run_polyopt(a, p, n, g, s))
                for label, runner in [ours, *_ANCHORS[algo]]:
                    try:
                        out = runner(problem, args.pop, args.generations, seed)
                    except ImportError as exc:
                        print(f"skip {label} ({algo}): {exc}")
                        continue
                    except Exception as exc:  # an anchor that breaks is reported, not fatal
                        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                        print(f"failed {label} ({algo}): {type(exc).__name__}: {first[:160]}")
                        continue
                    out["error"] = out["best"] - optimum
                    rows.setdefault((pname, algo, label), []).append(out)
                    print(
                        f"seed {seed} {pname:>14} {algo:>7} {label:>8}: error {out['error']:.3e} "
                        f"in {out['seconds']:.2f}s",
                        flush=True,
                    )
    print(f"load at the end: {os.getloadavg()}")
    print(
        "\nmedians over seeds (error = best - optimum; time ratio = anchor seconds / polyopt seconds)"
    )
    print(f"{'problem':>14} {'algo':>7} {'impl':>8} {'error':>10} {'seconds':>8} {'ratio':>6}")
    for (pname, algo, label), outs in rows.items():
        err = statistics.median(o["error"] for o in outs)
        sec = statistics.median(o["seconds"] for o in outs)
        mine = statistics.median(o["seconds"] for o in rows[(pname, algo, "polyopt")])
        extra = ""
        if "compile_s" in outs[0]:
            extra = f"  (+{statistics.median(o['compile_s'] for o in outs):.2f}s compile)"
        print(f"{pname:>14} {algo:>7} {label:>8} {err:10.3e} {sec:8.2f} {sec / mine:6.2f}{extra}")


if __name__ == "__main__":
    main()
