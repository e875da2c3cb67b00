"""Single-objective BO problems and BraninCurrin: parity with botorch.test_functions, optima, fronts."""

from __future__ import annotations

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError

synthetic = pytest.importorskip("botorch.test_functions.synthetic")
multi_objective = pytest.importorskip("botorch.test_functions.multi_objective")

CASES = [
    ("branin", {}, lambda: synthetic.Branin()),
    ("hartmann6", {}, lambda: synthetic.Hartmann(dim=6)),
    ("constrained-hartmann6", {}, lambda: synthetic.Hartmann(dim=6)),
    ("ackley", {"dim": 5}, lambda: synthetic.Ackley(dim=5)),
    ("levy", {"dim": 4}, lambda: synthetic.Levy(dim=4)),
    ("rosenbrock", {"dim": 3}, lambda: synthetic.Rosenbrock(dim=3)),
    ("gramacy", {}, lambda: synthetic.ConstrainedGramacy()),
    ("branin-currin", {}, lambda: multi_objective.BraninCurrin()),
]


@pytest.mark.parametrize(("name", "options", "reference"), CASES, ids=[c[0] for c in CASES])
def test_values_match_botorch(name: str, options: dict, reference) -> None:
    ours, ref = polyopt.make("objective", name, **options), reference()
    x = ours.space.sample(64, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    ev = ours.evaluate(x)
    expected = ref.evaluate_true(x)
    torch.testing.assert_close(ev.f, expected.reshape(64, -1), rtol=1e-8, atol=1e-10)
    if name == "gramacy":  # botorch's slack is feasible when >= 0; ours is feasible when g <= 0
        torch.testing.assert_close(ev.g, -ref.evaluate_slack_true(x), rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize(
    "name",
    ["branin", "hartmann6", "ackley", "levy", "rosenbrock", "gramacy", "constrained-hartmann6"],
)
def test_optimum_is_reached_at_the_known_optimizers(name: str) -> None:
    ours = polyopt.make("objective", name)
    x = torch.tensor(ours.optimizers, dtype=torch.float64)
    ev = ours.evaluate(x)
    torch.testing.assert_close(
        ev.f.squeeze(1),
        torch.full((x.shape[0],), ours.optimum, dtype=torch.float64),
        rtol=0,
        atol=5e-6,
    )
    if ours.n_constraints:
        assert bool((ev.g <= 1e-4).all()), "the known optimizer must be feasible"
    # no random feasible point does better than the documented optimum
    xs = ours.space.sample(4000, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    ev = polyopt.evaluate(ours, xs)
    assert float(ev.f[ev.feasible()].min()) >= ours.optimum - 1e-4


@pytest.mark.parametrize("name", ["ackley", "levy", "rosenbrock"])
def test_any_dimension_problems_scale_and_reject_bad_dims(name: str) -> None:
    ours = polyopt.make("objective", name, dim=7)
    assert ours.space.dim == 7
    x = ours.space.sample(3, dtype=torch.float32)
    assert ours.evaluate(x).f.dtype == torch.float32
    with pytest.raises(ConfigError, match="dim=0"):
        polyopt.make("objective", name, dim=0)


def test_branin_currin_front_beats_botorch_hypervolume_estimate() -> None:
    from polyopt.metrics import hypervolume

    ours = polyopt.make("objective", "branin-currin")
    assert ours.directions == ("minimize", "minimize") and tuple(ours.ref_point) == (18.0, 6.0)
    front = ours.pareto_front(4000)
    assert front.shape[0] >= 3000
    hv = hypervolume(front, torch.tensor(ours.ref_point, dtype=torch.float64))
    assert 59.30 < float(hv) < 59.45  # botorch's NSGA-II estimate of the maximum is 59.36
