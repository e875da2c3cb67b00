from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from polyopt import Binary, Box, Categorical, Integer, Permutation, Product, SpaceError

SPACES = {
    "box": Box([-1.0, 0.0, 2.0], [1.0, 5.0, 3.0]),
    "integer": Integer([0, -3], [4, 3]),
    "categorical": Categorical(["a", "b", "c", "d"]),
    "binary": Binary(5),
    "permutation": Permutation(6),
    "mixed": Product(
        {"x": Box([0.0], [1.0]), "n": Integer(1, 3), "c": Categorical([1, 2]), "p": Permutation(3)}
    ),
}


@pytest.mark.parametrize("name", SPACES)
@given(seed=st.integers(0, 2**31 - 1), n=st.integers(1, 20))
def test_samples_lie_in_the_space_and_survive_encoding(name: str, seed: int, n: int) -> None:
    space = SPACES[name]
    x = space.sample(n, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    assert x.shape == (n, space.dim)
    space.validate(x)
    z = space.encode(x)
    assert z.shape == (n, space.encoded_dim)
    assert bool(((z >= 0) & (z <= 1)).all())
    assert torch.allclose(space.decode(z), x)


@pytest.mark.parametrize("name", SPACES)
@given(seed=st.integers(0, 2**31 - 1))
def test_decode_of_any_unit_point_is_valid(name: str, seed: int) -> None:
    space = SPACES[name]
    z = torch.rand(
        7, space.encoded_dim, generator=torch.Generator().manual_seed(seed), dtype=torch.float64
    )
    space.validate(space.decode(z))


@pytest.mark.parametrize("name", SPACES)
@given(seed=st.integers(0, 2**31 - 1))
def test_repair_maps_arbitrary_values_into_the_space_and_keeps_valid_points(
    name: str, seed: int
) -> None:
    space = SPACES[name]
    gen = torch.Generator().manual_seed(seed)
    lower, upper = space.bounds
    wild = (
        lower
        - 2
        + torch.rand(9, space.dim, generator=gen, dtype=torch.float64) * (upper - lower + 4)
    )
    space.validate(space.repair(wild))
    valid = space.sample(9, generator=gen, dtype=torch.float64)
    assert torch.equal(space.repair(valid), valid)


def test_every_value_of_a_discrete_space_is_sampled() -> None:
    x = Categorical(["a", "b", "c"]).sample(300, generator=torch.Generator().manual_seed(0))
    assert set(x.flatten().tolist()) == {0.0, 1.0, 2.0}
    y = Integer(2, 4).sample(300, generator=torch.Generator().manual_seed(0))
    assert set(y.flatten().tolist()) == {2.0, 3.0, 4.0}


def test_permutation_random_keys_decode_by_argsort() -> None:
    space = Permutation(4)
    perm = torch.tensor([[2.0, 0.0, 3.0, 1.0]])
    assert torch.equal(space.decode(space.encode(perm)), perm)


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Box([0.0, 1.0], [1.0, 1.0]), "bound 1: lower=1.0 >= upper=1.0"),
        (lambda: Box([0.0], [float("nan")]), "non-finite"),
        (lambda: Box([0.0, 0.0], [1.0, 1.0, 1.0]), "lower has 2 values and upper 3"),
        (lambda: Integer(0.5, 3), "non-integer"),
        (lambda: Integer(3, 1), "lower=3 > upper=1"),
        (lambda: Categorical([]), "empty"),
        (lambda: Categorical(["a", "a"]), "duplicates"),
        (lambda: Binary(0), "n=0"),
        (lambda: Permutation(1), "n=1"),
        (lambda: Product({}), "empty"),
        (lambda: Product({"a": 3}), "expected a Space"),
    ],
)
def test_bad_definitions_raise_naming_the_value(make, message: str) -> None:
    with pytest.raises(SpaceError, match=message.replace("[", r"\[").replace(".", r"\.")):
        make()


def test_validate_names_the_offending_point_and_shape() -> None:
    space = Box([0.0, 0.0], [1.0, 1.0])
    with pytest.raises(SpaceError, match=r"point 1 = \[0\.5, 2\.0\] is outside"):
        space.validate(torch.tensor([[0.5, 0.5], [0.5, 2.0]]))
    with pytest.raises(SpaceError, match=r"shape \(2, 3\); expected \(n, 2\)"):
        space.validate(torch.zeros(2, 3))


def test_product_unflatten_and_kind() -> None:
    space = SPACES["mixed"]
    parts = space.unflatten(space.sample(4, generator=torch.Generator().manual_seed(1)))
    assert {k: v.shape[1] for k, v in parts.items()} == {"x": 1, "n": 1, "c": 1, "p": 3}
    assert space.kind == "mixed"
    assert Product({"a": Box(0.0, 1.0, dim=2), "b": Box([0.0], [2.0])}).kind == "continuous"
