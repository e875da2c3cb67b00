"""The SAAS GP (fully Bayesian, NUTS on NumPyro) as EGO's and TuRBO's model.

A NUTS fit costs tens of seconds on a loaded 2-core machine even at tiny sizes (JAX compiles per data size), so
the runs that fit are marked slow and run where POLYOPT_SLOW_TESTS=1; the refusals run always."""

from __future__ import annotations

import os

import pytest
import torch
from bo_helpers import SMALL, run_steps

import polyopt
from polyopt.errors import ConfigError
from polyopt_plugins.bo.ego import EGO
from polyopt_plugins.bo.surrogate import fit_surrogate, lengthscales
from polyopt_plugins.bo.turbo import TuRBO

TINY = {**SMALL, "model": "saas", "saas_nuts": (16, 8, 2)}


def one_relevant_input() -> polyopt.Objective:
    """Six inputs of which only the third matters: minimum 0 at x_2 = 0.25."""

    @polyopt.objective(bounds=([0.0] * 6, [1.0] * 6), name="one-relevant")
    def fn(x: torch.Tensor) -> torch.Tensor:
        return (x[:, 2] - 0.25) ** 2

    return fn


@pytest.mark.slow
@pytest.mark.skipif(
    os.environ.get("POLYOPT_SLOW_TESTS") != "1", reason="NUTS fits: set POLYOPT_SLOW_TESTS=1"
)
def test_saas_shrinks_the_irrelevant_inputs_and_ego_and_turbo_propose() -> None:
    pytest.importorskip("numpyro")
    opt = EGO(one_relevant_input(), seed=0, n_initial=8, **TINY)
    run_steps(opt, 10)
    assert opt.x_all.shape == (10, 6)
    torch.manual_seed(0)
    model, fitted = fit_surrogate(opt.training_data(), kind="saas", nuts=(32, 16, 2))
    ls = lengthscales(model)[0]
    assert fitted and ls.shape == (6,)
    assert int(ls.argmin()) == 2, ls  # the shrinkage prior leaves the irrelevant inputs long
    turbo = TuRBO(one_relevant_input(), seed=1, n_initial=3, **TINY)
    run_steps(turbo, 7)
    assert bool(torch.isfinite(turbo.f_all).all())


def test_saas_refuses_what_it_cannot_model() -> None:
    with pytest.raises(ConfigError, match="model='saas'"):
        polyopt.make("optimizer", "qlognehvi", polyopt.make("objective", "zdt1", n_var=3), **TINY)
    with pytest.raises(ConfigError, match="model='saas'"):
        polyopt.make("optimizer", "aegis", one_relevant_input(), **TINY)
    with pytest.raises(ConfigError, match="n_regions=2 with model='saas'"):
        TuRBO(one_relevant_input(), seed=0, n_regions=2, **TINY)
    with pytest.raises(ValueError, match="warm_start"):
        EGO(one_relevant_input(), seed=0, warm_start=True, **TINY)
    with pytest.raises(ValueError, match="saas_nuts"):
        EGO(one_relevant_input(), seed=0, model="saas", saas_nuts=(16, 0, 2))
