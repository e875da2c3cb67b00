"""Device and dtype defaults: the GPU when there is one; float64 on the CPU, float32 on a GPU."""

from __future__ import annotations

import torch

from polyopt.errors import ConfigError

__all__ = ["resolve_device", "resolve_dtype"]

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
