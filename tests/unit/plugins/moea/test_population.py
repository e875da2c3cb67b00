"""The Population dataclass: rows move together through cat, take, put, to and the saved state."""

from __future__ import annotations

import dataclasses
import io

import pytest
import torch

import polyopt
from polyopt_plugins.moea.population import Population


def _population(n: int, *, seed: int = 0, constrained: bool = True) -> Population:
    gen = torch.Generator().manual_seed(seed)
    return Population(
        x=torch.rand(n, 3, generator=gen, dtype=torch.float64),
        f=torch.rand(n, 2, generator=gen, dtype=torch.float64),
        failed=torch.rand(n, generator=gen) < 0.3,
        g=torch.rand(n, 1, generator=gen, dtype=torch.float64) if constrained else None,
        tag=torch.arange(n),
    )


def test_cat_keeps_rows_in_order_and_a_field_only_where_every_part_has_it() -> None:
    a = dataclasses.replace(_population(4), rank=torch.zeros(4, dtype=torch.int64))
    b = _population(3, seed=1)
    both = Population.cat([a, b])
    assert len(both) == 7 and torch.equal(both.x, torch.cat([a.x, b.x]))
    assert a.g is not None and b.g is not None and both.g is not None
    assert torch.equal(both.g, torch.cat([a.g, b.g]))
    assert both.tag is not None and both.rank is None  # b has no ranks: stale for its rows
    with pytest.raises(ValueError, match="constraints"):
        Population.cat([a, _population(2, constrained=False)])


def test_take_and_put_move_whole_rows() -> None:
    pop = _population(5)
    rows = pop.take(torch.tensor([4, 0]))
    assert rows.tag is not None and torch.equal(rows.tag, torch.tensor([4, 0]))
    assert torch.equal(rows.x, pop.x[[4, 0]])
    target = _population(5, seed=2)
    target.put(torch.tensor([1, 2]), rows)
    assert torch.equal(target.x[1:3], rows.x) and torch.equal(target.failed[1:3], rows.failed)
    target.put(torch.tensor([0, 3]), pop.take(slice(2, 3)))  # one row broadcasts
    assert torch.equal(target.f[0], pop.f[2]) and torch.equal(target.f[3], pop.f[2])
    target.put(torch.tensor([4]), dataclasses.replace(rows.take(slice(0, 1)), tag=None))
    assert target.tag is None  # no longer known for every row


def test_to_casts_floating_fields_only() -> None:
    pop = dataclasses.replace(_population(3), crowding=torch.zeros(3, dtype=torch.float64))
    low = pop.to(dtype=torch.float32)
    assert low.g is not None and low.crowding is not None and low.tag is not None
    assert low.x.dtype == low.f.dtype == low.g.dtype == low.crowding.dtype == torch.float32
    assert low.failed.dtype == torch.bool and low.tag.dtype == torch.int64


def test_state_loads_with_weights_only_and_leaves_out_the_derived_selection_values() -> None:
    pop = dataclasses.replace(_population(4), f_sel=torch.zeros(4, 2), v_sel=torch.zeros(4))
    buf = io.BytesIO()
    torch.save(pop.state_dict(), buf)
    buf.seek(0)
    back = Population.from_state(torch.load(buf, weights_only=True))
    assert back.f_sel is None and back.v_sel is None
    for name in ("x", "f", "g", "failed", "tag"):
        assert torch.equal(getattr(back, name), getattr(pop, name))
    with pytest.raises(ValueError, match="unexpected"):
        Population.from_state({**pop.state_dict(), "colour": torch.zeros(4)})


@pytest.mark.parametrize("name", ["moead", "moead-sequential"])
def test_a_moead_checkpoint_from_before_the_decomposition_object_still_resumes(name: str) -> None:
    problem = polyopt.make("objective", "zdt1", n_var=5)
    straight = polyopt.make("optimizer", name, problem, seed=3, n_partitions=11)
    first = polyopt.make("optimizer", name, problem, seed=3, n_partitions=11)
    for _ in range(14):
        straight.step()
    for _ in range(7):
        first.step()
    state = first.state_dict()
    own = state["state"]
    extra = {"ideal": own.pop("decomposition")["ideal"]}  # the layout those checkpoints had
    if "order" in own:
        extra["order"] = own.pop("order")
    own["extra"] = extra
    resumed = polyopt.make("optimizer", name, problem, seed=4, n_partitions=11)
    resumed.load_state_dict(state)
    for _ in range(7):
        resumed.step()
    assert torch.equal(resumed.population.x, straight.population.x)
