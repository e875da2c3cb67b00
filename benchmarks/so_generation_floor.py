"""How fast can one generation be? EvoX's DE, JaDE and PSO generation against its unavoidable part (issue 21).

Issue 21 asks polyopt's tensorized DE, JADE and PSO for ">= 3x" EvoX's speed on the CPU at population >= 1,000.
Both libraries are eager torch, so a generation costs the random numbers it draws, the objective it evaluates,
and the arithmetic between them. This script measures, per generation and on one CPU thread:

- ``evox``: EvoX's ``StdWorkflow.step`` (the objective included), eager, as EvoX runs by default;
- ``evox+compile``: the same step under ``torch.compile``, as EvoX's documentation recommends (a failure to
  compile is printed as the row's note);
- ``floor``: EvoX's own random draws (the exact ``torch.rand``/``randint``/``randn`` calls of its step, on the same
  generator) plus one evaluation of the same objective on ``pop x dim`` points. Any implementation that draws
  those random numbers from torch's CPU generator and evaluates the objective eagerly pays at least this, so
  ``evox / floor`` bounds the per-generation speedup over EvoX that such an implementation can reach;
- ``polyopt``: one ``polyopt`` optimizer step (``opt.step()``: the same algorithm family, its checked evaluation
  and step metrics included);
- ``fused``: for DE only, a whole rand/1/bin generation (draws, mutation, crossover, bounds, the objective,
  selection) written as one function and compiled whole by ``torch.compile`` (inductor's in-graph random numbers
  replace the generator's): what kernel fusion reaches on this CPU when even the draws and the objective fuse.
  Its compile time is printed.

Compile times are first compiles: the script points inductor's cache at a new empty folder
(``TORCHINDUCTOR_CACHE_DIR``) and resets dynamo before each compiled row.

CPU seconds (``time.process_time``) per generation, best of ``--repeats`` blocks of ``--steps`` generations after
a warm-up; every case interleaves its rows. The objective is polyopt's, as the main benchmark gives it to EvoX.

    python benchmarks/so_generation_floor.py --dims 10,100 --dtypes float64,float32
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from typing import Any

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")
# an empty compile cache per run: the printed compile times are a first compile, not a cache hit
os.environ.setdefault("TORCHINDUCTOR_CACHE_DIR", tempfile.mkdtemp(prefix="polyopt-floor-"))

import torch  # noqa: E402
from torch import Tensor  # noqa: E402

import polyopt  # noqa: E402

Fn = Callable[[Tensor], Tensor]


def best_cpu_per_call(fn: Callable[[], object], steps: int, repeats: int) -> float:
    """The best over ``repeats`` blocks of CPU seconds per call of ``fn`` (``steps`` calls a block)."""
    best = float("inf")
    for _ in range(repeats):
        start = time.process_time()
        for _ in range(steps):
            fn()
        best = min(best, (time.process_time() - start) / steps)
    return best


def evox_draws(algo: str, n: int, d: int, dtype: torch.dtype) -> Callable[[], object]:
    """The random draws of one EvoX step of ``algo`` (as in EvoX 1.4's ``step``), on torch's global generator."""

    def de() -> object:
        for _ in range(3):
            torch.randint(0, n, (n,))
        torch.rand(n, d, dtype=dtype)
        return torch.randint(0, d, (n, 1))

    def jade() -> object:
        torch.randn(n, dtype=dtype)
        torch.randn(n, dtype=dtype)
        for _ in range(3):
            torch.randint(0, n, (n,))
        torch.randint(0, max(int(n * 0.05), 1), (n,))
        torch.rand(n, d, dtype=dtype)
        return torch.randint(0, d, (n, 1))

    def pso() -> object:
        torch.rand(n, d, dtype=dtype)
        return torch.rand(n, d, dtype=dtype)

    return {"de": de, "jade": jade, "pso": pso}[algo]


def evox_workflow(algo: str, fn: Fn, lower: Tensor, upper: Tensor, n: int) -> Any:
    from evox.algorithms import DE, PSO, JaDE
    from evox.core import Problem
    from evox.workflows import StdWorkflow

    class Wrapped(Problem):
        def evaluate(self, pop: Tensor) -> Tensor:
            return fn(pop)

    cls = {"de": DE, "jade": JaDE, "pso": PSO}[algo]
    workflow = StdWorkflow(cls(pop_size=n, lb=lower, ub=upper), Wrapped())
    workflow.init_step()
    return workflow


def fused_de(
    fn: Fn, lower: Tensor, upper: Tensor
) -> Callable[[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """One rand/1/bin generation (F 0.5, CR 0.9, clamp) with the objective, as one function to compile."""

    def generation(x: Tensor, f: Tensor) -> tuple[Tensor, Tensor]:
        n, d = x.shape
        donors = x[torch.randint(0, n, (3, n))]
        mutant = donors[0] + 0.5 * (donors[1] - donors[2])
        forced = torch.randint(0, d, (n, 1)) == torch.arange(d)
        mask = (torch.rand(n, d, dtype=x.dtype) < 0.9) | forced
        trial = torch.clamp(torch.where(mask, mutant, x), lower, upper)
        f_trial = fn(trial)
        better = f_trial < f
        return torch.where(better.unsqueeze(1), trial, x), torch.where(better, f_trial, f)

    return generation


def polyopt_step(
    algo: str, problem: polyopt.Objective, n: int, dtype: torch.dtype
) -> Callable[[], object]:
    opt = polyopt.make("optimizer", algo, problem, seed=0, device="cpu", dtype=dtype, pop_size=n)
    return opt.step


def compiled_rows(
    algo: str, fn: Fn, lower: Tensor, upper: Tensor, x0: Tensor, steps: int, repeats: int
) -> tuple[float, float, list[str]]:
    """CPU seconds per generation of EvoX's step under ``torch.compile`` and of the fused DE generation (nan
    where not measured), with their compile times as notes."""
    notes: list[str] = []
    compiled_s = fused_s = float("nan")
    workflow = evox_workflow(algo, fn, lower, upper, x0.shape[0])
    torch._dynamo.reset()  # a fresh compile per row (no recompile limit, no reuse)
    try:
        start = time.perf_counter()
        compiled_step = torch.compile(workflow.step)
        compiled_step()
        notes.append(f"evox compile {time.perf_counter() - start:.1f}s")
        for _ in range(5):
            compiled_step()
        compiled_s = best_cpu_per_call(compiled_step, steps, repeats)
    except Exception as exc:  # reported as the row's note
        notes.append(f"evox compile failed: {type(exc).__name__}")
    if algo == "de":
        torch._dynamo.reset()
        generation = torch.compile(fused_de(fn, lower, upper), dynamic=False)
        start = time.perf_counter()
        box = {"state": generation(x0.clone(), fn(x0))}
        notes.append(f"fused compile {time.perf_counter() - start:.1f}s")

        def fused_step() -> None:
            box["state"] = generation(*box["state"])

        for _ in range(5):
            fused_step()
        fused_s = best_cpu_per_call(fused_step, steps, repeats)
    return compiled_s, fused_s, notes


def case(problem: polyopt.Objective, dtype: torch.dtype, args: argparse.Namespace) -> None:
    """Print the rows of every algorithm on ``problem`` in ``dtype``."""
    n, d = args.pop, problem.space.dim
    lower, upper = problem.space.bounds.to(dtype)

    def fn(x: Tensor) -> Tensor:
        return problem.evaluate(x).f[:, 0]

    x0 = problem.space.sample(n, generator=torch.Generator().manual_seed(0), dtype=dtype)
    objective_s = best_cpu_per_call(lambda: fn(x0), args.steps, args.repeats)
    for algo in args.algorithms.split(","):
        torch.manual_seed(0)
        draws_s = best_cpu_per_call(evox_draws(algo, n, d, dtype), args.steps, args.repeats)
        workflow = evox_workflow(algo, fn, lower, upper, n)
        for _ in range(5):
            workflow.step()
        evox_s = best_cpu_per_call(workflow.step, args.steps, args.repeats)
        step = polyopt_step(algo, problem, n, dtype)
        for _ in range(5):
            step()
        polyopt_s = best_cpu_per_call(step, args.steps, args.repeats)
        compiled_s, fused_s, notes = float("nan"), float("nan"), list[str]()
        if not args.no_compile:
            compiled_s, fused_s, notes = compiled_rows(
                algo, fn, lower, upper, x0, args.steps, args.repeats
            )
        floor_s = draws_s + objective_s
        print(
            f"{problem.name:>12} {d:>4} {str(dtype)[6:]:>8} {algo:>5} | {evox_s * 1e3:8.3f} "
            f"{compiled_s * 1e3:8.3f} {floor_s * 1e3:8.3f} {polyopt_s * 1e3:8.3f} "
            f"{fused_s * 1e3:8.3f} | {evox_s / floor_s:10.2f} {evox_s / polyopt_s:12.2f} "
            f"{evox_s / fused_s:10.2f}  draws {draws_s * 1e3:.3f} + objective "
            f"{objective_s * 1e3:.3f} ms; " + "; ".join(notes),
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pop", type=int, default=1000)
    parser.add_argument("--dims", default="10,100")
    parser.add_argument("--dtypes", default="float64,float32")
    parser.add_argument("--problems", default="rosenbrock,cec2022-f12")
    parser.add_argument("--algorithms", default="de,jade,pso")
    parser.add_argument("--steps", type=int, default=50, help="generations per timed block")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks (the best is kept)")
    parser.add_argument("--no-compile", action="store_true", help="skip the compiled rows")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load at the start: {os.getloadavg()}  torch {torch.__version__}", flush=True)
    print("CPU ms per generation (best block); ratios above 1: faster than EvoX eager")
    print(
        f"{'problem':>12} {'d':>4} {'dtype':>8} {'algo':>5} | {'evox':>8} {'+compile':>8} {'floor':>8} "
        f"{'polyopt':>8} {'fused':>8} | {'evox/floor':>10} {'evox/polyopt':>12} {'evox/fused':>10}  notes"
    )
    for problem_name in args.problems.split(","):
        for d in (int(v) for v in args.dims.split(",")):
            try:
                problem = polyopt.make("objective", problem_name, dim=d)
            except polyopt.ConfigError as exc:  # e.g. CEC 2022 has no dim 100
                print(f"{problem_name:>12} {d:>4} skipped: {exc}")
                continue
            for dtype in (getattr(torch, v) for v in args.dtypes.split(",")):
                case(problem, dtype, args)
    print(f"load at the end: {os.getloadavg()}")


if __name__ == "__main__":
    main()
