"""CEC 2022 F1-F12 evaluation speed: polyopt's ``CEC2022`` vs EvoX's ``CEC2022``, each as a user calls it (issue 21).

Both run on the official data (EvoX's files, loaded into polyopt with ``CEC2022Data.load``), on the same points,
on one CPU thread, interleaved (for each case: polyopt, EvoX, polyopt, EvoX, ...). The values are checked to
agree first (``rtol`` 1e-9 in float64, 1e-4 in float32). EvoX builds its data in torch's default dtype, so its
float64 case runs with torch's default dtype set to float64, for both (as EvoX's float64 users must: it also
builds constants such as the ellipsoid's powers in the default dtype while evaluating).
Reported: CPU seconds per evaluation (``time.process_time``, best of ``--repeats`` blocks of ``--calls`` calls)
and the ratio EvoX / polyopt (above 1: polyopt faster).

    python benchmarks/cec2022_eval_vs_evox.py --pops 1000,10000 --dims 10,20 --dtypes float32,float64
"""

from __future__ import annotations

import argparse
import os
import pathlib
import time
from collections.abc import Callable

import torch

from polyopt_envs.cec2022 import CEC2022, CEC2022Data


def evox_problem(function: int, dim: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """EvoX's CEC2022 instance as ``x -> f`` (its data and constants in torch's default dtype)."""
    from evox.problems.numerical.cec2022 import CEC2022 as EvoxCEC2022

    return EvoxCEC2022(function, dim).evaluate


def polyopt_problem(function: int, dim: int) -> Callable[[torch.Tensor], torch.Tensor]:
    """polyopt's CEC2022 on the official data (EvoX's files) as ``x -> f``."""
    from evox.problems.numerical import cec2022 as reference

    folder = pathlib.Path(reference.__file__).parent / "cec2022_input_data"
    problem = CEC2022(function, dim, data=CEC2022Data.load(folder, function, dim))
    return lambda x: problem.evaluate(x).f[:, 0]


def _cpu_per_call(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, calls: int) -> float:
    start = time.process_time()
    for _ in range(calls):
        fn(x)
    return (time.process_time() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--pops", default="1000,10000")
    parser.add_argument("--dims", default="10,20")
    parser.add_argument("--dtypes", default="float32,float64")
    parser.add_argument("--functions", default=",".join(str(i) for i in range(1, 13)))
    parser.add_argument("--calls", type=int, default=10, help="calls per timed block")
    parser.add_argument("--repeats", type=int, default=3, help="timed blocks (the best is kept)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"load at the start: {os.getloadavg()}", flush=True)
    header = f"{'fn':>3} {'dim':>3} {'pop':>6} {'dtype':>8} {'polyopt ms':>10} {'evox ms':>9} {'ratio':>6}"
    print(header)
    ratios: list[float] = []
    for dtype_name in args.dtypes.split(","):
        dtype = getattr(torch, dtype_name)
        torch.set_default_dtype(dtype)
        for dim in (int(d) for d in args.dims.split(",")):
            for function in (int(f) for f in args.functions.split(",")):
                ours, theirs = polyopt_problem(function, dim), evox_problem(function, dim)
                for pop in (int(p) for p in args.pops.split(",")):
                    gen = torch.Generator().manual_seed(function)
                    x = (
                        -100.0 + 200.0 * torch.rand(pop, dim, generator=gen, dtype=torch.float64)
                    ).to(dtype)
                    tol = 1e-9 if dtype == torch.float64 else 1e-4
                    torch.testing.assert_close(ours(x), theirs(x), rtol=tol, atol=tol)
                    best = {"polyopt": float("inf"), "evox": float("inf")}
                    for _ in range(args.repeats):
                        best["polyopt"] = min(best["polyopt"], _cpu_per_call(ours, x, args.calls))
                        best["evox"] = min(best["evox"], _cpu_per_call(theirs, x, args.calls))
                    ratio = best["evox"] / best["polyopt"]
                    ratios.append(ratio)
                    print(
                        f"{function:>3} {dim:>3} {pop:>6} {dtype_name:>8} {1e3 * best['polyopt']:10.3f} "
                        f"{1e3 * best['evox']:9.3f} {ratio:6.2f}",
                        flush=True,
                    )
    print(f"load at the end: {os.getloadavg()}")
    print(
        f"ratio EvoX / polyopt: min {min(ratios):.2f}, max {max(ratios):.2f} over {len(ratios)} cases"
    )


if __name__ == "__main__":
    main()
