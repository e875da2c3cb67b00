"""Preference problems: synthetic tasks with a known true preference, and a user's own pairs (in memory,
local JSONL, or a ``datasets`` dataset on disk)."""

from polyopt_envs.preference.data import PreferenceDataset, from_datasets, load_jsonl
from polyopt_envs.preference.tasks import (
    PreferenceAddition,
    PreferenceReverse,
    PreferenceSort,
    PreferenceTask,
)

__all__ = [
    "PreferenceAddition",
    "PreferenceDataset",
    "PreferenceReverse",
    "PreferenceSort",
    "PreferenceTask",
    "from_datasets",
    "load_jsonl",
]
