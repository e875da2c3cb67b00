"""Conformance classes for the component kinds: subclass one and name your registered entry.

Example (in a plugin's tests)::

    from polyopt.testing import AdvantageContract, OperatorContract

    class TestGauss(OperatorContract):
        operator = "acme.gauss"
        options = {"sigma": 0.3}

    class TestCentered(AdvantageContract):
        advantage = "acme.centered"
"""

from __future__ import annotations

import inspect
import io
from typing import Any, ClassVar

import pytest
import torch
from torch import Tensor

import polyopt
from polyopt.components import (
    REQUIREMENTS,
    AcquisitionOptions,
    AdvantageParams,
    LossParams,
    Survivors,
    TaskBatch,
    metric_input,
)
from polyopt.spaces import Binary, Box, Categorical, Integer, Permutation, Space
from polyopt.testing._fixtures import small_gp, small_rollout, small_training_data

__all__ = [
    "AcquisitionContract",
    "AdvantageContract",
    "KLEstimatorContract",
    "MetricContract",
    "OperatorContract",
    "PolicyLossContract",
    "RewardContract",
    "SurvivalContract",
]


def _get(kind: str, target: Any) -> Any:
    return polyopt.registry().get(kind, target) if isinstance(target, str) else target


def _generator(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


#: One small space per space kind, for operator tests.
SPACES: dict[str, Space] = {
    "continuous": Box([-1.0, 0.0, 0.0, 2.0], [1.0, 1.0, 10.0, 3.0]),
    "integer": Integer(-3, 5, dim=4),
    "binary": Binary(6),
    "categorical": Categorical(["a", "b", "c", "d"]),
    "permutation": Permutation(6),
}


class OperatorContract:
    """A crossover or mutation: shapes, dtype, determinism by generator, points the space can repair."""

    operator: Any
    #: options passed to the factory (``factory(space, **options)``)
    options: ClassVar[dict[str, Any]] = {}
    n: int = 6

    def factory(self) -> Any:
        return _get("operator", self.operator)

    def spaces(self) -> list[Space]:
        kinds = sorted(self.factory().space_kinds)
        unknown = [k for k in kinds if k not in SPACES]
        assert not unknown, (
            f"space_kinds {unknown} are not space kinds; expected among {list(SPACES)}"
        )
        return [SPACES[k] for k in kinds]

    def apply(self, space: Space, seed: int, dtype: torch.dtype = torch.float64) -> Tensor:
        op = self.factory()(space, **self.options)
        gen = _generator(seed)
        if self.factory().role == "crossover":
            parents = torch.stack(
                [space.sample(self.n, generator=gen, dtype=dtype) for _ in range(op.n_parents)]
            )
            out = op(parents, _generator(seed + 1))
            assert out.shape == (op.n_offsprings, self.n, space.dim), out.shape
            return out.reshape(-1, space.dim)
        x = space.sample(self.n, generator=gen, dtype=dtype)
        out = op(x, _generator(seed + 1))
        assert out.shape == x.shape, out.shape
        return out

    def test_declares_its_role_and_spaces(self) -> None:
        factory = self.factory()
        assert factory.role in ("crossover", "mutation")
        assert self.spaces()

    def test_shapes_dtype_and_repairable_points(self) -> None:
        for space in self.spaces():
            for dtype in (torch.float32, torch.float64):
                out = self.apply(space, 0, dtype)
                assert out.dtype == dtype, f"{dtype} in, {out.dtype} out"
                fixed = space.repair(out)
                assert bool(space.contains(fixed.to(torch.float64)).all()), space

    def test_the_generator_decides_everything(self) -> None:
        torch.manual_seed(11)
        before = torch.get_rng_state()
        for space in self.spaces():
            assert torch.equal(self.apply(space, 3), self.apply(space, 3))
        assert torch.equal(torch.get_rng_state(), before), "drew from torch's global RNG"


class SurvivalContract:
    """A survival: at most ``n_survive`` distinct indices, feasible points first, failed points last,
    determinism by generator and a state that survives ``torch.save``/``load(weights_only=True)``."""

    survival: Any
    options: ClassVar[dict[str, Any]] = {}
    n_objectives: int = 2

    def make(self) -> Any:
        cls = _get("survival", self.survival)
        options = dict(self.options)
        if "ref_dirs" in inspect.signature(cls).parameters and "ref_dirs" not in options:
            from polyopt.refdirs import das_dennis

            options["ref_dirs"] = das_dennis(6, self.n_objectives)
        return cls(**options)

    def population(self, n: int = 12) -> tuple[Tensor, Tensor]:
        gen = _generator(1)
        f = torch.rand(n, self.n_objectives, generator=gen, dtype=torch.float64)
        v = torch.zeros(n, dtype=torch.float64)
        v[-4:] = torch.tensor(
            [0.5, 2.0, 1.0, float("inf")], dtype=torch.float64
        )  # 3 infeasible, 1 failed
        f[-1] = float("inf")
        return f, v

    def test_chooses_distinct_indices_feasible_first(self) -> None:
        f, v = self.population()
        for n_survive in (4, 8, 11):
            chosen = self.make()(f, v, n_survive, _generator(2))
            assert isinstance(chosen, Survivors)
            idx = chosen.index.tolist()
            assert 0 < len(idx) <= n_survive and len(set(idx)) == len(idx)
            assert all(0 <= i < f.shape[0] for i in idx)
            assert chosen.rank.shape == chosen.crowding.shape == chosen.index.shape
            infeasible = [i for i in idx if v[i] > 0]
            # infeasible points only fill what the feasible ones leave, least violating first
            by_violation = sorted(range(8, 12), key=lambda i: float(v[i]))
            assert sorted(infeasible, key=lambda i: float(v[i])) == by_violation[: len(infeasible)]
            if infeasible and len(infeasible) < len(idx):
                ranks = dict(zip(idx, chosen.rank.tolist()))
                worst_feasible = max(ranks[i] for i in idx if v[i] == 0)
                assert all(ranks[i] > worst_feasible for i in infeasible), "infeasible ranked ahead"

    def test_the_generator_decides_everything(self) -> None:
        f, v = self.population()
        a = self.make()(f, v, 6, _generator(3)).index
        b = self.make()(f, v, 6, _generator(3)).index
        assert torch.equal(a, b)

    def test_state_round_trips(self) -> None:
        survival = self.make()
        f, v = self.population()
        survival(f, v, 6, _generator(4))
        buf = io.BytesIO()
        torch.save(survival.state_dict(), buf)
        buf.seek(0)
        restored = self.make()
        restored.load_state_dict(torch.load(buf, weights_only=True))
        a = survival(f, v, 6, _generator(5)).index
        b = restored(f, v, 6, _generator(5)).index
        assert torch.equal(a, b)


class AcquisitionContract:
    """An acquisition builder: a BoTorch acquisition function with one finite value per candidate set, for a
    single point, a batch, and with pending points (and constraints where it supports them)."""

    acquisition: Any
    options: ClassVar[dict[str, Any]] = {}

    def builder(self) -> Any:
        return _get("acquisition", self.acquisition)

    def cases(self) -> list[tuple[int, int]]:
        """``(objectives, constraints)`` to check."""
        builder = self.builder()
        m = 2 if getattr(builder, "objectives", "single") == "multi" else 1
        if getattr(builder, "requires_constraints", False):
            return [(m, 1)]
        constrained = getattr(builder, "supports_constraints", True)
        return [(m, 0)] + ([(m, 1)] if constrained else [])

    def evaluate(self, m: int, c: int, q: int, pending: bool) -> Tensor:
        data = small_training_data(n_objectives=m, n_constraints=c)
        if pending:
            data.pending = torch.rand(
                2, data.X.shape[1], generator=_generator(6), dtype=data.X.dtype
            )
        ref = torch.full((m,), -2.0, dtype=torch.float64) if m > 1 else None
        options = AcquisitionOptions(q=q, mc_samples=16, ref_point=ref, extra=dict(self.options))
        torch.manual_seed(0)  # BoTorch samplers draw from the global RNG; optimizers fork it
        acqf = self.builder()(small_gp(data), data, options)
        # a one-shot acquisition (knowledge gradient) scores its q points with its fantasy solutions
        augmented = getattr(acqf, "get_augmented_q_batch_size", None)
        rows = augmented(q) if callable(augmented) else q
        x = torch.rand(5, rows, data.X.shape[1], generator=_generator(7), dtype=torch.float64)
        with torch.no_grad():
            return acqf(x)

    @pytest.mark.parametrize(("q", "pending"), [(1, False), (2, False), (1, True)])
    def test_scores_candidate_sets(self, q: int, pending: bool) -> None:
        for m, c in self.cases():
            values = self.evaluate(m, c, q, pending)
            assert values.shape == (5,), f"{m} objectives, {c} constraints: shape {values.shape}"
            assert bool(torch.isfinite(values).all()), values


class AdvantageContract:
    """An advantage estimator: ``n x T`` advantages, zero on padding, finite even for a group whose rewards
    are all equal, and computable from only what it declares in ``requires``."""

    advantage: Any
    options: ClassVar[dict[str, Any]] = {}

    def estimator(self) -> Any:
        return _get("advantage", self.advantage)

    def test_declares_what_it_requires(self) -> None:
        needs = getattr(self.estimator(), "requires", None)
        assert isinstance(needs, frozenset) and needs <= REQUIREMENTS, needs

    def test_advantages_have_the_rollout_shape_and_are_zero_on_padding(self) -> None:
        fn = self.estimator()
        rollout = small_rollout()
        for field in ("values", "greedy_scores", "old_logp", "ref_logp", "ref_scores"):
            need = {"values": "values", "greedy_scores": "greedy"}.get(field, field)
            if need not in fn.requires:
                setattr(rollout, field, None)  # an estimator gets only what it asked for
        adv, targets = fn(rollout, AdvantageParams(options=dict(self.options)))
        assert adv.shape == rollout.mask.shape, adv.shape
        assert bool(torch.isfinite(adv).all()), adv
        assert bool((adv * (1 - rollout.mask) == 0).all()), "advantages on padding"
        if targets is not None:
            assert targets.shape == rollout.mask.shape

    def test_is_deterministic(self) -> None:
        fn = self.estimator()
        a, _ = fn(small_rollout(seed=1), AdvantageParams(options=dict(self.options)))
        b, _ = fn(small_rollout(seed=1), AdvantageParams(options=dict(self.options)))
        assert torch.equal(a, b)


class PolicyLossContract:
    """A policy loss: ``n x T`` per-token loss, zero on padding, whose gradient on-policy raises the
    log-probability of tokens with positive advantage (and lowers it for negative). It is given what a
    trainer gives: reference log-probabilities, sampling entropy, and whole groups of 4 rows whose advantages
    are centered."""

    policy_loss: Any
    options: ClassVar[dict[str, Any]] = {}

    def loss(self) -> Any:
        return _get("policy_loss", self.policy_loss)

    def test_shape_padding_and_gradient_direction(self) -> None:
        rollout = small_rollout()
        assert rollout.old_logp is not None
        mask = rollout.mask
        logp = rollout.old_logp.clone().requires_grad_(True)
        adv = torch.where(torch.arange(mask.shape[0]) % 2 == 0, 1.0, -1.0).unsqueeze(-1) * mask
        params = LossParams(
            options=dict(self.options),
            ref_logp=rollout.ref_logp,
            entropy=torch.rand(mask.shape, generator=_generator(9)) * mask,
            group_size=mask.shape[0] // rollout.n_groups,
        )
        out = self.loss()(logp, logp.detach(), adv, mask, params)
        assert out.shape == mask.shape, out.shape
        assert bool(torch.isfinite(out).all())
        assert bool((out * (1 - mask) == 0).all()), "loss on padding"
        (out * mask).sum().backward()
        assert logp.grad is not None
        descent = -(logp.grad * adv * mask).sum()  # a gradient step moves logp by -grad
        assert float(descent) > 0, (
            "on-policy, the loss should raise logp where the advantage is positive"
        )


class KLEstimatorContract:
    """A KL estimator: ``n x T``, zero where the policy equals the reference, finite elsewhere."""

    kl_estimator: Any

    def test_zero_at_equality_and_finite(self) -> None:
        fn = _get("kl_estimator", self.kl_estimator)
        rollout = small_rollout()
        assert rollout.old_logp is not None and rollout.ref_logp is not None
        same = fn(rollout.old_logp, rollout.old_logp)
        assert same.shape == rollout.old_logp.shape
        assert bool((same.abs() < 1e-7).all()), "KL(pi || pi) must be 0"
        assert bool(torch.isfinite(fn(rollout.old_logp, rollout.ref_logp)).all())


class RewardContract:
    """A reward function: one finite float per completion, for the task fields of :meth:`batch`."""

    reward: Any

    def batch(self) -> tuple[TaskBatch, list[str]]:
        """Prompts with their fields, and completions (by default from 2-digit addition: half right)."""
        from polyopt_envs.text import Addition

        task = Addition(n_digits=2)
        batch, answers = task.generate(6, _generator(8))
        completions = [a if i % 2 else a[::-1] + "9" for i, a in enumerate(answers)]
        return batch, completions

    def test_one_finite_reward_per_completion(self) -> None:
        fn = _get("reward", self.reward)
        batch, completions = self.batch()
        out = fn(batch.prompts, completions, **batch.fields)
        assert isinstance(out, Tensor) and out.shape == (len(completions),), out
        assert bool(torch.isfinite(out.to(torch.float64)).all())


class MetricContract:
    """A quality indicator: a finite number for a small front, independent of the order of the points, and
    computed without changing its input."""

    metric: Any

    def arguments(self, f: Tensor) -> tuple[Any, ...]:
        needs = metric_input(_get("metric", self.metric))
        if needs == "ref_point":
            return (torch.full((f.shape[1],), 1.1, dtype=f.dtype),)
        if needs == "front":
            t = torch.linspace(0, 1, 30, dtype=f.dtype)
            return (torch.stack([t, 1 - t], dim=-1),)
        return ()

    def test_finite_and_order_free(self) -> None:
        fn = _get("metric", self.metric)
        t = torch.tensor([0.0, 0.2, 0.5, 0.9], dtype=torch.float64)
        f = torch.stack([t, 1 - t.sqrt()], dim=-1)
        copy = f.clone()
        value = fn(f, *self.arguments(f))
        assert f.equal(copy), "the metric changed its input"
        assert isinstance(value, (int, float)) and value == value, value
        flipped = fn(f.flip(0), *self.arguments(f))
        assert flipped == pytest.approx(value, rel=1e-9, abs=1e-12)
