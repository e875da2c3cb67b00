"""CEC 2022: the functions reproduce a reference implementation on the official data, and the generated
instances have their optimum where they say."""

from __future__ import annotations

import importlib.util
import pathlib

import numpy as np
import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt_envs.cec2022 import CEC2022, CEC2022Data, n_components

_CASES = [(f, d) for f in range(1, 13) for d in (2, 10, 20) if not (6 <= f <= 8 and d == 2)]


def _official(function: int, dim: int, folder: pathlib.Path) -> CEC2022Data:
    """The competition's files as :class:`CEC2022Data` (row-major ``M``; 1-based shuffles)."""
    k = n_components(function)
    m = np.loadtxt(folder / f"M_{function}_D{dim}.txt").reshape(-1, dim)[: k * dim]
    shift = np.loadtxt(folder / f"shift_data_{function}.txt").reshape(-1)
    if k > 1:
        shift = np.loadtxt(folder / f"shift_data_{function}.txt")[:k, :dim].reshape(-1)
    shuffle = None
    if 6 <= function <= 8:
        raw = np.loadtxt(folder / f"shuffle_data_{function}_D{dim}.txt").astype(np.int64)
        shuffle = torch.from_numpy(raw - 1)
    return CEC2022Data(
        shift=torch.from_numpy(shift[: k * dim].copy()).view(k, dim),
        rotation=torch.from_numpy(m.copy()).view(k, dim, dim),
        shuffle=shuffle,
    )


@pytest.mark.parametrize(("function", "dim"), _CASES)
def test_matches_evox_on_the_official_data(function: int, dim: int) -> None:
    """EvoX ships the official data files; it is a test reference only (GPL: nothing is copied)."""
    if importlib.util.find_spec("evox") is None:
        pytest.skip("evox is not installed (pip install evox)")
    from evox.problems.numerical import cec2022 as reference

    folder = pathlib.Path(reference.__file__).parent / "cec2022_input_data"
    ours = CEC2022(function, dim, data=_official(function, dim, folder))
    x = ours.space.sample(
        16, generator=torch.Generator().manual_seed(function), dtype=torch.float64
    )
    x = torch.cat([x, 0.01 * x])  # near the origin too, where different pieces dominate
    previous = torch.get_default_dtype()
    torch.set_default_dtype(
        torch.float64
    )  # it reads its data and builds constants in the default dtype
    try:
        expected = reference.CEC2022(function, dim).evaluate(x)
    finally:
        torch.set_default_dtype(previous)
    got = ours.evaluate(x).f[:, 0]
    torch.testing.assert_close(got, expected, rtol=1e-9, atol=1e-9)


@pytest.mark.parametrize("function", range(1, 13))
def test_generated_instances_reach_the_bias_at_their_first_shift(function: int) -> None:
    problem = polyopt.make("objective", f"cec2022-f{function}", dim=10)
    assert isinstance(problem, CEC2022)
    x_star = torch.tensor(problem.optimizers[0], dtype=torch.float64).unsqueeze(0)
    x = torch.cat([x_star, problem.space.sample(64, generator=torch.Generator().manual_seed(0))])
    f = problem.evaluate(x).f[:, 0]
    optimum = float(problem.optimum or 0.0)
    assert optimum == 100 * round(optimum / 100) > 0
    assert f[0].item() == pytest.approx(optimum, abs=1e-3)
    assert bool((f[1:] > optimum).all())
    again = polyopt.make("objective", f"cec2022-f{function}", dim=10)
    assert torch.equal(again.evaluate(x).f, problem.evaluate(x).f)  # deterministic data
    other = polyopt.make("objective", f"cec2022-f{function}", dim=10, seed=1)
    assert not torch.equal(other.evaluate(x).f, problem.evaluate(x).f)


@pytest.mark.parametrize(("function", "dim"), [(1, 10), (6, 20), (12, 2)])
def test_load_reads_the_official_files_as_numpy_does(function: int, dim: int) -> None:
    if importlib.util.find_spec("evox") is None:
        pytest.skip("evox is not installed (pip install evox)")
    from evox.problems.numerical import cec2022 as reference

    folder = pathlib.Path(reference.__file__).parent / "cec2022_input_data"
    loaded, expected = CEC2022Data.load(folder, function, dim), _official(function, dim, folder)
    assert torch.equal(loaded.shift, expected.shift)
    assert torch.equal(loaded.rotation, expected.rotation)
    if expected.shuffle is None:
        assert loaded.shuffle is None
    else:
        assert loaded.shuffle is not None and torch.equal(loaded.shuffle, expected.shuffle)


def test_load_names_a_missing_file(tmp_path: pathlib.Path) -> None:
    with pytest.raises(ConfigError, match="M_1_D10.txt"):
        CEC2022Data.load(tmp_path, 1, 10)


def test_refuses_dimensions_outside_the_suite() -> None:
    with pytest.raises(ConfigError, match="dim=5"):
        CEC2022(1, 5)
    with pytest.raises(ConfigError, match="F6"):
        CEC2022(6, 2)
    with pytest.raises(ConfigError, match="function=13"):
        CEC2022(13, 10)


@pytest.mark.parametrize("function", [1, 6, 12])
def test_converted_data_follows_the_dtype_and_a_replaced_data(function: int) -> None:
    problem, other = CEC2022(function, 10), CEC2022(function, 10, seed=1)
    x = problem.space.sample(8, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    first = problem.evaluate(x).f
    low = problem.evaluate(x.float()).f
    assert low.dtype == torch.float32
    torch.testing.assert_close(low, first.float(), rtol=1e-4, atol=1e-3)
    assert torch.equal(problem.evaluate(x).f, first)
    problem.data = other.data
    assert torch.equal(problem.evaluate(x).f, other.evaluate(x).f)
