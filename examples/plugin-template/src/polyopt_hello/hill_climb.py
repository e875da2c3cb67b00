"""(1+λ) hill climbing: mutate the incumbent λ times in the unit cube, keep the best; 1/5th-success step size.

It searches any space through the space's own unit-cube encoding (bounds, integers, categories and
permutations come from the space). The whole state is three tensors in ``self.s``, so ``get_state`` /
``set_state`` give exact resumes; every random number comes from ``self.generator``; a step never waits on the
host (0-d tensors and ``torch.where``).
"""

from dataclasses import dataclass

import torch

import polyopt


@dataclass
class HillClimbConfig:
    batch_size: int = 8
    """λ: candidates mutated from the incumbent per step (what ``ask()`` returns by default)."""
    sigma: float = 0.1
    """Initial Gaussian step in the unit cube (every variable's range scaled to 1)."""


class HillClimb(polyopt.AskTellOptimizer):
    """(1+λ) hill climber for one objective on any space; failed and infeasible points never win."""

    Config = HillClimbConfig
    max_objectives = 1

    def setup(self) -> None:
        z = torch.rand(self.problem.space.encoded_dim, generator=self.generator, **self.like)
        self.s = {"z": z, "f": z.new_tensor(torch.inf), "sigma": z.new_tensor(self.config.sigma)}

    def ask(self, n: int | None = None) -> torch.Tensor:
        z = self.s["z"]
        eps = z.new_empty(n or self.batch_size, len(z)).normal_(generator=self.generator)
        return self.problem.space.decode((z + self.s["sigma"] * eps).clamp(0, 1))

    def tell(self, x: torch.Tensor, ev: polyopt.Evaluation) -> None:
        f, s = torch.where(ev.feasible(), ev.f[:, 0], torch.inf), self.s  # failed rows never win
        s["sigma"] = (s["sigma"] * torch.exp((f < s["f"]).to(f).mean() - 0.2)).clamp(1e-6, 1)
        z_best = self.problem.space.encode(x[f.argmin(), None])[0]
        s["z"] = torch.where(f.min() < s["f"], z_best, s["z"])
        s["f"] = torch.minimum(f.min(), s["f"])

    def result(self) -> polyopt.Result:
        ev = polyopt.Evaluation(f=self.s["f"].view(1, 1), failed=self.s["f"].isinf().view(1))
        return self.make_result(self.problem.space.decode(self.s["z"][None]), ev)

    def get_state(self) -> dict:
        return dict(self.s)

    def set_state(self, state: dict) -> None:
        self.s = {k: v.to(self.s[k]) for k, v in state.items()}
