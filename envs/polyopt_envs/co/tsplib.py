"""TSPLIB files: TSP and CVRP instances with their distance functions.

Reads the node-coordinate instances of TSPLIB95 (and CVRPLIB, which uses the same format): ``EUC_2D`` (the
Euclidean distance rounded to the nearest integer, ``nint``, as TSPLIB's optimal tour lengths assume),
``CEIL_2D`` (rounded up), ``ATT`` (the pseudo-Euclidean distance of att48/att532) and ``GEO`` (distances in
kilometres on an idealized sphere, coordinates given as ``DDD.MM`` degrees and minutes). Explicit edge weight
matrices are not read: such a file raises a :class:`ConfigError` naming its type.

Optimal lengths are not part of a TSPLIB file; TSPLIB ships them in a separate ``solutions`` file
(``eil51 : 426`` per line), which :func:`read_tsplib` looks up next to the instance when there is one.

Example:
    >>> inst = parse_tsplib("NAME: t\\nTYPE: TSP\\nDIMENSION: 3\\nEDGE_WEIGHT_TYPE: EUC_2D\\n"
    ...                     "NODE_COORD_SECTION\\n1 0 0\\n2 3 4\\n3 0 4\\nEOF\\n")
    >>> inst.distances().tolist()[0]
    [0.0, 5.0, 4.0]
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from polyopt.errors import ConfigError

__all__ = [
    "DISTANCE_TYPES",
    "TSPLIBInstance",
    "parse_tsplib",
    "read_tour",
    "read_tsplib",
    "tsplib_distances",
]

#: The edge weight types this module computes.
DISTANCE_TYPES = ("EUC_2D", "CEIL_2D", "ATT", "GEO")

_SECTIONS = ("NODE_COORD_SECTION", "DEMAND_SECTION", "DEPOT_SECTION", "DISPLAY_DATA_SECTION")


@dataclass(frozen=True)
class TSPLIBInstance:
    """One TSPLIB instance.

    Attributes:
        name: the file's ``NAME``.
        type: ``"TSP"`` or ``"CVRP"``.
        edge_weight_type: one of :data:`DISTANCE_TYPES`.
        coords: ``n x 2`` float64 node coordinates, in file order (node ``i`` of the file is row ``i - 1``).
        comment: the file's ``COMMENT`` (empty when absent).
        optimum: the optimal (or best known) length from a ``solutions`` file next to it, or None.
        demands: ``n`` float64 demands (CVRP files), else None.
        capacity: vehicle capacity (CVRP files), else None.
        depot: 0-based index of the depot (CVRP files), else None.
    """

    name: str
    type: str
    edge_weight_type: str
    coords: Tensor
    comment: str = ""
    optimum: float | None = None
    demands: Tensor | None = None
    capacity: float | None = None
    depot: int | None = None

    @property
    def dimension(self) -> int:
        """Number of nodes."""
        return int(self.coords.shape[0])

    def distances(self) -> Tensor:
        """``n x n`` float64 distances of this instance's edge weight type (integers, as TSPLIB defines)."""
        return tsplib_distances(self.coords, self.edge_weight_type)


def tsplib_distances(coords: Tensor, edge_weight_type: str) -> Tensor:
    """TSPLIB95's distance functions, all pairs at once.

    Args:
        coords: ``n x 2`` coordinates.
        edge_weight_type: one of :data:`DISTANCE_TYPES`.

    Returns:
        ``n x n`` float64 integer-valued distances with a zero diagonal.
    """
    xy = coords.to(torch.float64)
    if edge_weight_type == "GEO":
        dist = _geo(xy)
    else:
        diff = xy.unsqueeze(1) - xy.unsqueeze(0)  # n x n x 2
        sq = (diff**2).sum(-1)
        if edge_weight_type == "EUC_2D":
            dist = torch.floor(torch.sqrt(sq) + 0.5)  # nint
        elif edge_weight_type == "CEIL_2D":
            dist = torch.ceil(torch.sqrt(sq))
        elif edge_weight_type == "ATT":
            r = torch.sqrt(sq / 10.0)
            t = torch.floor(r + 0.5)
            dist = torch.where(t < r, t + 1.0, t)
        else:
            raise ConfigError(
                f"EDGE_WEIGHT_TYPE {edge_weight_type!r} is not supported; expected one of "
                f"{', '.join(DISTANCE_TYPES)}"
            )
    dist.fill_diagonal_(0.0)
    return dist


def _geo(xy: Tensor) -> Tensor:
    """TSPLIB's GEO distance: ``DDD.MM`` coordinates (degrees, minutes) to kilometres, truncated as TSPLIB's
    reference code does (``(int)`` casts toward zero)."""
    pi = 3.141592  # TSPLIB's own value, part of the definition
    degrees = torch.trunc(xy)
    minutes = xy - degrees
    rad = pi * (degrees + 5.0 * minutes / 3.0) / 180.0  # n x 2: latitude, longitude
    lat, lon = rad[:, 0], rad[:, 1]
    q1 = torch.cos(lon.unsqueeze(1) - lon.unsqueeze(0))
    q2 = torch.cos(lat.unsqueeze(1) - lat.unsqueeze(0))
    q3 = torch.cos(lat.unsqueeze(1) + lat.unsqueeze(0))
    arg = (0.5 * ((1.0 + q1) * q2 - (1.0 - q1) * q3)).clamp(-1.0, 1.0)
    return torch.trunc(6378.388 * torch.acos(arg) + 1.0)


def read_tsplib(path: str | Path) -> TSPLIBInstance:
    """Read a TSPLIB ``.tsp`` (or CVRPLIB ``.vrp``) file.

    The optimum is taken from a ``solutions`` or ``solutions.txt`` file in the same folder when it lists the
    instance's name (TSPLIB's format: ``name : length`` per line).

    Raises:
        ConfigError: the file is missing, or is not a coordinate instance this module reads.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"TSPLIB file {str(p)!r} does not exist")
    inst = parse_tsplib(p.read_text(), source=str(p))
    optimum = _lookup_optimum(p.parent, inst.name)
    if optimum is None:
        return inst
    return TSPLIBInstance(**{**inst.__dict__, "optimum": optimum})


def read_tour(path: str | Path) -> Tensor:
    """Read a TSPLIB ``.tour`` file: its ``TOUR_SECTION`` as a 0-based ``n`` int64 city order.

    Raises:
        ConfigError: the file is missing or has no tour.
    """
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"tour file {str(p)!r} does not exist")
    nodes: list[int] = []
    inside = False
    for line in p.read_text().splitlines():
        words = line.split()
        if not words:
            continue
        if words[0].rstrip(":").upper() == "TOUR_SECTION":
            inside = True
            continue
        if inside:
            for word in words:
                if int(word) == -1:
                    inside = False
                    break
                nodes.append(int(word) - 1)
    if not nodes:
        raise ConfigError(f"{p}: no TOUR_SECTION; expected a TSPLIB tour file")
    return torch.tensor(nodes, dtype=torch.long)


def _lookup_optimum(folder: Path, name: str) -> float | None:
    for candidate in ("solutions", "solutions.txt"):
        file = folder / candidate
        if not file.is_file():
            continue
        for line in file.read_text().splitlines():
            key, sep, value = line.partition(":")
            if sep and key.strip() == name:
                match = re.match(r"\s*([0-9.]+)", value)
                if match:
                    return float(match.group(1))
    return None


def parse_tsplib(text: str, source: str = "<string>") -> TSPLIBInstance:
    """Parse the text of a TSPLIB file (see :func:`read_tsplib`)."""
    header: dict[str, str] = {}
    sections: dict[str, list[list[str]]] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line == "EOF":
            break
        key = line.rstrip(":").strip().upper()
        if key in _SECTIONS:
            current = key
            sections[current] = []
            continue
        if ":" in line and not line[0].isdigit() and not line[0] == "-":
            name, _, value = line.partition(":")
            header[name.strip().upper()] = value.strip()
            current = None
            continue
        if current is None:
            raise ConfigError(f"{source}: unexpected line {raw!r} outside a data section")
        sections[current].append(line.split())
    return _build(header, sections, source)


def _build(
    header: dict[str, str], sections: dict[str, list[list[str]]], source: str
) -> TSPLIBInstance:
    kind = header.get("TYPE", "TSP").split()[0].upper()
    if kind not in ("TSP", "CVRP"):
        raise ConfigError(f"{source}: TYPE {kind!r} is not supported; expected TSP or CVRP")
    weight_type = header.get("EDGE_WEIGHT_TYPE", "").upper()
    if weight_type not in DISTANCE_TYPES:
        raise ConfigError(
            f"{source}: EDGE_WEIGHT_TYPE {weight_type or '(missing)'!r} is not supported; expected "
            f"one of {', '.join(DISTANCE_TYPES)}"
        )
    rows = sections.get("NODE_COORD_SECTION")
    if not rows:
        raise ConfigError(f"{source}: no NODE_COORD_SECTION; expected node coordinates")
    try:
        n = int(header["DIMENSION"])
        coords = torch.tensor([[float(v) for v in row[1:3]] for row in rows], dtype=torch.float64)
    except (KeyError, ValueError, IndexError) as exc:
        raise ConfigError(f"{source}: bad DIMENSION or coordinates ({exc})") from exc
    if coords.shape != (n, 2):
        raise ConfigError(
            f"{source}: {coords.shape[0]} coordinate rows for DIMENSION {n}; expected {n} rows of "
            "'index x y'"
        )
    demands = capacity = depot = None
    if kind == "CVRP":
        demands, capacity, depot = _vrp_fields(header, sections, n, source)
    return TSPLIBInstance(
        name=header.get("NAME", Path(source).stem).removesuffix(".tsp"),
        type=kind,
        edge_weight_type=weight_type,
        coords=coords,
        comment=header.get("COMMENT", ""),
        demands=demands,
        capacity=capacity,
        depot=depot,
    )


def _vrp_fields(
    header: dict[str, str], sections: dict[str, list[list[str]]], n: int, source: str
) -> tuple[Tensor, float, int]:
    try:
        capacity = float(header["CAPACITY"])
        rows = sections["DEMAND_SECTION"]
        demands = torch.zeros(n, dtype=torch.float64)
        for row in rows:
            demands[int(row[0]) - 1] = float(row[1])
        depots = [int(r[0]) for r in sections.get("DEPOT_SECTION", [["1"]]) if int(r[0]) > 0]
    except (KeyError, ValueError, IndexError) as exc:
        raise ConfigError(
            f"{source}: bad CAPACITY, DEMAND_SECTION or DEPOT_SECTION ({exc})"
        ) from exc
    if len(depots) != 1:
        raise ConfigError(f"{source}: {len(depots)} depots; expected exactly one")
    if not math.isfinite(capacity) or capacity <= 0:
        raise ConfigError(f"{source}: CAPACITY={capacity}; expected a positive number")
    return demands, capacity, depots[0] - 1
