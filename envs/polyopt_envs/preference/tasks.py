"""Synthetic preference tasks whose true preference is known, so alignment is measured without a hub.

Each task is a text task (an Environment the policy-gradient trainers and best-of-N run on) whose reward functions
are the *gold* rewards, and a preference problem: ``pairs("train")``/``pairs("test")`` are fixed sets of pairs
of plausible completions — the right answer or a corrupted one (a digit changed, two changed, one dropped or
added, the answer off by one), and with ``brief=True`` sometimes a restatement appended — labelled by the gold
reward of the first dimension, with each label flipped with probability ``label_noise``. Margins are the gold
score differences (chosen minus rejected) on every dimension, so a flipped row has a negative first margin.

The warm-start data (``sft_batch``) mixes right and corrupted answers, so a model fine-tuned on it is imperfect
and preference learning has something to fix; win rates against it are measured with the gold rewards.

Gold rewards: ``correct`` = half exact match plus half the share of matching characters of the answer part (the
text before the first space), in [0, 1]; ``brief`` = ``-len(completion) / 10``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from polyopt.components import PreferencePairs
from polyopt.errors import ConfigError
from polyopt_envs.text.base import TextTask
from polyopt_envs.text.rewards import brevity
from polyopt_envs.text.tasks import Addition, Reverse, SortDigits

__all__ = ["PreferenceAddition", "PreferenceReverse", "PreferenceSort", "PreferenceTask", "correct"]


def _overlap(c: str, a: str) -> float:
    return sum(x == y for x, y in zip(c, a)) / max(len(c), len(a), 1)


def correct(prompts: list[str], completions: list[str], *, answer: list[str], **_: Any) -> Tensor:
    """Graded correctness of the answer part (text before the first space): ``(exact + overlap) / 2``."""
    parts = [c.strip().split(" ")[0] for c in completions]
    return torch.tensor([0.5 * (p == a) + 0.5 * _overlap(p, a) for p, a in zip(parts, answer)])


def _draw(generator: torch.Generator, high: int) -> int:
    return int(torch.randint(0, high, (1,), generator=generator, device=generator.device))


class PreferenceTask(TextTask):
    """A text task with a known true preference (a mixin over a builtin :class:`TextTask`).

    Options (keyword arguments of every subclass):
        brief: add a second dimension, ``brief``; completions may carry a restatement of the prompt.
        n_pairs: training pairs.
        n_test: held-out pairs.
        label_noise: probability that a pair's label is flipped (for cDPO and robust DPO).
        p_correct: probability that a sampled completion is the right answer (else a corruption).
        data_seed: seed of the pairs (the same seed gives the same pairs).
    """

    #: characters a corruption substitutes (the answer's alphabet)
    symbols = "0123456789"

    def _options(
        self,
        brief: bool,
        n_pairs: int,
        n_test: int,
        label_noise: float,
        p_correct: float,
        data_seed: int,
    ) -> None:
        if n_pairs < 1 or n_test < 0:
            raise ConfigError(f"n_pairs={n_pairs}, n_test={n_test}; expected >= 1 and >= 0")
        if not 0 <= label_noise < 0.5:
            raise ConfigError(f"label_noise={label_noise}; expected in [0, 0.5)")
        if not 0 < p_correct < 1:
            raise ConfigError(f"p_correct={p_correct}; expected in (0, 1)")
        self.brief, self.n_pairs, self.n_test = brief, n_pairs, n_test
        self.label_noise, self.p_correct, self.data_seed = label_noise, p_correct, data_seed
        # per instance: the brief option adds a dimension
        self.reward_fns = {"correct": correct, **({"brief": brevity} if brief else {})}  # type: ignore[misc]
        self.default_weights = (1.0, 0.5) if brief else (1.0,)
        self.dimensions = tuple(self.reward_fns)
        self._pairs: dict[str, PreferencePairs] = {}

    def _extend(self) -> None:
        """Make room for the restatement (called after the base task set its lengths)."""
        if self.brief:
            self.completion_len += self.prompt_len + 2

    def corrupt(self, answer: str, generator: torch.Generator) -> str:
        """A wrong answer near ``answer``: a character changed, two changed, one dropped or one added."""
        kind = _draw(generator, 4)
        chars = list(answer)
        if kind < 2 or len(chars) < 2:
            for _ in range(kind + 1):
                i = _draw(generator, len(chars))
                others = self.symbols.replace(chars[i], "")
                chars[i] = others[_draw(generator, len(others))]
        elif kind == 2:
            del chars[_draw(generator, len(chars))]
        else:
            symbol = self.symbols[_draw(generator, len(self.symbols))]
            chars.insert(_draw(generator, len(chars) + 1), symbol)
        return "".join(chars)

    def behaviour(self, prompt: str, answer: str, generator: torch.Generator) -> str:
        """One completion of the data-collecting policy: right with probability ``p_correct``, else
        corrupted; with ``brief``, half of them restate the prompt after a space."""
        right = float(torch.rand((), generator=generator, device=generator.device)) < self.p_correct
        text = answer if right else self.corrupt(answer, generator)
        if self.brief and _draw(generator, 2):
            text += f" ({prompt.rstrip('=')})"
        return text

    def sft_batch(self, n: int, generator: torch.Generator) -> tuple[list[str], list[str]]:
        """``n`` prompts with completions of the data-collecting policy (an imperfect warm start)."""
        batch, answers = self.generate(n, generator)
        completions = [self.behaviour(p, a, generator) for p, a in zip(batch.prompts, answers)]
        return batch.prompts, completions

    def pairs(self, split: str = "train") -> PreferencePairs:
        """The fixed ``"train"`` (``n_pairs``) or ``"test"`` (``n_test``) pairs."""
        if split not in ("train", "test"):
            raise ConfigError(f"split={split!r}; expected 'train' or 'test'")
        if split not in self._pairs:
            n = self.n_pairs if split == "train" else self.n_test
            seed = 2 * self.data_seed + (split == "test")
            self._pairs[split] = self._make_pairs(n, torch.Generator().manual_seed(seed))
        return self._pairs[split]

    def _make_pairs(self, n: int, generator: torch.Generator) -> PreferencePairs:
        prompts: list[str] = []
        chosen: list[str | None] = []
        rejected: list[str | None] = []
        rows: list[Tensor] = []
        while len(prompts) < n:
            batch, answers = self.generate(n - len(prompts), generator)
            first = [self.behaviour(p, a, generator) for p, a in zip(batch.prompts, answers)]
            second = [self.behaviour(p, a, generator) for p, a in zip(batch.prompts, answers)]
            diff = self.score(batch, first) - self.score(batch, second)  # (k, m) gold differences
            for i, prompt in enumerate(batch.prompts):
                if diff[i, 0] == 0:
                    continue  # no preference on the labelled dimension
                flip = float(torch.rand((), generator=generator)) < self.label_noise
                better = (diff[i, 0] > 0) != flip
                prompts.append(prompt)
                chosen.append(first[i] if better else second[i])
                rejected.append(second[i] if better else first[i])
                rows.append(diff[i] if better else -diff[i])
        margins = torch.stack(rows).float() if rows else torch.zeros(0, len(self.dimensions))
        return PreferencePairs(prompts, chosen, rejected, margins, self.dimensions)


class PreferenceAddition(PreferenceTask, Addition):
    """``"47+85="``: the right sum is preferred to a near miss (``n_digits`` digits; see the module)."""

    name = "pref-addition"

    def __init__(
        self,
        num_envs: int = 4,
        *,
        n_digits: int = 2,
        brief: bool = False,
        n_pairs: int = 2048,
        n_test: int = 256,
        label_noise: float = 0.0,
        p_correct: float = 0.3,
        data_seed: int = 0,
        device: torch.device | str = "cpu",
    ) -> None:
        self._options(brief, n_pairs, n_test, label_noise, p_correct, data_seed)
        Addition.__init__(self, num_envs, n_digits=n_digits, device=device)
        self._extend()


class PreferenceSort(PreferenceTask, SortDigits):
    """``"sort:3912="``: the sorted digits are preferred to a near miss."""

    name = "pref-sort"

    def __init__(
        self,
        num_envs: int = 4,
        *,
        length: int = 4,
        brief: bool = False,
        n_pairs: int = 2048,
        n_test: int = 256,
        label_noise: float = 0.0,
        p_correct: float = 0.3,
        data_seed: int = 0,
        device: torch.device | str = "cpu",
    ) -> None:
        self._options(brief, n_pairs, n_test, label_noise, p_correct, data_seed)
        SortDigits.__init__(self, num_envs, length=length, device=device)
        self._extend()


class PreferenceReverse(PreferenceTask, Reverse):
    """``"rev:abcd="``: the reversed word is preferred to a near miss."""

    name = "pref-reverse"
    symbols = "abcdefghijklmnopqrstuvwxyz"

    def __init__(
        self,
        num_envs: int = 4,
        *,
        length: int = 4,
        brief: bool = False,
        n_pairs: int = 2048,
        n_test: int = 256,
        label_noise: float = 0.0,
        p_correct: float = 0.3,
        data_seed: int = 0,
        device: torch.device | str = "cpu",
    ) -> None:
        self._options(brief, n_pairs, n_test, label_noise, p_correct, data_seed)
        Reverse.__init__(self, num_envs, length=length, device=device)
        self._extend()
