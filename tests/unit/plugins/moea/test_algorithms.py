"""Every MOEA runs on constrained and mixed-space problems, resumes exactly, and behaves as documented."""

from __future__ import annotations

import io
import itertools

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt.objective import Evaluation, FunctionObjective
from polyopt.spaces import Binary, Box, Categorical, Integer, Permutation, Product

ALGORITHMS = ["nsga2", "nsga3", "moead", "moead-sequential", "sms-emoa", "rvea", "dnsga2", "hype"]
SMALL = {
    "nsga2": {"pop_size": 12},
    "nsga3": {"n_partitions": 6},
    "moead": {"n_partitions": 11},
    "moead-sequential": {"n_partitions": 11},
    "sms-emoa": {"pop_size": 12},
    "rvea": {"n_partitions": 11},
    "dnsga2": {"pop_size": 16, "tau": 20},
    "hype": {"pop_size": 12, "n_samples": 2000},
}


def _constrained() -> FunctionObjective:
    """BNH-like: two quadratic objectives, one constraint cutting away the region near (2.5, 2.5)."""

    def fn(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        f = torch.stack(
            [4 * x[:, 0] ** 2 + 4 * x[:, 1] ** 2, (x[:, 0] - 5) ** 2 + (x[:, 1] - 5) ** 2], dim=1
        )
        g = (1.0 - ((x[:, 0] - 2.5) ** 2 + (x[:, 1] - 2.5) ** 2)).unsqueeze(
            1
        )  # outside the unit disc
        return f, g

    return FunctionObjective(
        fn, Box([0.0, 0.0], [5.0, 5.0]), n_objectives=2, n_constraints=1, name="bnh-like"
    )


def _mixed() -> FunctionObjective:
    space = Product(
        {
            "x": Box(0.0, 1.0, dim=2),
            "n": Integer(0, 5),
            "c": Categorical(["a", "b", "c"]),
            "bits": Binary(4),
            "order": Permutation(4),
        }
    )

    def fn(x: torch.Tensor) -> torch.Tensor:
        parts = space.unflatten(x)
        displacement = (parts["order"] - torch.arange(4, dtype=x.dtype)).abs().sum(1)
        f1 = parts["x"][:, 0] + 0.1 * parts["n"][:, 0] + parts["bits"].sum(1) * 0.05
        f2 = 1 - parts["x"][:, 0] + parts["x"][:, 1] + 0.1 * parts["c"][:, 0] + 0.05 * displacement
        return torch.stack([f1, f2], dim=1)

    return FunctionObjective(fn, space, n_objectives=2, name="mixed")


@pytest.mark.parametrize("name", ALGORITHMS)
@pytest.mark.parametrize("handling", ["feasibility", "penalty"])
def test_runs_on_a_constrained_problem_and_returns_feasible_points(
    name: str, handling: str
) -> None:
    result = polyopt.optimize(
        name, _constrained(), budget=600, seed=0, constraint_handling=handling, **SMALL[name]
    )
    assert result.feasible and result.f.shape[0] >= 1
    assert bool((result.g <= 0).all())
    assert result.n_evaluations == 600


@pytest.mark.parametrize("name", ALGORITHMS)
def test_runs_on_a_mixed_product_space(name: str) -> None:
    problem = _mixed()
    opt = polyopt.make("optimizer", name, problem, seed=1, **SMALL[name])
    result = polyopt.run(opt, polyopt.Budget(evaluations=400))
    assert bool(problem.space.contains(result.x).all())
    assert opt.pop is not None and bool(problem.space.contains(opt.pop.x).all())


@pytest.mark.parametrize("name", ALGORITHMS)
def test_pending_asks_and_resume_mid_generation(name: str) -> None:
    """Several asks before a tell, and a checkpoint between them, continue exactly."""
    problem = polyopt.make("objective", "zdt1", n_var=5)

    def drive(opt, rounds: int) -> None:
        for _ in range(rounds):
            a, b = opt.ask(3), opt.ask(4)
            opt.tell(a, polyopt.evaluate(problem, a))
            opt.tell(b, polyopt.evaluate(problem, b))

    straight = polyopt.make("optimizer", name, problem, seed=5, **SMALL[name])
    drive(straight, 30)
    first = polyopt.make("optimizer", name, problem, seed=5, **SMALL[name])
    drive(first, 13)
    buf = io.BytesIO()
    torch.save(first.state_dict(), buf)
    buf.seek(0)
    resumed = polyopt.make("optimizer", name, problem, seed=6, **SMALL[name])
    resumed.load_state_dict(torch.load(buf, weights_only=True))
    drive(resumed, 17)
    assert torch.equal(straight.population.x, resumed.population.x)
    assert torch.equal(straight.result().f, resumed.result().f)


def test_dnsga2_population_doubles_every_tau_evaluations() -> None:
    problem = polyopt.make("objective", "zdt1", n_var=5)
    opt = polyopt.make("optimizer", "dnsga2", problem, seed=0, tau=50, pop_size=40)
    seen = []
    for _ in range(40):
        opt.step()
        seen.append(opt.population.x.shape[0])
    assert seen[0] == 4
    sizes = sorted(set(seen))
    assert sizes == [4, 8, 16, 32, 40]
    for size, nxt in itertools.pairwise(sizes):  # never shrinks, only doubles (capped at mu)
        assert seen.index(nxt) > seen.index(size) and nxt == min(40, 2 * size)


def test_duplicates_are_eliminated_without_a_distance_matrix() -> None:
    problem = FunctionObjective(
        lambda x: torch.stack([x.sum(1), (1 - x).sum(1)], 1), Binary(8), n_objectives=2
    )
    opt = polyopt.make("optimizer", "nsga2", problem, seed=0, pop_size=20)
    polyopt.run(opt, polyopt.Budget(evaluations=300))
    assert torch.unique(opt.population.x, dim=0).shape[0] == opt.population.x.shape[0]
    off = polyopt.make(
        "optimizer", "nsga2", problem, seed=0, pop_size=20, eliminate_duplicates=False
    )
    polyopt.run(off, polyopt.Budget(evaluations=300))
    assert (
        torch.unique(off.population.x, dim=0).shape[0] < off.population.x.shape[0]
    )  # copies of good points pile up


def test_failed_rows_never_survive_over_valid_ones() -> None:
    base = polyopt.make("objective", "zdt1", n_var=4)
    problem = FunctionObjective(
        lambda x: torch.where((x[:, 1:2] > 0.5), torch.nan, base.evaluate(x).f),
        base.space,
        n_objectives=2,
    )
    opt = polyopt.make("optimizer", "nsga2", problem, seed=0, pop_size=10)
    polyopt.run(opt, polyopt.Budget(evaluations=200))
    assert not bool(opt.population.failed.any())


def test_hypervolume_is_reported_once_per_generation() -> None:
    problem = polyopt.make("objective", "zdt1", n_var=5)
    opt = polyopt.make("optimizer", "nsga2", problem, seed=0, pop_size=10)
    metrics = [opt.step() for _ in range(4)]
    assert all("hypervolume" in m for m in metrics)
    assert metrics[-1]["hypervolume"] >= metrics[0]["hypervolume"] * 0.999


def test_moead_batched_and_sequential_share_weights_and_neighbourhoods() -> None:
    problem = polyopt.make("objective", "zdt1", n_var=5)
    a = polyopt.make("optimizer", "moead", problem, seed=0, n_partitions=19, n_neighbors=5)
    b = polyopt.make(
        "optimizer", "moead-sequential", problem, seed=0, n_partitions=19, n_neighbors=5
    )
    assert a.batch_size == 20 and torch.equal(a.decomposition.neighbors, b.decomposition.neighbors)
    a.step(), b.step()
    assert b.batch_size == 1 and a.batch_size == 20


def test_nsga3_riesz_directions_and_bad_config() -> None:
    problem = polyopt.make("objective", "dtlz2", n_obj=3)
    opt = polyopt.make("optimizer", "nsga3", problem, seed=0, ref_dirs="riesz", n_ref_dirs=15)
    assert opt.ref_dirs.shape == (15, 3) and opt.batch_size == 15
    with pytest.raises(ConfigError, match="ref_dirs"):
        polyopt.make("optimizer", "nsga3", problem, ref_dirs="uniform")
    with pytest.raises(ConfigError, match="constraint_handling"):
        polyopt.make("optimizer", "nsga2", problem, constraint_handling="ignore")
    with pytest.raises(ConfigError, match="sbxx"):
        polyopt.make("optimizer", "nsga2", problem, crossover="sbxx")


def test_registered_components() -> None:
    reg = polyopt.registry()
    assert set(ALGORITHMS) <= set(reg.names("optimizer"))
    assert {"sbx", "polynomial-mutation", "de-rand-1-bin", "ox", "pmx"} <= set(
        reg.names("operator")
    )
    assert {"rank-and-crowding", "reference-direction", "hv-contribution", "apd", "hype"} <= set(
        reg.names("survival")
    )


def test_result_is_the_feasible_non_dominated_set_in_user_direction() -> None:
    base = polyopt.make("objective", "zdt1", n_var=5)
    flipped = FunctionObjective(
        lambda x: -base.evaluate(x).f,
        base.space,
        n_objectives=2,
        directions=("maximize", "maximize"),
    )
    a = polyopt.optimize("nsga2", base, budget=300, seed=2, pop_size=20)
    b = polyopt.optimize("nsga2", flipped, budget=300, seed=2, pop_size=20)
    assert torch.allclose(a.f, -b.f)
    from polyopt.pareto import non_dominated_mask

    assert bool(non_dominated_mask(a.f).all())
    assert isinstance(Evaluation, type)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ALGORITHMS)
def test_runs_on_the_gpu_with_tensors_kept_there(name: str) -> None:
    problem = polyopt.make("objective", "dtlz2", n_obj=3)
    opt = polyopt.make("optimizer", name, problem, seed=0, device="cuda", **SMALL[name])
    polyopt.run(opt, polyopt.Budget(evaluations=300))
    assert opt.population.x.device.type == "cuda"
    assert opt.result().f.shape[1] == 3
