"""Non-dominated sorting: polyopt (torch path and dispatching default) vs moocore vs pymoo.

Random uniform points, n in {10k, 50k}, m in {2, 3}, all on the CPU, in one process run per measurement so
that each reports its own peak memory (resident set growth over the baseline after generating the data).
Times are the median of ``--repeats`` runs (one run for the torch path at 50k points, which takes seconds).

Usage: ``PYTHONPATH=core python benchmarks/sorting_vs_moocore.py [--repeats 5]``
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import statistics
import subprocess
import sys
import time

METHODS = ("polyopt-torch", "polyopt-auto", "moocore", "pymoo")
SIZES = ((10_000, 2), (10_000, 3), (50_000, 2), (50_000, 3))


def _rss_mib() -> float:
    """Peak resident set size of this process so far, in MiB: Linux's ``VmHWM`` (KiB), elsewhere ``ru_maxrss``.
    Not ``ru_maxrss`` on Linux: it survives fork and exec, so each measuring child would start from the RSS of
    the parent (which has imported torch, moocore and pymoo) and hide any growth below it."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def measure(method: str, n: int, m: int, repeats: int) -> dict[str, float]:
    """Time one method on one problem size in this process; returns median ms and peak MiB."""
    import numpy as np
    import torch

    from polyopt.pareto import non_dominated_sort

    torch.set_num_threads(torch.get_num_threads())
    f = torch.rand(n, m, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    points = f.numpy()
    if method == "moocore":
        import moocore

        run = lambda: moocore.pareto_rank(points)  # noqa: E731
    elif method == "pymoo":
        from pymoo.util.nds.non_dominated_sorting import NonDominatedSorting

        nds = NonDominatedSorting()
        run = lambda: nds.do(points, return_rank=True)  # noqa: E731
    else:
        backend = "torch" if method == "polyopt-torch" else "auto"
        run = lambda: non_dominated_sort(f, backend=backend)  # noqa: E731
    if method == "polyopt-torch" and n > 20_000:
        repeats = 1
    else:
        run()  # warm-up
    base = _rss_mib()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out = run()
        times.append((time.perf_counter() - start) * 1e3)
    ranks = out[1] if method == "pymoo" else np.asarray(out)
    return {
        "ms": statistics.median(times),
        "peak_mib": _rss_mib() - base,
        "n_fronts": int(ranks.max()) + 1,
        "checksum": int(np.asarray(ranks, dtype=np.int64).sum()),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--one", nargs=3, metavar=("METHOD", "N", "M"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        method, n, m = args.one[0], int(args.one[1]), int(args.one[2])
        print(json.dumps(measure(method, n, m, args.repeats)))
        return
    import moocore
    import pymoo
    import torch

    print(
        f"# {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}, moocore {moocore.__version__}, pymoo {pymoo.__version__}"
    )
    print(
        f"{'n':>6} {'m':>2} {'method':<14} {'median ms':>11} {'x moocore':>10} {'peak MiB':>9} {'fronts':>7}"
    )
    for n, m in SIZES:
        rows = {}
        for method in METHODS:
            cmd = [
                sys.executable,
                __file__,
                "--one",
                method,
                str(n),
                str(m),
                "--repeats",
                str(args.repeats),
            ]
            rows[method] = json.loads(
                subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
            )
        if len({r["checksum"] for r in rows.values()}) != 1:
            print(f"!! ranks differ between methods at n={n}, m={m}")
        for method, r in rows.items():
            ratio = r["ms"] / rows["moocore"]["ms"]
            print(
                f"{n:>6} {m:>2} {method:<14} {r['ms']:>11.1f} {ratio:>10.2f} {r['peak_mib']:>9.1f} "
                f"{r['n_fronts']:>7}"
            )


if __name__ == "__main__":
    main()
