"""TSP: TSPLIB distances against known optimal tours and hand-computed values, tour lengths, and the
construction environment's masks, returns and resets."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt_envs.co import (
    TSP,
    TSPEnv,
    euclidean_distances,
    parse_tsplib,
    read_tour,
    read_tsplib,
    repair_actions,
    tour_length,
    tsplib_distances,
    tsplib_env,
)

DATA = Path(__file__).parents[2] / "data" / "tsplib"
#: TSPLIB's published optimal lengths; the tours in tests/data were found by LKH-3 (elkai) on our distances
OPTIMA = {
    "burma14": 3323,
    "ulysses16": 6859,
    "att48": 10628,
    "eil51": 426,
    "berlin52": 7542,
    "st70": 675,
    "kroA100": 21282,
}


@pytest.mark.parametrize("name", sorted(OPTIMA))
def test_optimal_tours_have_tsplibs_optimal_lengths(name: str) -> None:
    tsp = TSP(tsplib=DATA / f"{name}.tsp")
    assert tsp.optimum == OPTIMA[name]  # read from the solutions file next to the instance
    tour = read_tour(DATA / f"{name}.opt.tour")
    assert sorted(tour.tolist()) == list(range(tsp.n))
    f = polyopt.evaluate(tsp, tour.to(torch.float64).unsqueeze(0)).f
    assert float(f[0, 0]) == OPTIMA[name]


def _held_karp(dist: torch.Tensor) -> float:
    """Exact TSP by dynamic programming over subsets (city 0 fixed as the start)."""
    n = dist.shape[0]
    full = 1 << (n - 1)
    best = torch.full((full, n - 1), math.inf, dtype=torch.float64)
    for j in range(n - 1):
        best[1 << j, j] = dist[0, j + 1]
    inner = dist[1:, 1:]
    for mask in range(1, full):
        row = best[mask]
        if not bool(torch.isfinite(row).any()):
            continue
        # extend the path ending at j to every city k outside the mask
        cand = (row.unsqueeze(1) + inner).min(dim=0).values  # n-1: best arrival at each k
        for k in range(n - 1):
            if not mask & (1 << k):
                nxt = mask | (1 << k)
                best[nxt, k] = min(float(best[nxt, k]), float(cand[k]))
    return float((best[full - 1] + dist[1:, 0]).min())


def test_burma14_optimum_is_the_exact_optimum_of_our_geo_distances() -> None:
    inst = read_tsplib(DATA / "burma14.tsp")
    assert _held_karp(inst.distances()) == 3323


def test_hand_computed_distances() -> None:
    coords = torch.tensor(
        [[0.0, 0.0], [3.0, 4.0], [1.0, 1.0], [1.5, 2.0], [10.0, 0.0], [30.0, 40.0]]
    )
    euc = tsplib_distances(coords, "EUC_2D")[0].tolist()
    assert euc == [0, 5, 1, 3, 10, 50]  # nint: sqrt(2) -> 1, 2.5 -> 3
    assert tsplib_distances(coords, "CEIL_2D")[0, 2] == 2  # ceil(sqrt(2))
    att = tsplib_distances(coords, "ATT")[0]
    # ATT: r = sqrt(d^2 / 10); t = nint(r); t + 1 when t < r
    assert float(att[4]) == 4  # r = sqrt(10) = 3.162 -> t = 3 < r -> 4
    assert float(att[5]) == 16  # r = sqrt(250) = 15.81 -> t = 16 >= r
    assert torch.equal(tsplib_distances(coords, "EUC_2D"), tsplib_distances(coords, "EUC_2D").T)


def test_geo_distance_by_hand() -> None:
    # two points on the equator 1 degree of longitude apart: RRR * acos(cos(1 deg)) + 1, truncated
    coords = torch.tensor([[0.0, 0.0], [0.0, 1.0]])
    rad = 3.141592 / 180.0
    expected = int(6378.388 * math.acos(math.cos(rad)) + 1.0)
    assert float(tsplib_distances(coords, "GEO")[0, 1]) == expected == 112


def test_unsupported_and_malformed_files_say_why(tmp_path: Path) -> None:
    text = "NAME: x\nTYPE: TSP\nDIMENSION: 3\nEDGE_WEIGHT_TYPE: EXPLICIT\nEOF\n"
    with pytest.raises(ConfigError, match="EXPLICIT"):
        parse_tsplib(text)
    with pytest.raises(ConfigError, match="does not exist"):
        read_tsplib(tmp_path / "missing.tsp")
    short = (
        "NAME: x\nDIMENSION: 4\nEDGE_WEIGHT_TYPE: EUC_2D\nNODE_COORD_SECTION\n1 0 0\n2 1 1\nEOF\n"
    )
    with pytest.raises(ConfigError, match="2 coordinate rows for DIMENSION 4"):
        parse_tsplib(short)


def test_unit_square_tours_by_hand() -> None:
    tsp = TSP(coords=torch.tensor([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]))
    tours = torch.tensor([[0.0, 1.0, 2.0, 3.0], [0.0, 2.0, 1.0, 3.0], [2.0, 1.0, 0.0, 3.0]])
    f = tsp.evaluate(tours).f[:, 0]
    assert f.tolist() == pytest.approx([4.0, 2.0 + 2.0 * math.sqrt(2.0), 4.0])
    assert tsp.evaluate(tours.float()).f.dtype == torch.float32


def test_length_is_invariant_to_rotation_and_reversal() -> None:
    tsp = TSP(n=12, seed=3)
    tour = tsp.space.sample(1, generator=torch.Generator().manual_seed(1))
    variants = torch.cat([tour, tour.roll(5, dims=1), tour.flip(1)])
    f = tsp.evaluate(variants).f[:, 0]
    assert torch.allclose(f, f[0].expand(3))


def test_batched_instances_use_their_own_distances() -> None:
    tsp_a, tsp_b = TSP(n=6, seed=0), TSP(n=6, seed=1)
    tours = torch.stack([torch.arange(6), torch.tensor([5, 3, 1, 0, 2, 4])])
    dist = torch.stack([tsp_a.distances, tsp_b.distances])
    batched = tour_length(tours, dist)
    assert batched[0] == tour_length(tours[:1], tsp_a.distances)[0]
    assert batched[1] == tour_length(tours[1:], tsp_b.distances)[0]


def test_random_instances_are_seeded() -> None:
    assert torch.equal(TSP(n=10, seed=4).coords, TSP(n=10, seed=4).coords)
    assert not torch.equal(TSP(n=10, seed=4).coords, TSP(n=10, seed=5).coords)
    with pytest.raises(ConfigError, match="n=2"):
        TSP(n=2)


def _rollout(env: TSPEnv, tours: torch.Tensor) -> tuple[torch.Tensor, list[polyopt.Step]]:
    steps = []
    total = torch.zeros(env.num_envs)
    for k in range(tours.shape[1]):
        step = env.step(tours[:, k])
        total += step.reward[:, 0]
        steps.append(step)
    return total, steps


def test_an_episode_returns_minus_the_tour_length() -> None:
    env = TSPEnv(num_envs=3, n=7, autoreset=False)
    env.reset(seed=0)
    gen = torch.Generator().manual_seed(0)
    tours = torch.stack([torch.randperm(7, generator=gen) for _ in range(3)])
    total, steps = _rollout(env, tours)
    assert [bool(s.terminated.any()) for s in steps] == [False] * 6 + [True]
    assert bool(steps[-1].terminated.all())
    expected = tour_length(tours, euclidean_distances(env.instances["locs"]))
    assert torch.allclose(total.double(), -expected, atol=1e-5)
    assert not bool(torch.stack([s.info["repaired"] for s in steps]).any())


def test_the_mask_forbids_visited_cities_and_invalid_actions_are_repaired() -> None:
    env = TSPEnv(num_envs=2, n=5)
    env.reset(seed=1)
    env.step(torch.tensor([2, 4]))
    env.step(torch.tensor([0, 1]))
    mask = env.action_mask()
    assert mask.tolist() == [[False, True, False, True, True], [True, False, True, True, False]]
    step = env.step(
        torch.tensor([2, 3])
    )  # city 2 was visited by row 0: the next free one (3) is taken
    assert step.info["repaired"].tolist() == [True, False]
    assert env.current.tolist() == [3, 3]
    actions, repaired = repair_actions(
        torch.tensor([4]), torch.tensor([[True, False, False, False, False]])
    )
    assert actions.tolist() == [0] and repaired.tolist() == [True]  # wraps around


def test_autoreset_draws_new_instances_and_fixed_ones_stay() -> None:
    env = TSPEnv(num_envs=2, n=4)
    env.reset(seed=0)
    before = env.instances["locs"].clone()
    _, steps = _rollout(env, torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0]]))
    assert bool(steps[-1].terminated.all())
    after = env.step(torch.tensor([0, 0]))
    assert after.info["autoreset"].all() and bool((after.reward == 0).all())
    assert not after.terminated.any() and not torch.equal(env.instances["locs"], before)
    assert bool((env.current == -1).all())  # the reset observation: no city chosen yet

    fixed = TSPEnv(num_envs=2, locs=before)
    fixed.reset(seed=0)
    _rollout(fixed, torch.tensor([[0, 1, 2, 3], [3, 2, 1, 0]]))
    fixed.step(torch.tensor([0, 0]))
    assert torch.equal(fixed.instances["locs"], before)


def test_without_autoreset_ended_rows_stay_ended() -> None:
    env = TSPEnv(num_envs=1, n=3, autoreset=False)
    env.reset(seed=0)
    _rollout(env, torch.tensor([[0, 1, 2]]))
    step = env.step(torch.tensor([1]))
    assert step.terminated.tolist() == [True] and float(step.reward) == 0.0


def test_tsplib_env_uses_the_rounded_distances() -> None:
    env = tsplib_env(DATA / "eil51.tsp", num_envs=1, autoreset=False)
    env.reset()
    tour = read_tour(DATA / "eil51.opt.tour").unsqueeze(0)
    total, _ = _rollout(env, tour)
    assert float(total[0]) == -426.0
    assert env.observe().max() <= 1.0 and env.observe().min() >= 0.0


def test_state_dict_continues_exactly() -> None:
    env = TSPEnv(num_envs=2, n=6)
    env.reset(seed=3)
    env.step(torch.tensor([0, 1]))
    state = env.state_dict()
    later = [env.step(torch.tensor([a, a])).reward for a in (2, 3, 4, 5, 1, 0, 2)]
    other = TSPEnv(num_envs=2, n=6)
    other.reset(seed=99)
    other.load_state_dict(state)
    again = [other.step(torch.tensor([a, a])).reward for a in (2, 3, 4, 5, 1, 0, 2)]
    assert all(torch.equal(a, b) for a, b in zip(later, again))
