"""Replay with ``once``: a drawn group leaves the buffer (each group is replayed at most once)."""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch

from polyopt.testing import ReplayContract, small_scored_groups
from polyopt_plugins.llm.replay import RecentReplay, SelectiveReplay


@pytest.mark.parametrize("cls", [RecentReplay, SelectiveReplay])
def test_a_group_is_replayed_at_most_once(cls: Any) -> None:
    draws: dict[bool, list[str]] = {True: [], False: []}
    for once in (True, False):
        buffer = cls(groups=2, max_age=3, once=once)
        for step in range(6):
            drawn = buffer.draw(torch.Generator().manual_seed(step), step)
            if drawn is not None:
                draws[once] += drawn.prompts[:: drawn.group_size]
            buffer.add(small_scored_groups(step))
    assert draws[True] and len(set(draws[True])) == len(draws[True]), "a group was replayed twice"
    assert len(set(draws[False])) < len(draws[False]), "without once no group came back: no test"


def test_once_must_be_a_bool() -> None:
    with pytest.raises(ValueError, match="once"):
        RecentReplay(once=1)  # type: ignore[arg-type]


class TestSelectiveOnceContract(ReplayContract):
    replay = "selective"
    options: ClassVar[dict[str, Any]] = {"once": True, "groups": 2}


class TestRecentOnceContract(ReplayContract):
    replay = "recent"
    options: ClassVar[dict[str, Any]] = {"once": True, "groups": 2}
