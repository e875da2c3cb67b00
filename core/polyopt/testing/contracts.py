"""The conformance classes of the three core contracts. Each test asserts a behaviour users rely on."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor

import polyopt
from polyopt.environment import Environment
from polyopt.errors import ConfigError
from polyopt.objective import Evaluation, FunctionObjective, Objective, directions_of
from polyopt.optimizer import AskTellOptimizer, ObjectiveOptimizer, Optimizer, Trainer
from polyopt.testing._fixtures import assert_close, contract_problem

__all__ = ["EnvironmentContract", "ObjectiveContract", "OptimizerContract"]


def _resolve(kind: str, target: Any) -> Any:
    return polyopt.registry().get(kind, target) if isinstance(target, str) else target


def _roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _forward(wrapper: Any, base: Any, name: str) -> Any:
    """The base problem's attribute ``name`` for a wrapper that lacks it, so that solvers reading a problem's
    structure (a distance matrix, demands) run on the wrapped problem too."""
    if name.startswith("__") or name == "base":
        raise AttributeError(name)
    return getattr(base, name)


class _FailingRows(Objective):
    """Wraps an objective so that about a third of the rows come back NaN (a crashing black box)."""

    def __init__(self, base: Objective) -> None:
        self.base, self.space, self.name = base, base.space, f"failing({base.name})"
        self.n_objectives, self.n_constraints = base.n_objectives, base.n_constraints
        self.directions, self.ref_point = base.directions, base.ref_point

    def __getattr__(self, name: str) -> Any:
        return _forward(self, self.__dict__.get("base"), name)

    def evaluate(self, x: Tensor) -> Evaluation:
        ev = self.base.evaluate(x)
        # deterministic in x: a row fails when the fractional part of a hash of its values is small
        weights = torch.arange(1, x.shape[1] + 1, device=x.device, dtype=x.dtype)
        key = torch.frac((x * weights).sum(-1) * 7.31)
        bad = (key.abs() < 0.33).unsqueeze(-1)
        return ev.replace(f=torch.where(bad, torch.nan, ev.f))


class _Negated(FunctionObjective):
    """``-f`` of a base objective, maximized: the same problem in the other direction (other attributes are
    the base's)."""

    def __init__(self, base: Objective) -> None:
        self.base = base
        super().__init__(
            lambda x: -base.evaluate(x).f, base.space, directions="maximize", name="negated"
        )

    def __getattr__(self, name: str) -> Any:
        return _forward(self, self.__dict__.get("base"), name)


class OptimizerContract:
    """Subclass with ``optimizer = "name"`` (or the class). Override :meth:`make_problem` to choose the problem.

    Checks determinism for a fixed seed, exact resume from a ``state_dict`` loaded with
    ``weights_only=True``, that the caller's global RNG and thread settings are left alone, that ``dtype`` is
    honoured or refused, unknown config keys, and for search optimizers failed evaluations, the evaluation
    limit, ``ask(n)`` and result directions; for trainers, their result type and budget refusal.
    """

    optimizer: str | type[Optimizer]
    #: steps run in the tests (small: these run for every registered optimizer)
    steps: int = 3

    @property
    def optimizer_cls(self) -> type[Optimizer]:
        return _resolve("optimizer", self.optimizer)

    def make_problem(self) -> tuple[Any, dict[str, Any]]:
        """Return ``(problem, config)``: a small supported problem and a small configuration."""
        return contract_problem(self.optimizer_cls)

    def build(self, seed: int = 0, problem: Any = None, **extra: Any) -> Optimizer:
        default, config = self.make_problem()
        kwargs = {**config, **extra}
        target = default if problem is None else problem
        if isinstance(self.optimizer, str):
            return polyopt.make(
                "optimizer", self.optimizer, target, seed=seed, device="cpu", **kwargs
            )
        return self.optimizer_cls(target, seed=seed, device="cpu", **kwargs)

    def run_steps(self, opt: Optimizer, steps: int) -> list[dict[str, float]]:
        return [opt.step() for _ in range(steps)]

    def test_rejects_unknown_config_key(self) -> None:
        with pytest.raises(ConfigError, match="no_such_option_xyz"):
            self.build(no_such_option_xyz=1)

    def test_steps_return_float_metrics_and_a_result(self) -> None:
        opt = self.build()
        for metrics in self.run_steps(opt, self.steps):
            assert isinstance(metrics, dict)
            assert all(
                isinstance(k, str) and isinstance(v, (int, float)) for k, v in metrics.items()
            ), metrics
        assert opt.n_steps == self.steps
        result = opt.result()
        assert isinstance(result, polyopt.RunResult)
        assert result.optimizer == opt.name and result.n_steps == self.steps
        if isinstance(opt, ObjectiveOptimizer):
            assert isinstance(result, polyopt.Result)
            assert opt.n_evaluations > 0
            assert result.x.shape[0] == result.f.shape[0] >= 1
            assert result.f.shape[1] == opt.problem.n_objectives
            inside = opt.problem.space.contains(result.x.to(torch.float64))
            assert bool(inside.all()), "result outside the space"
            assert bool(torch.isfinite(result.f).all())
        else:
            assert isinstance(opt, Trainer) and isinstance(result, polyopt.TrainerResult)
            assert opt.n_evaluations == 0, "a trainer makes no objective evaluations"
            assert result.policy is not None and result.returns.dim() == 2

    def test_same_seed_same_result(self) -> None:
        results = []
        for _ in range(2):
            opt = self.build(seed=123)
            self.run_steps(opt, self.steps)
            results.append(opt.result())
        a, b = results
        assert assert_close(a.values, b.values)
        if isinstance(a, polyopt.Result) and isinstance(b, polyopt.Result):
            assert assert_close(a.x, b.x)

    def test_leaves_the_global_rng_and_threads_alone(self) -> None:
        torch.manual_seed(2024)
        before, threads = torch.get_rng_state(), torch.get_num_threads()
        opt = self.build(seed=5)
        self.run_steps(opt, self.steps)
        opt.result()
        assert torch.equal(torch.get_rng_state(), before), (
            "the optimizer drew from (or reseeded) torch's global RNG; draw from self.generator"
        )
        assert torch.get_num_threads() == threads, "the optimizer changed torch's thread count"

    def test_resume_from_state_dict_is_exact(self) -> None:
        straight = self.build(seed=7)
        self.run_steps(straight, self.steps + 2)
        first = self.build(seed=7)
        self.run_steps(first, self.steps)
        state = _roundtrip(first.state_dict())  # must load with weights_only=True
        resumed = self.build(seed=99)  # a different seed: everything must come from the state
        resumed.load_state_dict(state)
        self.run_steps(resumed, 2)
        a, b = straight.result(), resumed.result()
        assert resumed.n_steps == straight.n_steps
        assert resumed.n_evaluations == straight.n_evaluations
        assert resumed.n_env_steps == straight.n_env_steps
        assert assert_close(a.values, b.values), "a resumed run diverged from the uninterrupted one"
        if isinstance(a, polyopt.Result) and isinstance(b, polyopt.Result):
            assert assert_close(a.x, b.x), "a resumed run diverged from the uninterrupted one"

    @pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
    def test_dtype_is_honoured_or_refused(self, dtype: torch.dtype) -> None:
        try:
            opt = self.build(dtype=dtype)
        except ConfigError as exc:
            assert "dtype" in str(exc)
            return
        assert opt.dtype == dtype
        self.run_steps(opt, 2)
        result = opt.result()
        if isinstance(result, polyopt.Result):
            assert result.f.dtype == dtype and result.x.dtype == dtype, (
                f"asked for {dtype}, got f {result.f.dtype} and x {result.x.dtype}"
            )

    def test_a_budget_it_cannot_spend_is_refused_at_once(self) -> None:
        opt = self.build()
        for field in ("evaluations", "env_steps"):
            budget = polyopt.Budget(**{field: 1})
            if field in opt.spends:
                continue
            with pytest.raises(ConfigError, match="can never stop"):
                polyopt.run(opt, budget)
            assert opt.n_steps == 0

    def test_failed_evaluations_are_recorded_and_never_returned(self) -> None:
        problem, _ = self.make_problem()
        if not isinstance(problem, Objective):
            pytest.skip("not an objective-based optimizer")
        opt = self.build(problem=_FailingRows(problem))
        seen: list[Evaluation] = []
        opt.listeners.append(lambda x, ev: seen.append(ev))
        self.run_steps(opt, self.steps + 1)
        failed = sum(int(ev.failed_mask.sum()) for ev in seen)
        assert failed > 0, "the wrapper should have produced failed rows"
        assert sum(len(ev) for ev in seen) == opt.n_evaluations
        result = opt.result()
        assert bool(torch.isfinite(result.values).all()), "a failed evaluation entered the result"

    def test_respects_the_evaluation_limit(self) -> None:
        opt = self.build()
        if not isinstance(opt, AskTellOptimizer):
            pytest.skip("only ask/tell optimizers bound their asks by the evaluation limit")
        result = polyopt.run(opt, polyopt.Budget(evaluations=5))
        assert result.n_evaluations == 5

    def test_ask_returns_exactly_n_points_and_allows_pending_ones(self) -> None:
        opt = self.build()
        if not isinstance(opt, AskTellOptimizer):
            pytest.skip("not an ask/tell optimizer")
        first = opt.ask(3)
        second = opt.ask(1)  # asked again before the first points are told: they are pending
        assert first.shape == (3, opt.problem.space.dim) and second.shape[0] == 1
        assert opt.n_evaluations == 0, "ask must not evaluate"
        for x in (first, second):
            opt.tell(x, polyopt.evaluate(opt.problem, x))
        n = opt.batch_size
        assert opt.ask().shape[0] == n

    def test_results_are_in_the_users_direction(self) -> None:
        problem, _ = self.make_problem()
        if not isinstance(problem, Objective) or problem.n_objectives != 1 or problem.n_constraints:
            pytest.skip("checked on unconstrained single-objective problems")
        flipped = _Negated(problem)
        a, b = self.build(seed=3), self.build(seed=3, problem=flipped)
        self.run_steps(a, self.steps)
        self.run_steps(b, self.steps)
        ra, rb = a.result(), b.result()
        assert isinstance(ra, polyopt.Result) and isinstance(rb, polyopt.Result)
        assert rb.f_best == pytest.approx(-ra.f_best, rel=1e-6, abs=1e-9)


class ObjectiveContract:
    """Subclass with ``objective = "name"`` (a registered name, a class or a zero-argument factory)."""

    objective: str | Callable[[], Objective]
    n: int = 8

    def make(self) -> Objective:
        target = _resolve("objective", self.objective)
        return target()

    def sample(self, obj: Objective, dtype: torch.dtype = torch.float64) -> Tensor:
        return obj.space.sample(self.n, generator=torch.Generator().manual_seed(0), dtype=dtype)

    def test_declares_a_consistent_interface(self) -> None:
        obj = self.make()
        assert isinstance(obj.space, polyopt.Space)
        assert obj.n_objectives >= 1 and obj.n_constraints >= 0
        assert len(directions_of(obj.directions, obj.n_objectives)) == obj.n_objectives
        if obj.ref_point is not None:
            assert len(obj.ref_point) == obj.n_objectives

    def test_batched_evaluation_has_the_declared_shapes(self) -> None:
        obj = self.make()
        ev = polyopt.evaluate(obj, self.sample(obj))  # the checked path raises on wrong shapes
        assert ev.f.shape == (self.n, obj.n_objectives)
        assert not bool(ev.failed_mask.any()), "valid points gave non-finite values"

    def test_rows_do_not_depend_on_the_batch(self) -> None:
        obj = self.make()
        x = self.sample(obj)
        batched = obj.evaluate(x)
        single = Evaluation.cat([obj.evaluate(x[i : i + 1]) for i in range(self.n)])
        assert assert_close(batched.f, single.f) and assert_close(batched.g, single.g)

    def test_float32_stays_float32(self) -> None:
        obj = self.make()
        ev = polyopt.evaluate(obj, self.sample(obj, torch.float32))
        assert ev.f.dtype == torch.float32

    def test_pareto_front_if_known(self) -> None:
        obj = self.make()
        front = obj.pareto_front(50)
        if front is None:
            pytest.skip("no known front")
        assert front.dim() == 2 and front.shape[1] == obj.n_objectives and front.shape[0] > 0
        assert bool(torch.isfinite(front).all())


class EnvironmentContract:
    """Subclass with ``environment = "name"`` (a registered name, a class or a zero-argument factory)."""

    environment: str | Callable[[], Environment]
    steps: int = 5

    def make(self) -> Environment:
        target = _resolve("environment", self.environment)
        return target()

    def _rollout(self, seed: int) -> tuple[Tensor, list[Tensor]]:
        env = self.make()
        obs = env.reset(seed=seed)
        gen = torch.Generator().manual_seed(seed)
        rewards = []
        for _ in range(self.steps):
            action = env.action_space.sample(env.num_envs, generator=gen)
            step = env.step(action.to(env.device))
            rewards.append(step.reward)
        env.close()
        return obs, rewards

    def test_reset_and_step_shapes(self) -> None:
        env = self.make()
        obs = env.reset(seed=0)
        assert obs.shape[0] == env.num_envs
        action = env.action_space.sample(env.num_envs, generator=torch.Generator().manual_seed(0))
        step = env.step(action.to(env.device))
        assert step.obs.shape[0] == env.num_envs
        assert step.reward.shape == (env.num_envs, env.reward_dim)
        assert step.terminated.dtype == torch.bool and step.truncated.dtype == torch.bool
        assert step.terminated.shape == (env.num_envs,) == step.truncated.shape
        env.close()

    def test_seeded_rollouts_repeat(self) -> None:
        obs_a, rew_a = self._rollout(5)
        obs_b, rew_b = self._rollout(5)
        assert torch.equal(obs_a, obs_b)
        assert all(torch.equal(a, b) for a, b in zip(rew_a, rew_b))

    def test_a_saved_state_continues_exactly(self) -> None:
        """An environment that saves its state (trainers checkpoint it) continues from it exactly, also in a
        new instance and after ``torch.load(weights_only=True)``."""
        env = self.make()
        env.reset(seed=1)
        gen = torch.Generator().manual_seed(1)
        actions = [
            env.action_space.sample(env.num_envs, generator=gen) for _ in range(2 * self.steps)
        ]
        for action in actions[: self.steps]:
            env.step(action.to(env.device))
        state = env.state_dict()
        if state is None:
            env.close()
            pytest.skip("the environment does not save its state")
        state = _roundtrip(state)
        straight = [env.step(a.to(env.device)) for a in actions[self.steps :]]
        other = self.make()
        other.reset(seed=2)
        other.load_state_dict(state)
        resumed = [other.step(a.to(other.device)) for a in actions[self.steps :]]
        for a, b in zip(straight, resumed):
            assert torch.equal(a.obs, b.obs) and torch.equal(a.reward, b.reward)
            assert torch.equal(a.terminated, b.terminated) and torch.equal(a.truncated, b.truncated)
        env.close()
        other.close()
