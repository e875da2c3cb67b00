"""A user's own preference data: in memory, from local JSONL, or from a ``datasets`` dataset saved on disk.

Rows follow the common layouts (those TRL's DPOTrainer, RewardTrainer and KTOTrainer read):

- paired: ``{"prompt": ..., "chosen": ..., "rejected": ...}``; without ``"prompt"`` the prompt is the longest
  common prefix of ``chosen`` and ``rejected`` (the "implicit prompt" layout);
- unpaired (KTO): ``{"prompt": ..., "completion": ..., "label": true|false}``;
- optional margins: ``"margin"`` (one number), or ``"score_chosen"``/``"score_rejected"`` (UltraFeedback's
  layout; the margin is their difference), or ``"margins": {"helpful": 1.0, "brief": -0.5}`` for several
  preference dimensions (name them with ``dimensions=``).

Conversational rows (lists of messages) need a chat template and are refused with a message saying so.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import torch

from polyopt.components import PreferencePairs
from polyopt.errors import ConfigError

__all__ = ["PreferenceDataset", "from_datasets", "load_jsonl"]


class PreferenceDataset:
    """Preference pairs with a fixed train/test split: a problem for the offline preference trainers.

    Args:
        train: the training pairs.
        test: held-out pairs; None splits ``test_fraction`` of ``train`` off (a seeded permutation).
        test_fraction: share of ``train`` held out when ``test`` is None.
        seed: the split's seed.
        name: shown in results.
    """

    def __init__(
        self,
        train: PreferencePairs,
        test: PreferencePairs | None = None,
        *,
        test_fraction: float = 0.1,
        seed: int = 0,
        name: str = "preference-data",
    ) -> None:
        if not 0 <= test_fraction < 1:
            raise ConfigError(f"test_fraction={test_fraction}; expected in [0, 1)")
        if len(train) == 0:
            raise ConfigError("no training pairs; expected at least one")
        if test is None:
            order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
            n_test = int(len(train) * test_fraction)
            test = train.take(order[:n_test].tolist())
            train = train.take(order[n_test:].tolist())
        if test.dimensions != train.dimensions:
            raise ConfigError(
                f"test dimensions {test.dimensions} differ from train dimensions {train.dimensions}"
            )
        self._splits = {"train": train, "test": test}
        self.name = name

    @property
    def dimensions(self) -> tuple[str, ...]:
        return self._splits["train"].dimensions

    def pairs(self, split: str = "train") -> PreferencePairs:
        """The ``"train"`` or ``"test"`` pairs."""
        if split not in self._splits:
            raise ConfigError(f"split={split!r}; expected 'train' or 'test'")
        return self._splits[split]

    def sft_batch(self, n: int, generator: torch.Generator) -> tuple[list[str], list[str]]:
        """``n`` (prompt, chosen completion) pairs drawn with replacement (SFT on the preferred answers)."""
        data = self._splits["train"]
        rows = [i for i, c in enumerate(data.chosen) if c is not None]
        if not rows:
            raise ConfigError("no row has a chosen completion to warm-start on (sft_steps > 0)")
        pick = torch.randint(0, len(rows), (n,), generator=generator, device=generator.device)
        chosen = [rows[i] for i in pick.tolist()]
        return [data.prompts[i] for i in chosen], [str(data.chosen[i]) for i in chosen]


def _text(row: Mapping[str, Any], key: str, where: str) -> str:
    value = row[key]
    if isinstance(value, list):
        raise ConfigError(
            f"{where}: {key!r} is a list of messages (conversational data); apply your chat template "
            "first and give plain strings"
        )
    if not isinstance(value, str):
        raise ConfigError(f"{where}: {key!r} is {type(value).__name__}; expected a string")
    return value


def _common_prefix(a: str, b: str) -> str:
    n = 0
    while n < min(len(a), len(b)) and a[n] == b[n]:
        n += 1
    return a[:n]


def _margins(row: Mapping[str, Any], dimensions: tuple[str, ...], where: str) -> list[float] | None:
    if "margins" in row:
        given = row["margins"]
        missing = [d for d in dimensions if d not in given] if isinstance(given, Mapping) else None
        if missing is None or missing:
            raise ConfigError(
                f"{where}: margins={given!r}; expected a mapping with keys {list(dimensions)}"
            )
        return [float(given[d]) for d in dimensions]
    if "margin" in row:
        value = [float(row["margin"])]
    elif "score_chosen" in row and "score_rejected" in row:
        value = [float(row["score_chosen"]) - float(row["score_rejected"])]
    else:
        return None
    if len(dimensions) != 1:
        raise ConfigError(
            f"{where}: one margin for {len(dimensions)} dimensions {list(dimensions)}; expected "
            '"margins": {name: value, ...}'
        )
    return value


def _parse(
    rows: Iterable[Mapping[str, Any]], dimensions: tuple[str, ...], source: str
) -> PreferencePairs:
    """Rows in any of the module's layouts -> pairs (every row with margins, or none)."""
    prompts: list[str] = []
    chosen: list[str | None] = []
    rejected: list[str | None] = []
    margins: list[list[float] | None] = []
    for i, row in enumerate(rows):
        where = f"{source} row {i + 1}"
        if not isinstance(row, Mapping):
            raise ConfigError(f"{where}: {row!r}; expected an object")
        if "chosen" in row and "rejected" in row:
            c, r = _text(row, "chosen", where), _text(row, "rejected", where)
            prompt = _text(row, "prompt", where) if "prompt" in row else _common_prefix(c, r)
            if "prompt" not in row:
                c, r = c[len(prompt) :], r[len(prompt) :]
            prompts.append(prompt)
            chosen.append(c)
            rejected.append(r)
        elif "completion" in row and "label" in row and "prompt" in row:
            completion, label = _text(row, "completion", where), row["label"]
            if not isinstance(label, bool):
                raise ConfigError(f"{where}: label={label!r}; expected true or false")
            prompts.append(_text(row, "prompt", where))
            chosen.append(completion if label else None)
            rejected.append(None if label else completion)
        else:
            raise ConfigError(
                f"{where}: keys {sorted(row)}; expected prompt/chosen/rejected, chosen/rejected or "
                "prompt/completion/label"
            )
        margins.append(_margins(row, dimensions, where))
    have = [m is not None for m in margins]
    if any(have) and not all(have):
        raise ConfigError(
            f"{source}: row {have.index(False) + 1} has no margin but row {have.index(True) + 1} has "
            "one; expected margins on every row or on none"
        )
    table = torch.tensor(margins, dtype=torch.float32) if all(have) and margins else None
    return PreferencePairs(prompts, chosen, rejected, table, dimensions)


def load_jsonl(
    path: str | Path,
    *,
    test_path: str | Path | None = None,
    test_fraction: float = 0.1,
    seed: int = 0,
    dimensions: tuple[str, ...] = ("preference",),
) -> PreferenceDataset:
    """Preference data from a local JSON-lines file (one row per line; layouts in the module docstring).

    Args:
        path: the training rows.
        test_path: held-out rows; None holds out ``test_fraction`` of ``path``'s rows.
        test_fraction: share held out when ``test_path`` is None.
        seed: the hold-out split's seed.
        dimensions: names of the preference dimensions of ``"margins"`` (one by default).

    Raises:
        ConfigError: a missing file, a line that is not JSON, or a row in no known layout (naming the line).
    """

    def read(p: str | Path) -> PreferencePairs:
        p = Path(p)
        if not p.is_file():
            raise ConfigError(f"preference data {str(p)!r} is not a file")
        rows = []
        for number, line in enumerate(p.read_text().splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ConfigError(f"{p} line {number} is not JSON: {exc.msg}") from None
        return _parse(rows, tuple(dimensions), str(p))

    test = None if test_path is None else read(test_path)
    return PreferenceDataset(
        read(path), test, test_fraction=test_fraction, seed=seed, name=Path(path).stem
    )


def from_datasets(
    dataset: Any,
    *,
    split: str = "train",
    test_split: str | None = "test",
    test_fraction: float = 0.1,
    seed: int = 0,
    dimensions: tuple[str, ...] = ("preference",),
) -> PreferenceDataset:
    """Preference data from a Hugging Face ``datasets`` dataset: an object, or a directory written by
    ``save_to_disk`` (``pip install datasets``; nothing is downloaded).

    Args:
        dataset: a ``Dataset``, a ``DatasetDict`` or a path to one saved on disk.
        split: the training split of a ``DatasetDict``.
        test_split: its held-out split, if present; otherwise ``test_fraction`` of ``split`` is held out.
        test_fraction: as in :func:`load_jsonl`.
        seed: as in :func:`load_jsonl`.
        dimensions: as in :func:`load_jsonl`.
    """
    if isinstance(dataset, (str, Path)):
        try:
            import datasets
        except ImportError as exc:
            raise ConfigError(
                "reading a saved dataset needs datasets: pip install datasets"
            ) from exc
        if not Path(dataset).is_dir():
            raise ConfigError(f"dataset={str(dataset)!r}; expected a directory from save_to_disk")
        dataset = datasets.load_from_disk(str(dataset))
    test = None
    if hasattr(dataset, "keys"):  # a DatasetDict
        if split not in dataset:
            raise ConfigError(f"split={split!r}; the dataset has splits {sorted(dataset.keys())}")
        if test_split is not None and test_split in dataset:
            test = _parse(dataset[test_split], tuple(dimensions), f"split {test_split!r}")
        dataset = dataset[split]
    train = _parse(dataset, tuple(dimensions), f"split {split!r}")
    return PreferenceDataset(train, test, test_fraction=test_fraction, seed=seed)
