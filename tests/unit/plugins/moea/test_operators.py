"""Variation operators keep offspring in their space, for every space kind."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from polyopt.errors import ConfigError
from polyopt.spaces import Binary, Box, Categorical, Integer, Permutation, Product, Space
from polyopt_plugins.moea.permutation import _order_child, _pmx_child
from polyopt_plugins.moea.variation import OPERATORS, default_variation, make_operator

SPACES: dict[str, Space] = {
    "box": Box([-2.0, 0.0, 5.0], [3.0, 1e-9, 6.0]),
    "integer": Integer([-3, 0, 10], [3, 1, 10]),
    "binary": Binary(9),
    "categorical": Categorical(["a", "b", "c", "d", "e"]),
    "permutation": Permutation(8),
    "product": Product(
        {
            "x": Box(0.0, 1.0, dim=2),
            "n": Integer(1, 4),
            "c": Categorical([0.1, 0.2]),
            "bits": Binary(3),
            "order": Permutation(5),
            "nested": Product({"y": Box(-1.0, 1.0, dim=1), "k": Integer(0, 2)}),
        }
    ),
}


def _run(variation, space: Space, seed: int, n: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    pop = space.sample(n, generator=g, dtype=torch.float64)
    idx = torch.randint(0, n, (variation.n_parents, n), generator=g)
    return variation(pop[idx], g)


@pytest.mark.parametrize("name", list(SPACES))
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 30))
@settings(max_examples=25, deadline=None)
def test_default_variation_stays_in_the_space(name: str, seed: int, n: int) -> None:
    space = SPACES[name]
    out = _run(default_variation(space), space, seed, n)
    assert out.shape == (n * 2, space.dim)
    assert bool(space.contains(out).all())


_KIND_OF = {
    "box": "continuous",
    "integer": "integer",
    "binary": "binary",
    "categorical": "categorical",
    "permutation": "permutation",
}


@pytest.mark.parametrize("op", list(OPERATORS))
@given(seed=st.integers(0, 2**31 - 1))
@settings(max_examples=10, deadline=None)
def test_each_operator_stays_in_every_space_it_accepts(op: str, seed: int) -> None:
    cls = make_operator.__globals__["resolve_operator"](op)
    for name, kind in _KIND_OF.items():
        if kind not in cls.space_kinds:
            continue
        space = SPACES[name]
        g = torch.Generator().manual_seed(seed)
        x = space.sample(12, generator=g, dtype=torch.float64)
        operator = make_operator(op, space, {"prob": 1.0})
        if hasattr(operator, "n_parents"):
            out = operator(x[torch.randint(0, 12, (operator.n_parents, 12), generator=g)], g)
            out = out.reshape(-1, space.dim)
        else:
            out = operator(x, g)
        assert bool(space.contains(out).all()), (op, name)


def test_operator_rejects_a_space_it_cannot_handle() -> None:
    with pytest.raises(ConfigError, match="permutation"):
        make_operator("ox", Box(0.0, 1.0, dim=3))
    with pytest.raises(ConfigError, match="no part"):
        default_variation(Product({"a": Binary(2), "b": Permutation(3)}), crossover="de-rand-1-bin")
    with pytest.raises(
        ConfigError, match="agree"
    ):  # DE takes 4 parents, the other parts' crossovers 2
        default_variation(SPACES["product"], crossover="de-rand-1-bin")


def test_named_operator_applies_to_matching_product_parts_only() -> None:
    v = default_variation(SPACES["product"], crossover="pmx")
    assert type(v.crossover.parts["order"]).__name__ == "PartiallyMappedCrossover"
    assert type(v.crossover.parts["x"]).__name__ == "SBX"


@given(seed=st.integers(0, 2**31 - 1), length=st.integers(2, 12))
@settings(max_examples=60, deadline=None)
def test_ox_and_pmx_give_permutations_keeping_the_donor_segment(seed: int, length: int) -> None:
    g = torch.Generator().manual_seed(seed)
    a = torch.rand(16, length, generator=g).argsort(dim=1)
    b = torch.rand(16, length, generator=g).argsort(dim=1)
    cuts = torch.randint(0, length, (16, 2), generator=g).sort(dim=1).values
    start, end = cuts[:, :1], cuts[:, 1:]
    pos = torch.arange(length).expand(16, length)
    seg = (pos >= start) & (pos <= end)
    for child in (_order_child(a, b, start, end), _pmx_child(a, b, start, end)):
        assert torch.equal(child.sort(dim=1).values, pos)
        assert torch.equal(child[seg], b[seg])


def test_ox_matches_pymoo() -> None:
    from pymoo.operators.crossover.ox import ox

    g = torch.Generator().manual_seed(3)
    for _ in range(50):
        a, b = torch.randperm(9, generator=g), torch.randperm(9, generator=g)
        s, e = sorted(torch.randint(0, 9, (2,), generator=g).tolist())
        ours = _order_child(a[None], b[None], torch.tensor([[s]]), torch.tensor([[e]]))[0]
        theirs = ox(a.numpy(), b.numpy(), seq=(s, e), shift=False)
        assert ours.tolist() == theirs.tolist()


def test_pmx_resolves_mapping_chains() -> None:
    a = torch.tensor([[1, 2, 3, 4, 5, 6, 7, 8, 0]])
    b = torch.tensor([[4, 5, 2, 1, 8, 7, 6, 0, 3]])
    child = _pmx_child(a, b, torch.tensor([[2]]), torch.tensor([[5]]))
    # segment 2..5 from b = [2, 1, 8, 7]; outside, a's 1 -> (b 1 at pos 3 -> a 4), 2 -> 3, 7 -> 6 ... chains
    assert child[0, 2:6].tolist() == [2, 1, 8, 7]
    assert sorted(child[0].tolist()) == list(range(9))
    assert child[0, 0].item() == 4  # 1 maps to 4 (b[3] = 1 sits where a has 4)


def test_sbx_and_pm_match_pymoo_statistics() -> None:
    """Same defaults as pymoo: the spread of children around their parents agrees in distribution."""
    import numpy as np
    from pymoo.core.problem import Problem
    from pymoo.operators.crossover.sbx import cross_sbx
    from pymoo.operators.mutation.pm import mut_pm

    space = Box(0.0, 1.0, dim=10)
    g = torch.Generator().manual_seed(0)
    parents = space.sample(2 * 4000, generator=g, dtype=torch.float64).reshape(2, 4000, 10)
    ours = make_operator("sbx", space, {"prob": 1.0})(parents, g)
    rs = np.random.default_rng(0)
    theirs = cross_sbx(
        parents.numpy(),
        np.zeros(10),
        np.ones(10),
        np.full((4000, 1), 15.0),
        np.full((4000, 1), 0.5),
        np.full((4000, 1), 0.5),
        random_state=rs,
    )
    moved = lambda c: (torch.as_tensor(c) - parents).abs().mean().item()  # noqa: E731
    assert moved(ours) == pytest.approx(moved(theirs), rel=0.05)
    x = parents[0]
    pm = make_operator("polynomial-mutation", space, {"prob": 1.0})(x, g)
    theirs_pm = mut_pm(
        x.numpy(),
        np.zeros(10),
        np.ones(10),
        np.full(4000, 20.0),
        np.full(4000, 0.1),
        False,
        random_state=rs,
    )
    assert (pm - x).abs().mean().item() == pytest.approx(
        np.abs(theirs_pm - x.numpy()).mean(), rel=0.1
    )
    assert isinstance(Problem, type)


def test_uniform_crossover_children_take_each_value_from_a_parent() -> None:
    space = SPACES["categorical"]
    g = torch.Generator().manual_seed(1)
    parents = space.sample(2 * 50, generator=g).reshape(2, 50, 1)
    kids = make_operator("uniform-crossover", space, {"prob": 1.0})(parents, g)
    assert bool(((kids == parents[0]) | (kids == parents[1])).all())
    assert torch.equal(kids.sum(0), parents.sum(0))
