"""The survival-based evolutionary algorithms' base: parents by tournament, the next population by a survival
of parents plus children (NSGA-II/III, SMS-EMOA, RVEA, dNSGA-II).

The survival is the algorithm's own (``survival="auto"``) or any registered ``survival`` component, built as
``cls(**survival_options)`` with ``ref_dirs`` passed when its constructor takes them, so a plugin's survival
can drive NSGA-II::

    polyopt.optimize("nsga2", "zdt1", budget=2000, survival="acme.knee", survival_options={"k": 3})
"""

from __future__ import annotations

import dataclasses
import inspect
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

from torch import Tensor

import polyopt
from polyopt.components import Survival, Survivors
from polyopt.config import check_kwargs
from polyopt.errors import ConfigError, UnknownNameError
from polyopt_plugins.moea.base import EAConfig, EvolutionaryOptimizer
from polyopt_plugins.moea.population import Population
from polyopt_plugins.moea.refdirs import make_ref_dirs

__all__ = ["SurvivalConfig", "SurvivalOptimizer"]


@dataclass
class SurvivalConfig(EAConfig):
    survival: str = "auto"
    """Registered survival name, or ``"auto"`` for the algorithm's own."""
    survival_options: dict[str, Any] | None = None
    """Options for the survival's constructor (``cls(**options)``), each one it must take; with ``"auto"``
    they override what the algorithm's config sets."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.survival_options is not None and not isinstance(self.survival_options, dict):
            raise ValueError(
                f"survival_options={self.survival_options!r}; expected a dict of options or None"
            )


class SurvivalOptimizer(EvolutionaryOptimizer):
    """Base of the algorithms whose next population is the survival of parents plus children.

    A subclass implements :meth:`default_survival` (its own survival and the options its config gives it)
    and :meth:`select_parents`; it may override :meth:`reference_directions` and :meth:`survive` (to set up
    its own survival before each call).
    """

    Config = SurvivalConfig

    config: SurvivalConfig

    # ---- hooks -------------------------------------------------------------------------------------------
    @abstractmethod
    def default_survival(self) -> tuple[type, dict[str, Any]]:
        """The algorithm's own survival class and the options its config gives it."""

    @abstractmethod
    def select_parents(self, n_matings: int, n_parents: int) -> Tensor:
        """``n_matings x n_parents`` int64 indices into the population."""

    def reference_directions(self) -> Tensor:
        """``K x m`` reference directions, for survivals that take ``ref_dirs`` and for ``pop_size=None``
        (Das-Dennis with about 100 directions)."""
        return make_ref_dirs(
            "das-dennis", self.problem.n_objectives, dtype=self.dtype, device=self.device
        )

    def survive(self, f_sel: Tensor, v_sel: Tensor, n_survive: int) -> Survivors:
        """Run the survival on merged selection values ``f_sel`` (``N x m``) and ``v_sel`` (``N``)."""
        return self.survival(f_sel, v_sel, n_survive, self.generator)

    # ---- the generation ------------------------------------------------------------------------------------
    def setup(self) -> None:
        super().setup()
        self.ref_dirs = self.reference_directions()
        self.survival = self.make_survival()

    def make_survival(self) -> Survival:
        """The configured survival: ``cls(**options)``, with ``ref_dirs`` when its constructor takes them."""
        c = self.config
        options = dict(c.survival_options or {})
        if c.survival == "auto":
            cls, defaults = self.default_survival()
            owner = f"survival of optimizer {self.name!r}"
        else:
            cls, defaults = _resolve_survival(c.survival), {}
            owner = f"survival {c.survival!r}"
        check_kwargs(cls, options, owner=owner)
        kwargs = {**defaults, **options}
        if "ref_dirs" in inspect.signature(cls).parameters and "ref_dirs" not in kwargs:
            kwargs["ref_dirs"] = self.ref_dirs
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as exc:
            given = f" with options {options}" if options else ""
            raise ConfigError(f"{owner}{given}: {exc}") from exc

    def target_pop_size(self) -> int:
        return self.config.pop_size or self.ref_dirs.shape[0]

    def offspring(self, n: int | None = None) -> tuple[Tensor, Tensor]:
        """``n`` offspring (default: a generation's): tournament, crossover, mutation, repair (tags -1)."""
        n = self.n_offsprings_now() if n is None else n
        v = self.variation
        idx = self.select_parents(v.n_matings(n), v.n_parents)  # matings x parents
        children = v(self.population.x[idx].transpose(0, 1), self.generator)[:n]
        return self.problem.space.repair(children), self.untagged(children.shape[0])

    def advance(self, told: Population) -> None:
        """Merge a generation's points into the population by survival."""
        merged = told if self.pop is None else Population.cat([self.pop, told])
        merged = self.with_selection(merged)
        chosen = self.survive(*merged.selection(), self.target_pop_size())
        self.pop = dataclasses.replace(
            merged.take(chosen.index), rank=chosen.rank, crowding=chosen.crowding
        )

    def extra_state(self) -> dict[str, Any]:
        return {"survival": self.survival.state_dict()}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        self.survival.load_state_dict(state["survival"])


def _resolve_survival(name: str) -> type:
    """The survival class registered as ``name`` (the registry checks it fits the kind)."""
    try:
        return polyopt.registry().get("survival", name)
    except UnknownNameError as exc:
        raise UnknownNameError(f"survival={name!r}: {exc}") from exc
