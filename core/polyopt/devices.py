"""Device, dtype and thread defaults: the GPU when there is one; float64 on the CPU, float32 on a GPU; one
torch intra-op thread for runs on the CPU.

Threads: optimizers do small tensor work — sorting a population of 1,000, a GP of 50 points — whose kernels are
too short to split across cores, so extra intra-op threads only add synchronization, and on a machine whose
other cores are busy (other workers, tests, a notebook) they wait for each other: NSGA-II at population 1,000 ran
11-12x slower with 2 threads than with 1 on a loaded 2-core machine, and even a small GRPO trainer 3-8x slower
(``benchmarks/threads.py``, RESULTS.md). So :func:`polyopt.run` runs a CPU optimizer's steps with **one**
intra-op thread and restores torch's setting afterwards; ``threads=`` (or ``POLYOPT_THREADS``) chooses another
count, and ``0`` leaves torch's own setting (for large models on a dedicated many-core machine).
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import torch

from polyopt.errors import ConfigError

__all__ = ["resolve_device", "resolve_dtype", "resolve_threads", "threads"]

_DTYPES = {
    "float32": torch.float32,
    "float": torch.float32,
    "float64": torch.float64,
    "double": torch.float64,
    "float16": torch.float16,
    "bfloat16": torch.bfloat16,
}


def resolve_device(device: torch.device | str | None, default: str = "auto") -> torch.device:
    """Return a concrete device. ``None`` uses ``default``; ``"auto"`` is CUDA when available, else CPU.

    Raises:
        ConfigError: an unknown device string, or CUDA asked for where there is none.
    """
    choice = default if device is None else device
    if isinstance(choice, str) and choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(choice)
    except (RuntimeError, TypeError) as exc:
        raise ConfigError(
            f"device={choice!r} is not a device; expected 'cpu', 'cuda', 'cuda:0' or 'auto'"
        ) from exc
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            f"device={choice!r} but CUDA is not available here; use device='cpu' or 'auto'"
        )
    return dev


def resolve_dtype(
    dtype: torch.dtype | str | None, device: torch.device, default: torch.dtype | None = None
) -> torch.dtype:
    """Return a floating dtype: the given one, else ``default``, else float64 on CPU and float32 on a GPU."""
    if dtype is None:
        return default or (torch.float64 if device.type == "cpu" else torch.float32)
    if isinstance(dtype, str):
        if dtype not in _DTYPES:
            raise ConfigError(f"dtype={dtype!r} is unknown; expected one of {sorted(_DTYPES)}")
        return _DTYPES[dtype]
    if not isinstance(dtype, torch.dtype) or not dtype.is_floating_point:
        raise ConfigError(f"dtype={dtype!r}; expected a floating torch dtype such as torch.float64")
    return dtype


def resolve_threads(threads: int | None, device: torch.device) -> int | None:
    """Intra-op threads for a run on ``device``: ``threads`` if given, else ``$POLYOPT_THREADS``, else 1 on the
    CPU; 0 (or a GPU device without a choice) means leave torch's setting (returns None).

    Raises:
        ConfigError: a negative or non-integer count.
    """
    if threads is None:
        env = os.environ.get("POLYOPT_THREADS", "").strip()
        if env:
            try:
                threads = int(env)
            except ValueError:
                raise ConfigError(
                    f"POLYOPT_THREADS={env!r}; expected a whole number (0: torch's default)"
                ) from None
        else:
            return 1 if device.type == "cpu" else None
    if isinstance(threads, bool) or not isinstance(threads, int) or threads < 0:
        raise ConfigError(f"threads={threads!r}; expected a whole number >= 0 (0: torch's default)")
    return threads or None


@contextlib.contextmanager
def threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch intra-op threads (None: leave them), then restore the old count."""
    before = torch.get_num_threads()
    if count is not None and count != before:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        if torch.get_num_threads() != before:
            torch.set_num_threads(before)
