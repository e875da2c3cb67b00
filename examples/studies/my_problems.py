"""Problems of your own in a study: ``own_problems.toml`` (beside this file) names them ``"my_problems:NAME"``.

Nothing to install and no ``PYTHONPATH``: a study imports modules from its own folder, in every worker process.
A problem is an Objective instance (what ``@polyopt.objective`` makes from a batched function; it takes no
options) or an Objective class (built with the entry's ``options``).

Run: polyopt study run examples/studies/own_problems.toml
"""

from __future__ import annotations

import torch

import polyopt


@polyopt.objective(
    bounds=([0.0, 0.0, 0.0], [1.0, 1.0, 1.0]),
    n_objectives=2,
    ref_point=[1.1, 1.1],
    name="cost-loss",
)
def cost_and_loss(x: torch.Tensor) -> torch.Tensor:
    """Cost grows with ``x0``, loss falls with it; ``x1`` and ``x2`` only add loss away from 0.3: ``n x 3`` in,
    ``n x 2`` out (both minimized)."""
    penalty = 1.0 + 4.0 * ((x[:, 1:] - 0.3) ** 2).sum(dim=-1)
    return torch.stack([x[:, 0], penalty * (1.0 - x[:, 0].sqrt())], dim=-1)


class Bowls(polyopt.Objective):
    """Two bowls in ``dim`` dimensions, one per objective, with centres ``distance`` apart: the Pareto set is
    the segment between the centres, so the front is known: ``(t d)^2, ((1 - t) d)^2`` for ``t`` in [0, 1].

    Args:
        dim: dimensions of the box ``[-2, 2]^dim``.
        distance: distance between the two centres (along the first axis).
    """

    n_objectives = 2

    def __init__(self, dim: int = 3, distance: float = 1.0) -> None:
        if dim < 1 or not 0 < distance <= 2:
            raise ValueError(
                f"dim={dim}, distance={distance}; expected dim >= 1 and 0 < distance <= 2"
            )
        self.space = polyopt.Box([-2.0] * dim, [2.0] * dim)
        self.distance = distance
        self.ref_point = [1.1 * distance**2, 1.1 * distance**2]
        self.name = "bowls"

    def evaluate(self, x: torch.Tensor) -> polyopt.Evaluation:
        shift = torch.zeros(x.shape[-1], dtype=x.dtype, device=x.device)
        shift[0] = self.distance
        first = (x**2).sum(dim=-1)
        second = ((x - shift) ** 2).sum(dim=-1)
        return polyopt.Evaluation(f=torch.stack([first, second], dim=-1))

    def pareto_front(self, n: int) -> torch.Tensor:
        t = torch.linspace(0.0, 1.0, n, dtype=torch.float64)
        return torch.stack([(t * self.distance) ** 2, ((1 - t) * self.distance) ** 2], dim=-1)
