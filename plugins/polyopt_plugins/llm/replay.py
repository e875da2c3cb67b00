"""Replay buffers of scored groups (kind ``replay``; each registry entry is a factory ``make(**options)``).

Each step the trainer draws groups to train on again beside the fresh ones, then offers the fresh groups to
the buffer. A replayed row is stale: its loss uses the log-probabilities of the policy that sampled it as the
ratio's denominator, so a clipped loss (or one built for off-policy data, ``opmd``/``asymre``) corrects for
how far the policy has moved since. ``none`` keeps and replays nothing.
"""

from __future__ import annotations

from typing import Any

import torch

from polyopt.components import ScoredGroups

__all__ = ["NoReplay", "RecentReplay", "SelectiveReplay"]


class NoReplay:
    """Keeps nothing, replays nothing (the default)."""

    def add(self, groups: ScoredGroups) -> None:
        """Ignore the fresh groups."""

    def draw(self, generator: torch.Generator, step: int) -> ScoredGroups | None:
        return None

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Nothing to restore."""


class _Buffer:
    """The groups kept so far (at most ``capacity``, oldest dropped first) and their state. With ``once``
    a group leaves the buffer when it is drawn, so it is trained on at most twice (fresh, then replayed)."""

    def __init__(self, groups: int, capacity: int, max_age: int, once: bool = False) -> None:
        for name, value in (("groups", groups), ("capacity", capacity), ("max_age", max_age)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{name}={value!r}; expected an integer >= 1")
        if not isinstance(once, bool):
            raise ValueError(f"once={once!r}; expected True or False")
        self.n_draw, self.capacity, self.max_age = groups, capacity, max_age
        self.once = once
        self.kept: ScoredGroups | None = None

    def _keep(self, groups: ScoredGroups) -> None:
        joined = groups if self.kept is None else ScoredGroups.cat([self.kept, groups])
        surplus = max(joined.n_groups - self.capacity, 0)
        self.kept = joined.groups(torch.arange(surplus, joined.n_groups))

    def _fresh_enough(self, step: int) -> torch.Tensor:
        """Indices of the kept groups at most ``max_age`` steps old."""
        assert self.kept is not None
        first_rows = self.kept.step[:: self.kept.group_size].cpu()
        return (step - first_rows <= self.max_age).nonzero().flatten()

    def _take(self, picked: torch.Tensor) -> ScoredGroups:
        """The kept groups ``picked`` (indices); with ``once`` they leave the buffer."""
        assert self.kept is not None
        drawn = self.kept.groups(picked)
        if self.once:
            rest = torch.ones(self.kept.n_groups, dtype=torch.bool)
            rest[picked] = False
            self.kept = self.kept.groups(rest.nonzero().flatten())
        return drawn

    def state_dict(self) -> dict[str, Any]:
        return {"kept": None if self.kept is None else self.kept.state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        kept = state.get("kept")
        self.kept = None if kept is None else ScoredGroups.from_state(kept)


class RecentReplay(_Buffer):
    """Uniform replay of recent groups: each step ``groups`` groups (4) drawn without replacement from those at
    most ``max_age`` steps old (2), out of the last ``capacity`` (64). Generating fewer fresh groups and
    replaying some keeps the batch size at fewer generated completions (the off-policy reuse of Kimi k1.5 /
    "Group-relative REINFORCE is secretly an off-policy algorithm"; ratios are clipped against the
    behaviour policy). ``once`` (False): a group is replayed at most once."""

    def __init__(
        self, groups: int = 4, capacity: int = 64, max_age: int = 2, once: bool = False
    ) -> None:
        super().__init__(groups, capacity, max_age, once)

    def add(self, groups: ScoredGroups) -> None:
        self._keep(groups)

    def draw(self, generator: torch.Generator, step: int) -> ScoredGroups | None:
        if self.kept is None:
            return None
        pool = self._fresh_enough(step)
        if not pool.numel():
            return None
        order = torch.randperm(pool.numel(), generator=generator, device=generator.device).cpu()
        return self._take(pool[order[: self.n_draw]])


class SelectiveReplay(_Buffer):
    """Selective sample replay (Wang et al. 2025, "VL-Rethinker: Incentivizing Self-Reflection of
    Vision-Language Models with Reinforcement Learning"): only groups whose rewards vary are kept (flat groups
    carry no group-relative signal), and ``groups`` of them (4) are drawn with probability proportional to
    their mean absolute centered reward, from those at most ``max_age`` steps old (4). ``once`` (False): a
    group is replayed at most once (the paper's buffer keeps replaying a group while it is in it)."""

    def __init__(
        self, groups: int = 4, capacity: int = 64, max_age: int = 4, once: bool = False
    ) -> None:
        super().__init__(groups, capacity, max_age, once)

    def add(self, groups: ScoredGroups) -> None:
        g = groups.rewards.sum(-1).view(groups.n_groups, -1)
        varies = (g.std(1) > 0).nonzero().flatten()
        if varies.numel():
            self._keep(groups.groups(varies))

    def draw(self, generator: torch.Generator, step: int) -> ScoredGroups | None:
        if self.kept is None:
            return None
        pool = self._fresh_enough(step)
        if not pool.numel():
            return None
        g = self.kept.rewards.sum(-1).view(self.kept.n_groups, -1)[pool]
        weight = (g - g.mean(1, keepdim=True)).abs().mean(1).to(generator.device) + 1e-6
        n = min(self.n_draw, pool.numel())
        pick = torch.multinomial(weight, n, replacement=False, generator=generator).cpu()
        return self._take(pool[pick])
