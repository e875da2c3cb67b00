"""A multi-turn text task: reach a target number in a few arithmetic moves, one move per turn.

``"3>17:"`` asks to get from 3 to 17; each turn the model writes one move (``+1 +2 +3 *2 *3``), the task
answers with the new value (``"*3"`` -> ``"=9:"``), and the episode ends with reward 1 on reaching the target,
or with reward 0 after ``max_turns`` moves, on a malformed move or on a value above 99. Targets are drawn at
an exact shortest distance of 2 to ``max_turns`` moves, so no episode is solved in one turn. Equal values of
different episodes are the same state: the anchor states of GiGPO's step-level groups.

Two views, as the single-turn tasks: strings for language-model trainers (:meth:`NumberWalk.start`,
:meth:`NumberWalk.act`, :meth:`NumberWalk.sft_batch`), and the tensor Environment contract (observations are
the transcript's character codes, actions a move's codes; an episode that ends starts over at once).
"""

from __future__ import annotations

from collections import deque
from functools import cache
from typing import Any, ClassVar

import torch
from torch import Tensor

from polyopt.components import TurnOutcome
from polyopt.environment import Environment, Step
from polyopt.errors import ConfigError
from polyopt.spaces import Integer

__all__ = ["NumberWalk"]

MOVES = ("+1", "+2", "+3", "*2", "*3")
LIMIT = 99


def _apply(value: int, move: str) -> int | None:
    if move not in MOVES:
        return None
    out = value + int(move[1]) if move[0] == "+" else value * int(move[1])
    return out if out <= LIMIT else None


@cache
def _distances(target: int) -> dict[int, tuple[int, str]]:
    """Shortest number of moves from every value to ``target`` and a first move on such a path."""
    parents: dict[int, list[tuple[int, str]]] = {}
    for v in range(1, LIMIT + 1):
        for move in MOVES:
            nxt = _apply(v, move)
            if nxt is not None:
                parents.setdefault(nxt, []).append((v, move))
    best: dict[int, tuple[int, str]] = {target: (0, "")}
    queue = deque([target])
    while queue:
        node = queue.popleft()
        for v, move in parents.get(node, []):
            if v not in best:
                best[v] = (best[node][0] + 1, move)
                queue.append(v)
    return best


class NumberWalk(Environment):
    """Reach ``target`` from ``start`` in at most ``max_turns`` moves of ``+1 +2 +3 *2 *3``.

    Args:
        num_envs: episodes run at once in the tensor view.
        max_turns: moves per episode at most (targets need 2 to ``max_turns``).
        device: where rewards and observations are placed.
    """

    name = "text-number-walk"
    alphabet = "0123456789+*=>:"
    completion_len = 3  # a move and the stop token
    reward_names: ClassVar[list[str]] = ["success"]

    def __init__(
        self, num_envs: int = 4, *, max_turns: int = 4, device: torch.device | str = "cpu"
    ) -> None:
        if isinstance(num_envs, bool) or not isinstance(num_envs, int) or num_envs < 1:
            raise ConfigError(f"num_envs={num_envs!r}; expected an integer >= 1")
        if isinstance(max_turns, bool) or not isinstance(max_turns, int) or not 2 <= max_turns <= 6:
            raise ConfigError(f"max_turns={max_turns!r}; expected an integer in [2, 6]")
        self.num_envs, self.max_turns, self.device = num_envs, max_turns, torch.device(device)
        self.reward_dim = 1
        self.prompt_len = 6 + 6 * max_turns
        self.observation_space = Integer(0, len(self.alphabet), dim=self.prompt_len)
        self.action_space = Integer(0, len(self.alphabet), dim=2)
        self._generator = torch.Generator().manual_seed(0)
        self._episodes: list[dict[str, Any]] = []
        self._transcripts: list[str] = []

    # -- strings (language-model trainers) ---------------------------------------------------------------------

    def _draw(self, generator: torch.Generator) -> dict[str, Any]:
        while True:
            start, target = (
                torch.randint(1, 10, (1,), generator=generator),
                torch.randint(10, LIMIT + 1, (1,), generator=generator),
            )
            s, t = int(start), int(target)
            distance = _distances(t).get(s, (0, ""))[0]
            if 2 <= distance <= self.max_turns:
                return {"value": s, "target": t, "turn": 0}

    def start(self, n: int, generator: torch.Generator) -> tuple[list[Any], list[str], list[str]]:
        """``n`` new episodes, their first prompts (``"3>17:"``) and state keys (``"3>17"``)."""
        episodes = [self._draw(generator) for _ in range(n)]
        prompts = [f"{e['value']}>{e['target']}:" for e in episodes]
        return episodes, prompts, [self.state_key(e) for e in episodes]

    @staticmethod
    def state_key(episode: dict[str, Any]) -> str:
        return f"{episode['value']}>{episode['target']}"

    def act(self, episodes: list[Any], actions: list[str]) -> TurnOutcome:
        """One move per (live) episode; episodes are updated in place."""
        observations, rewards, done = [], [], []
        for episode, action in zip(episodes, actions):
            value = _apply(episode["value"], action.strip())
            episode["turn"] += 1
            if value is None:
                observations.append("")
                rewards.append(0.0)
                done.append(True)
                continue
            episode["value"] = value
            solved = value == episode["target"]
            observations.append(f"={value}:")
            rewards.append(1.0 if solved else 0.0)
            done.append(solved or episode["turn"] >= self.max_turns)
        return TurnOutcome(
            observations=observations,
            rewards=torch.tensor(rewards, device=self.device),
            done=torch.tensor(done, dtype=torch.bool, device=self.device),
            states=[self.state_key(e) for e in episodes],
        )

    def sft_batch(self, n: int, generator: torch.Generator) -> tuple[list[str], list[str]]:
        """``n`` (transcript so far, a shortest-path move) pairs from random points of optimal episodes."""
        prompts, moves = [], []
        for _ in range(n):
            episode = self._draw(generator)
            path = []
            value, target = episode["value"], episode["target"]
            transcript = f"{value}>{target}:"
            while value != target:
                move = _distances(target)[value][1]
                path.append((transcript, move))
                nxt = _apply(value, move)
                assert nxt is not None  # every move of a shortest path is valid
                value = nxt
                transcript += f"{move}={value}:"
            pick = int(torch.randint(0, len(path), (1,), generator=generator))
            prompts.append(path[pick][0])
            moves.append(path[pick][1])
        return prompts, moves

    # -- tensors (the Environment contract) --------------------------------------------------------------------

    def _codes(self, texts: list[str], width: int) -> Tensor:
        out = torch.zeros(len(texts), width)
        for i, text in enumerate(texts):
            codes = [self.alphabet.index(c) + 1 for c in text[-width:]]
            out[i, : len(codes)] = torch.tensor(codes, dtype=out.dtype)
        return out.to(self.device)

    def _text(self, codes: Tensor) -> list[str]:
        rows = codes.round().long().clamp(0, len(self.alphabet)).tolist()
        return ["".join(self.alphabet[c - 1] for c in r if c) for r in rows]

    def reset(self, seed: int | None = None) -> Tensor:
        if seed is not None:
            self._generator.manual_seed(seed)
        self._episodes, self._transcripts, _ = self.start(self.num_envs, self._generator)
        return self._codes(self._transcripts, self.prompt_len)

    def step(self, action: Tensor) -> Step:
        if not self._episodes:
            self.reset()
        moves = self._text(action)
        out = self.act(self._episodes, moves)
        for i, done in enumerate(out.done.tolist()):
            if done:
                episode, prompt, _ = self.start(1, self._generator)
                self._episodes[i], self._transcripts[i] = episode[0], prompt[0]
            else:
                self._transcripts[i] += moves[i] + out.observations[i]
        obs = self._codes(self._transcripts, self.prompt_len)
        terminated = out.done & (out.rewards > 0)
        return Step(obs, out.rewards.view(-1, 1), terminated, out.done & ~terminated)

    def state_dict(self) -> dict[str, Any] | None:
        return {
            "generator": self._generator.get_state(),
            "episodes": [dict(e) for e in self._episodes],
            "transcripts": list(self._transcripts),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self._generator.set_state(state["generator"])
        self._episodes = [dict(e) for e in state["episodes"]]
        self._transcripts = list(state["transcripts"])
