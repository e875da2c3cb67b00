"""Loading a benchmark script as a module, the way its tests read its functions."""

from __future__ import annotations

import importlib.util
import os
import pathlib
from collections.abc import Callable
from types import ModuleType

import pytest

BENCHMARKS = pathlib.Path(__file__).parents[3] / "benchmarks"


def _load(name: str) -> ModuleType:
    """``benchmarks/NAME.py`` imported as a module; the environment variables it sets for its own process
    (threads, compile cache) are undone."""
    saved = dict(os.environ)
    try:
        spec = importlib.util.spec_from_file_location(name, BENCHMARKS / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    finally:
        os.environ.clear()
        os.environ.update(saved)
    return module


@pytest.fixture(scope="session")
def load_benchmark() -> Callable[[str], ModuleType]:
    """:func:`_load`, for the test modules' own module-scoped fixtures."""
    return _load
