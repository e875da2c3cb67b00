"""The time-to-target reading of benchmarks/so_evolution_vs_anchors.py: first hits, COCO's ERT, the pairing
by seed, and polyopt's per-generation trace."""

from __future__ import annotations

import importlib.util
import itertools
import math
from collections.abc import Callable
from types import ModuleType

import pytest
import torch

import polyopt


@pytest.fixture(scope="module")
def bench(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("so_evolution_vs_anchors")


def test_time_to_reach_is_the_first_point_at_or_below_the_target(bench: ModuleType) -> None:
    trace = [(0.1, 0.05, 5.0), (0.2, 0.1, 3.0), (0.3, 0.15, 1.0)]
    assert bench.time_to_reach(trace, 3.0) == 0.2
    assert bench.time_to_reach(trace, 3.0, column=1) == 0.1
    assert bench.time_to_reach(trace, 4.0) == 0.2
    assert bench.time_to_reach(trace, 0.5) is None


def test_expected_running_time_counts_failed_runs_whole(bench: ModuleType) -> None:
    assert bench.expected_running_time([1.0, None], [2.0, 4.0]) == pytest.approx(5.0)
    assert bench.expected_running_time([1.0, 3.0], [2.0, 4.0]) == pytest.approx(2.0)
    assert bench.expected_running_time([None, None], [2.0, 4.0]) is None


def test_time_to_target_pairs_seeds_and_reads_both_speedups(bench: ModuleType) -> None:
    ours = [
        {"seed": 1, "seconds": 4.0, "cpu": 2.0, "trace": [(1.0, 0.5, 9.0), (2.0, 1.0, 2.0)]},
        {"seed": 0, "seconds": 4.0, "cpu": 2.0, "trace": [(1.0, 0.5, 5.0), (3.0, 1.5, 4.0)]},
    ]
    anchor = [  # seed 0 reached its final best (5) at 6 s, seed 1 its (2) at 10 s
        {"seed": 0, "best": 5.0, "seconds": 10.0, "cpu": 8.0, "trace": [(6.0, 4.0, 5.0)]},
        {"seed": 1, "best": 2.0, "seconds": 10.0, "cpu": 8.0, "trace": [(10.0, 8.0, 2.0)]},
    ]
    wall = bench.time_to_target(ours, anchor)
    assert (wall["hits"], wall["runs"]) == (2, 2)
    assert wall["ert"] == pytest.approx(1.5)  # 1 s (seed 0) and 2 s (seed 1)
    assert wall["speedup"] == pytest.approx(10.0 / 1.5)
    assert wall["strict"] == pytest.approx(8.0 / 1.5)  # median of the anchor's own 6 and 10 s
    cpu = bench.time_to_target(ours, anchor, column=1)
    assert cpu["ert"] == pytest.approx(0.75)
    assert cpu["speedup"] == pytest.approx(8.0 / 0.75)
    anchor[1]["best"] = 1.0  # seed 1 now never reached: its whole run counts, one hit
    missed = bench.time_to_target(ours, anchor)
    assert (missed["hits"], missed["ert"]) == (1, pytest.approx(5.0))
    anchor[0]["best"] = 0.0
    assert bench.time_to_target(ours, anchor)["speedup"] is None


def test_polyopt_trace_has_one_point_per_generation_ending_at_the_result(bench: ModuleType) -> None:
    problem = polyopt.make("objective", "rastrigin", dim=3)
    out = bench.run_polyopt("de", problem, 20, 4, 0)
    trace = out["trace"]
    assert len(trace) == 4
    assert all(a[0] <= b[0] and a[2] >= b[2] for a, b in itertools.pairwise(trace))
    assert trace[-1][2] == pytest.approx(out["best"])
    wall, cpu = bench.trace_overhead_s(1000)
    assert 0 < wall < 1e-3 and 0 <= cpu < 1e-3


def test_own_problems_are_the_official_instances_and_agree_with_evox(bench: ModuleType) -> None:
    if importlib.util.find_spec("evox") is None:
        pytest.skip("evox is not installed (pip install evox)")
    bench.OWN["on"] = True
    try:
        problem = bench._problem("cec2022-f12", 10)
        assert bench.check_own_agree(problem, torch.float64) < 1e-12
        generated = polyopt.make("objective", "cec2022-f12", dim=10)
        assert not torch.equal(problem.data.shift, generated.data.shift)  # official, not generated
    finally:
        bench.OWN["on"] = False


def test_evox_on_its_own_problem_traces_and_restores_the_default_dtype(bench: ModuleType) -> None:
    if importlib.util.find_spec("evox") is None:
        pytest.skip("evox is not installed (pip install evox)")
    bench.OWN["on"], saved = True, dict(bench.DTYPE)
    bench.DTYPE["evox"] = torch.float64
    try:
        problem = bench._problem("cec2022-f1", 10)
        out = bench.run_evox("de", problem, 20, 3, 0)
        assert torch.get_default_dtype() == torch.float32
        assert len(out["trace"]) == 3 and out["trace"][-1][2] == out["best"] >= 300.0
    finally:
        bench.OWN["on"] = False
        bench.DTYPE.update(saved)


def test_quartiles_interpolate_between_order_statistics(bench: ModuleType) -> None:
    assert bench.quartiles([4.0, 1.0, 3.0, 2.0, 5.0]) == (2.0, 3.0, 4.0)
    assert bench.quartiles([1.0, 2.0]) == (1.25, 1.5, 1.75)
    assert bench.quartiles([7.0]) == (7.0, 7.0, 7.0)


def test_rank_sum_verdict_follows_the_side_that_ranks_lower(bench: ModuleType) -> None:
    low = [0.1 * i for i in range(10)]
    high = [5.0 + 0.1 * i for i in range(10)]
    p, verdict = bench.rank_sum(low, high)
    assert verdict == "better" and p < 1e-4  # exact two-sided p: 2 / C(20, 10)
    assert p == pytest.approx(2 / 184756)
    assert bench.rank_sum(high, low) == (p, "worse")
    interleaved = [float(i) for i in range(0, 20, 2)]
    assert bench.rank_sum(interleaved, [x + 1.0 for x in interleaved])[1] == "same"
    assert bench.rank_sum([0.0] * 5, [0.0] * 5) == (1.0, "same")  # all tied: nothing to rank
    assert bench.rank_sum(low, high, alpha=1e-6)[1] == "same"
    p_one, verdict_one = bench.rank_sum([1.0], high)
    assert math.isnan(p_one) and verdict_one == "n/a"


def test_final_error_table_has_one_line_per_anchor_with_both_sides(bench: ModuleType) -> None:
    def runs(errors: list[float]) -> list[dict[str, float]]:
        return [{"error": e} for e in errors]

    rows = {
        ("f", "de", "polyopt"): runs([1.0, 2.0, 3.0, 4.0, 5.0]),
        ("f", "de", "evox"): runs([10.0, 20.0, 30.0, 40.0, 50.0]),
        ("g", "cbo", "polyopt"): runs([1.0, 2.0]),  # no anchor: no line
    }
    header, line = bench.final_error_table(rows)
    assert "verdict" in header
    assert line.split()[:4] == ["f", "de", "evox", "5/5"]
    assert [float(v) for v in line.split()[4:10]] == [2.0, 3.0, 4.0, 20.0, 30.0, 40.0]
    assert line.split()[-1] == "better"


def test_variants_run_polyopt_with_their_config_and_share_anchors(bench: ModuleType) -> None:
    assert bench.resolve("pso[evox-params]") == (
        "pso",
        {"update": "inertia", "w": 0.6, "c1": 2.5, "c2": 0.8},
    )
    assert bench.resolve("de") == ("de", {})
    assert bench.resolve("de[evox-bounds]") == ("de", {"bounds": "clip"})
    with pytest.raises(SystemExit, match="unknown algorithm 'psoo'"):
        bench.resolve("psoo")
    problem = polyopt.make("objective", "rastrigin", dim=3)
    base, config = bench.resolve("pso[evox-params]")
    default = bench.run_polyopt(base, problem, 20, 4, 0)
    variant = bench.run_polyopt(base, problem, 20, 4, 0, config)
    assert variant["trace"][0][2] == default["trace"][0][2]  # the same first sample
    assert variant["best"] != default["best"]  # then other moves
