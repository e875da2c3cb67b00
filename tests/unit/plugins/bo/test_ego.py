"""EGO: improvement over the Sobol design, pending points, mixed spaces, failures, and exact resume."""

from __future__ import annotations

import io
import subprocess
import sys

import pytest
import torch
from bo_helpers import SMALL, bowl_2d, run_steps

import polyopt
from polyopt import Categorical, Evaluation, Integer, Product
from polyopt.errors import ConfigError, EvaluationError, IncompatibleProblemError
from polyopt_plugins.bo import acqopt, base
from polyopt_plugins.bo.ego import EGO


def best_of(opt: EGO, rows: int) -> float:
    f = opt.f_all[:rows, 0]
    return float(f[~opt.failed_all[:rows]].min())


@pytest.mark.parametrize("acquisition", ["log-ei", "qlognei", "ucb", "thompson"])
def test_improves_over_its_sobol_design(acquisition: str) -> None:
    opt = EGO(bowl_2d(), seed=0, n_initial=5, acquisition=acquisition, beta=1.0, **SMALL)
    run_steps(opt, 11)
    assert opt.result().f_best < best_of(opt, 5)
    assert opt.result().f_best < 0.05


def test_batches_of_two_improve_too() -> None:
    opt = EGO(bowl_2d(), seed=1, n_initial=5, batch_size=2, **SMALL)
    run_steps(opt, 11)
    assert opt.result().f_best < best_of(opt, 5)


@pytest.mark.parametrize("acquisition", ["log-ei", "thompson"])
def test_pending_points_are_not_suggested_again(acquisition: str) -> None:
    problem = bowl_2d()
    opt = EGO(problem, seed=0, n_initial=4, acquisition=acquisition, **SMALL)
    run_steps(opt, 4)  # the Sobol design: both asks below use the model
    a, b = opt.ask(1), opt.ask(1)
    assert not torch.allclose(a, b, atol=1e-4)
    assert opt.pending.shape[0] == 2
    opt.tell(b, polyopt.evaluate(problem, b))
    assert torch.equal(opt.pending, a)


def mixed_problem() -> polyopt.Objective:
    space = Product(
        {"x": polyopt.Box([-1.0], [1.0]), "k": Integer(0, 4), "c": Categorical(["a", "b", "c"])}
    )

    @polyopt.objective(space, name="mixed")
    def mixed(x: torch.Tensor) -> torch.Tensor:
        return (x[:, 0] - 0.3) ** 2 + (x[:, 1] - 3.0) ** 2 + (x[:, 2] != 1).to(x.dtype)

    return mixed


def test_mixed_space_uses_discrete_optimization_not_rounding(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_continuous(*args: object, **kwargs: object) -> None:
        raise AssertionError("a mixed space must not be optimized as a continuous relaxation")

    monkeypatch.setattr(acqopt, "optimize_acqf", no_continuous)
    problem = mixed_problem()
    opt = EGO(problem, seed=0, n_initial=6, **SMALL)
    run_steps(opt, 11)
    assert opt.last_method == "optimize_acqf_mixed_alternating"
    assert bool(problem.space.contains(opt.x_all).all())
    assert opt.result().f_best < best_of(opt, 6)


def test_failed_evaluations_are_excluded_from_the_fit(monkeypatch: pytest.MonkeyPatch) -> None:
    @polyopt.objective(bounds=([-1.0, -1.0], [1.0, 1.0]))
    def half_broken(x: torch.Tensor) -> torch.Tensor:
        f = (x**2).sum(dim=-1)
        return torch.where(x[:, 0] > 0.3, torch.nan, f)

    fitted = []
    real_fit = base.fit_surrogate

    def spy(data, **kwargs):  # type: ignore[no-untyped-def]
        fitted.append(data)
        return real_fit(data, **kwargs)

    monkeypatch.setattr(base, "fit_surrogate", spy)
    opt = EGO(half_broken, seed=0, n_initial=6, **SMALL)
    run_steps(opt, 12)
    assert bool(opt.failed_all.any()), "the problem should have produced failures"
    last = fitted[
        -1
    ]  # fitted before the last point was asked: on every earlier row but the failed ones
    assert bool(torch.isfinite(last.Y).all())
    assert last.X.shape[0] == int((~opt.failed_all[:-1]).sum())
    assert torch.isfinite(torch.tensor(opt.result().f_best))


def test_failures_told_explicitly_are_recorded() -> None:
    problem = bowl_2d()
    opt = EGO(problem, seed=0, n_initial=3, **SMALL)
    x = opt.ask(3)
    opt.tell(x, Evaluation.failure(3, 1))
    assert opt.failed_all.tolist() == [True, True, True]
    assert opt.ask(1).shape == (1, 2)  # still Sobol: nothing to model yet


def test_every_evaluation_failing_gives_a_clear_error() -> None:
    @polyopt.objective(bounds=([0.0], [1.0]), name="always-nan")
    def broken(x: torch.Tensor) -> torch.Tensor:
        return torch.full((x.shape[0],), torch.nan, dtype=x.dtype)

    opt = EGO(broken, seed=0, n_initial=3, max_failures=8, **SMALL)
    with pytest.raises(EvaluationError, match="always-nan"):
        run_steps(opt, 20)
    assert opt.n_evaluations == 8


def test_constant_outcomes_do_not_break_the_fit() -> None:
    @polyopt.objective(bounds=([0.0, 0.0], [1.0, 1.0]))
    def flat(x: torch.Tensor) -> torch.Tensor:
        return torch.ones(x.shape[0], dtype=x.dtype)

    opt = EGO(flat, seed=0, n_initial=4, **SMALL)
    run_steps(opt, 7)
    assert opt.n_evaluations == 7


def roundtrip(state: dict) -> dict:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize(
    ("name", "extra"),
    [("ego", {"warm_start": True}), ("turbo", {}), ("turbo", {"n_regions": 2}), ("aegis", {})],
)
def test_resume_from_state_dict_continues_exactly(name: str, extra: dict) -> None:
    cls = polyopt.registry().get("optimizer", name)
    straight = cls(bowl_2d(), seed=5, n_initial=4, **SMALL, **extra)
    run_steps(straight, 6)
    saved = roundtrip(
        straight.state_dict()
    )  # serialized now: what a run stopped here would have left
    run_steps(straight, 8)
    resumed = cls(bowl_2d(), seed=77, n_initial=4, **SMALL, **extra)
    resumed.load_state_dict(saved)
    run_steps(resumed, 8)
    assert torch.equal(straight.x_all, resumed.x_all)


GREEDY_CALLS: list[int] = []


def greedy_acquisition(model, data, options):  # type: ignore[no-untyped-def]
    """A third-party acquisition component: the posterior mean."""
    from botorch.acquisition.analytic import PosteriorMean

    GREEDY_CALLS.append(data.X.shape[0])
    return PosteriorMean(model)


def test_a_plugin_can_add_an_acquisition_component() -> None:
    registry = polyopt.registry()
    if ("acquisition", "test.greedy") not in registry:
        registry.add(
            "acquisition", "test.greedy", greedy_acquisition, summary="posterior mean (test)"
        )
    GREEDY_CALLS.clear()
    opt = EGO(bowl_2d(), seed=0, n_initial=4, acquisition="test.greedy", **SMALL)
    run_steps(opt, 6)
    assert GREEDY_CALLS == [4, 5]


def test_config_errors_name_the_value() -> None:
    with pytest.raises(ConfigError, match="log-eii"):
        EGO(bowl_2d(), acquisition="log-eii")
    with pytest.raises(ConfigError, match="num_restarts"):
        EGO(bowl_2d(), num_restarts=0)


def test_permutation_spaces_are_refused_with_a_reason() -> None:
    problem = polyopt.FunctionObjective(lambda x: x[:, 0], polyopt.Permutation(4))
    with pytest.raises(IncompatibleProblemError, match="permutation"):
        EGO(problem)


def test_ucb_refuses_constraints() -> None:
    problem = polyopt.FunctionObjective(
        lambda x: (x[:, 0], x), polyopt.Box([0.0], [1.0]), n_constraints=1
    )
    with pytest.raises(ConfigError, match="ignores constraints"):
        EGO(problem, acquisition="ucb")


def test_registering_the_plugin_does_not_import_botorch() -> None:
    code = (
        "import sys; from polyopt.registry import Registry; from polyopt_plugins.bo import plugin; "
        "r = Registry(); plugin.polyopt_register(r); "
        "assert 'botorch' not in sys.modules, 'botorch imported'; print(len(r.names('acquisition')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert int(out.stdout) >= 8


def test_incumbent_starts_still_improve() -> None:
    opt = EGO(bowl_2d(), seed=2, n_initial=5, incumbent_starts=1, **SMALL)
    run_steps(opt, 9)
    assert opt.result().f_best < best_of(opt, 5)


def test_suggests_what_a_plain_botorch_loop_suggests_on_the_same_data() -> None:
    # Guards the encoding to the unit cube, the outcome sign and best_f: on a box that is not the unit cube,
    # EGO's point must score as well under a plain BoTorch model (normalized inputs, -f, LogEI) as that
    # model's own optimum does.
    from botorch.acquisition.analytic import LogExpectedImprovement
    from botorch.fit import fit_gpytorch_mll
    from botorch.models import SingleTaskGP
    from botorch.optim import optimize_acqf
    from gpytorch.mlls import ExactMarginalLogLikelihood

    problem = polyopt.make("objective", "branin")
    opt = EGO(problem, seed=3, n_initial=8, num_restarts=4, raw_samples=128, model="botorch")
    run_steps(opt, 8)
    x = opt.ask(1)
    lower, upper = problem.space.bounds
    z, y = (opt.x_all - lower) / (upper - lower), -opt.f_all
    model = SingleTaskGP(z, y)
    fit_gpytorch_mll(ExactMarginalLogLikelihood(model.likelihood, model))
    acqf = LogExpectedImprovement(model, best_f=y.max())
    unit = torch.stack([torch.zeros(2), torch.ones(2)]).to(z)
    _z_plain, value_plain = optimize_acqf(acqf, unit, q=1, num_restarts=4, raw_samples=128)
    value = acqf(((x - lower) / (upper - lower)).unsqueeze(1))
    assert float(value) >= float(value_plain) - 0.1


def test_acquisition_options_reach_a_plugin_acquisition() -> None:
    from botorch.acquisition import PosteriorMean

    seen: list[dict] = []

    def spy(model, data, options):
        seen.append(options.extra)
        return PosteriorMean(model)

    reg = polyopt.registry()
    reg.add("acquisition", "test.spy", spy, plugin="test")
    try:
        polyopt.optimize(
            "ego",
            "branin",
            budget=4,
            seed=0,
            n_initial=3,
            num_restarts=2,
            raw_samples=16,
            acquisition="test.spy",
            acquisition_options={"kappa": 0.5},
        )
    finally:
        reg.remove_plugin("test")
    assert seen == [{"kappa": 0.5}]


def test_an_acquisition_in_the_wrong_slot_says_what_it_is() -> None:
    with pytest.raises(
        polyopt.ConfigError, match="'ppo-clip' is a policy loss, not an acquisition"
    ):
        polyopt.make(
            "optimizer", "ego", polyopt.make("objective", "branin"), acquisition="ppo-clip"
        )
