"""The offline preference trainer: DPO, IPO, SLiC, cDPO, robust DPO, SimPO, ORPO, KTO and MODPO are its losses.

``step()`` takes the next ``pairs_per_step`` rows of a shuffled pass over the training pairs, runs one forward
pass over their chosen and rejected completions (each prompt once: the two completions share its keys and
values), and one optimizer step on the mean of the registered ``preference_loss``.

Only what the loss ``requires`` is computed: the reference log-probabilities of every training and held-out pair
are computed once, before the first step, and cached (the reference model is never kept: with LoRA the reference
is the base model with its adapters off, without LoRA the starting weights, scored once); reference-free losses
(SimPO, ORPO) skip them altogether. KTO's reference point uses a fixed mismatched completion per row (the next
row's), so its reference log-probabilities are cached too.

Metrics follow TRL's: the implicit reward of a completion is ``beta (log pi - log ref)`` (reference-free losses:
``beta log pi / tokens``); ``accuracy`` is the share of pairs whose chosen completion has the larger implicit
reward and ``margin`` the mean difference, on the step's pairs and every ``eval_every`` steps on the held-out
pairs (``eval/...``). The result's returns are the latest held-out accuracy and margin; ``policy`` is the model.
The trainer takes no environment steps (``n_env_steps`` stays 0): budget it in steps or seconds.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

import polyopt
from polyopt.components import (
    PreferenceBatch,
    PreferencePairs,
    PreferenceParams,
    PreferenceProblem,
)
from polyopt.errors import ConfigError
from polyopt.optimizer import Trainer
from polyopt.result import TrainerResult
from polyopt_plugins.llm.models import warm_policy
from polyopt_plugins.llm.pairs import EncodedPairs, PassSampler, adamw, sequence_logps

__all__ = ["PreferenceConfig", "PreferenceTrainer"]


@dataclass
class PreferenceConfig:
    """Options of :class:`PreferenceTrainer` (defaults: DPO)."""

    model: str = "tiny"
    """``"tiny"`` (the builtin character-level GPT) or a local directory holding a Hugging Face causal LM."""
    n_layer: int = 2
    """Tiny model: transformer blocks."""
    n_head: int = 4
    """Tiny model: attention heads."""
    d_model: int = 64
    """Tiny model: width."""
    init_from: str = ""
    """Tiny model: a ``torch.save``'d state dict to start from (the SFT model, usually)."""
    lora_rank: int = 0
    """Hugging Face models: train LoRA adapters of this rank; the reference is the base (adapters off)."""
    sft_steps: int = 0
    """Supervised warm-start steps on the problem's ``sft_batch`` before preference training (0 = none)."""
    sft_lr: float = 1e-3
    """Peak learning rate of the warm start."""
    loss: str = "dpo"
    """Registered ``preference_loss``."""
    loss_options: dict[str, Any] | None = None
    """Options for a plugin's loss, passed as ``PreferenceParams.options``."""
    beta: float = 0.1
    """Inverse temperature of the implicit reward (DPO's beta; SimPO's scale of the mean log-probability)."""
    label_smoothing: float = 0.0
    """cDPO / robust DPO: the assumed probability that a label is flipped, in [0, 0.5)."""
    gamma: float = 0.5
    """SimPO's target reward margin."""
    odds_ratio_weight: float = 0.1
    """ORPO's lambda (weight of the odds-ratio term next to the NLL)."""
    desirable_weight: float = 1.0
    """KTO's lambda_D."""
    undesirable_weight: float = 1.0
    """KTO's lambda_U."""
    weights: list[float] | None = None
    """MODPO: one weight per preference dimension (labels come from dimension 0); None = all 1."""
    pairs_per_step: int = 32
    """Pairs (rows) per optimizer step."""
    micro_batches: int = 1
    """Gradient-accumulation chunks per step (the gradient does not depend on it)."""
    lr: float = 1e-4
    """AdamW learning rate (constant). TRL's default, 1e-6, suits billion-parameter models; the tiny models of
    the synthetic tasks need about 1e-4 (benchmarks/RESULTS.md)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping (0 = off)."""
    eval_every: int = 10
    """Steps between evaluations on the held-out pairs (0: only when the result is asked for)."""
    eval_pairs: int = 512
    """Held-out pairs evaluated (the first ones; 0 = all)."""
    score_batch: int = 256
    """Rows per forward pass when caching reference log-probabilities and evaluating."""

    def __post_init__(self) -> None:
        positive = {
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "d_model": self.d_model,
            "pairs_per_step": self.pairs_per_step,
            "micro_batches": self.micro_batches,
            "score_batch": self.score_batch,
        }
        for key, value in positive.items():
            if value < 1:
                raise ValueError(f"{key}={value}; expected at least 1")
        nonneg = {
            "sft_steps": self.sft_steps,
            "lora_rank": self.lora_rank,
            "eval_every": self.eval_every,
            "eval_pairs": self.eval_pairs,
            "max_grad_norm": self.max_grad_norm,
        }
        for key, amount in nonneg.items():
            if amount < 0:
                raise ValueError(f"{key}={amount}; expected >= 0")
        if self.beta <= 0:
            raise ValueError(f"beta={self.beta}; expected > 0")
        if not 0 <= self.label_smoothing < 0.5:
            raise ValueError(f"label_smoothing={self.label_smoothing}; expected in [0, 0.5)")

    def params(self) -> PreferenceParams:
        return PreferenceParams(
            beta=self.beta,
            label_smoothing=self.label_smoothing,
            gamma=self.gamma,
            odds_ratio_weight=self.odds_ratio_weight,
            desirable_weight=self.desirable_weight,
            undesirable_weight=self.undesirable_weight,
            weights=tuple(self.weights or ()),
            options=dict(self.loss_options or {}),
        )


class PreferenceTrainer(Trainer):
    """Offline preference optimization on a :class:`~polyopt.components.PreferenceProblem`."""

    Config = PreferenceConfig
    problem_type = PreferenceProblem  # type: ignore[assignment]  # pairs, not an Environment
    problem: PreferenceProblem  # type: ignore[assignment]
    spends = frozenset({"steps", "seconds"})
    #: the models train in float32 (their weights are built in it)
    dtypes = frozenset({torch.float32})

    def setup(self) -> None:
        cfg = self.config
        self.loss_fn = polyopt.registry().get("preference_loss", cfg.loss)
        self.needs = frozenset(self.loss_fn.requires)
        self.params = cfg.params()
        train, test = self.problem.pairs("train"), self.problem.pairs("test")
        self._check_data(train)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # the model's initial weights follow the run seed
            self.policy = warm_policy(
                cfg,
                self.problem,
                lora_rank=cfg.lora_rank,
                device=self.device,
                generator=self.generator,
            )
        self.train = EncodedPairs(self.policy, train, self.device)
        held_out = test if len(test) else train
        keep = len(held_out) if cfg.eval_pairs == 0 else min(cfg.eval_pairs, len(held_out))
        self.test = EncodedPairs(self.policy, held_out.take(list(range(keep))), self.device)
        self.sides = ("chosen", "rejected")
        with_ref = "reference" in self.needs
        ref_sides = (self.sides if with_ref else ()) + (
            ("mismatched",) if "mismatched" in self.needs else ()
        )
        self.ref_train = self._reference(self.train, ref_sides) if ref_sides else None
        self.ref_test = self._reference(self.test, self.sides) if with_ref else None
        self.opt = adamw(self.policy, cfg.lr, cfg.weight_decay, self.device)
        self.sampler = PassSampler(self.train.n, self.generator, self.device)
        self.history = torch.zeros(0, 2)
        self.evaluated_at = -1

    def _check_data(self, train: PreferencePairs) -> None:
        if not len(train):
            raise ConfigError("the problem has no training pairs")
        if self.config.lora_rank and self.config.sft_steps:
            raise ConfigError(
                f"sft_steps={self.config.sft_steps} with lora_rank={self.config.lora_rank}: the reference "
                "(the base with adapters off) would be the model before the warm start; fine-tune first "
                "and pass the SFT model's directory as model"
            )
        if not train.paired and not self.loss_fn.unpaired:
            raise ConfigError(
                f"loss {self.config.loss!r} needs pairs, but some rows have only a chosen or only a "
                "rejected completion (unpaired data); use loss='kto'"
            )
        if "margins" in self.needs and train.margins is None:
            raise ConfigError(f"loss {self.config.loss!r} needs margins; the data has none")
        weights = self.config.weights
        if weights is not None and len(weights) != len(train.dimensions):
            raise ConfigError(
                f"weights={weights}; expected {len(train.dimensions)} (one per dimension "
                f"{list(train.dimensions)})"
            )

    @contextlib.contextmanager
    def _as_reference(self) -> Iterator[None]:
        """The reference policy: the base model with LoRA adapters off, else the current weights."""
        if self.config.lora_rank:
            with self.policy.adapters_disabled():  # type: ignore[operator]  # a LoRA (peft) policy's method
                yield
        else:
            yield

    @torch.no_grad()
    def _score(self, data: EncodedPairs, sides: tuple[str, ...]) -> dict[str, Tensor]:
        """``sides`` log-probabilities of every row of ``data``, ``score_batch`` rows per forward."""
        chunks = torch.arange(data.n, device=self.device).split(self.config.score_batch)
        parts = [sequence_logps(self.policy, data, rows, sides) for rows in chunks]
        return {s: torch.cat([p[s] for p in parts]) for s in sides}

    def _reference(self, data: EncodedPairs, sides: tuple[str, ...]) -> dict[str, Tensor]:
        with self._as_reference():
            return self._score(data, sides)

    # -- training ----------------------------------------------------------------------------------------------

    def _batch(
        self, data: EncodedPairs, rows: Tensor, ref: dict[str, Tensor] | None
    ) -> PreferenceBatch:
        logps = sequence_logps(self.policy, data, rows, self.sides)
        batch = PreferenceBatch(
            chosen_logp=logps["chosen"],
            rejected_logp=logps["rejected"],
            chosen_tokens=data.tokens("chosen", rows),
            rejected_tokens=data.tokens("rejected", rows),
            margins=None if data.margins is None else data.margins[rows],
        )
        if ref is not None and "chosen" in ref:
            batch.chosen_ref, batch.rejected_ref = ref["chosen"][rows], ref["rejected"][rows]
        if ref is not None and "mismatched" in ref:
            with torch.no_grad():
                batch.mismatched_logp = sequence_logps(self.policy, data, rows, ("mismatched",))[
                    "mismatched"
                ]
            batch.mismatched_ref = ref["mismatched"][rows]
        return batch

    def implicit_rewards(self, b: PreferenceBatch) -> tuple[Tensor, Tensor]:
        """``n`` implicit rewards of the chosen and rejected completions (see the module docstring)."""
        beta = self.config.beta
        if b.chosen_ref is not None and b.rejected_ref is not None:
            chosen, rejected = b.logratios()
            return beta * chosen.detach(), beta * rejected.detach()
        return (
            beta * b.chosen_logp.detach() / b.chosen_tokens.clamp_min(1),
            beta * b.rejected_logp.detach() / b.rejected_tokens.clamp_min(1),
        )

    def _agreement(self, b: PreferenceBatch) -> tuple[Tensor, Tensor]:
        """Accuracy and mean margin of the implicit rewards; rows with one completion count as right when its
        reward has the sign of its label."""
        chosen, rejected = self.implicit_rewards(b)
        both = b.has_chosen & b.has_rejected
        right = torch.where(
            both, chosen > rejected, (chosen > 0) & b.has_chosen | (rejected < 0) & b.has_rejected
        )
        has_c, has_r = b.has_chosen.float(), b.has_rejected.float()
        margin = (chosen * has_c).sum() / has_c.sum().clamp_min(1) - (
            rejected * has_r
        ).sum() / has_r.sum().clamp_min(1)
        return right.float().mean(), margin

    def iterate(self) -> dict[str, float]:
        cfg = self.config
        rows = self.sampler.next(cfg.pairs_per_step)
        self.policy.train()
        stats: dict[str, Tensor] = {}
        for part in rows.chunk(cfg.micro_batches):
            batch = self._batch(self.train, part, self.ref_train)
            loss = self.loss_fn(batch, self.params).sum() / rows.numel()
            loss.backward()
            accuracy, margin = self._agreement(batch)
            chosen, rejected = self.implicit_rewards(batch)
            share = part.numel() / rows.numel()
            for key, value in (
                ("loss", loss.detach()),
                ("accuracy", accuracy * share),
                ("margin", margin * share),
                ("chosen_reward", chosen.mean() * share),
                ("rejected_reward", rejected.mean() * share),
            ):
                stats[key] = stats.get(key, 0.0) + value
        if cfg.max_grad_norm > 0:
            params = [p for p in self.policy.parameters() if p.requires_grad]
            stats["grad_norm"] = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)  # no gradients held between steps
        out = {k: float(v) for k, v in stats.items()}  # the one host sync of the step
        out["pairs"] = float(rows.numel())
        if cfg.eval_every and (self.n_steps + 1) % cfg.eval_every == 0:
            held_accuracy, held_margin = self._evaluate(self.n_steps + 1)
            out.update({"eval/accuracy": held_accuracy, "eval/margin": held_margin})
        return out

    @torch.no_grad()
    def _evaluate(self, step: int) -> tuple[float, float]:
        """Accuracy and margin on the held-out pairs (recorded in the history once per step)."""
        if self.evaluated_at == step:
            last = self.history[-1]
            return float(last[0]), float(last[1])
        self.policy.eval()
        logps = self._score(self.test, self.sides)
        rows = torch.arange(self.test.n, device=self.device)
        batch = PreferenceBatch(
            chosen_logp=logps["chosen"],
            rejected_logp=logps["rejected"],
            chosen_tokens=self.test.tokens("chosen", rows),
            rejected_tokens=self.test.tokens("rejected", rows),
        )
        if self.ref_test is not None:
            batch.chosen_ref, batch.rejected_ref = (
                self.ref_test["chosen"],
                self.ref_test["rejected"],
            )
        accuracy, margin = (float(v) for v in self._agreement(batch))
        self.history = torch.cat([self.history, torch.tensor([[accuracy, margin]])])
        self.evaluated_at = step
        return accuracy, margin

    def result(self) -> TrainerResult:
        """The latest held-out preference accuracy and implicit-reward margin; ``policy`` is the model."""
        accuracy, margin = self._evaluate(self.n_steps)
        return self.make_result(
            self.policy,
            torch.tensor([[accuracy, margin]]),
            labels=torch.tensor([self.n_steps]),
            reward_names=["preference_accuracy", "reward_margin"],
            history=self.history.clone(),
            metrics={"accuracy": accuracy, "margin": margin},
        )

    def get_state(self) -> dict[str, Any]:
        return {
            "policy": self.policy.state_dict(),
            "opt": self.opt.state_dict(),
            "sampler": self.sampler.state(),
            "ref_train": self.ref_train,
            "ref_test": self.ref_test,
            "history": self.history,
            "evaluated_at": self.evaluated_at,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.opt.load_state_dict(state["opt"])
        self.sampler.load(state["sampler"])
        for key in ("ref_train", "ref_test"):
            cached = state[key]
            setattr(
                self,
                key,
                None if cached is None else {k: v.to(self.device) for k, v in cached.items()},
            )
        self.history = state["history"]
        self.evaluated_at = int(state["evaluated_at"])
