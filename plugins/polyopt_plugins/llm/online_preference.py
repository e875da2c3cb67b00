"""Iterative (online) DPO: preference pairs sampled from the current policy, judged, then preference steps, in
rounds (Xu et al. 2023, "Some things are more CRINGE than others"; Xiong et al. 2024, "Iterative Preference
Learning from Human Feedback"; with a win-rate judge, the pair selection of DNO, Rosset et al. 2024).

Every ``steps_per_round`` steps a round begins: ``prompts_per_round`` prompts of the text task, each with
``completions_per_prompt`` completions sampled from the current policy at ``temperature``, are scored by the
judge — the task's gold rewards weighted by its ``default_weights`` (a preference oracle, the default) or any
registered ``reward`` (a reward model, a :class:`~polyopt_plugins.llm.win_reward.WinRate` over a preference
model). Each prompt's best and worst completion become a pair (prompts whose completions all score alike give
none). The round's steps then draw ``pairs_per_step`` pairs per step in shuffled passes and take one step of the
registered ``preference_loss`` (DPO by default; any loss of the offline trainer that needs pairs works).

The reference is the initial policy (``reference="initial"``: one frozen copy is kept) or the policy at the start
of each round (``"previous"``: its log-probabilities are those of the policy that sampled the pairs, so no copy is
kept); reference log-probabilities are computed once per round. ``n_env_steps`` counts sampled completions. The
history holds each round's mean judge score of its samples; the result's return is the latest one.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

import polyopt
from polyopt.components import PreferenceBatch, PreferencePairs, PreferenceParams
from polyopt.errors import ConfigError
from polyopt.optimizer import Trainer
from polyopt.result import TrainerResult
from polyopt_plugins.llm.models import warm_policy
from polyopt_plugins.llm.pairs import EncodedPairs, PassSampler, adamw, sequence_logps
from polyopt_plugins.llm.sampler import SamplingParams, generate
from polyopt_plugins.llm.sft import decode_completions

__all__ = ["IterativeDPO", "IterativeDPOConfig"]

_SIDES = ("chosen", "rejected")


@dataclass
class IterativeDPOConfig:
    """Options of :class:`IterativeDPO`."""

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
    sft_steps: int = 0
    """Supervised warm-start steps on the task's ``sft_batch`` before the first round (0 = none)."""
    sft_lr: float = 1e-3
    """Peak learning rate of the warm start."""
    judge: str = ""
    """Registered ``reward`` scoring the samples (a reward model, a win rate); "" = the task's gold rewards."""
    prompts_per_round: int = 64
    """Prompts sampled per round (each gives at most one pair)."""
    completions_per_prompt: int = 4
    """Completions sampled per prompt; the best and the worst by the judge form its pair."""
    steps_per_round: int = 10
    """Preference steps on each round's pairs before new ones are sampled."""
    temperature: float = 1.0
    """Sampling temperature of the rounds' completions."""
    max_new_tokens: int = 0
    """Completion length limit; 0 uses the task's ``completion_len``."""
    reference: str = "initial"
    """``"initial"`` (the starting policy, a frozen copy) or ``"previous"`` (the policy that sampled the round)."""
    loss: str = "dpo"
    """Registered ``preference_loss`` (one that takes pairs)."""
    loss_options: dict[str, Any] | None = None
    """Options for a plugin's loss, passed as ``PreferenceParams.options``."""
    beta: float = 0.1
    """Inverse temperature of the implicit reward (DPO's beta)."""
    label_smoothing: float = 0.0
    """cDPO / robust DPO: the assumed label-flip probability, in [0, 0.5)."""
    pairs_per_step: int = 32
    """Pairs per optimizer step."""
    lr: float = 1e-4
    """AdamW learning rate (constant)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping (0 = off)."""

    def __post_init__(self) -> None:
        positive = {
            "n_layer": self.n_layer,
            "n_head": self.n_head,
            "d_model": self.d_model,
            "prompts_per_round": self.prompts_per_round,
            "steps_per_round": self.steps_per_round,
            "pairs_per_step": self.pairs_per_step,
        }
        for key, value in positive.items():
            if value < 1:
                raise ValueError(f"{key}={value}; expected at least 1")
        if self.completions_per_prompt < 2:
            raise ValueError(
                f"completions_per_prompt={self.completions_per_prompt}; expected at least 2"
            )
        for key, amount in {"sft_steps": self.sft_steps, "temperature": self.temperature}.items():
            if amount < 0:
                raise ValueError(f"{key}={amount}; expected >= 0")
        if self.reference not in ("initial", "previous"):
            raise ValueError(f"reference={self.reference!r}; expected 'initial' or 'previous'")
        if self.beta <= 0 or not 0 <= self.label_smoothing < 0.5:
            raise ValueError(
                f"beta={self.beta}, label_smoothing={self.label_smoothing}; expected beta > 0 and "
                "label_smoothing in [0, 0.5)"
            )


class IterativeDPO(Trainer):
    """Online preference optimization on a text task: sample, judge, pair, preference steps, in rounds."""

    Config = IterativeDPOConfig
    #: the models train in float32 (their weights are built in it)
    dtypes = frozenset({torch.float32})
    problem: Any  # a text task (sample, score, sft_batch); checked by compatibility()

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super().compatibility(problem)
        missing = [m for m in ("sample", "score", "sft_batch") if not hasattr(problem, m)]
        if reason is None and missing:
            return f"it needs a text task (with sample, score, sft_batch); missing {', '.join(missing)}"
        return reason

    def setup(self) -> None:
        cfg, reg = self.config, polyopt.registry()
        self.loss_fn = reg.get("preference_loss", cfg.loss)
        if self.loss_fn.unpaired or "margins" in self.loss_fn.requires:
            raise ConfigError(
                f"loss={cfg.loss!r}; expected a loss on pairs without data margins (dpo, ipo, ...)"
            )
        self.with_ref = "reference" in self.loss_fn.requires
        self.judge = reg.get("reward", cfg.judge) if cfg.judge else None
        self.params = PreferenceParams(
            beta=cfg.beta,
            label_smoothing=cfg.label_smoothing,
            options=dict(cfg.loss_options or {}),
        )
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # the model's initial weights follow the run seed
            self.policy = warm_policy(
                cfg, self.problem, lora_rank=0, device=self.device, generator=self.generator
            )
        self.ref = None
        if self.with_ref and cfg.reference == "initial":
            self.ref = copy.deepcopy(self.policy).eval().requires_grad_(False)
        self.max_new = cfg.max_new_tokens or int(getattr(self.problem, "completion_len", 16))
        self.opt = adamw(self.policy, cfg.lr, cfg.weight_decay, self.device)
        self.round: dict[str, Any] | None = (
            None  # the round's pairs, reference log-probabilities, sampler
        )
        self.history = torch.zeros(0, 1)

    # -- a round: sample, judge, pair ------------------------------------------------------------------------------

    def _scores(self, batch: Any, texts: list[str]) -> Tensor:
        if self.judge is not None:
            return self.judge(batch.prompts, texts, **batch.fields).float().cpu()
        weights = torch.tensor(self.problem.default_weights, dtype=torch.float32)
        return self.problem.score(batch, texts).float().cpu() @ weights

    @torch.no_grad()
    def _new_round(self) -> dict[str, float]:
        cfg, k = self.config, self.config.completions_per_prompt
        batch = self.problem.sample(cfg.prompts_per_round, self.generator).repeat(
            k
        )  # groups contiguous
        ids, mask = self.policy.tokenizer.batch_encode(batch.prompts, self.device)
        params = SamplingParams(max_new_tokens=self.max_new, temperature=cfg.temperature)
        self.policy.eval()
        gen = generate(
            self.policy,
            ids,
            mask,
            params,
            stop_ids=(self.policy.tokenizer.eos_id,),
            generator=self.generator,
        )
        texts = decode_completions(self.policy, gen.tokens, gen.mask)
        self.n_env_steps += len(texts)
        scores = self._scores(batch, texts).view(-1, k)  # (prompts, k)
        best, worst = scores.argmax(1), scores.argmin(1)
        keep = (scores.max(1).values > scores.min(1).values).nonzero().flatten().tolist()
        pairs = PreferencePairs(
            [batch.prompts[i * k] for i in keep],
            [texts[i * k + int(best[i])] for i in keep],
            [texts[i * k + int(worst[i])] for i in keep],
        )
        self.round = {"pairs": pairs}
        if keep:
            data = EncodedPairs(self.policy, pairs, self.device)
            self.round.update(data=data, sampler=PassSampler(data.n, self.generator, self.device))
            if self.with_ref:
                self.round["ref"] = self._reference(data)
        self.history = torch.cat([self.history, scores.mean().view(1, 1)])
        return {"round/judge": float(scores.mean()), "round/pairs": float(len(keep))}

    def _reference(self, data: EncodedPairs) -> dict[str, Tensor]:
        model = self.ref if self.ref is not None else self.policy
        rows = torch.arange(data.n, device=self.device)
        with torch.no_grad():
            return sequence_logps(model, data, rows, _SIDES)

    # -- a step ------------------------------------------------------------------------------------------------

    def iterate(self) -> dict[str, float]:
        cfg = self.config
        out: dict[str, float] = {}
        if self.round is None or self.n_steps % cfg.steps_per_round == 0:
            out.update(self._new_round())
        assert self.round is not None
        if "data" not in self.round:
            return {
                **out,
                "pairs": 0.0,
            }  # every prompt's completions scored alike: nothing to learn
        data, rows = self.round["data"], self.round["sampler"].next(cfg.pairs_per_step)
        self.policy.train()
        logps = sequence_logps(self.policy, data, rows, _SIDES)
        batch = PreferenceBatch(
            chosen_logp=logps["chosen"],
            rejected_logp=logps["rejected"],
            chosen_tokens=data.tokens("chosen", rows),
            rejected_tokens=data.tokens("rejected", rows),
        )
        if self.with_ref:
            batch.chosen_ref = self.round["ref"]["chosen"][rows]
            batch.rejected_ref = self.round["ref"]["rejected"][rows]
        loss = self.loss_fn(batch, self.params).mean()
        loss.backward()
        if cfg.max_grad_norm > 0:
            params = [p for p in self.policy.parameters() if p.requires_grad]
            torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)
        margin = (batch.chosen_logp - batch.rejected_logp).detach()
        if self.with_ref:
            chosen, rejected = batch.logratios()
            margin = cfg.beta * (chosen - rejected).detach()
        out.update(
            loss=float(loss.detach()),
            margin=float(margin.mean()),
            accuracy=float((margin > 0).float().mean()),
            pairs=float(rows.numel()),
        )
        return out

    def result(self) -> TrainerResult:
        """The latest round's mean judge score of the policy's samples; ``history`` holds every round's."""
        last = self.history[-1:] if self.history.numel() else torch.zeros(1, 1)
        return self.make_result(
            self.policy,
            last.clone(),
            labels=torch.tensor([self.n_steps]),
            reward_names=["judge"],
            history=self.history.clone(),
            metrics={"rounds": float(self.history.shape[0])},
        )

    def get_state(self) -> dict[str, Any]:
        r = self.round
        pairs = None if r is None else r["pairs"]
        return {
            "policy": self.policy.state_dict(),
            "opt": self.opt.state_dict(),
            "ref": None if self.ref is None else self.ref.state_dict(),
            "history": self.history,
            "pairs": None if pairs is None else [pairs.prompts, pairs.chosen, pairs.rejected],
            "round_ref": None if r is None else r.get("ref"),
            "sampler": None if r is None or "sampler" not in r else r["sampler"].state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.policy.load_state_dict(state["policy"])
        self.opt.load_state_dict(state["opt"])
        if self.ref is not None:
            self.ref.load_state_dict(state["ref"])
        self.history = state["history"]
        self.round = None
        if state["pairs"] is None:
            return
        pairs = PreferencePairs(*state["pairs"])
        self.round = {"pairs": pairs}
        if len(pairs):
            data = EncodedPairs(self.policy, pairs, self.device)
            restored = (
                self.generator.get_state()
            )  # the sampler's first permutation is replaced below
            sampler = PassSampler(data.n, self.generator, self.device)
            self.generator.set_state(restored)
            sampler.load(state["sampler"])
            self.round.update(data=data, sampler=sampler)
        if state["round_ref"] is not None:
            self.round["ref"] = {k: v.to(self.device) for k, v in state["round_ref"].items()}
