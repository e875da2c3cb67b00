"""The three contract classes. Each test asserts a behaviour users rely on."""

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
from polyopt.objective import Evaluation, FunctionObjective, Objective
from polyopt.optimizer import AskTellOptimizer, Optimizer

__all__ = ["OptimizerContract", "ObjectiveContract", "EnvironmentContract"]


def _resolve(kind: str, target: Any) -> Any:
    return polyopt.registry().get(kind, target) if isinstance(target, str) else target


def default_problem(cls: type[Optimizer]) -> tuple[Any, dict[str, Any]]:
    """A small problem the optimizer supports, and a small config."""
    if hasattr(cls, "contract_problem"):
        return cls.contract_problem()
    from polyopt_envs.basic import Sphere
    from polyopt_envs.zdt import ZDT1

    problem = ZDT1(n_var=6) if cls.min_objectives >= 2 else Sphere(dim=3)
    return problem, {}


def _roundtrip(state: dict[str, Any]) -> dict[str, Any]:
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


def _same(a: Tensor | None, b: Tensor | None) -> bool:
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and torch.allclose(a, b, equal_nan=True, rtol=1e-6, atol=1e-9)


class _FailingRows(Objective):
    """Wraps an objective so that about a third of the rows come back NaN (a crashing black box)."""

    def __init__(self, base: Objective) -> None:
        self.base, self.space, self.name = base, base.space, f"failing({base.name})"
        self.n_objectives, self.n_constraints = base.n_objectives, base.n_constraints
        self.directions, self.ref_point = base.directions, base.ref_point

    def evaluate(self, x: Tensor) -> Evaluation:
        ev = self.base.evaluate(x)
        # deterministic in x: a row fails when the fractional part of a hash of its values is small
        key = torch.frac(
            (x * torch.arange(1, x.shape[1] + 1, device=x.device, dtype=x.dtype)).sum(-1) * 7.31
        )
        bad = (key.abs() < 0.33).unsqueeze(-1)
        return Evaluation(f=torch.where(bad, torch.nan, ev.f), g=ev.g)


class OptimizerContract:
    """Subclass with ``optimizer = "name"`` (or the class). Override :meth:`make_problem` to choose the problem."""

    optimizer: str | type[Optimizer]
    #: steps run in the tests (small: these run for every registered optimizer)
    steps: int = 3

    @property
    def optimizer_cls(self) -> type[Optimizer]:
        return _resolve("optimizer", self.optimizer)

    def make_problem(self) -> tuple[Any, dict[str, Any]]:
        """Return ``(problem, config)``: a small supported problem and a small configuration."""
        return default_problem(self.optimizer_cls)

    def build(self, seed: int = 0, problem: Any = None, **extra: Any) -> Optimizer:
        default, config = self.make_problem()
        return self.optimizer_cls(
            default if problem is None else problem, seed=seed, device="cpu", **{**config, **extra}
        )

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
        assert isinstance(result, polyopt.Result)
        if isinstance(opt.problem, Objective):
            assert opt.n_evaluations > 0
            assert result.x.shape[0] == result.f.shape[0] >= 1
            assert result.f.shape[1] == opt.problem.n_objectives
            assert bool(opt.problem.space.contains(result.x.to(torch.float64)).all()), (
                "result outside the space"
            )
            assert bool(torch.isfinite(result.f).all())

    def test_same_seed_same_result(self) -> None:
        results = []
        for _ in range(2):
            opt = self.build(seed=123)
            self.run_steps(opt, self.steps)
            results.append(opt.result())
        assert _same(results[0].x, results[1].x) and _same(results[0].f, results[1].f)

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
        assert (
            resumed.n_steps == straight.n_steps and resumed.n_evaluations == straight.n_evaluations
        )
        assert _same(a.x, b.x) and _same(a.f, b.f), (
            "a resumed run diverged from the uninterrupted one"
        )

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
        assert bool(torch.isfinite(result.f).all()), "a failed evaluation entered the result"

    def test_respects_the_evaluation_limit(self) -> None:
        opt = self.build()
        if not isinstance(opt, AskTellOptimizer):
            pytest.skip("only ask/tell optimizers bound their asks by the evaluation limit")
        result = polyopt.run(opt, polyopt.Budget(evaluations=5))
        assert result.n_evaluations == 5

    def test_results_are_in_the_users_direction(self) -> None:
        problem, _ = self.make_problem()
        if not isinstance(problem, Objective) or problem.n_objectives != 1 or problem.n_constraints:
            pytest.skip("checked on unconstrained single-objective problems")
        flipped = FunctionObjective(
            lambda x: -problem.evaluate(x).f, problem.space, directions="maximize", name="negated"
        )
        a, b = self.build(seed=3), self.build(seed=3, problem=flipped)
        self.run_steps(a, self.steps)
        self.run_steps(b, self.steps)
        assert b.result().f_best == pytest.approx(-a.result().f_best, rel=1e-6, abs=1e-9)


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
        assert len(obj.directions or ("minimize",) * obj.n_objectives) == obj.n_objectives
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
        assert _same(batched.f, single.f) and _same(batched.g, single.g)

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
