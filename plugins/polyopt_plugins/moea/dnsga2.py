"""dNSGA-II: NSGA-II with a dynamic population size (Doerr, Krejca & Wietheger 2025, "Speeding Up the
NSGA-II via Dynamic Population Sizes").

The population starts at ``initial_pop_size`` (4) and doubles every ``tau`` evaluations, up to ``pop_size``
(the paper's ``mu``): after ``e`` evaluations the target size is ``min(mu, 4 * 2 ** (e // tau))``. A
generation's size is fixed when its first offspring are asked for: it breeds as many children as the target
size, and survival keeps that many of parents plus children, so the population grows 4 -> 8 -> 16 -> ...
The tensors simply change shape; nothing is recompiled. Everything else is NSGA-II.
"""

from __future__ import annotations

from dataclasses import dataclass

from polyopt_plugins.moea.nsga2 import NSGA2, NSGA2Config

__all__ = ["DNSGA2", "DNSGA2Config"]


@dataclass
class DNSGA2Config(NSGA2Config):
    tau: int = 500
    """Evaluations between doublings of the population (the paper leaves it to the user; its OneMinMax
    analysis asks for ``tau >= 256 e n / 50`` for ``n`` bits)."""
    initial_pop_size: int = 4
    """Population size at the start (the paper's 4)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.tau < 1:
            raise ValueError(f"tau={self.tau}; expected at least 1 evaluation")
        if self.initial_pop_size < 2:
            raise ValueError(f"initial_pop_size={self.initial_pop_size}; expected at least 2")
        if self.pop_size is not None and self.pop_size < self.initial_pop_size:
            raise ValueError(f"pop_size={self.pop_size} < initial_pop_size={self.initial_pop_size}")
        if self.n_offsprings is not None:
            raise ValueError("n_offsprings follows the population size in dNSGA-II; leave it None")


class DNSGA2(NSGA2):
    """NSGA-II whose population doubles every ``tau`` evaluations up to ``pop_size``."""

    Config = DNSGA2Config

    config: DNSGA2Config

    def target_pop_size(self) -> int:
        c = self.config
        doublings = min(self.n_evaluations // c.tau, 62)
        return min(super().target_pop_size(), c.initial_pop_size * 2**doublings)
