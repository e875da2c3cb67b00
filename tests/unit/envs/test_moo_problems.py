"""Multi-objective benchmark problems: parity with pymoo, fronts, batching/dtype, option errors."""

from __future__ import annotations

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError
from polyopt.metrics import igd
from polyopt.pareto import non_dominated_mask

pymoo_problems = pytest.importorskip("pymoo.problems")

DTLZ = [f"dtlz{i}" for i in range(1, 8)]
WFG = [f"wfg{i}" for i in range(1, 10)]
CDTLZ = ["c1-dtlz1", "c2-dtlz2", "c3-dtlz4"]
FIXED = ["mw1", "mw2", "mw3", "bnh", "srn", "tnk", "osy", "zdt1", "zdt2", "zdt3", "zdt4", "zdt6"]
ALL = DTLZ + WFG + CDTLZ + FIXED


def _make(name: str, **options: object) -> polyopt.Objective:
    return polyopt.make("objective", name, **options)


def _pymoo(name: str, ours: polyopt.Objective):
    pname = name.replace("-", "")
    if name in DTLZ or name in CDTLZ:
        return pymoo_problems.get_problem(pname, n_var=ours.n_var, n_obj=ours.n_objectives)
    if name in WFG:
        return pymoo_problems.get_problem(
            pname, n_var=ours.n_var, n_obj=ours.n_objectives, k=ours.k
        )
    if name.startswith(("mw", "zdt")):
        return pymoo_problems.get_problem(pname, n_var=ours.n_var)
    return pymoo_problems.get_problem(pname)


def _cases() -> list[tuple[str, dict]]:
    many = [(n, {"n_obj": m}) for n in DTLZ + WFG + CDTLZ for m in (2, 3, 5)]
    return many + [(n, {}) for n in FIXED]


@pytest.mark.parametrize(("name", "options"), _cases(), ids=lambda v: str(v))
def test_values_match_pymoo(name: str, options: dict) -> None:
    ours = _make(name, **options)
    ref = _pymoo(name, ours)
    x = ours.space.sample(64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ev = ours.evaluate(x)
    out = ref.evaluate(x.numpy(), return_values_of=["F", "G"] if ours.n_constraints else ["F"])
    f_ref = torch.as_tensor(out[0] if ours.n_constraints else out)
    torch.testing.assert_close(ev.f, f_ref, rtol=1e-8, atol=1e-8 * f_ref.abs().max().item())
    if ours.n_constraints:
        g_ref = torch.as_tensor(out[1])
        torch.testing.assert_close(
            ev.g, g_ref, rtol=1e-8, atol=1e-8 * max(g_ref.abs().max().item(), 1.0)
        )


@pytest.mark.parametrize("name", ALL)
def test_float32_batches_stay_float32(name: str) -> None:
    ours = _make(name)
    x = ours.space.sample(5, generator=torch.Generator().manual_seed(1), dtype=torch.float32)
    ev = polyopt.evaluate(ours, x)
    assert ev.f.dtype == torch.float32 and ev.f.shape == (5, ours.n_objectives)
    assert ev.f.device == x.device
    if ours.n_constraints:
        assert ev.g.dtype == torch.float32 and ev.g.shape == (5, ours.n_constraints)
    # one row alone gives the row's batched value: no coupling between points
    torch.testing.assert_close(ours.evaluate(x[2:3]).f, ev.f[2:3] * ours.signs.to(ev.f))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("name", ALL)
def test_cuda_values_stay_on_cuda(name: str) -> None:
    ours = _make(name)
    x = ours.space.sample(8, dtype=torch.float64)
    ev = ours.evaluate(x.cuda())
    assert ev.f.is_cuda
    torch.testing.assert_close(ev.f.cpu(), ours.evaluate(x).f)


@pytest.mark.parametrize("name", ALL)
def test_front_is_non_dominated_and_unbeaten_by_random_points(name: str) -> None:
    ours = _make(name)
    front = ours.pareto_front(500)
    assert front.shape[1] == ours.n_objectives and front.shape[0] >= 100
    # no feasible random point improves a front point by a clear margin in every objective
    x = ours.space.sample(2000, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    ev = polyopt.evaluate(ours, x)
    f = ev.f[ev.feasible()]
    margin = 1e-6 * (1 + front.abs().amax(dim=0))
    beaten = (f.unsqueeze(1) < front.unsqueeze(0) - margin).all(dim=-1).any()
    assert not bool(beaten)
    ref = torch.tensor(ours.ref_point, dtype=torch.float64)
    assert bool((front < ref).all()), "the reference point must be worse than every front point"


@pytest.mark.parametrize("m", [2, 3, 5])
@pytest.mark.parametrize("name", ["dtlz2", "dtlz3", "dtlz4", "c3-dtlz4", "wfg4", "wfg9"])
def test_spherical_fronts_lie_on_their_sphere(name: str, m: int) -> None:
    ours = _make(name, n_obj=m)
    front = ours.pareto_front(300)
    if name.startswith("wfg"):
        front = front / torch.arange(2, 2 * m + 1, 2, dtype=torch.float64)
    if name == "c3-dtlz4":  # the front lies on the boundary of the tightest constraint
        front = front * torch.ones(m, dtype=torch.float64)
        f2 = front**2
        active = 1.0 - f2 / 4.0 - (f2.sum(dim=1, keepdim=True) - f2)
        torch.testing.assert_close(
            active.amax(dim=1), torch.zeros(front.shape[0], dtype=torch.float64)
        )
        return
    torch.testing.assert_close(
        (front**2).sum(dim=1), torch.ones(front.shape[0], dtype=torch.float64)
    )


def test_dtlz1_front_sums_to_half_and_is_large_on_request() -> None:
    front = _make("dtlz1", n_obj=3).pareto_front(10_000)
    assert front.shape[0] >= 10_000
    torch.testing.assert_close(
        front.sum(dim=1), torch.full((front.shape[0],), 0.5, dtype=torch.float64)
    )


def test_dtlz_front_points_are_reached_at_their_pareto_set() -> None:
    # DTLZ2 at x_M = 0.5: f is exactly the spherical point of the position variables
    ours = _make("dtlz2", n_obj=3)
    x = torch.full((4, ours.n_var), 0.5, dtype=torch.float64)
    x[:, :2] = torch.rand(4, 2, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    f = ours.evaluate(x).f
    torch.testing.assert_close((f**2).sum(dim=1), torch.ones(4, dtype=torch.float64))


FRONT_CASES = [
    ("dtlz1", {"n_obj": 3}),
    ("dtlz2", {"n_obj": 3}),
    ("dtlz4", {"n_obj": 2}),
    ("dtlz5", {"n_obj": 2}),
    ("dtlz6", {"n_obj": 2}),
    ("dtlz7", {"n_obj": 2}),
    ("c1-dtlz1", {"n_obj": 3}),
    ("c2-dtlz2", {"n_obj": 3}),
    ("c3-dtlz4", {"n_obj": 3}),
    ("wfg9", {"n_obj": 3}),
    ("wfg4", {"n_obj": 2}),
    ("wfg3", {"n_obj": 2}),
    ("mw1", {}),
    ("mw2", {}),
    ("mw3", {}),
    ("bnh", {}),
    ("srn", {}),
]


@pytest.mark.parametrize(("name", "options"), FRONT_CASES, ids=lambda v: str(v))
def test_pymoo_front_lies_on_ours(name: str, options: dict) -> None:
    ours = _make(name, **options)
    ref_front = torch.as_tensor(_pymoo(name, ours).pareto_front(), dtype=torch.float64)
    ref_front = ref_front[
        non_dominated_mask(ref_front)
    ]  # pymoo's DTLZ7 front keeps dominated samples
    front = ours.pareto_front(2000)
    scale = (front.amax(dim=0) - front.amin(dim=0)).norm().item()
    assert (
        igd(front, ref_front) < 1e-2 * scale
    )  # every pymoo point is close to our front (lattice spacing)


@pytest.mark.parametrize("name", DTLZ + WFG + CDTLZ)
@pytest.mark.parametrize(("option", "value"), [("n_obj", 1), ("n_obj", 0), ("k", -1)])
def test_bad_options_raise_config_error_naming_the_value(
    name: str, option: str, value: int
) -> None:
    with pytest.raises(ConfigError, match=f"{option}={value}"):
        _make(name, **{option: value})


@pytest.mark.parametrize("name", DTLZ + CDTLZ)
def test_too_few_variables_is_rejected(name: str) -> None:
    with pytest.raises(ConfigError, match="n_var=2"):
        _make(name, n_obj=3, n_var=2)


def test_wfg_position_parameters_must_split_into_groups() -> None:
    with pytest.raises(ConfigError, match="k=3"):
        _make("wfg1", n_obj=3, k=3)
    with pytest.raises(ConfigError, match="l=3"):
        _make("wfg2", l=3)
