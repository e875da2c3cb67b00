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

Two readings of speed are printed side by side. ``ratio`` is per generation: anchor seconds / polyopt seconds
for the same number of generations. ``hit_s`` / ``speedup`` is time to target as COCO measures optimizers
(expected running time): every run records its best-so-far after each generation with its time since the run's
start (polyopt through a ``polyopt.optimize`` callback that reads the step's ``best`` metric, which every step
computes anyway; anchors in their loop, after evaluating); the target of seed ``s`` is the anchor's final best
of seed ``s``; ``hit_s`` is polyopt's ERT to it (the sum over seeds of polyopt's seconds to first reach it,
its whole run where it never does, divided by the seeds that reached it; ``never`` where none did), ``hits``
how many seeds reached it, ``speedup`` = the anchor's median seconds / ``hit_s``, and ``strict`` = the
anchor's median seconds to first reach its own final best / ``hit_s``. The cost of recording one trace point
is measured and printed at the start.

``--own-problems``: each library optimizes its own CEC 2022 implementation on the official data (EvoX ships
it with its files): polyopt its ``CEC2022`` with ``CEC2022Data.load`` of EvoX's files, EvoX's algorithms
EvoX's ``CEC2022`` (built and run with torch's default dtype set to EvoX's dtype, as EvoX reads its data in
the default dtype); pycma and evosax, which ship no CEC 2022, evaluate polyopt's. The two implementations are
checked to agree on 256 points per function before any run. Other problems are as without the flag.

Final error, statistically: after those columns a second table gives, per problem, algorithm and anchor, the
first quartile, median and third quartile of the final error (best - optimum) over the seeds for polyopt and
the anchor, the two-sided Mann-Whitney rank-sum p-value (scipy's ``mannwhitneyu``: the exact distribution without ties,
else the normal approximation with the tie and continuity corrections) and a verdict at ``--alpha`` (0.05): ``better`` or
``worse`` (the side whose errors rank lower) where p < alpha, ``same`` where not. Runs with different seeds
are independent samples (the libraries draw different random streams), so the test is unpaired; use 10 or
more seeds (``--seeds 11``) for it to detect a shift.

Choices apart from the implementation: a variant runs polyopt with the anchor's choices against the same
anchor runs as its algorithm (each anchor runs once per problem and seed; a variant reuses them), so the plain
row compares defaults and implementation together, the variant the implementation alone:
``pso[evox-params]`` is polyopt's PSO with EvoX's ``PSO`` defaults (inertia update, ``w=0.6``, ``c1=2.5``,
``c2=0.8``); ``de[evox-bounds]`` polyopt's DE with trial vectors clamped into the box as EvoX's ``DE`` does
(``bounds="clip"``; polyopt's default repairs them halfway between the target and the bound crossed, JADE's
repair); ``jade[evox-params]`` polyopt's JADE as
EvoX's ``JaDE`` starts and bounds (``mu_CR`` from 0.5, no archive, clamped trials; EvoX draws F from a normal,
polyopt from JADE's Cauchy).

Anchors: ``pip install cma evosax evox`` (the ``baselines`` extra). Missing anchors are skipped with a note.

    python benchmarks/so_evolution_vs_anchors.py --pop 1000 --generations 100 --seeds 3 --dim 10
    python benchmarks/so_evolution_vs_anchors.py --seeds 11 --algorithms de,de[evox-bounds],pso,pso[evox-params]
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
#: (wall seconds since the run's start, CPU seconds since then, best value so far) after each generation
Trace = list[tuple[float, float, float]]

# One thread for everyone: polyopt.optimize runs CPU steps on one intra-op thread (faster on a shared 2-core
# machine); the anchors get the same (numpy's BLAS, XLA's CPU client, torch for EvoX).
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault(
    "XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
)


#: the floating dtype of polyopt's and EvoX's populations (``--dtype``; pycma and evosax run in float64)
DTYPE = {"polyopt": torch.float64, "evox": torch.float32}


#: ``--own-problems``: each library's own implementation of the CEC 2022 functions (see the docstring)
OWN = {"on": False}


def _evox_cec2022_folder() -> Any:
    import pathlib

    from evox.problems.numerical import cec2022 as reference

    return pathlib.Path(reference.__file__).parent / "cec2022_input_data"


def _cec2022_number(name: str) -> int | None:
    return int(name.split("-f")[1]) if name.startswith("cec2022-f") else None


def _problem(name: str, dim: int) -> polyopt.Objective:
    number = _cec2022_number(name)
    if OWN["on"] and number is not None:
        from polyopt_envs.cec2022 import CEC2022, CEC2022Data

        data = CEC2022Data.load(_evox_cec2022_folder(), number, dim)
        return CEC2022(number, dim, data=data)
    return polyopt.make("objective", name, dim=dim)


def _evox_own(problem: polyopt.Objective) -> Any:
    """EvoX's own CEC2022 for ``problem`` (in ``--own-problems`` mode), else None."""
    number = _cec2022_number(getattr(problem, "name", ""))
    if not OWN["on"] or number is None:
        return None
    from evox.problems.numerical.cec2022 import CEC2022 as EvoxCEC2022

    return EvoxCEC2022(number, problem.space.dim)


def check_own_agree(problem: polyopt.Objective, dtype: torch.dtype) -> float:
    """The largest relative difference between polyopt's and EvoX's CEC 2022 values on 256 points in the
    box (in ``dtype``); raises when it exceeds 1e-9 (float64) or 1e-4 (float32)."""
    previous = torch.get_default_dtype()
    torch.set_default_dtype(dtype)
    try:
        theirs = _evox_own(problem)
        assert theirs is not None
        x = problem.space.sample(256, generator=torch.Generator().manual_seed(0), dtype=dtype)
        expected = theirs.evaluate(x)
        got = problem.evaluate(x).f[:, 0].to(expected)
    finally:
        torch.set_default_dtype(previous)
    tol = 1e-9 if dtype == torch.float64 else 1e-4
    torch.testing.assert_close(got, expected, rtol=tol, atol=tol)
    return float(((got - expected).abs() / expected.abs().clamp_min(1e-300)).max())


def time_to_reach(trace: Trace, target: float, column: int = 0) -> float | None:
    """Seconds (``column`` 0: wall, 1: CPU) at the first trace point whose best-so-far is <= ``target``
    (None: never)."""
    for point in trace:
        if point[2] <= target:
            return point[column]
    return None


def expected_running_time(hits: list[float | None], totals: list[float]) -> float | None:
    """COCO's ERT: the seconds of all runs (time to target where reached, the whole run where not) over
    the number of runs that reached the target; None when none did."""
    reached = [h for h in hits if h is not None]
    if not reached:
        return None
    spent = sum(h if h is not None else t for h, t in zip(hits, totals, strict=True))
    return spent / len(reached)


def trace_overhead_s(n: int = 100_000) -> tuple[float, float]:
    """(wall, CPU) seconds one trace point costs (the recorder polyopt's callback and the anchors' loops
    run); under load the wall figure includes waiting for the core, the CPU figure does not."""
    trace: Trace = []
    start, cpu = time.perf_counter(), time.process_time()
    metrics = {"best": 1.0}
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in range(n):
        trace.append(
            (time.perf_counter() - start, time.process_time() - cpu, metrics.get("best", math.inf))
        )
    return (time.perf_counter() - t0) / n, (time.process_time() - c0) / n


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
    name: str,
    problem: polyopt.Objective,
    pop: int,
    gens: int,
    seed: int,
    config: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """One polyopt run of ``name`` (``config``: extra config fields, e.g. a variant's hyperparameters)."""
    trace: Trace = []

    def record(opt: Any, metrics: dict[str, float]) -> None:
        trace.append(
            (time.perf_counter() - start, time.process_time() - cpu, metrics.get("best", math.inf))
        )

    start, cpu = time.perf_counter(), time.process_time()
    result = polyopt.optimize(
        name,
        problem,
        budget=polyopt.Budget(evaluations=pop * gens),
        seed=seed,
        device="cpu",
        dtype=DTYPE["polyopt"],
        pop_size=pop,
        callbacks=[record],
        **(config or {}),
    )
    seconds = time.perf_counter() - start
    assert isinstance(result, polyopt.Result)
    return {"best": result.f_best, "seconds": seconds, "trace": trace}


def run_pycma(problem: polyopt.Objective, pop: int, gens: int, seed: int) -> dict[str, Any]:
    import cma
    import numpy as np

    lower, upper = problem.space.bounds.to(torch.float64)
    f = _fn(problem)
    rng = np.random.default_rng(seed)
    x0 = (lower + torch.from_numpy(rng.random(problem.space.dim)) * (upper - lower)).numpy()
    sigma0 = 0.3 * float((upper - lower).mean())
    start, cpu = time.perf_counter(), time.process_time()
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
    trace: Trace = []
    for _ in range(gens):
        xs = es.ask()
        values = f(torch.from_numpy(np.asarray(xs))).numpy()
        best = min(best, float(values.min()))
        trace.append((time.perf_counter() - start, time.process_time() - cpu, best))
        es.tell(xs, values.tolist())
    return {"best": best, "seconds": time.perf_counter() - start, "trace": trace}


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

    t0 = [time.perf_counter(), time.process_time()]  # the timed loop's start (wall, CPU)

    def loop(key: Any, n: int, trace: Trace) -> float:
        best = math.inf
        state = es.init(key, mean, params)
        for _ in range(n):
            key, k_ask, k_tell = jax.random.split(key, 3)
            x, state = es.ask(k_ask, state, params)
            values = f(torch.from_numpy(np.array(x)))
            best = min(best, float(values.min()))
            trace.append((time.perf_counter() - t0[0], time.process_time() - t0[1], best))
            state, _ = es.tell(k_tell, x, jnp.asarray(values.numpy()), state, params)
        jax.block_until_ready(state)
        return best

    start, cpu = time.perf_counter(), time.process_time()
    # compiles init/ask/tell for these shapes (cached per es)
    loop(jax.random.key(10_000 + seed), 3, [])
    compile_s, compile_cpu = time.perf_counter() - start, time.process_time() - cpu
    trace: Trace = []
    start = time.perf_counter()
    t0[:] = [start, time.process_time()]
    best = loop(jax.random.key(seed), gens, trace)
    seconds = time.perf_counter() - start
    out = {"best": best, "seconds": seconds, "compile_s": compile_s, "trace": trace}
    return {**out, "compile_cpu": compile_cpu}


def run_evox(
    algo: str, problem: polyopt.Objective, pop: int, gens: int, seed: int
) -> dict[str, Any]:
    previous_dtype = torch.get_default_dtype()
    try:  # --own-problems sets torch's default dtype for EvoX's CEC 2022; restored whatever happens
        return _run_evox(algo, problem, pop, gens, seed)
    finally:
        torch.set_default_dtype(previous_dtype)


def _run_evox(
    algo: str, problem: polyopt.Objective, pop: int, gens: int, seed: int
) -> dict[str, Any]:
    from evox.algorithms import CMAES, DE, PSO, JaDE
    from evox.core import Problem
    from evox.workflows import StdWorkflow

    lower, upper = problem.space.bounds.to(torch.float64)
    own = None
    if OWN["on"]:  # EvoX builds its CEC 2022 data and constants in the default dtype
        torch.set_default_dtype(DTYPE["evox"])
        own = _evox_own(problem)
    if own is not None:
        f: Fn = own.evaluate if algo != "cma-es" else _clipped(own.evaluate, lower, upper)
    else:  # EvoX's DE, JaDE and PSO clamp to the box themselves
        f = _fn(problem, clip=algo == "cma-es")
    tracker = {"best": math.inf, "start": math.nan, "cpu": math.nan}
    trace: Trace = []

    class Wrapped(Problem):
        def evaluate(self, pop_x: Tensor) -> Tensor:
            values = f(pop_x)
            tracker["best"] = min(tracker["best"], float(values.min()))
            wall, cpu = time.perf_counter() - tracker["start"], time.process_time() - tracker["cpu"]
            trace.append((wall, cpu, tracker["best"]))
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
    start = tracker["start"] = time.perf_counter()
    tracker["cpu"] = time.process_time()
    workflow = StdWorkflow(algorithm, Wrapped())
    workflow.init_step()
    for _ in range(gens - 1):
        workflow.step()
    seconds = time.perf_counter() - start
    return {"best": tracker["best"], "seconds": seconds, "trace": trace}


def _clipped(fn: Fn, lower: Tensor, upper: Tensor) -> Fn:
    def f(x: Tensor) -> Tensor:
        return fn(torch.minimum(torch.maximum(x, lower.to(x)), upper.to(x)))

    return f


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

#: polyopt runs with the anchor's choices instead of its own: name -> (algorithm, config fields); the anchors
#: are the algorithm's, their runs shared with it
VARIANTS: dict[str, tuple[str, dict[str, Any]]] = {
    # EvoX 1.4's PSO defaults (w, phi_p, phi_g) in polyopt's inertia update
    "pso[evox-params]": ("pso", {"update": "inertia", "w": 0.6, "c1": 2.5, "c2": 0.8}),
    # EvoX's DE clamps trials into the box where polyopt's repairs them halfway to the bound (JADE's)
    "de[evox-bounds]": ("de", {"bounds": "clip"}),
    # EvoX's JaDE: mu_CR starts at 0.5 (polyopt's at CR = 0.9), no archive, trials clamped (its normal,
    # not Cauchy, F has no polyopt option)
    "jade[evox-params]": ("jade", {"CR": 0.5, "archive": False, "bounds": "clip"}),
}


def resolve(algo: str) -> tuple[str, dict[str, Any]]:
    """(polyopt algorithm, config fields) of an ``--algorithms`` entry."""
    if algo in VARIANTS:
        return VARIANTS[algo]
    if algo not in _ANCHORS:
        known = ", ".join([*_ANCHORS, *VARIANTS])
        raise SystemExit(f"unknown algorithm {algo!r}; expected one of {known}")
    return algo, {}


def quartiles(values: list[float]) -> tuple[float, float, float]:
    """(first quartile, median, third quartile) of ``values``, interpolated linearly between order
    statistics (numpy's default, ``statistics.quantiles``' ``"inclusive"``)."""
    if len(values) == 1:
        return values[0], values[0], values[0]
    q1, q2, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return q1, q2, q3


def rank_sum(ours: list[float], theirs: list[float], alpha: float = 0.05) -> tuple[float, str]:
    """Two-sided Mann-Whitney U test of two samples of final errors (lower is better).

    Returns:
        (p-value, verdict): ``"better"`` / ``"worse"`` where p < ``alpha`` (``ours`` ranks lower / higher),
        ``"same"`` where not; ``(nan, "n/a")`` with fewer than 2 values on a side; p = 1 where all values
        are equal (scipy has no ranks to compare then).
    """
    from scipy.stats import mannwhitneyu  # only this table needs scipy

    if min(len(ours), len(theirs)) < 2:
        return math.nan, "n/a"
    if len(set(ours) | set(theirs)) == 1:
        return 1.0, "same"
    tied = len(set(ours) | set(theirs)) < len(ours) + len(theirs)
    # scipy's "auto" takes the normal approximation above 8 values a side even without ties
    method = "asymptotic" if tied else "exact"
    test = mannwhitneyu(ours, theirs, alternative="two-sided", method=method)
    p = float(test.pvalue)
    if p >= alpha:
        return p, "same"
    # scipy's U is ours': pairs where ours is the larger error (ties count half)
    return p, "worse" if float(test.statistic) > len(ours) * len(theirs) / 2 else "better"


def final_error_table(
    rows: dict[tuple[str, str, str], list[dict[str, Any]]], alpha: float = 0.05
) -> list[str]:
    """The second table's lines: per (problem, algorithm, anchor), each side's error quartiles over its
    seeds, the rank-sum p-value and the verdict (see the module docstring)."""
    lines = [
        f"{'problem':>14} {'algo':>16} {'anchor':>8} {'n':>5} "
        f"{'polyopt q1 / median / q3':>30} {'anchor q1 / median / q3':>30} {'p':>8} verdict"
    ]
    for (pname, algo, label), outs in rows.items():
        mine = rows.get((pname, algo, "polyopt"))
        if label == "polyopt" or not mine:
            continue
        ours = [o["error"] for o in mine]
        theirs = [o["error"] for o in outs]
        p, verdict = rank_sum(ours, theirs, alpha)
        spread = ["{:9.3g} {:9.3g} {:9.3g}".format(*quartiles(v)) for v in (ours, theirs)]
        lines.append(
            f"{pname:>14} {algo:>16} {label:>8} {len(ours):>2}/{len(theirs):<2} "
            f"{spread[0]:>30} {spread[1]:>30} {p:8.2g} {verdict}"
        )
    return lines


def time_to_target(
    polyopt_runs: list[dict[str, Any]], anchor_runs: list[dict[str, Any]], column: int = 0
) -> dict[str, Any]:
    """polyopt's time to each seed's anchor final best (see the module docstring), paired by seed;
    ``column`` 0: wall seconds, 1: CPU seconds."""
    total = "seconds" if column == 0 else "cpu"
    mine = {o["seed"]: o for o in polyopt_runs}
    pairs = [(mine[o["seed"]], o) for o in anchor_runs if o["seed"] in mine]
    hits = [time_to_reach(p["trace"], a["best"], column) for p, a in pairs]
    ert = expected_running_time(hits, [p[total] for p, _ in pairs])
    own = [time_to_reach(a["trace"], a["best"], column) for _, a in pairs]
    anchor_s = statistics.median(a[total] for _, a in pairs) if pairs else math.nan
    own_s = statistics.median(t if t is not None else math.nan for t in own) if pairs else math.nan
    return {
        "ert": ert,
        "hits": sum(h is not None for h in hits),
        "runs": len(pairs),
        "speedup": None if ert is None else anchor_s / ert,
        "strict": None if ert is None else own_s / ert,
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
    parser.add_argument(
        "--alpha",
        type=float,
        default=0.05,
        help="significance level of the rank-sum verdicts (final-error table)",
    )
    parser.add_argument(
        "--own-problems",
        action="store_true",
        help="CEC 2022 on the official data, each library on its own implementation (EvoX's for EvoX)",
    )
    args = parser.parse_args()
    if not 0.0 < args.alpha < 1.0:
        parser.error(f"--alpha {args.alpha}: expected a significance level in (0, 1)")
    names = args.dtype.split("/")
    for key, name in zip(("polyopt", "evox"), names * 2 if len(names) == 1 else names):
        DTYPE[key] = getattr(torch, name)
    OWN["on"] = args.own_problems
    algorithms = args.algorithms.split(",")
    resolved = {algo: resolve(algo) for algo in algorithms}  # an unknown name fails before any run
    print(f"dtypes: {DTYPE}; own problems: {OWN['on']}", flush=True)
    torch.set_num_threads(1)
    wall, cpu_cost = trace_overhead_s()
    print(
        f"one trace point costs {1e6 * wall:.2f} us wall, {1e6 * cpu_cost:.2f} us CPU "
        f"({args.generations} per run: {1e3 * wall * args.generations:.3f} ms wall, "
        f"{1e3 * cpu_cost * args.generations:.3f} ms CPU)",
        flush=True,
    )
    if OWN["on"]:
        for pname in args.problems.split(","):
            if _cec2022_number(pname) is not None:
                problem = _problem(pname, args.dim)
                for dtype in sorted(set(DTYPE.values()), key=str):
                    worst = check_own_agree(problem, dtype)
                    print(
                        f"{pname} polyopt vs EvoX values, {dtype}: max relative difference {worst:.1e}"
                    )
    print(f"load at the start: {os.getloadavg()}", flush=True)
    rows: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
    # (problem, algorithm, anchor, seed) -> the run, for variants of an algorithm to share
    anchor_runs: dict[tuple[str, str, str, int], dict[str, Any]] = {}
    for seed in range(args.seeds):
        for pname in args.problems.split(","):
            problem = _problem(pname, args.dim)
            optimum = float(getattr(problem, "optimum", 0.0) or 0.0)
            for algo in algorithms:
                base, config = resolved[algo]

                def ours_run(
                    p: Any, n: int, g: int, s: int, a: str = base, c: Any = config
                ) -> dict[str, Any]:
                    return run_polyopt(a, p, n, g, s, c)

                ours = ("polyopt", ours_run)
                for label, runner in [ours, *_ANCHORS[base]]:
                    shared = (pname, base, label, seed)
                    if label != "polyopt" and shared in anchor_runs:  # ran for another variant
                        rows.setdefault((pname, algo, label), []).append(anchor_runs[shared])
                        continue
                    cpu = time.process_time()
                    try:
                        out = runner(problem, args.pop, args.generations, seed)
                    except ImportError as exc:
                        print(f"skip {label} ({algo}): {exc}")
                        continue
                    except Exception as exc:  # an anchor that breaks is reported, not fatal
                        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                        print(f"failed {label} ({algo}): {type(exc).__name__}: {first[:160]}")
                        continue
                    out["cpu"] = time.process_time() - cpu - out.get("compile_cpu", 0.0)
                    out["seed"] = seed
                    out["error"] = out["best"] - optimum
                    rows.setdefault((pname, algo, label), []).append(out)
                    if label != "polyopt":
                        anchor_runs[shared] = out
                    print(
                        f"seed {seed} {pname:>14} {algo:>16} {label:>8}: error {out['error']:.3e} "
                        f"in {out['seconds']:.2f}s (cpu {out['cpu']:.2f}s)",
                        flush=True,
                    )
    print(f"load at the end: {os.getloadavg()}")
    print(
        "\nmedians over seeds (error = best - optimum; ratio = anchor seconds / polyopt seconds for the "
        "same generations;\nhit_s = polyopt's ERT to the anchor's final best, hits = seeds that reached "
        "it, speedup = anchor seconds / hit_s,\nstrict = anchor's seconds to its own final best / hit_s; "
        "wall seconds, then the same in CPU seconds)"
    )
    print(
        f"{'problem':>14} {'algo':>16} {'impl':>9} {'error':>10} {'seconds':>8} {'ratio':>6} "
        f"{'hit_s':>7} {'hits':>5} {'speedup':>7} {'strict':>7} | {'cpu_s':>7} {'ratio':>6} "
        f"{'hit_cpu':>7} {'speedup':>7} {'strict':>7}"
    )
    for (pname, algo, label), outs in rows.items():
        err = statistics.median(o["error"] for o in outs)
        line = f"{pname:>14} {algo:>16} {label:>9} {err:10.3e}"
        mine_runs = rows.get((pname, algo, "polyopt"))
        for column, total in ((0, "seconds"), (1, "cpu")):
            sec = statistics.median(o[total] for o in outs)
            if column:
                line += f" | {sec:7.2f}"
            else:
                line += f" {sec:8.2f}"
            if label == "polyopt" or not mine_runs:
                line += f" {1.0 if mine_runs else math.nan:6.2f}" + " " * (
                    32 if column == 0 else 24
                )
                continue
            line += f" {sec / statistics.median(o[total] for o in mine_runs):6.2f}"
            hit = time_to_target(mine_runs, outs, column)
            ert, hits = hit["ert"], f"{hit['hits']:>2}/{hit['runs']:<2}"
            if column == 0:
                line += f" {'never' if ert is None else f'{ert:7.2f}':>7} {hits}"
            else:
                line += f" {'never' if ert is None else f'{ert:7.2f}':>7}"
            for key in ("speedup", "strict"):
                line += f" {'never' if hit[key] is None else f'{hit[key]:7.2f}':>7}"
        if "compile_s" in outs[0]:
            line += f"  (+{statistics.median(o['compile_s'] for o in outs):.2f}s compile)"
        print(line.rstrip())
    print(
        f"\nfinal error (best - optimum) over seeds: quartiles per side, two-sided Mann-Whitney U p-value, "
        f"verdict at alpha {args.alpha} (better / worse: polyopt's errors rank lower / higher)"
    )
    for line in final_error_table(rows, args.alpha):
        print(line)


if __name__ == "__main__":
    main()
