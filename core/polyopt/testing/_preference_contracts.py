"""Conformance classes of the preference-learning kinds: ``preference_loss`` and ``reward_aggregation``.

Example (in a plugin's tests)::

    from polyopt.testing import PreferenceLossContract, RewardAggregationContract

    class TestOffsetDPO(PreferenceLossContract):
        preference_loss = "acme.offset-dpo"
        options = {"offset": 0.5}

    class TestSoftMin(RewardAggregationContract):
        reward_aggregation = "acme.soft-min"
"""

from __future__ import annotations

from typing import Any, ClassVar

import torch
from torch import Tensor

import polyopt
from polyopt.components import (
    PREFERENCE_REQUIREMENTS,
    AggregationParams,
    PreferenceBatch,
    PreferenceParams,
)

__all__ = ["PreferenceLossContract", "RewardAggregationContract", "small_preference_batch"]


def _get(kind: str, target: Any) -> Any:
    return polyopt.registry().get(kind, target) if isinstance(target, str) else target


def small_preference_batch(
    n: int = 6, m: int = 2, *, seed: int = 0, at_reference: bool = True, unpaired: bool = False
) -> PreferenceBatch:
    """A batch with every optional field filled: ragged lengths, per-token log-probabilities in (-3, 0),
    ``m`` dimensions of margins (dimension 0 positive). ``at_reference``: the policy equals the reference (the
    log-probabilities are equal), where every preference loss should raise the chosen completion against the
    rejected one. ``unpaired``: the last two rows have only a chosen and only a rejected completion."""
    gen = torch.Generator().manual_seed(seed)
    tokens = torch.randint(1, 6, (2, n), generator=gen).float()
    if unpaired:
        tokens[1, -2] = 0.0  # a desirable example alone
        tokens[0, -1] = 0.0  # an undesirable example alone
    logp = -3 * torch.rand(3, n, generator=gen) * torch.cat([tokens, tokens[:1]])
    shift = torch.zeros(3, n) if at_reference else 0.3 * torch.randn(3, n, generator=gen)
    margins = torch.randn(n, m, generator=gen)
    margins[:, 0] = margins[:, 0].abs()
    return PreferenceBatch(
        chosen_logp=logp[0].clone(),
        rejected_logp=logp[1].clone(),
        chosen_tokens=tokens[0],
        rejected_tokens=tokens[1],
        chosen_ref=logp[0] + shift[0] * (tokens[0] > 0),
        rejected_ref=logp[1] + shift[1] * (tokens[1] > 0),
        margins=margins,
        mismatched_logp=logp[2],
        mismatched_ref=logp[2] + shift[2],
    )


class PreferenceLossContract:
    """A preference loss: ``n`` finite per-row losses, computable from only what it ``requires``; at the
    reference policy its gradient raises the chosen completions' log-probabilities and lowers the rejected
    ones'; absent completions (unpaired rows) get no gradient; deterministic; inputs left unchanged."""

    preference_loss: Any
    options: ClassVar[dict[str, Any]] = {}
    #: preference dimensions of the test batch (MODPO-style losses read several)
    dimensions: int = 2

    def loss(self) -> Any:
        return _get("preference_loss", self.preference_loss)

    def params(self) -> PreferenceParams:
        return PreferenceParams(
            weights=(1.0,) * self.dimensions, label_smoothing=0.1, options=dict(self.options)
        )

    def batch(self, **kwargs: Any) -> PreferenceBatch:
        batch = small_preference_batch(m=self.dimensions, **kwargs)
        needs = self.loss().requires
        if "reference" not in needs:
            batch.chosen_ref = batch.rejected_ref = None  # a loss gets only what it asked for
        if "margins" not in needs:
            batch.margins = None
        if "mismatched" not in needs:
            batch.mismatched_logp = batch.mismatched_ref = None
        return batch

    def gradients(self, batch: PreferenceBatch) -> tuple[Tensor, Tensor, Tensor]:
        batch.chosen_logp.requires_grad_(True)
        batch.rejected_logp.requires_grad_(True)
        out = self.loss()(batch, self.params())
        out.sum().backward()
        assert batch.chosen_logp.grad is not None and batch.rejected_logp.grad is not None
        return out, batch.chosen_logp.grad, batch.rejected_logp.grad

    def test_declares_what_it_requires(self) -> None:
        fn = self.loss()
        assert isinstance(fn.requires, frozenset) and fn.requires <= PREFERENCE_REQUIREMENTS
        assert isinstance(fn.unpaired, bool)

    def test_one_finite_loss_per_row(self) -> None:
        for at_reference in (True, False):
            batch = self.batch(at_reference=at_reference)
            out = self.loss()(batch, self.params())
            assert out.shape == (6,), out.shape
            assert bool(torch.isfinite(out).all()), out

    def test_gradient_prefers_chosen_at_the_reference(self) -> None:
        _, grad_c, grad_r = self.gradients(self.batch())
        # a gradient step moves logp by -grad: chosen up, rejected down
        assert bool((grad_c <= 0).all()) and bool((grad_r >= 0).all()), (grad_c, grad_r)
        assert float(grad_r.sum() - grad_c.sum()) > 0, "the loss does not prefer chosen completions"

    def test_unpaired_rows(self) -> None:
        if not self.loss().unpaired:
            return
        out, grad_c, grad_r = self.gradients(self.batch(unpaired=True))
        assert bool(torch.isfinite(out).all()), out
        assert float(grad_c[-1]) == 0 and float(grad_r[-2]) == 0, "gradient on an absent completion"
        assert float(grad_c[-2]) < 0 and float(grad_r[-1]) > 0

    def test_is_deterministic_and_leaves_its_inputs_alone(self) -> None:
        batch = self.batch(at_reference=False)
        before = [t.clone() for t in vars(batch).values() if isinstance(t, Tensor)]
        a = self.loss()(batch, self.params())
        b = self.loss()(batch, self.params())
        assert torch.equal(a, b)
        after = [t for t in vars(batch).values() if isinstance(t, Tensor)]
        assert all(torch.equal(x, y) for x, y in zip(before, after)), "the loss changed its input"


class RewardAggregationContract:
    """A reward aggregation: ``n`` finite rewards from ``n x K`` member scores; members that agree give their
    common score; never above the best member; independent of member order."""

    reward_aggregation: Any
    options: ClassVar[dict[str, Any]] = {}

    def aggregate(self, scores: Tensor) -> Tensor:
        fn = _get("reward_aggregation", self.reward_aggregation)
        return fn(scores, AggregationParams(options=dict(self.options)))

    def scores(self, n: int = 8, k: int = 4) -> Tensor:
        return torch.randn(n, k, generator=torch.Generator().manual_seed(3))

    def test_shape_and_finite(self) -> None:
        out = self.aggregate(self.scores())
        assert out.shape == (8,), out.shape
        assert bool(torch.isfinite(out).all())

    def test_agreeing_members_give_their_score(self) -> None:
        same = torch.linspace(-2, 2, 8).unsqueeze(-1).expand(8, 4)
        assert torch.allclose(self.aggregate(same), same[:, 0], atol=1e-6)

    def test_never_above_the_best_member(self) -> None:
        scores = self.scores()
        assert bool((self.aggregate(scores) <= scores.max(-1).values + 1e-6).all())

    def test_order_free(self) -> None:
        scores = self.scores()
        assert torch.allclose(self.aggregate(scores), self.aggregate(scores.flip(-1)), atol=1e-6)
