"""JADE's pieces: the truncated Cauchy F, the archive's random removal, the adaptation of mu_F and mu_CR, and
a resumed state (also from a state that kept mu_F and mu_CR as numbers)."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

import polyopt
from polyopt_envs.basic import Sphere
from polyopt_plugins.evolution.de import JADE, cauchy_F


def truncated_cauchy_cdf(x: torch.Tensor, mu: float) -> torch.Tensor:
    """CDF of Cauchy(mu, 0.1) conditioned on being > 0."""

    def cdf(v: torch.Tensor | float) -> torch.Tensor:
        return 0.5 + torch.atan(torch.as_tensor((v - mu) / 0.1, dtype=torch.float64)) / math.pi

    at_zero = cdf(0.0)
    return (cdf(x) - at_zero) / (1.0 - at_zero)


@pytest.mark.parametrize("mu", [0.05, 0.5, 0.9])
def test_F_is_the_truncated_cauchy_capped_at_one(mu: float) -> None:
    """Kolmogorov-Smirnov distance to the truncated Cauchy below 1, and the right mass at the cap."""
    n = 20_000
    u = torch.rand(n, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    F = cauchy_F(u, torch.tensor(mu, dtype=torch.float64)).sort().values
    below = F[F < 1.0]
    ecdf_after = torch.arange(1, below.shape[0] + 1, dtype=torch.float64) / n
    cdf = truncated_cauchy_cdf(below, mu)
    distance = torch.maximum((ecdf_after - cdf).abs(), (ecdf_after - 1.0 / n - cdf).abs()).max()
    assert float(distance) < 0.02, float(distance)  # 1 % critical value at n = 20,000: 0.0115
    cap = 1.0 - float(truncated_cauchy_cdf(torch.tensor(1.0, dtype=torch.float64), mu))
    assert (F == 1.0).double().mean().item() == pytest.approx(cap, abs=0.02)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("mu", [1e-12, 1e-3, 0.5, 1.0, 2.0])
def test_F_stays_in_zero_one_at_the_ends_of_the_uniforms_and_of_mu(
    dtype: torch.dtype, mu: float
) -> None:
    eps = torch.finfo(dtype).eps
    u = torch.tensor([0.0, 0.25, 0.5, 0.75, 1.0 - eps / 2], dtype=dtype)
    F = cauchy_F(u.clone(), torch.tensor(mu, dtype=dtype))
    assert F.dtype == dtype
    assert bool(torch.isfinite(F).all()) and bool((F > 0).all()) and bool((F <= 1).all()), F
    assert F[-1].item() == 1.0  # u -> 1: the Cauchy's far tail, capped
    assert F[0].item() < 1e-4  # u = 0: the truncation point
    assert bool((F.diff() >= 0).all())  # the inverse CDF is monotone
    # interior points are the inverse of the truncated CDF (below the cap)
    exact = truncated_cauchy_cdf(F[1:4].double(), mu)
    inside = F[1:4] < 1.0
    assert torch.allclose(exact[inside], u[1:4].double()[inside], atol=1e-5)


def test_F_draws_of_the_optimizer_stay_in_zero_one_for_extreme_mu() -> None:
    problem = Sphere(dim=3)
    for dtype in (torch.float32, torch.float64):
        opt = JADE(problem, seed=0, device="cpu", dtype=dtype, pop_size=2000)
        for mu_F in (1e-9, 1.0):
            opt._mu = torch.tensor([mu_F, 0.5], dtype=dtype)
            F, CR = opt._parameters()
            assert F.dtype == dtype and bool((F > 0).all()) and bool((F <= 1).all())
            assert bool((CR >= 0).all()) and bool((CR <= 1).all())


def archive_after(opt: JADE, old: list[float], replaced: list[bool]) -> list[float]:
    """The archive's values after adding the targets ``replaced`` to an archive holding ``old``."""
    opt.archive = torch.tensor(old, dtype=torch.float64).view(-1, 1)
    opt._archive(torch.tensor(replaced))
    return opt.archive[:, 0].tolist()


def one_dim_jade(pop_size: int) -> JADE:
    opt = JADE(Sphere(dim=1), seed=0, device="cpu", dtype=torch.float64, pop_size=pop_size)
    opt.pop_x = torch.arange(pop_size, dtype=torch.float64).unsqueeze(1)  # member i is the value i
    return opt


def test_the_archive_fills_in_order_while_there_is_room() -> None:
    opt = one_dim_jade(4)
    assert archive_after(opt, [10.0], [False, True, False, True]) == [10.0, 1.0, 3.0]
    assert archive_after(opt, [], [False, False, False, False]) == []


@pytest.mark.parametrize(
    ("old", "replaced"),
    [
        ([10.0, 11.0, 12.0, 13.0], [True, True, True, False]),
        ([10.0, 11.0], [True, False, True, True]),
    ],
)
def test_a_full_archive_keeps_a_uniformly_random_subset(
    old: list[float], replaced: list[bool]
) -> None:
    """JADE removes randomly chosen rows: every pop_size-subset of the old and new rows equally likely."""
    opt = one_dim_jade(4)
    candidates = old + [float(i) for i, r in enumerate(replaced) if r]
    n_subsets = math.comb(len(candidates), 4)
    trials = 200 * n_subsets
    counts = Counter(frozenset(archive_after(opt, old, replaced)) for _ in range(trials))
    assert all(len(kept) == 4 and kept <= set(candidates) for kept in counts)
    assert len(counts) == n_subsets
    expected = trials / n_subsets
    chi2 = sum((c - expected) ** 2 / expected for c in counts.values())
    # df = n_subsets - 1 (34 or 4): the 0.1 % critical values are 65.2 and 18.5
    assert chi2 < (80.0 if n_subsets > 5 else 25.0), (chi2, counts)


def test_archived_rows_were_replaced_members() -> None:
    problem = Sphere(dim=3)
    opt = polyopt.make("optimizer", "jade", problem, seed=2, device="cpu", pop_size=12)
    seen: set[tuple[float, ...]] = set()
    for _ in range(25):
        opt.step()
        if opt.pop_x is not None:
            seen.update(map(tuple, opt.pop_x.tolist()))
        archive = opt.archive
        assert archive.shape[0] <= 12
        assert all(tuple(row) in seen for row in archive.tolist())
    assert archive.shape[0] == 12  # full after 25 generations on the sphere


def test_mu_moves_to_the_lehmer_mean_and_the_mean_of_the_successes_only() -> None:
    opt = JADE(Sphere(dim=2), seed=0, device="cpu", dtype=torch.float64, pop_size=4)
    opt.trial_F = torch.tensor([0.2, 0.4, 0.6, 0.8], dtype=torch.float64)
    opt.trial_CR = torch.tensor([0.1, 0.2, 0.3, 0.9], dtype=torch.float64)
    opt._mu = torch.tensor([0.5, 0.5], dtype=torch.float64)
    opt._adapt(torch.tensor([True, False, True, False]))
    lehmer = (0.2**2 + 0.6**2) / (0.2 + 0.6)
    assert opt.mu_F == pytest.approx(0.9 * 0.5 + 0.1 * lehmer, rel=1e-12)
    assert opt.mu_CR == pytest.approx(0.9 * 0.5 + 0.1 * 0.2, rel=1e-12)
    before = opt._mu.clone()
    opt._adapt(torch.zeros(4, dtype=torch.bool))
    assert torch.equal(opt._mu, before)


def test_a_state_with_mu_as_numbers_resumes_exactly() -> None:
    """States written before mu_F and mu_CR lived on the device kept them as floats."""
    problem = Sphere(dim=4)
    straight = polyopt.make("optimizer", "jade", problem, seed=4, device="cpu", pop_size=16)
    for _ in range(5):
        straight.step()
    saved = straight.state_dict()
    state = saved["state"]
    assert 0 < state["archive"].shape[0] <= 16
    saved["state"] = {**state, "mu_F": float(state["mu_F"]), "mu_CR": float(state["mu_CR"])}
    resumed = polyopt.make("optimizer", "jade", problem, seed=9, device="cpu", pop_size=16)
    resumed.load_state_dict(saved)
    for _ in range(4):
        assert straight.step() == resumed.step()
    assert torch.equal(straight.archive, resumed.archive)
    assert torch.equal(straight.result().x, resumed.result().x)
