"""Prompt samplers and rollout budgets (kind ``prompt_sampler``; each registry entry is a factory
``make(**options)``).

A step samples prompts, generates ``group_size(k)`` completions for each, scores them, and keeps the groups
and the ``k`` completions per group that :meth:`select` returns, refilling for at most ``rounds`` rounds.
``uniform`` (the default) keeps every group as sampled; ``dapo`` is DAPO's dynamic sampling; ``gfpo``
samples more and trains on the shortest (or most reward-per-token) completions; ``mopps`` picks the prompts
of a fixed pool whose predicted success rate is nearest 0.5.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from polyopt.components import SampledGroups, TaskBatch

__all__ = ["Uniform", "DynamicSampling", "GroupFilter", "MoPPS"]


def _all_rows(groups: SampledGroups, k: int) -> tuple[Tensor, Tensor]:
    device = groups.rewards.device
    n = len(groups.prompts)
    return torch.ones(n, dtype=torch.bool, device=device), torch.arange(k, device=device).expand(
        n, k
    )


class Uniform:
    """Fresh prompts from the task, ``completions_per_prompt`` completions each, every group kept (the
    default)."""

    rounds = 1

    def sample(
        self, task: Any, n: int, generator: torch.Generator, references: bool
    ) -> tuple[TaskBatch, list[str] | None]:
        if references and hasattr(task, "generate"):
            batch, answers = task.generate(n, generator)
            return batch, list(answers)
        return task.sample(n, generator), None

    def group_size(self, k: int) -> int:
        return k

    def select(self, groups: SampledGroups, k: int) -> tuple[Tensor, Tensor]:
        return _all_rows(groups, k)

    def observe(self, prompts: list[str], rewards: Tensor) -> None:
        """Nothing to learn."""

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore."""


class DynamicSampling(Uniform):
    """Dynamic sampling of DAPO (Yu et al. 2025, "DAPO: An Open-Source LLM Reinforcement Learning System at
    Scale"): groups whose rewards are all equal (no group-relative signal) are dropped and new prompts
    sampled, for at most ``max_refills`` (4) extra rounds."""

    def __init__(self, max_refills: int = 4) -> None:
        if not isinstance(max_refills, int) or max_refills < 0:
            raise ValueError(f"max_refills={max_refills!r}; expected an integer >= 0")
        self.rounds = 1 + max_refills

    def select(self, groups: SampledGroups, k: int) -> tuple[Tensor, Tensor]:
        keep, rows = _all_rows(groups, k)
        return keep & (groups.rewards.std(1) > 0).any(-1), rows


class GroupFilter(Uniform):
    """Group filtering of GFPO (Shrivastava et al. 2025, "Sample More to Think Less: Group Filtered Policy
    Optimization for Concise Reasoning"): ``oversample`` (2) times ``k`` completions per prompt, of which the
    ``k`` shortest (``metric="length"``) or with the most reward per token (``"efficiency"``) are trained on."""

    def __init__(self, oversample: float = 2.0, metric: str = "length") -> None:
        if oversample < 1:
            raise ValueError(f"oversample={oversample!r}; expected >= 1")
        if metric not in ("length", "efficiency"):
            raise ValueError(f"metric={metric!r}; expected 'length' or 'efficiency'")
        self.oversample, self.metric = oversample, metric

    def group_size(self, k: int) -> int:
        return max(k, round(self.oversample * k))

    def select(self, groups: SampledGroups, k: int) -> tuple[Tensor, Tensor]:
        lengths = groups.lengths.float()
        if self.metric == "length":
            key = lengths
        else:
            key = -groups.rewards[..., 0] / lengths.clamp_min(1.0)
        rows = torch.sort(key, dim=1, stable=True).indices[:, :k]
        return torch.ones(len(groups.prompts), dtype=torch.bool, device=key.device), rows


class MoPPS(Uniform):
    """Model-predictive prompt selection (Qu et al. 2025, "Can Prompt Difficulty be Online Predicted for
    Accelerating RL Finetuning of Reasoning Models?"): a pool of ``pool`` prompts (1024) is drawn from the
    task once; each keeps a Beta posterior of its success rate (the task's first reward >= 1 is a success),
    discounted by ``decay`` (1.0) at every update. Each step draws a success rate per prompt from its posterior
    (Thompson sampling, here with the posterior's normal approximation so the draw comes from the trainer's
    generator) and trains on the ``n`` prompts whose draws are nearest ``target`` (0.5), where a group's
    rewards vary most."""

    def __init__(self, pool: int = 1024, target: float = 0.5, decay: float = 1.0) -> None:
        if not isinstance(pool, int) or pool < 1:
            raise ValueError(f"pool={pool!r}; expected an integer >= 1")
        self.pool_size, self.target, self.decay = pool, target, decay
        self.pool: dict[str, Any] | None = None
        self.alpha = self.beta = torch.zeros(0)

    def sample(
        self, task: Any, n: int, generator: torch.Generator, references: bool
    ) -> tuple[TaskBatch, list[str] | None]:
        if self.pool is None:
            batch, answers = task.generate(self.pool_size, generator)
            self.pool = {"prompts": batch.prompts, "fields": batch.fields, "answers": list(answers)}
            self.alpha = torch.ones(self.pool_size)
            self.beta = torch.ones(self.pool_size)
        a, b = self.alpha, self.beta
        mean, std = a / (a + b), (a * b / ((a + b) ** 2 * (a + b + 1))).sqrt()
        z = torch.randn(self.pool_size, generator=generator, device=generator.device).cpu()
        draw = (mean + std * z).clamp(0.0, 1.0)
        chosen = (draw - self.target).abs().argsort(stable=True)[:n].tolist()
        pool = self.pool
        fields = {key: [v[i] for i in chosen] for key, v in pool["fields"].items()}
        refs = [pool["answers"][i] for i in chosen] if references else None
        return TaskBatch([pool["prompts"][i] for i in chosen], fields), refs

    def observe(self, prompts: list[str], rewards: Tensor) -> None:
        if self.pool is None:
            return
        index = {p: i for i, p in enumerate(self.pool["prompts"])}
        rows = [index[p] for p in prompts if p in index]
        known = torch.tensor([p in index for p in prompts], dtype=torch.bool)
        wins = (rewards[..., 0] >= 1).float().sum(1).cpu()[known]
        trials = float(rewards.shape[1])
        prior = 1 - self.decay  # discounting pulls every posterior back toward Beta(1, 1)
        self.alpha = self.alpha * self.decay + prior
        self.beta = self.beta * self.decay + prior
        at = torch.tensor(rows, dtype=torch.long)
        self.alpha.index_add_(0, at, wins)
        self.beta.index_add_(0, at, trials - wins)

    def state_dict(self) -> dict[str, Any]:
        return {"pool": self.pool, "alpha": self.alpha, "beta": self.beta}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.pool = state.get("pool")
        self.alpha = state.get("alpha", torch.zeros(0)).cpu()
        self.beta = state.get("beta", torch.zeros(0)).cpu()
