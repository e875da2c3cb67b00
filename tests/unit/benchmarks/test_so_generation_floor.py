"""benchmarks/so_generation_floor.py: its floor draws what EvoX's step draws, and its fused DE generation is a
DE generation (one-to-one selection, points kept in the box)."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType

import pytest
import torch

import polyopt


@pytest.fixture(scope="module")
def floor(load_benchmark: Callable[[str], ModuleType]) -> ModuleType:
    return load_benchmark("so_generation_floor")


@pytest.mark.parametrize("algo", ["de", "jade", "pso"])
def test_the_floor_draws_exactly_what_an_evox_step_draws(floor: ModuleType, algo: str) -> None:
    pytest.importorskip("evox")
    problem = polyopt.make("objective", "rosenbrock", dim=6)
    lower, upper = problem.space.bounds.to(torch.float32)

    def fn(x: torch.Tensor) -> torch.Tensor:
        return problem.evaluate(x).f[:, 0]

    torch.manual_seed(0)
    workflow = floor.evox_workflow(algo, fn, lower, upper, 40)
    state = torch.get_rng_state()
    workflow.step()
    after_step = torch.get_rng_state()
    torch.set_rng_state(state)
    floor.evox_draws(algo, 40, 6, torch.float32)()
    assert torch.equal(torch.get_rng_state(), after_step)


def test_the_fused_generation_selects_one_to_one_inside_the_box(floor: ModuleType) -> None:
    problem = polyopt.make("objective", "rastrigin", dim=5)
    lower, upper = problem.space.bounds.to(torch.float64)

    def fn(x: torch.Tensor) -> torch.Tensor:
        return problem.evaluate(x).f[:, 0]

    generation = floor.fused_de(fn, lower, upper)
    x = problem.space.sample(64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    f = fn(x)
    torch.manual_seed(0)
    start = f.clone()
    for _ in range(30):
        new_x, new_f = generation(x, f)
        assert bool((new_f <= f).all())
        torch.testing.assert_close(new_f, fn(new_x))
        assert bool(((new_x >= lower) & (new_x <= upper)).all())
        x, f = new_x, new_f
    assert float(f.min()) < float(start.min())


def test_best_cpu_per_call_keeps_the_best_block(floor: ModuleType) -> None:
    calls = []
    assert floor.best_cpu_per_call(lambda: calls.append(1), steps=3, repeats=2) >= 0.0
    assert len(calls) == 6
