"""qLogNEHVI and qLogNParEGO improve the hypervolume of their Sobol design, with and without constraints."""

from __future__ import annotations

import pytest
import torch
from bo_helpers import SMALL, run_steps

import polyopt
from polyopt.metrics import hypervolume

REF = torch.tensor([1.2, 1.2], dtype=torch.float64)


def two_bowls(constrained: bool = False) -> polyopt.Objective:
    """Two objectives on [0, 1]^2 whose Pareto set is the segment from (0.2, 0.2) to (0.8, 0.8)."""

    @polyopt.objective(
        bounds=([0.0, 0.0], [1.0, 1.0]),
        n_objectives=2,
        n_constraints=int(constrained),
        name="two-bowls",
        ref_point=REF.tolist(),
    )
    def bowls(x: torch.Tensor):  # type: ignore[no-untyped-def]
        f = torch.stack([((x - 0.2) ** 2).sum(-1), ((x - 0.8) ** 2).sum(-1)], dim=-1)
        return (f, 0.2 - x[:, :1]) if constrained else f

    return bowls


def hv(f: torch.Tensor, feasible: torch.Tensor) -> float:
    return float(hypervolume(f[feasible], REF))


@pytest.mark.parametrize(("name", "constrained"), [("qlognehvi", False), ("qlogparego", True)])
def test_improves_the_hypervolume_of_its_sobol_design(name: str, constrained: bool) -> None:
    opt = polyopt.make(
        "optimizer", name, two_bowls(constrained), seed=0, n_initial=5, batch_size=2, **SMALL
    )
    run_steps(opt, 11)
    feasible = opt.evaluations().feasible()
    assert hv(opt.f_all, feasible) > hv(opt.f_all[:5], feasible[:5]) + 0.01
    assert opt.result().f.shape[1] == 2


def test_pending_points_are_not_suggested_again() -> None:
    opt = polyopt.make("optimizer", "qlognehvi", two_bowls(), seed=0, n_initial=4, **SMALL)
    run_steps(opt, 4)  # the Sobol design: both asks below use the model
    a, b = opt.ask(1), opt.ask(1)
    assert not torch.allclose(a, b, atol=1e-4)


def test_qlognehvi_refuses_five_objectives() -> None:
    problem = polyopt.FunctionObjective(
        lambda x: x.repeat(1, 5), polyopt.Box([0.0], [1.0]), n_objectives=5
    )
    with pytest.raises(polyopt.IncompatibleProblemError, match="objectives"):
        polyopt.make("optimizer", "qlognehvi", problem)


def test_the_hypervolume_kernel_is_loaded_before_the_first_step_and_its_time_reported_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from botorch.acquisition.multi_objective import logei

    kernel = hasattr(logei, "_load_attempted")
    if kernel:  # as if no qLogNEHVI had been built in this process yet
        monkeypatch.setattr(logei, "_load_attempted", False)
        monkeypatch.setattr(logei, "_C", None)
    opt = polyopt.make("optimizer", "qlognehvi", two_bowls(), seed=0, n_initial=2, **SMALL)
    if kernel:
        assert (
            logei._load_attempted
        )  # BoTorch compiles or loads it on first use: that happened in setup
    first, second = opt.step(), opt.step()
    assert first["warmup_seconds"] >= 0.0
    assert "warmup_seconds" not in second
