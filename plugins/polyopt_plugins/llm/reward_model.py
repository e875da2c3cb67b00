"""Learned rewards: a Bradley-Terry reward model trained on preference pairs, usable as a ``reward`` component.

A :class:`RewardModel` is a language-model body with a scalar head read at the last completion token: the builtin
tiny GPT (optionally started from an SFT checkpoint) or a local Hugging Face model — a sequence-classification
model keeps its own ``score`` head, a causal LM gets a new one. Called as ``rm(prompts, completions, **fields)``
it returns ``n`` standardized rewards, so it plugs into any trainer: register it
(``polyopt.registry().add("reward", "my-rm", rm)``, then ``rewards=["my-rm"]``) or put it in a task's
``reward_fns``.

:class:`RewardModelTrainer` (``reward-model``) minimizes ``-log sigmoid(r(y_w) - r(y_l) - margin)`` (Bradley-Terry;
with ``use_margin`` the data's dimension-0 margin, as in Llama 2) on the training pairs and reports the pairwise
accuracy on the held-out pairs; after training the scores are standardized by their mean and standard
deviation over the training completions, so ensemble members share one scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from polyopt.components import PreferencePairs, PreferenceProblem
from polyopt.errors import ConfigError
from polyopt.optimizer import Trainer
from polyopt.result import TrainerResult
from polyopt_plugins.llm.models import build_policy
from polyopt_plugins.llm.pairs import EncodedPairs, PassSampler, adamw
from polyopt_plugins.llm.policy import Policy
from polyopt_plugins.llm.sft import encode_completions

__all__ = ["RewardModel", "RewardModelConfig", "RewardModelTrainer", "pairwise_accuracy"]


class RewardModel(nn.Module):
    """``r(prompt, completion)``: a body's hidden state at the last completion token through a linear head.

    Args:
        body: the language model (its tokenizer encodes the texts).
        head: ``hidden_size -> 1``; None makes a zero-initialized one.
    """

    def __init__(self, body: Policy, head: nn.Module | None = None) -> None:
        super().__init__()
        self.body = body
        if head is None:
            head = nn.Linear(body.hidden_size, 1)
            nn.init.zeros_(head.weight)
            nn.init.zeros_(head.bias)
        self.head = head
        self.offset: Tensor
        self.scale: Tensor
        self.register_buffer("offset", torch.zeros(()))
        self.register_buffer("scale", torch.ones(()))

    @classmethod
    def from_pretrained(cls, path: str) -> RewardModel:
        """A local Hugging Face model: a sequence-classification model with one label keeps its ``score`` head;
        any other (a causal LM) gets a new head on its decoder."""
        from polyopt_plugins.llm.hf import HFPolicy, _transformers

        tf = _transformers()
        if not Path(path).is_dir():
            raise ConfigError(
                f"model={path!r}; expected 'tiny' or a local Hugging Face model directory"
            )
        config = tf.AutoConfig.from_pretrained(path)
        tok = tf.AutoTokenizer.from_pretrained(path)
        classifier = any(
            a.endswith("ForSequenceClassification") for a in config.architectures or ()
        )
        if classifier:
            model = tf.AutoModelForSequenceClassification.from_pretrained(
                path, num_labels=1, dtype=torch.float32
            )
            return cls(HFPolicy(model, tok), model.score)
        return cls(HFPolicy.from_pretrained(path))

    @property
    def device(self) -> torch.device:
        return self.offset.device

    def raw(self, prompt: Tensor, prompt_mask: Tensor, completion: Tensor, mask: Tensor) -> Tensor:
        """``n`` unstandardized rewards of left-padded prompts and right-padded completions (``<eos>``
        included; an all-padding completion is read at the last prompt token)."""
        hidden = self.body.completion_hidden(prompt, prompt_mask, completion, mask)  # (n, L, d)
        last = (mask.long().sum(-1) - 1).clamp_min(0)  # the state that predicts <eos>
        state = hidden[torch.arange(hidden.shape[0], device=hidden.device), last]  # (n, d)
        return self.head(state).squeeze(-1).float()

    @torch.no_grad()
    def forward(self, prompts: list[str], completions: list[str], **_: Any) -> Tensor:
        """``n`` standardized rewards: the ``reward`` component protocol."""
        ids, pmask = self.body.tokenizer.batch_encode(list(prompts), self.device)
        comp, cmask = encode_completions(self.body, list(completions), self.device)
        return (self.raw(ids, pmask, comp, cmask) - self.offset) / self.scale


@dataclass
class RewardModelConfig:
    """Options of :class:`RewardModelTrainer`."""

    model: str = "tiny"
    """``"tiny"`` or a local directory: a Hugging Face sequence-classification model or causal LM."""
    n_layer: int = 2
    """Tiny model: transformer blocks."""
    n_head: int = 4
    """Tiny model: attention heads."""
    d_model: int = 64
    """Tiny model: width."""
    init_from: str = ""
    """Tiny model: a ``torch.save``'d language-model state dict for the body (the SFT model, usually)."""
    pairs_per_step: int = 32
    """Pairs per optimizer step."""
    lr: float = 1e-4
    """AdamW learning rate (constant)."""
    weight_decay: float = 0.0
    """AdamW weight decay."""
    max_grad_norm: float = 1.0
    """Gradient clipping (0 = off)."""
    use_margin: bool = False
    """Subtract the data's dimension-0 margin inside the sigmoid (Llama 2's margin loss)."""
    eval_every: int = 10
    """Steps between held-out evaluations (0: only when the result is asked for)."""
    eval_pairs: int = 512
    """Held-out pairs evaluated (the first ones; 0 = all)."""
    score_batch: int = 256
    """Rows per forward pass when evaluating and standardizing."""

    def __post_init__(self) -> None:
        for key in ("n_layer", "n_head", "d_model", "pairs_per_step", "score_batch"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key}={getattr(self, key)}; expected at least 1")
        for key in ("eval_every", "eval_pairs", "max_grad_norm"):
            if getattr(self, key) < 0:
                raise ValueError(f"{key}={getattr(self, key)}; expected >= 0")


class RewardModelTrainer(Trainer):
    """Bradley-Terry reward-model training on a :class:`~polyopt.components.PreferenceProblem`."""

    Config = RewardModelConfig
    problem_type = PreferenceProblem  # type: ignore[assignment]  # pairs, not an Environment
    problem: PreferenceProblem  # type: ignore[assignment]
    spends = frozenset({"steps", "seconds"})
    dtypes = frozenset({torch.float32})

    def setup(self) -> None:
        cfg = self.config
        train, test = self.problem.pairs("train"), self.problem.pairs("test")
        if not train.paired:
            raise ConfigError("a Bradley-Terry reward model needs pairs; some rows are unpaired")
        if cfg.use_margin and train.margins is None:
            raise ConfigError("use_margin=True, but the data has no margins")
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(
                self.seed
            )  # the body's and head's initial weights follow the run seed
            self.model = self._build().to(self.device)
        self.train = EncodedPairs(self.model.body, train, self.device)
        held_out = test if len(test) else train
        keep = len(held_out) if cfg.eval_pairs == 0 else min(cfg.eval_pairs, len(held_out))
        self.test = EncodedPairs(self.model.body, held_out.take(list(range(keep))), self.device)
        self.opt = adamw(self.model, cfg.lr, cfg.weight_decay, self.device)
        self.sampler = PassSampler(self.train.n, self.generator, self.device)
        self.history = torch.zeros(0, 1)
        self.evaluated_at = -1

    def _build(self) -> RewardModel:
        cfg = self.config
        if cfg.model != "tiny":
            if cfg.init_from:
                raise ConfigError(
                    "init_from is for the tiny model; a local model loads its own weights"
                )
            return RewardModel.from_pretrained(cfg.model)
        body = build_policy(
            "tiny",
            n_layer=cfg.n_layer,
            n_head=cfg.n_head,
            d_model=cfg.d_model,
            init_from=cfg.init_from,
            lora_rank=0,
            device=torch.device("cpu"),
        )
        return RewardModel(body)

    def _pair_scores(self, data: EncodedPairs, rows: Tensor) -> tuple[Tensor, Tensor]:
        """``b`` rewards of the chosen and the rejected completions of ``rows`` (one forward pass)."""
        prompt, pmask, comp, cmask = data.take(rows, ("chosen", "rejected"))
        chosen, rejected = self.model.raw(prompt, pmask, comp, cmask).chunk(2)
        return chosen, rejected

    def iterate(self) -> dict[str, float]:
        cfg = self.config
        rows = self.sampler.next(cfg.pairs_per_step)
        self.model.train()
        chosen, rejected = self._pair_scores(self.train, rows)
        margin = torch.zeros_like(chosen)
        if cfg.use_margin and self.train.margins is not None:
            margin = self.train.margins[rows, 0]
        loss = -F.logsigmoid(chosen - rejected - margin).mean()
        loss.backward()
        stats = {"loss": loss.detach(), "accuracy": (chosen > rejected).float().mean()}
        if cfg.max_grad_norm > 0:
            params = [p for p in self.model.parameters() if p.requires_grad]
            stats["grad_norm"] = torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
        self.opt.step()
        self.opt.zero_grad(set_to_none=True)  # no gradients held between steps
        out = {k: float(v) for k, v in stats.items()}
        if cfg.eval_every and (self.n_steps + 1) % cfg.eval_every == 0:
            out["eval/accuracy"] = self._evaluate(self.n_steps + 1)
        return out

    @torch.no_grad()
    def _scores(self, data: EncodedPairs) -> tuple[Tensor, Tensor]:
        chunks = torch.arange(data.n, device=self.device).split(self.config.score_batch)
        parts = [self._pair_scores(data, rows) for rows in chunks]
        return torch.cat([c for c, _ in parts]), torch.cat([r for _, r in parts])

    def _evaluate(self, step: int) -> float:
        """Pairwise accuracy on the held-out pairs (ties count a half)."""
        if self.evaluated_at == step:
            return float(self.history[-1, 0])
        self.model.eval()
        chosen, rejected = self._scores(self.test)
        accuracy = float(
            (chosen > rejected).float().mean() + 0.5 * (chosen == rejected).float().mean()
        )
        self.history = torch.cat([self.history, torch.tensor([[accuracy]])])
        self.evaluated_at = step
        return accuracy

    @torch.no_grad()
    def standardize(self) -> None:
        """Set the model's offset and scale to the mean and standard deviation of its raw rewards over the
        training completions (chosen and rejected)."""
        self.model.eval()
        scores = torch.cat(self._scores(self.train))
        self.model.offset.fill_(scores.mean())
        self.model.scale.fill_(scores.std().clamp_min(1e-6) if scores.numel() > 1 else 1.0)

    def result(self) -> TrainerResult:
        """Held-out pairwise accuracy; ``policy`` is the (standardized) :class:`RewardModel`."""
        accuracy = self._evaluate(self.n_steps)
        self.standardize()
        return self.make_result(
            self.model,
            torch.tensor([[accuracy]]),
            labels=torch.tensor([self.n_steps]),
            reward_names=["pairwise_accuracy"],
            history=self.history.clone(),
            metrics={"accuracy": accuracy},
        )

    def get_state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "sampler": self.sampler.state(),
            "history": self.history,
            "evaluated_at": self.evaluated_at,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.sampler.load(state["sampler"])
        self.history = state["history"]
        self.evaluated_at = int(state["evaluated_at"])


def pairwise_accuracy(model: RewardModel, pairs: PreferencePairs) -> float:
    """Share of ``pairs`` whose chosen completion ``model`` scores higher (ties count a half)."""
    chosen = model(pairs.prompts, [str(c) for c in pairs.chosen])
    rejected = model(pairs.prompts, [str(r) for r in pairs.rejected])
    return float((chosen > rejected).float().mean() + 0.5 * (chosen == rejected).float().mean())
