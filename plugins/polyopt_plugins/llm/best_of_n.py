"""Best-of-N sampling as an optimizer: draw ``n`` completions per prompt from a fixed policy and keep the one the
reward (a rule, a learned reward model, an ensemble) scores highest.

Nothing is trained; the policy it returns (:class:`BestOfNPolicy`) samples and selects at inference time. Its KL
divergence from the base policy is at most ``log n - (n - 1) / n`` (Stiennon et al. 2020), so sweeping ``n`` traces
reward against KL without any training — the axis of the over-optimization curves of Gao et al. 2023 and Coste
et al. 2023. When the selecting rewards are not the task's own (``rewards`` names a learned proxy), every step also
reports the task's gold rewards of the selected completions (``gold/...``) and of all samples (``gold_all``).
``n_env_steps`` counts sampled completions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import torch
from torch import Tensor, nn

import polyopt
from polyopt.errors import ConfigError
from polyopt.optimizer import Trainer
from polyopt.result import TrainerResult
from polyopt_plugins.llm.models import warm_policy
from polyopt_plugins.llm.policy import Policy
from polyopt_plugins.llm.win_rate import complete

__all__ = ["BestOfN", "BestOfNConfig", "BestOfNPolicy", "kl_bound"]

_TASK_METHODS = ("sample", "score", "sft_batch", "reward_names")


def kl_bound(n: int) -> float:
    """``log n - (n - 1) / n``: the KL of best-of-``n`` from the base policy (an upper bound)."""
    return math.log(n) - (n - 1) / n


def resolve_rewards(problem: Any, names: list[str] | None) -> dict[str, Any]:
    """The named rewards (the task's own, else registered ``reward`` entries); None = all of the task's."""
    own = dict(getattr(problem, "reward_fns", {}))
    return {
        name: own[name] if name in own else polyopt.registry().get("reward", name)
        for name in (names or list(own))
    }


class BestOfNPolicy(nn.Module):
    """A base policy that samples ``n`` completions per prompt and returns the highest-rewarded one."""

    def __init__(
        self, policy: Policy, rewards: dict[str, Any], weights: Tensor, n: int, **sampling: Any
    ) -> None:
        super().__init__()
        self.policy, self.rewards, self.weights, self.n = policy, rewards, weights, n
        self.sampling = sampling

    def scores(self, prompts: list[str], completions: list[str], **fields: Any) -> Tensor:
        """``len(prompts) x m`` rewards, one column per reward."""
        cols = [fn(prompts, completions, **fields).float().cpu() for fn in self.rewards.values()]
        return torch.stack(cols, dim=-1)

    def select(
        self, prompts: list[str], fields: dict[str, list[Any]], generator: torch.Generator
    ) -> tuple[list[str], Tensor, list[str], Tensor]:
        """For each prompt: the chosen completion and its ``m`` rewards, and all ``n`` samples (``P n``, grouped
        by prompt) with their ``P n x m`` rewards."""
        rep = [p for p in prompts for _ in range(self.n)]
        rep_fields = {k: [x for x in v for _ in range(self.n)] for k, v in fields.items()}
        texts = complete(self.policy, rep, generator=generator, **self.sampling)
        raw = self.scores(rep, texts, **rep_fields)  # (P n, m)
        best = (raw @ self.weights).view(len(prompts), self.n).argmax(-1)
        rows = torch.arange(len(prompts)) * self.n + best
        return [texts[i] for i in rows.tolist()], raw[rows], texts, raw

    def complete(
        self, prompts: list[str], generator: torch.Generator | None = None, **fields: Any
    ) -> list[str]:
        """The best of ``n`` samples for each prompt (``fields``: task fields the rewards read)."""
        gen = generator or torch.Generator().manual_seed(0)
        return self.select(prompts, {k: list(v) for k, v in fields.items()}, gen)[0]


@dataclass
class BestOfNConfig:
    """Options of :class:`BestOfN`."""

    model: str = "tiny"
    """``"tiny"`` or a local directory holding a Hugging Face causal LM."""
    n_layer: int = 2
    """Tiny model: transformer blocks."""
    n_head: int = 4
    """Tiny model: attention heads."""
    d_model: int = 64
    """Tiny model: width."""
    init_from: str = ""
    """Tiny model: a ``torch.save``'d state dict (the SFT model, usually)."""
    sft_steps: int = 0
    """Supervised warm-start steps on the task's reference completions first (0 = none)."""
    sft_lr: float = 1e-3
    """Peak learning rate of the warm start."""
    n: int = 4
    """Completions sampled per prompt."""
    prompts_per_step: int = 8
    """Prompts per step."""
    temperature: float = 1.0
    """Sampling temperature (the base policy's distribution at 1)."""
    max_new_tokens: int = 0
    """Completion length limit; 0 uses the task's ``completion_len``."""
    rewards: list[str] | None = None
    """Selecting rewards: the task's own or registered ``reward`` entries (a reward model); None = the task's."""
    reward_weights: list[float] | None = None
    """Weights combining the selecting rewards; None = the task's defaults (or all 1)."""

    def __post_init__(self) -> None:
        for key in ("n_layer", "n_head", "d_model", "n", "prompts_per_step"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key}={getattr(self, key)}; expected at least 1")
        if self.temperature <= 0:
            raise ValueError(
                f"temperature={self.temperature}; expected > 0 (0 gives n equal samples)"
            )
        if self.sft_steps < 0 or self.max_new_tokens < 0:
            raise ValueError("sft_steps and max_new_tokens must be >= 0")


class BestOfN(Trainer):
    """Best-of-N sampling on a text task; the result's policy is a :class:`BestOfNPolicy`."""

    Config = BestOfNConfig
    dtypes = frozenset({torch.float32})

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super().compatibility(problem)
        missing = [m for m in _TASK_METHODS if not hasattr(problem, m)]
        if reason is None and missing:
            return f"it needs a text task (with {', '.join(_TASK_METHODS)}); missing {', '.join(missing)}"
        return reason

    def setup(self) -> None:
        cfg = self.config
        task: Any = self.problem
        rewards = resolve_rewards(task, cfg.rewards)
        defaults = list(getattr(task, "default_weights", ()))
        if cfg.reward_weights is not None:
            weights = cfg.reward_weights
        elif cfg.rewards is None and len(defaults) == len(rewards):
            weights = defaults
        else:
            weights = [1.0] * len(rewards)
        if len(weights) != len(rewards):
            raise ConfigError(
                f"reward_weights={weights}; expected {len(rewards)} weights for rewards {list(rewards)}"
            )
        # selecting by other rewards than the task's (a learned proxy): report the task's gold rewards too
        self.gold = set(rewards) != set(task.reward_names)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # the model's initial weights follow the run seed
            policy = warm_policy(
                cfg, self.problem, lora_rank=0, device=self.device, generator=self.generator
            )
        policy.eval()
        max_new = cfg.max_new_tokens or int(getattr(self.problem, "completion_len", 16))
        self.best = BestOfNPolicy(
            policy,
            rewards,
            torch.tensor(weights, dtype=torch.float32),
            cfg.n,
            max_new_tokens=max_new,
            temperature=cfg.temperature,
        )
        self.history = torch.zeros(0, len(rewards))

    def iterate(self) -> dict[str, float]:
        cfg, task = self.config, cast(Any, self.problem)
        batch = task.sample(cfg.prompts_per_step, self.generator)
        texts, chosen, all_texts, raw = self.best.select(
            batch.prompts, batch.fields, self.generator
        )
        self.n_env_steps += len(all_texts)
        self.history = torch.cat([self.history, chosen.mean(0, keepdim=True)])
        out = {"reward": float((chosen @ self.best.weights).mean()), "kl_bound": kl_bound(cfg.n)}
        out.update({f"reward/{k}": float(v) for k, v in zip(self.best.rewards, chosen.mean(0))})
        out["reward_all"] = float((raw @ self.best.weights).mean())
        if self.gold:
            gold_weights = torch.tensor(task.default_weights, dtype=torch.float32)
            picked = task.score(batch, texts).float().cpu()
            every = task.score(batch.repeat(cfg.n), all_texts).float().cpu()
            out["gold"] = float((picked @ gold_weights).mean())
            out["gold_all"] = float((every @ gold_weights).mean())
            out.update({f"gold/{k}": float(v) for k, v in zip(task.reward_names, picked.mean(0))})
        return out

    def result(self) -> TrainerResult:
        """The selected completions' mean rewards over all steps; ``policy`` is the :class:`BestOfNPolicy`."""
        h = self.history
        returns = h.mean(0, keepdim=True) if h.shape[0] else torch.zeros(1, h.shape[1])
        return self.make_result(
            self.best,
            returns,
            labels=torch.tensor([self.n_steps]),
            reward_names=list(self.best.rewards),
            history=h.clone(),
            metrics={"kl_bound": kl_bound(self.config.n)},
        )

    def get_state(self) -> dict[str, Any]:
        return {"policy": self.best.policy.state_dict(), "history": self.history}

    def set_state(self, state: dict[str, Any]) -> None:
        self.best.policy.load_state_dict(state["policy"])
        self.history = state["history"]
