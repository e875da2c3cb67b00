"""The replay agents' shared n-step storage: every stored row is the n-step transition of its episode."""

from __future__ import annotations

from typing import Any

import pytest
import torch

import polyopt
from polyopt.errors import ConfigError


def _run(algo: str, n_step: int) -> tuple[Any, list[list[tuple]]]:
    """Steps ``algo`` (no updates) on 3 Deep Sea Treasures cut at 7 steps; the 1-step transitions per env."""
    env = polyopt.make("environment", "deep-sea-treasure", num_envs=3, max_steps=7)
    opt = polyopt.make(
        "optimizer", algo, env, seed=0, device="cpu", n_step=n_step, learning_starts=10**9,
        hidden_sizes=[8], batch_size=4,
    )  # fmt: skip
    raw: list[list[tuple]] = [[] for _ in range(3)]
    store = opt.store

    def spy(rows: dict[str, torch.Tensor], done: torch.Tensor) -> torch.Tensor:
        for e in range(3):
            if not bool(opt._prev_done[e]):
                transition = (rows["obs"][e].tolist(), int(rows["action"][e].reshape(-1)[0]),
                              rows["reward"][e].tolist(), rows["next_obs"][e].tolist(),
                              float(rows["terminated"][e]), bool(done[e]))  # fmt: skip
                raw[e].append(transition)
        return store(rows, done)

    opt.store = spy
    for _ in range(40):
        opt.step()
    return opt, raw


@pytest.mark.parametrize("algo", ["envelope", "pd-morl"])
@pytest.mark.parametrize("n_step", [1, 3])
def test_stored_rows_are_the_n_step_transitions(algo: str, n_step: int) -> None:
    opt, raw = _run(algo, n_step)
    gamma = opt.config.gamma
    expected = []
    for transitions in raw:
        episodes: list[list[tuple]] = [[]]
        for t in transitions:
            episodes[-1].append(t)
            if t[5]:
                episodes.append([])
        for ep in episodes[:-1]:  # ended episodes are flushed whole
            for j in range(len(ep)):
                seg = ep[j : j + n_step]
                ret = tuple(
                    round(sum(gamma**i * s[2][c] for i, s in enumerate(seg)), 4) for c in (0, 1)
                )
                ends = j + len(seg) == len(ep)
                discount = gamma ** len(seg) * (1 - (seg[-1][4] if ends else 0.0))
                expected.append(
                    (tuple(ep[j][0]), ep[j][1], ret, tuple(seg[-1][3]), round(discount, 5))
                )
    b = opt.buffer
    stored = [
        (tuple(b["obs"][i].tolist()), int(b["action"][i].reshape(-1)[0]),
         tuple(round(x, 4) for x in b["reward"][i].tolist()), tuple(b["next_obs"][i].tolist()),
         round(float(b["discount"][i]), 5))
        for i in range(opt.buffer_count)
    ]  # fmt: skip
    assert len(expected) > 20 and all(row in stored for row in expected)
    pending = int(opt._window_len.sum())
    assert opt.buffer_count == sum(len(t) for t in raw) - pending
    assert pending <= 3 * (n_step - 1)


def test_n_step_below_one_is_refused() -> None:
    env = polyopt.make("environment", "deep-sea-treasure", num_envs=2)
    with pytest.raises(ConfigError, match="n_step=0"):
        polyopt.make("optimizer", "envelope", env, seed=0, n_step=0, hidden_sizes=[8])
