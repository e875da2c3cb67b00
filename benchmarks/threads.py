"""Torch intra-op threads and small tensor work: time one workload with 1 and with N threads, idle and with
every other core busy, so the library's default is chosen on numbers.

Each measurement is a fresh subprocess (torch fixes its thread pool at first use). "loaded" starts one busy
Python process per core but one for the duration, as other workers, tests or a notebook would.

Usage:
    python benchmarks/threads.py                      # NSGA-II pop 1,000 on ZDT1 and one GRPO step size
    python benchmarks/threads.py --workloads nsga2-1000 nsga2-10000 grpo --repeats 3
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import statistics
import subprocess
import sys
import time

WORKLOADS = {
    # evolutionary search: many small kernels per generation (sorting, crowding, variation)
    "nsga2-1000": "polyopt.optimize('nsga2', polyopt.make('objective', 'zdt1'), "
    "budget=polyopt.Budget(steps=21), seed=0, pop_size=1000, device='cpu')",
    "nsga2-10000": "polyopt.optimize('nsga2', polyopt.make('objective', 'zdt1'), "
    "budget=polyopt.Budget(steps=4), seed=0, pop_size=10000, device='cpu')",
    # a language-model trainer: matrix products large enough to split
    "grpo": "polyopt.optimize('grpo', polyopt.make('environment', 'text-addition'), "
    "budget=polyopt.Budget(steps=6), seed=0, device='cpu', n_layer=4, d_model=256, n_head=8, "
    "prompts_per_step=16, completions_per_prompt=8)",
}


def _child(workload: str, threads: int) -> None:
    import torch

    import polyopt

    torch.set_num_threads(threads)
    os.environ["POLYOPT_THREADS"] = str(
        threads
    )  # polyopt.run would otherwise run the steps with one
    code = WORKLOADS[workload]
    eval(code, {"polyopt": polyopt})  # warm-up: imports, first-use costs
    start = time.perf_counter()
    eval(code, {"polyopt": polyopt})
    print(json.dumps({"seconds": time.perf_counter() - start}))


def _burn(stop: mp.synchronize.Event) -> None:
    x = 0
    while not stop.is_set():
        x = (x * 31 + 7) % 1_000_003


def measure(workload: str, threads: int, loaded: bool) -> float:
    stop = mp.Event()
    burners = [mp.Process(target=_burn, args=(stop,)) for _ in range((os.cpu_count() or 2) - 1)]
    if loaded:
        for b in burners:
            b.start()
    try:
        out = subprocess.run(
            [sys.executable, __file__, "--child", workload, str(threads)],
            capture_output=True,
            text=True,
            check=True,
        )
    finally:
        stop.set()
        for b in burners:
            if b.is_alive():
                b.join()
    return float(json.loads(out.stdout.strip().splitlines()[-1])["seconds"])


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--workloads", nargs="+", default=["nsga2-1000", "grpo"], choices=sorted(WORKLOADS)
    )
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        _child(args.child[0], int(args.child[1]))
        return
    cores = os.cpu_count() or 2
    print(f"# {cores} cores, load average before: {os.getloadavg()[0]:.2f}")
    print("workload       state    threads  median s  (runs)            ratio N/1")
    for workload in args.workloads:
        for loaded in (False, True):
            medians = {}
            for threads in (1, cores):
                runs = [measure(workload, threads, loaded) for _ in range(args.repeats)]
                medians[threads] = statistics.median(runs)
                shown = ", ".join(f"{r:.2f}" for r in runs)
                print(
                    f"{workload:14s} {'loaded' if loaded else 'idle':8s} {threads:7d}  "
                    f"{medians[threads]:8.2f}  ({shown})"
                )
            print(f"{'':14s} {'':8s} {'':7s}  {'':8s}  {'':18s} {medians[cores] / medians[1]:.2f}x")


if __name__ == "__main__":
    main()
