"""The population of an evolutionary algorithm: evaluated points and what selection knows of them.

One type holds both the population and the tell buffer (the points told since the last generation), so
merging parents with children is ``Population.cat([pop, told])``, keeping survivors is ``merged.take(index)``
and MOEA/D's replacement is ``pop.put(subproblems, children)``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from polyopt import Evaluation

__all__ = ["Population"]

#: Fields derived from the others and the algorithm's config: left out of the state, recomputed on load.
_DERIVED = ("f_sel", "v_sel")
#: Fields that follow the population's floating dtype in :meth:`Population.to`.
_FLOATING = ("x", "f", "g", "crowding", "f_sel", "v_sel")


@dataclass
class Population:
    """Row-aligned tensors of ``n`` evaluated points (minimization form).

    Attributes:
        x: ``n x d`` points.
        f: ``n x m`` objectives (failed rows may hold NaN).
        failed: ``n`` bool, rows whose evaluation failed.
        g: ``n x c`` constraints, feasible when ``<= 0``; None when the problem has none.
        tag: ``n`` int64, who asked for each point (its position in the initial sample, or its MOEA/D
            subproblem; -1 for other offspring and for points told without asking). The tell buffer has it.
        rank: ``n`` int64 front ranks, set where a survival ranked the population.
        crowding: ``n`` crowding distances, set where a survival computed them.
        f_sel: ``n x m`` objectives that selection compares (failed rows ``+inf``; penalized in penalty mode).
        v_sel: ``n`` violations that selection compares (``+inf`` failed; 0 in penalty mode).
    """

    x: Tensor
    f: Tensor
    failed: Tensor
    g: Tensor | None = None
    tag: Tensor | None = None
    rank: Tensor | None = None
    crowding: Tensor | None = None
    f_sel: Tensor | None = None
    v_sel: Tensor | None = None

    @classmethod
    def empty(
        cls,
        d: int,
        m: int,
        c: int,
        *,
        dtype: torch.dtype,
        device: torch.device,
        tagged: bool = False,
    ) -> Population:
        """No rows: ``0 x d`` points, ``0 x m`` objectives, constraints when ``c > 0``, tags if ``tagged``."""
        return cls(
            x=torch.zeros(0, d, dtype=dtype, device=device),
            f=torch.zeros(0, m, dtype=dtype, device=device),
            failed=torch.zeros(0, dtype=torch.bool, device=device),
            g=torch.zeros(0, c, dtype=dtype, device=device) if c else None,
            tag=torch.zeros(0, dtype=torch.int64, device=device) if tagged else None,
        )

    def __len__(self) -> int:
        return self.x.shape[0]

    def _tensors(self) -> dict[str, Tensor]:
        """The fields that are set, by name (called per tell: a plain loop over the names)."""
        out: dict[str, Tensor] = {}
        for name in _FIELDS:
            value = getattr(self, name)
            if value is not None:
                out[name] = value
        return out

    @classmethod
    def cat(cls, parts: Sequence[Population]) -> Population:
        """The rows of ``parts`` in order; an optional field is kept only when every part has it."""
        if not parts:
            raise ValueError("Population.cat needs at least one population")
        fields = [p._tensors() for p in parts]
        if len({"g" in f for f in fields}) > 1:
            raise ValueError("Population.cat: some parts have constraints and others not")
        common = set.intersection(*(set(f) for f in fields))
        return cls(**{name: torch.cat([f[name] for f in fields]) for name in common})

    def take(self, index: Tensor | slice) -> Population:
        """The rows ``index`` (an int64 tensor, a bool mask or a slice), every field kept."""
        return type(self)(**{name: t[index] for name, t in self._tensors().items()})

    def put(self, index: Tensor, rows: Population) -> None:
        """Overwrite rows ``index`` in place with ``rows`` (``len(index)`` rows, or one row to broadcast).

        An optional field ``rows`` lack no longer holds for every row: it is dropped (as in :meth:`cat`).
        """
        given = rows._tensors()
        if (self.g is None) != ("g" not in given):
            raise ValueError("Population.put: one side has constraints and the other not")
        for name, t in self._tensors().items():
            if name in given:
                t[index] = given[name]
            else:
                setattr(self, name, None)

    def to(
        self, device: torch.device | str | None = None, dtype: torch.dtype | None = None
    ) -> Population:
        """On ``device`` (default: where it is); floating fields in ``dtype`` (default: as they are)."""
        out = {}
        for name, t in self._tensors().items():
            cast = dtype if name in _FLOATING else None
            out[name] = t.to(device=device, dtype=cast)
        return type(self)(**out)

    def selection(self) -> tuple[Tensor, Tensor]:
        """``(f_sel, v_sel)``, the values selection compares; raises when they are not set."""
        if self.f_sel is None or self.v_sel is None:
            raise RuntimeError("these points have no selection values yet")
        return self.f_sel, self.v_sel

    def evaluation(self) -> Evaluation:
        """The rows' :class:`~polyopt.Evaluation` (``f``, ``g``, ``failed``)."""
        return Evaluation(f=self.f, g=self.g, failed=self.failed)

    def state_dict(self) -> dict[str, Tensor]:
        """The stored fields (tensors only: loads with ``torch.load(weights_only=True)``); the selection
        values are derived and left out."""
        return {k: v for k, v in self._tensors().items() if k not in _DERIVED}

    @classmethod
    def from_state(
        cls, state: dict[str, Tensor | None], device: torch.device | str | None = None
    ) -> Population:
        """Rebuild a population from :meth:`state_dict` (absent fields are None), on ``device``."""
        unknown = set(state) - (set(_FIELDS) - set(_DERIVED))
        if unknown:
            raise ValueError(f"not a population state: unexpected {sorted(unknown)}")
        values = {k: v.to(device) for k, v in state.items() if v is not None}
        return cls(
            x=values["x"],
            f=values["f"],
            failed=values["failed"],
            g=values.get("g"),
            tag=values.get("tag"),
            rank=values.get("rank"),
            crowding=values.get("crowding"),
        )


#: The field names, in order.
_FIELDS = tuple(field.name for field in dataclasses.fields(Population))
