"""The lean GP paths (closed-form MAP fit, posterior moments) against GPyTorch/BoTorch on the same models."""

from __future__ import annotations

import pytest
import torch
from botorch.acquisition.analytic import LogConstrainedExpectedImprovement, LogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms.input import Normalize
from gpytorch.mlls import ExactMarginalLogLikelihood

import polyopt
from polyopt_plugins.bo.moments import FastLogConstrainedEI, FastLogEI, PosteriorMoments
from polyopt_plugins.bo.surrogate import (
    _NOISE_FLOOR,
    TrainingData,
    fit_surrogate,
    map_loss_and_grad,
    map_objective,
    new_model,
)


def hartmann_data(n: int, k: int, seed: int = 0) -> TrainingData:
    g = torch.Generator().manual_seed(seed)
    X = torch.rand(n, 6, generator=g, dtype=torch.float64)
    f = polyopt.make("objective", "hartmann6").evaluate(X).f
    noise = 0.3 * torch.randn(n, k - 1, generator=g, dtype=torch.float64)
    Y = torch.cat([-f, f + noise], dim=-1) if k > 1 else -f
    return TrainingData(X, Y, 1, k - 1)


def gpytorch_loss(model: SingleTaskGP) -> float:
    model.train()
    mll = ExactMarginalLogLikelihood(model.likelihood, model)
    return -float(mll(model(*model.train_inputs), model.train_targets).sum())


def theta_of(model: SingleTaskGP) -> torch.Tensor:
    k, covar = model.num_outputs, model.covar_module
    e = model.train_inputs[0].shape[-1]
    return torch.cat(
        [
            covar.base_kernel.lengthscale.reshape(k, e).log(),
            covar.outputscale.reshape(k, 1).log(),
            (model.likelihood.noise.reshape(-1).expand(k) - _NOISE_FLOOR).log().reshape(k, 1),
            model.mean_module.constant.reshape(-1).expand(k).reshape(k, 1),
        ],
        dim=1,
    ).detach()


def batched_inputs(model: SingleTaskGP) -> tuple[torch.Tensor, torch.Tensor]:
    k, X = model.num_outputs, model.train_inputs[0]
    return (X.expand(k, *X.shape[-2:]) if X.dim() == 2 else X), model.train_targets.reshape(k, -1)


@pytest.mark.parametrize("k", [1, 3])
def test_map_objective_is_gpytorchs_loss_and_its_closed_form_gradient_is_autograds(k: int) -> None:
    data = hartmann_data(25, k)
    model = new_model(data, "polyopt")
    with torch.no_grad():  # move away from the initial values so every term matters
        model.covar_module.base_kernel.lengthscale = torch.linspace(0.2, 2.0, 6).expand_as(
            model.covar_module.base_kernel.lengthscale
        )
        model.covar_module.outputscale = torch.full_like(model.covar_module.outputscale, 1.7)
        model.likelihood.noise = torch.full_like(model.likelihood.noise, 3e-3)
        model.mean_module.constant = torch.full_like(model.mean_module.constant, 0.4)
    X, y = batched_inputs(model)
    theta = theta_of(model).requires_grad_(True)
    loss = map_objective(theta, X, y)
    assert float(loss) == pytest.approx(gpytorch_loss(model), rel=1e-8)
    (grad,) = torch.autograd.grad(loss, theta)
    loss2, grad2 = map_loss_and_grad(theta.detach(), X, y)
    assert float(loss2) == pytest.approx(
        float(loss), rel=1e-8
    )  # map_objective uses torch Gamma: float32 constants
    torch.testing.assert_close(grad2, grad, rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("k", [1, 3])
def test_the_lean_fit_reaches_botorchs_optimum(k: int) -> None:
    data = hartmann_data(30, k)
    lean, fitted = fit_surrogate(data)
    reference = new_model(data, "polyopt")
    fit_gpytorch_mll(ExactMarginalLogLikelihood(reference.likelihood, reference))
    assert fitted
    assert gpytorch_loss(lean) <= gpytorch_loss(reference) + 1e-4


@pytest.mark.parametrize("kind", ["polyopt", "botorch"])
@pytest.mark.parametrize("k", [1, 3])
def test_posterior_moments_and_their_gradients_equal_botorchs(kind: str, k: int) -> None:
    data = hartmann_data(20, k, seed=1)
    model, _ = fit_surrogate(data, kind=kind)
    moments = PosteriorMoments.of(model)
    assert moments is not None
    x = torch.cat(
        [torch.rand(9, 1, 6, dtype=torch.float64), data.X[:2].unsqueeze(1)]
    ).requires_grad_(True)
    post = model.posterior(x)
    mean, var = moments(x.squeeze(-2))
    torch.testing.assert_close(mean, post.mean.squeeze(-2), rtol=1e-9, atol=1e-9)
    torch.testing.assert_close(var, post.variance.squeeze(-2), rtol=1e-7, atol=1e-9)
    (g_ref,) = torch.autograd.grad((1.7 * post.mean + 0.3 * post.variance).sum(), x)
    (g,) = torch.autograd.grad((1.7 * mean + 0.3 * var).sum(), x)
    torch.testing.assert_close(g, g_ref, rtol=1e-6, atol=1e-8)
    assert bool(torch.isfinite(g).all())  # also at the training points, where the distance is zero


def test_fast_acquisitions_equal_botorchs_and_unknown_models_keep_botorchs_path() -> None:
    data = hartmann_data(20, 3, seed=2)
    model, _ = fit_surrogate(data)
    single, _ = fit_surrogate(TrainingData(data.X, data.Y[:, :1], 1, 0))
    x = torch.rand(16, 1, 6, dtype=torch.float64)
    best = data.Y[:, 0].max()
    torch.testing.assert_close(
        FastLogEI(single, best_f=best)(x), LogExpectedImprovement(single, best_f=best)(x)
    )
    assert FastLogEI(single, best_f=best).moments is not None
    cons = {1: (None, 0.0), 2: (None, 0.0)}
    torch.testing.assert_close(
        FastLogConstrainedEI(model, best_f=best, objective_index=0, constraints=cons)(x),
        LogConstrainedExpectedImprovement(model, best_f=best, objective_index=0, constraints=cons)(
            x
        ),
    )
    other = SingleTaskGP(data.X, data.Y[:, :1], input_transform=Normalize(d=6))
    assert PosteriorMoments.of(other) is None
    acqf = FastLogEI(other, best_f=best)
    torch.testing.assert_close(acqf(x), LogExpectedImprovement(other, best_f=best)(x))


@pytest.mark.parametrize("maximize", [True, False])
def test_log_ei_gradient_in_closed_form_equals_autograds_into_both_tails(maximize: bool) -> None:
    data = hartmann_data(20, 3, seed=4)
    model, _ = fit_surrogate(TrainingData(data.X, data.Y[:, :1], 1, 0))
    y = data.Y[:, 0]
    # incumbents from deep in the tail (u ~ -40: log h far below what exp underflows to) to far beyond the data
    for best in (y.max() + 40 * y.std(), y.max(), y.median(), y.min() - 40 * y.std()):
        x = torch.cat(
            [torch.rand(12, 1, 6, dtype=torch.float64), data.X[:2].unsqueeze(1)]
        ).requires_grad_(True)
        fast, ref = (
            FastLogEI(model, best_f=best, maximize=maximize),
            LogExpectedImprovement(model, best_f=best, maximize=maximize),
        )
        value, value_ref = fast(x), ref(x)
        torch.testing.assert_close(value, value_ref)
        (g,) = torch.autograd.grad(value.sum(), x)
        (g_ref,) = torch.autograd.grad(value_ref.sum(), x)
        assert bool(torch.isfinite(g).all())
        torch.testing.assert_close(g, g_ref, rtol=1e-5, atol=1e-8)


def test_closed_form_log_ei_optimization_finds_what_optimize_acqf_finds_from_the_same_starts() -> (
    None
):
    from botorch.optim import optimize_acqf
    from botorch.optim.initializers import gen_batch_initial_conditions

    from polyopt_plugins.bo.acqopt import AcqOptSettings, _closed_form_log_ei, _optimize_log_ei

    data = hartmann_data(25, 1, seed=5)
    model, _ = fit_surrogate(data)
    acqf = FastLogEI(model, best_f=data.Y[:, 0].max())
    m = _closed_form_log_ei(acqf)
    assert m is not None
    bounds = torch.stack([torch.zeros(6), torch.ones(6)]).to(torch.float64)
    torch.manual_seed(0)
    starts = gen_batch_initial_conditions(acqf, bounds, q=1, num_restarts=6, raw_samples=128)
    x = _optimize_log_ei(acqf, m, bounds, AcqOptSettings(num_restarts=6), starts)
    x_ref, _ = optimize_acqf(
        acqf, bounds, q=1, num_restarts=6, batch_initial_conditions=starts, options={"maxiter": 200}
    )
    with torch.no_grad():
        value, value_ref = float(acqf(x.unsqueeze(0))), float(acqf(x_ref.unsqueeze(0)))
    assert value >= value_ref - 1e-9
    torch.testing.assert_close(x, x_ref, atol=1e-5, rtol=0)


def test_an_unknown_model_name_is_refused_with_the_choices() -> None:
    with pytest.raises(Exception, match=r"model='matern'.*'polyopt', 'botorch'"):
        polyopt.make("optimizer", "ego", polyopt.make("objective", "branin"), model="matern")
