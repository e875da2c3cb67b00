"""Shared test settings: GPU tests skip without CUDA; hypothesis runs few, deadline-free examples."""

from __future__ import annotations

import os

import pytest
import torch

# pytest-xdist runs one worker per core: more intra-op threads than that oversubscribe the CPU, which makes
# small torch ops orders of magnitude slower on a loaded 2-core machine.
torch.set_num_threads(1)

try:
    from hypothesis import settings

    settings.register_profile("polyopt", max_examples=40, deadline=None)
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "polyopt"))
except ImportError:  # hypothesis is a dev dependency
    pass


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device; none is present here")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
