"""Prompt samplers and rollout budgets (kind ``prompt_sampler``; each registry entry is a factory
``make(**options)``).

A step samples prompts, generates ``group_size(k)`` completions for each, scores them, and keeps the groups
and the ``k`` completions per group that :meth:`select` returns, refilling for at most ``rounds`` rounds.
``uniform`` (the default) keeps every group as sampled; ``dapo`` is DAPO's dynamic sampling; ``gfpo``
samples more and trains on the shortest (or most reward-per-token) completions; ``mopps`` picks the prompts
of a fixed pool whose predicted success rate is nearest 0.5; ``vas`` draws half of them in proportion to their
outcome variance; ``knapsack`` gives the prompts of a step unequal numbers of completions (its
:meth:`Knapsack.allocation`), for estimators that take groups of unequal sizes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from polyopt.components import SampledGroups, TaskBatch

__all__ = ["Uniform", "DynamicSampling", "GroupFilter", "MoPPS", "VarianceAware", "Knapsack"]


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
        self._fill(task, generator, n)
        a, b = self.alpha, self.beta
        mean, std = a / (a + b), (a * b / ((a + b) ** 2 * (a + b + 1))).sqrt()
        z = torch.randn(self.pool_size, generator=generator, device=generator.device).cpu()
        draw = (mean + std * z).clamp(0.0, 1.0)
        return self._take((draw - self.target).abs().argsort(stable=True)[:n].tolist(), references)

    def _fill(self, task: Any, generator: torch.Generator, n: int) -> None:
        """Draw the pool (once), with a Beta(1, 1) prior per prompt."""
        if n > self.pool_size:
            raise ValueError(
                f"{n} prompts a step from a pool of {self.pool_size}; expected pool >= {n}"
            )
        if self.pool is None:
            batch, answers = task.generate(self.pool_size, generator)
            self.pool = {"prompts": batch.prompts, "fields": batch.fields, "answers": list(answers)}
            self.alpha = torch.ones(self.pool_size)
            self.beta = torch.ones(self.pool_size)

    def _take(self, chosen: list[int], references: bool) -> tuple[TaskBatch, list[str] | None]:
        """The pool's prompts ``chosen`` (with their fields, and references when asked)."""
        assert self.pool is not None
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


class _Latest(MoPPS):
    """A pool whose per-prompt success rate is its latest trained group's: ``alpha - 1`` wins and ``beta - 1``
    failures (Beta(1, 1) before the first visit, so an unseen prompt's rate is 0.5)."""

    def observe(self, prompts: list[str], rewards: Tensor) -> None:
        if self.pool is None:
            return
        index: dict[str, list[int]] = {}
        for i, p in enumerate(self.pool["prompts"]):
            index.setdefault(p, []).append(i)  # a pool may draw a prompt twice
        for prompt, group in zip(prompts, rewards[..., 0].cpu()):
            at, wins = index.get(prompt, []), float((group >= 1).sum())
            self.alpha[at], self.beta[at] = 1 + wins, 1 + group.numel() - wins

    def rates(self) -> Tensor:
        """Each pool prompt's success rate (the empirical one of its latest group; 0.5 unseen)."""
        a, b = self.alpha - 1, self.beta - 1
        return torch.where(a + b > 0, a / (a + b).clamp_min(1), 0.5)


class VarianceAware(_Latest):
    """Variance-aware sampling of MMR1 (Leng et al. 2025, "MMR1: Enhancing Multimodal Reasoning with
    Variance-Aware Sampling and Open Resources"): each prompt of a pool of ``pool`` (1024) prompts scores its
    outcome variance ``p (1 - p)`` with ``p`` the success rate of its latest trained group (the task's first
    reward >= 1 is a success; unseen prompts score 0.25, the most); a fraction ``ratio`` (0.5) of each step's
    prompts is drawn without replacement in proportion to the score, the rest uniformly among the others.
    The paper's score also adds a trajectory-diversity term; it is left out here (its weight is 0)."""

    def __init__(self, pool: int = 1024, ratio: float = 0.5) -> None:
        super().__init__(pool=pool)
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"ratio={ratio!r}; expected a fraction in [0, 1]")
        self.ratio = ratio

    def sample(
        self, task: Any, n: int, generator: torch.Generator, references: bool
    ) -> tuple[TaskBatch, list[str] | None]:
        self._fill(task, generator, n)
        p = self.rates()
        score = (p * (1 - p)).clamp_min(1e-6).to(generator.device)
        m = round(self.ratio * n)
        first = torch.multinomial(score, m, generator=generator) if m else score[:0].long()
        rest = torch.ones_like(score).index_fill(0, first, 0.0)
        second = torch.multinomial(rest, n - m, generator=generator) if n > m else first[:0]
        return self._take(torch.cat([first, second]).tolist(), references)


class Knapsack(_Latest):
    """Rollout budgets of Knapsack RL (Li et al. 2025, "Knapsack RL: Unlocking Exploration of LLMs via
    Optimizing Budget Allocation"): a step's ``n`` prompts are drawn uniformly from a pool of ``pool`` (1024)
    and share a budget of ``n * k`` completions. Prompt ``i`` gets ``N_i`` in ``[low, high]`` (2, 32)
    maximizing ``sum_i (1 - p_i^N_i - (1 - p_i)^N_i) p_i (1 - p_i)^2`` (the chance of a nonzero gradient times
    its value), with ``p_i`` the success rate of the prompt's latest trained group (0.5 unseen): a knapsack
    with unit costs and concave values, which adding one completion at a time to the best marginal gain
    solves exactly (ties go to the smallest group). Groups then have unequal sizes: only estimators that take them (grpo, dr-grpo, rloo)."""

    def __init__(self, pool: int = 1024, low: int = 2, high: int = 32) -> None:
        super().__init__(pool=pool)
        if not isinstance(low, int) or not isinstance(high, int) or not 2 <= low <= high:
            raise ValueError(f"low={low!r}, high={high!r}; expected integers with 2 <= low <= high")
        self.low, self.high, self.chosen = low, high, torch.zeros(0, dtype=torch.long)

    def sample(
        self, task: Any, n: int, generator: torch.Generator, references: bool
    ) -> tuple[TaskBatch, list[str] | None]:
        self._fill(task, generator, n)
        order = torch.randperm(self.pool_size, generator=generator, device=generator.device)
        self.chosen = order[:n].cpu()
        return self._take(self.chosen.tolist(), references)

    def allocation(self, k: int) -> Tensor:
        """Completions for each prompt of the last :meth:`sample` (``n`` integers summing to ``n * k``)."""
        p, n = self.rates()[self.chosen], len(self.chosen)
        if not self.low * n <= n * k <= self.high * n:
            raise ValueError(f"k={k} completions a prompt on average; expected low <= k <= high")

        size = torch.arange(
            self.low, self.high, dtype=p.dtype
        )  # a group before one more completion
        q, r = p.unsqueeze(-1), 1 - p.unsqueeze(-1)
        gain = (
            (q**size * r + r**size * q) * q * r**2
        )  # the value's marginal gain, falling with size
        gain = (
            gain - 1e-9 * size
        )  # ties (e.g. prompts always or never solved) go to the smallest group
        best = gain.flatten().argsort(descending=True, stable=True)[: n * (k - self.low)]
        return self.low + torch.bincount(best // size.numel(), minlength=n)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "chosen": self.chosen}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.chosen = state.get("chosen", torch.zeros(0, dtype=torch.long)).cpu()
