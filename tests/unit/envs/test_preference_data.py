"""Preference problems: the synthetic tasks' pairs follow their gold rewards, and a user's JSONL or ``datasets``
data loads in the common layouts (with clear errors for the others)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch

from polyopt.components import PreferencePairs, PreferenceProblem, TaskBatch
from polyopt.errors import ConfigError
from polyopt_envs.preference import (
    PreferenceAddition,
    PreferenceDataset,
    PreferenceReverse,
    PreferenceSort,
    from_datasets,
    load_jsonl,
)


@pytest.mark.parametrize("cls", [PreferenceAddition, PreferenceSort, PreferenceReverse])
def test_chosen_completions_win_under_the_gold_reward(cls: Any) -> None:
    task = cls(n_pairs=64, n_test=16)
    assert isinstance(task, PreferenceProblem)
    pairs = task.pairs()
    assert len(pairs) == 64 and len(task.pairs("test")) == 16 and pairs.paired
    batch = TaskBatch(pairs.prompts, {"answer": [_answer(task, p) for p in pairs.prompts]})
    gold_c = task.score(batch, [str(c) for c in pairs.chosen])[:, 0]
    gold_r = task.score(batch, [str(r) for r in pairs.rejected])[:, 0]
    assert bool((gold_c > gold_r).all())
    assert pairs.margins is not None
    assert torch.allclose(pairs.margins[:, 0], gold_c - gold_r)


def _answer(task: Any, prompt: str) -> str:
    body = prompt.rstrip("=").split(":")[-1]
    if isinstance(task, PreferenceAddition):
        a, b = body.split("+")
        return str(int(a) + int(b))
    return "".join(sorted(body)) if isinstance(task, PreferenceSort) else body[::-1]


def test_pairs_are_fixed_by_the_data_seed_and_test_differs_from_train() -> None:
    a, b = PreferenceAddition(n_pairs=32), PreferenceAddition(n_pairs=32)
    assert a.pairs().chosen == b.pairs().chosen and a.pairs().prompts == b.pairs().prompts
    other = PreferenceAddition(n_pairs=32, data_seed=1)
    assert other.pairs().prompts != a.pairs().prompts
    assert a.pairs("test").prompts[:8] != a.pairs().prompts[:8]


def test_label_noise_flips_about_that_share_of_labels() -> None:
    pairs = PreferenceAddition(n_pairs=1000, label_noise=0.2).pairs()
    assert pairs.margins is not None
    flipped = float((pairs.margins[:, 0] < 0).float().mean())
    assert 0.16 < flipped < 0.24


def test_brief_adds_a_dimension_and_room_for_the_restatement() -> None:
    task = PreferenceAddition(n_digits=2, brief=True, n_pairs=200)
    assert task.dimensions == ("correct", "brief") and task.default_weights == (1.0, 0.5)
    pairs = task.pairs()
    assert pairs.margins is not None and pairs.margins.shape == (200, 2)
    longest = max(len(str(c)) for c in pairs.chosen + pairs.rejected)
    assert longest <= task.completion_len
    assert any(" (" in str(c) for c in pairs.chosen)


def test_sft_data_mixes_right_and_wrong_answers() -> None:
    task = PreferenceAddition(n_digits=2, p_correct=0.3)
    prompts, completions = task.sft_batch(400, torch.Generator().manual_seed(0))
    right = sum(c == _answer(task, p) for p, c in zip(prompts, completions)) / 400
    assert 0.2 < right < 0.45


def test_bad_options_are_refused() -> None:
    with pytest.raises(ConfigError, match="label_noise"):
        PreferenceAddition(label_noise=0.5)
    with pytest.raises(ConfigError, match="split"):
        PreferenceAddition().pairs("validation")


def _write(path: Path, rows: list[Any]) -> Path:
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


def test_jsonl_paired_layouts_and_margins(tmp_path: Path) -> None:
    rows = [
        {"prompt": f"q{i}", "chosen": "good", "rejected": "bad", "margin": i} for i in range(10)
    ]
    data = load_jsonl(_write(tmp_path / "d.jsonl", rows), test_fraction=0.2)
    assert len(data.pairs()) == 8 and len(data.pairs("test")) == 2
    train = data.pairs()
    assert train.margins is not None and train.margins.shape == (8, 1)
    assert sorted(train.margins[:, 0].tolist() + data.pairs("test").margins[:, 0].tolist()) == list(
        map(float, range(10))
    )
    implicit = [{"chosen": "Q: 1+1? A: 2", "rejected": "Q: 1+1? A: 3"}]
    pairs = load_jsonl(_write(tmp_path / "i.jsonl", implicit), test_fraction=0).pairs()
    assert (pairs.prompts[0], pairs.chosen[0], pairs.rejected[0]) == ("Q: 1+1? A: ", "2", "3")
    scored = [
        {"prompt": "p", "chosen": "a", "rejected": "b", "score_chosen": 8, "score_rejected": 5}
    ]
    pairs = load_jsonl(_write(tmp_path / "s.jsonl", scored), test_fraction=0).pairs()
    assert pairs.margins is not None and pairs.margins.tolist() == [[3.0]]


def test_jsonl_unpaired_and_several_dimensions(tmp_path: Path) -> None:
    rows = [
        {"prompt": "p", "completion": "yes", "label": True, "margins": {"a": 1, "b": 2}},
        {"prompt": "q", "completion": "no", "label": False, "margins": {"a": 0, "b": -1}},
    ]
    data = load_jsonl(_write(tmp_path / "u.jsonl", rows), test_fraction=0, dimensions=("a", "b"))
    pairs = data.pairs()
    assert not pairs.paired and pairs.dimensions == ("a", "b")
    assert pairs.chosen == ["yes", None] and pairs.rejected == [None, "no"]
    prompts, completions = data.sft_batch(3, torch.Generator().manual_seed(0))
    assert completions == ["yes"] * 3 and prompts == ["p"] * 3


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ('{"prompt": "p", "chosen": "a"}', "row 2: keys"),
        ("not json", "line 2 is not JSON"),
        ('{"prompt": "p", "chosen": [{"role": "user"}], "rejected": "b"}', "chat template"),
        ('{"prompt": "p", "completion": "c", "label": "yes"}', "label='yes'"),
        ('{"prompt": "p", "chosen": "a", "rejected": "b", "margin": 1}', "no margin but row 2"),
    ],
)
def test_jsonl_errors_name_the_row(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "bad.jsonl"
    path.write_text('{"prompt": "p", "chosen": "a", "rejected": "b"}\n' + line + "\n")
    with pytest.raises(ConfigError, match=message):
        load_jsonl(path)


def test_missing_file_and_bad_pairs(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="is not a file"):
        load_jsonl(tmp_path / "nope.jsonl")
    with pytest.raises(ValueError, match="neither a chosen nor a rejected"):
        PreferencePairs(["p"], [None], [None])
    with pytest.raises(ValueError, match="margins has shape"):
        PreferencePairs(["p"], ["a"], ["b"], torch.zeros(1, 2))


def test_datasets_on_disk(tmp_path: Path) -> None:
    datasets = pytest.importorskip("datasets")
    train = datasets.Dataset.from_dict(
        {"prompt": ["a", "b", "c"], "chosen": ["1", "2", "3"], "rejected": ["x", "y", "z"]}
    )
    test = datasets.Dataset.from_dict({"prompt": ["d"], "chosen": ["4"], "rejected": ["w"]})
    datasets.DatasetDict({"train": train, "test": test}).save_to_disk(str(tmp_path / "ds"))
    data = from_datasets(tmp_path / "ds")
    assert isinstance(data, PreferenceDataset)
    assert data.pairs().prompts == ["a", "b", "c"] and data.pairs("test").chosen == ["4"]
    single = from_datasets(train, test_fraction=0)
    assert len(single.pairs()) == 3
    with pytest.raises(ConfigError, match="splits"):
        from_datasets(tmp_path / "ds", split="validation")
