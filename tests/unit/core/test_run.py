from __future__ import annotations

import types

import pytest
import torch

import polyopt
from polyopt import Budget, ConfigError, IncompatibleProblemError, UnknownNameError
from polyopt.plugins import plugin_manager
from polyopt_plugins.search.random import RandomSearch


def test_optimize_by_names_with_options() -> None:
    result = polyopt.optimize(
        "random-search", "zdt1", budget=Budget(evaluations=64), seed=0, batch_size=8
    )
    assert result.n_evaluations == 64 and result.n_steps == 8
    assert result.f.shape[1] == 2 and result.extras["seed"] == 0


def test_optimize_accepts_classes_instances_and_made_problems() -> None:
    problem = polyopt.make("objective", "sphere", dim=2)
    a = polyopt.optimize(RandomSearch, problem, budget=32, seed=1)
    b = polyopt.optimize(RandomSearch(problem, seed=1), budget=32)
    assert a.f_best == b.f_best and a.x_best.shape == (2,)


def test_budget_stops_at_whichever_limit_comes_first() -> None:
    r = polyopt.optimize(
        "random-search", "sphere", budget={"evaluations": 1000, "steps": 3}, seed=0
    )
    assert r.n_steps == 3 and r.n_evaluations == 48
    r = polyopt.optimize("random-search", "sphere", budget=Budget(evaluations=10), seed=0)
    assert r.n_evaluations == 10  # the last ask is cut to what is left


def test_seconds_budget_ends_the_run() -> None:
    r = polyopt.optimize(
        "random-search", "sphere", budget=Budget(seconds=0.2), seed=0, batch_size=1
    )
    assert r.n_steps > 0 and r.wall_time < 5


@pytest.mark.parametrize(
    ("budget", "message"),
    [
        (Budget, "sets no limit"),
        ({"evaluation": 10}, "'evaluation'.*Did you mean 'evaluations'"),
        ({"steps": -1}, "steps=-1; expected a positive"),
        ("ten", "budget='ten'"),
    ],
)
def test_bad_budgets_raise(budget, message) -> None:
    with pytest.raises(ConfigError, match=message):
        polyopt.optimize("random-search", "sphere", budget=budget() if budget is Budget else budget)


def test_typos_in_names_and_options_get_suggestions() -> None:
    with pytest.raises(UnknownNameError, match="'random-serch'.*Did you mean 'random-search'"):
        polyopt.optimize("random-serch", "sphere", budget=10)
    with pytest.raises(UnknownNameError, match="unknown problem 'sphre'.*Did you mean 'sphere'"):
        polyopt.optimize("random-search", "sphre", budget=10)
    with pytest.raises(ConfigError, match="'batch_sise'.*Did you mean 'batch_size'"):
        polyopt.optimize("random-search", "sphere", budget=10, batch_sise=3)
    with pytest.raises(ConfigError, match="unknown option 'dimm'.*Did you mean 'dim'"):
        polyopt.make("objective", "sphere", dimm=3)
    with pytest.raises(ConfigError, match="batch_size=0"):
        polyopt.optimize("random-search", "sphere", budget=10, batch_size=0)
    with pytest.raises(ConfigError, match="'batch_size'.*'many'.*expected int"):
        polyopt.optimize("random-search", "sphere", budget=10, batch_size="many")


def test_config_values_from_the_command_line_are_parsed() -> None:
    opt = RandomSearch(polyopt.make("objective", "sphere"), batch_size="4")
    assert opt.config.batch_size == 4


def test_callbacks_see_every_step_and_can_stop() -> None:
    seen = []

    def stop_at_three(opt, metrics):
        seen.append(metrics["n_evaluations"])
        return opt.n_steps >= 3

    r = polyopt.optimize(
        "random-search", "sphere", budget=1000, seed=0, batch_size=2, callbacks=[stop_at_three]
    )
    assert seen == [2.0, 4.0, 6.0] and r.n_steps == 3


def test_observation_hooks_are_called() -> None:
    calls: list[str] = []
    plugin = types.SimpleNamespace(
        polyopt_run_started=polyopt.hookimpl(
            lambda optimizer, problem, budget: calls.append("start")
        ),
        polyopt_step_finished=polyopt.hookimpl(
            lambda optimizer, step, metrics: calls.append(f"step{step}")
        ),
        polyopt_run_finished=polyopt.hookimpl(lambda optimizer, result: calls.append("end")),
    )
    pm = plugin_manager()
    pm.register(plugin, name="test-observer")
    try:
        polyopt.optimize("random-search", "sphere", budget=Budget(steps=2), seed=0)
    finally:
        pm.unregister(plugin)
    assert calls == ["start", "step1", "step2", "end"]


def test_pending_points_ask_twice_then_tell_in_any_order() -> None:
    problem = polyopt.make("objective", "sphere", dim=2)
    opt = RandomSearch(problem, seed=0)
    a, b = opt.ask(3), opt.ask(2)
    assert not torch.equal(a[:2], b)
    opt.tell(b, polyopt.evaluate(problem, b))
    opt.tell(a, polyopt.evaluate(problem, a))
    best = torch.cat([a, b])[problem.evaluate(torch.cat([a, b])).f[:, 0].argmin()]
    assert torch.equal(opt.result().x_best, best)


def test_a_failing_black_box_can_be_told_as_failure() -> None:
    problem = polyopt.make("objective", "sphere", dim=2)
    opt = RandomSearch(problem, seed=0)
    x = opt.ask(2)
    opt.tell(x, polyopt.Evaluation.failure(2, 1))
    with pytest.raises(polyopt.PolyoptError, match="no valid point"):
        _ = opt.result().x_best


def test_incompatible_problems_are_refused_with_the_reason() -> None:
    class SingleOnly(RandomSearch):
        max_objectives = 1
        space_kinds = frozenset({"continuous"})

    with pytest.raises(IncompatibleProblemError, match="handles 1 objective, the problem has 2"):
        SingleOnly(polyopt.make("objective", "zdt1"))
    perm = polyopt.FunctionObjective(lambda x: x[:, 0], polyopt.Permutation(4))
    with pytest.raises(IncompatibleProblemError, match="not a permutation space"):
        SingleOnly(perm)


def test_results_prefer_feasible_points_and_say_when_none_is() -> None:
    obj = polyopt.FunctionObjective(
        lambda x: (x[:, 0], (0.5 - x[:, 0]).unsqueeze(-1)),
        polyopt.Box([0.0], [1.0]),
        n_constraints=1,
    )
    r = polyopt.optimize("random-search", obj, budget=200, seed=0)
    assert r.feasible and r.f_best >= 0.5 and r.g[0, 0] <= 0
    never = polyopt.FunctionObjective(
        lambda x: (x[:, 0], (2.0 - x[:, 0]).unsqueeze(-1)),
        polyopt.Box([0.0], [1.0]),
        n_constraints=1,
    )
    r = polyopt.optimize("random-search", never, budget=50, seed=0)
    assert not r.feasible and "no feasible point" in r.summary()


def test_device_and_dtype_are_validated() -> None:
    with pytest.raises(ConfigError, match="device='gpu0'"):
        polyopt.optimize("random-search", "sphere", budget=5, device="gpu0")
    with pytest.raises(ConfigError, match="dtype='float8'"):
        polyopt.optimize("random-search", "sphere", budget=5, dtype="float8")
    r = polyopt.optimize("random-search", "sphere", budget=5, dtype="float32", device="cpu")
    assert r.x.dtype == torch.float32


@pytest.mark.gpu
def test_runs_on_the_gpu() -> None:
    r = polyopt.optimize("random-search", "zdt1", budget=64, seed=0, device="cuda")
    assert r.x.device.type == "cuda"


def test_cpu_runs_use_one_intra_op_thread_and_restore_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("POLYOPT_THREADS", raising=False)
    before = torch.get_num_threads()
    torch.set_num_threads(2)
    try:
        seen: list[int] = []
        record = lambda opt, metrics: seen.append(torch.get_num_threads())  # noqa: E731
        polyopt.optimize("random-search", "sphere", budget=4, seed=0, callbacks=[record])
        assert seen and set(seen) == {1}
        assert torch.get_num_threads() == 2  # restored
        seen.clear()
        polyopt.optimize("random-search", "sphere", budget=2, seed=0, callbacks=[record], threads=0)
        assert set(seen) == {2}  # 0 leaves torch's setting
        monkeypatch.setenv("POLYOPT_THREADS", "2")
        seen.clear()
        polyopt.optimize("random-search", "sphere", budget=2, seed=0, callbacks=[record])
        assert set(seen) == {2}
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("bad", [-1, 1.5, True])
def test_a_bad_thread_count_is_refused(bad: object) -> None:
    with pytest.raises(ConfigError, match="threads="):
        polyopt.optimize("random-search", "sphere", budget=2, threads=bad)


def test_a_seconds_budget_counts_the_time_spent_before_a_resume() -> None:
    import time as _time

    from polyopt_plugins.search.random import RandomSearch

    problem = polyopt.make("objective", "sphere", dim=2)
    first = RandomSearch(problem, seed=0)
    polyopt.run(first, polyopt.Budget(steps=2))
    _time.sleep(0.2)
    state = first.state_dict()
    resumed = RandomSearch(problem, seed=0)
    resumed.load_state_dict(state)
    result = polyopt.run(resumed, polyopt.Budget(seconds=0.1))
    assert result.n_steps == 2  # the 0.2 s already spent exhaust the 0.1 s budget at once
