"""BoTorch's private APIs sit behind polyopt_plugins.bo._botorch: on an untested BoTorch the fast paths switch
off and every BO optimizer still runs on BoTorch's public classes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

import polyopt
from polyopt_plugins.bo import _botorch
from polyopt_plugins.bo.moments import PosteriorMoments


def _clear() -> None:
    for fn in (_botorch.log_ei_helper, _botorch.batched_lbfgs_b, _botorch.optimize_acqf_options):
        fn.cache_clear()


@pytest.fixture
def untested_botorch(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(_botorch, "VERSION", (0, 99))
    _clear()
    yield
    _clear()


def test_the_tested_series_uses_the_fast_paths() -> None:
    if _botorch.VERSION not in _botorch.TESTED:
        pytest.skip(
            f"BoTorch {_botorch.VERSION} is outside the tested series {_botorch.TESTED}: fast paths off"
        )
    assert _botorch.log_ei_helper() is not None and _botorch.batched_lbfgs_b() is not None


def test_an_untested_botorch_falls_back_to_its_public_classes(untested_botorch: None) -> None:
    assert _botorch.log_ei_helper() is None and _botorch.batched_lbfgs_b() is None
    assert _botorch.load_fused_hypervolume_kernel() is False
    problem = polyopt.make("objective", "branin")
    opt = polyopt.make(
        "optimizer", "ego", problem, seed=0, n_initial=4, num_restarts=2, raw_samples=32
    )
    result = polyopt.run(opt, polyopt.Budget(evaluations=6))
    assert result.n_evaluations == 6 and opt.last_method == "optimize_acqf"
    from polyopt.testing import small_gp, small_training_data

    assert PosteriorMoments.of(small_gp(small_training_data())) is None
