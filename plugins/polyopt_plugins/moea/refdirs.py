"""Reference directions for the decomposition and reference-point algorithms (NSGA-III, MOEA/D, RVEA)."""

from __future__ import annotations

import torch
from torch import Tensor

from polyopt.errors import ConfigError
from polyopt.refdirs import das_dennis, riesz_energy_directions

__all__ = ["default_partitions", "make_ref_dirs"]

# Das-Dennis partitions giving about 100 directions (91 for three objectives, as in the NSGA-III paper).
_PARTITIONS = {2: 99, 3: 12, 4: 7, 5: 5, 6: 4, 7: 3, 8: 3}


def default_partitions(n_obj: int) -> int:
    """Das-Dennis partitions used when none are configured (about 100 directions; 2 beyond 8 objectives)."""
    return _PARTITIONS.get(n_obj, 2)


def make_ref_dirs(
    kind: str,
    n_obj: int,
    *,
    n_partitions: int | None = None,
    n_points: int | None = None,
    seed: int = 0,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str = "cpu",
) -> Tensor:
    """Reference directions on the unit simplex.

    Args:
        kind: ``"das-dennis"`` or ``"riesz"`` (Riesz s-energy, any number of points).
        n_obj: number of objectives.
        n_partitions: Das-Dennis partitions (default from :func:`default_partitions`).
        n_points: number of Riesz directions (default: as many as the default Das-Dennis set).
        seed: seed of the Riesz construction.
        dtype: dtype of the result.
        device: device of the result.

    Returns:
        ``K x n_obj`` directions.
    """
    h = default_partitions(n_obj) if n_partitions is None else n_partitions
    if kind == "das-dennis":
        dirs = das_dennis(h, n_obj)
    elif kind == "riesz":
        k = n_points if n_points is not None else das_dennis(h, n_obj).shape[0]
        dirs = riesz_energy_directions(k, n_obj, seed=seed)
    else:
        raise ConfigError(f"ref_dirs={kind!r}; expected 'das-dennis' or 'riesz'")
    return dirs.to(dtype=dtype, device=device)
