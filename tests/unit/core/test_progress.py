"""Single runs show their progress when asked, and third-party noise stays out of the way."""

from __future__ import annotations

import io
import sys
import warnings
from types import SimpleNamespace

import pytest
from linear_operator.utils.warnings import NumericalWarning

import polyopt
from polyopt import _progress
from polyopt.run import Budget


def _fake_optimizer() -> SimpleNamespace:
    return SimpleNamespace(
        name="fake",
        problem=SimpleNamespace(name="bowl"),
        n_evaluations=0,
        n_steps=0,
        n_env_steps=0,
        elapsed=0.0,
    )


def test_without_a_terminal_progress_is_a_line_per_tenth_at_most_one_a_second(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    clock = [0.0]
    monkeypatch.setattr(_progress.time, "monotonic", lambda: clock[0])
    opt, out = _fake_optimizer(), io.StringIO()
    progress = _progress.Progress(opt, Budget(evaluations=1000), bar=False, stream=out)
    for step in range(1, 101):  # 10 evaluations a step, 0.25 s each
        opt.n_steps, opt.n_evaluations, opt.elapsed = step, 10 * step, 0.25 * step
        clock[0] = opt.elapsed
        progress(opt, {})
    progress.close(finished=True)
    lines = out.getvalue().splitlines()
    assert lines[0] == "fake on bowl: 10% (100/1,000 evaluations, step 10, 2.5 s)"
    assert len(lines) == 11 and lines[-1].startswith("fake on bowl: 100% (1,000/1,000")


def test_a_short_run_prints_no_progress_lines(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_progress.time, "monotonic", lambda: 0.0)
    opt, out = _fake_optimizer(), io.StringIO()
    progress = _progress.Progress(opt, Budget(steps=4), bar=False, stream=out)
    for step in range(1, 5):
        opt.n_steps = step
        progress(opt, {})
    progress.close(finished=True)
    assert out.getvalue() == ""


def test_the_budget_share_is_the_largest_of_its_limits() -> None:
    opt = _fake_optimizer()
    progress = _progress.Progress(opt, Budget(evaluations=100, seconds=10.0), bar=False)
    opt.n_evaluations, opt.elapsed = 20, 5.0
    assert progress.fraction() == pytest.approx(0.5)
    assert progress.detail() == "20/100 evaluations, step 0"


def test_a_verbose_run_shows_progress_and_a_quiet_one_nothing(
    capsys: pytest.CaptureFixture[str],
) -> None:
    polyopt.optimize("random-search", "sphere", budget=Budget(seconds=1.5), seed=0, verbose=True)
    err = capsys.readouterr().err
    assert "random-search on sphere: " in err and "%" in err
    polyopt.optimize("random-search", "sphere", budget=Budget(seconds=1.5), seed=0, verbose=False)
    assert capsys.readouterr().err == ""


def _warn_numerically(_opt: object, _metrics: object) -> None:
    warnings.warn("A not p.d., added jitter of 1.0e-08", NumericalWarning, stacklevel=2)


@pytest.mark.skipif(
    _progress._user_sees_numerical_warnings(), reason="-W asked to see every RuntimeWarning"
)
def test_numerical_warnings_are_counted_once_not_printed_each_time(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("default")
        polyopt.optimize(
            "random-search",
            "sphere",
            budget=Budget(steps=5),
            seed=0,
            verbose=True,
            callbacks=[_warn_numerically],
        )
        polyopt.optimize(
            "random-search",
            "sphere",
            budget=5,
            seed=0,
            verbose=False,
            callbacks=[_warn_numerically],
        )
    assert not [w for w in seen if w.category is NumericalWarning]
    (note,) = [line for line in capsys.readouterr().err.splitlines() if "NumericalWarning" in line]
    assert note.startswith("note: 5 NumericalWarning(s) from GPyTorch/BoTorch during the run")


def test_other_warnings_of_a_run_still_reach_the_user() -> None:
    def warn(_opt: object, _metrics: object) -> None:
        warnings.warn("the objective is flat", UserWarning, stacklevel=2)

    with pytest.warns(UserWarning, match="the objective is flat"):
        polyopt.optimize("random-search", "sphere", budget=2, seed=0, callbacks=[warn])


def test_import_noise_is_silenced_but_filters_the_user_set_decide_first() -> None:
    jit = "`torch.jit.script` is deprecated. Please switch to `torch.compile` or `torch.export`."
    with warnings.catch_warnings(record=True) as seen:
        warnings.resetwarnings()  # no filters but ours: Python's defaults show these
        _progress.quiet_third_party()
        _progress.quiet_third_party()  # twice adds nothing
        warnings.warn(jit, FutureWarning, stacklevel=1)
        warnings.warn("CUDA initialization: no NVIDIA driver", UserWarning, stacklevel=1)
        warnings.warn("something else", UserWarning, stacklevel=1)
        assert len(warnings.filters) == len(_progress._NOISE)
    assert [str(w.message) for w in seen] == ["something else"]
    with warnings.catch_warnings(record=True) as seen:
        _progress.quiet_third_party()
        warnings.simplefilter("always")  # the user's choice, as python -W always
        warnings.warn(jit, FutureWarning, stacklevel=1)
    assert len(seen) == 1


def test_only_options_that_cover_runtime_warnings_show_each_numerical_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for options, shown in (
        ([], False),
        (["error::UserWarning:polyopt.plugins"], False),
        (["always"], True),
        (["default::RuntimeWarning"], True),
        (["always::linear_operator.utils.warnings.NumericalWarning"], True),
    ):
        monkeypatch.setattr(sys, "warnoptions", options)
        assert _progress._user_sees_numerical_warnings() is shown, options
