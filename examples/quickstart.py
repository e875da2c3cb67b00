"""Quickstart: optimize a built-in problem, then your own objective, with one call each.

Run: python examples/quickstart.py
"""

import torch

import polyopt

# A built-in multi-objective problem by name; the result is its non-dominated set.
result = polyopt.optimize("nsga2", "zdt1", budget=5_000, seed=0, pop_size=50)
print(f"zdt1: {result.f.shape[0]} non-dominated points, HV = {result.hypervolume([1.1, 1.1]):.3f}")


# Your own objective: a batched function of an n x d tensor, maximized here.
@polyopt.objective(bounds=([-2.0, -2.0], [2.0, 2.0]), directions="maximize")
def peak(x: torch.Tensor) -> torch.Tensor:
    return torch.exp(-((x - 0.5) ** 2).sum(dim=-1))


best = polyopt.optimize("random-search", peak, budget=500, seed=0)
print(f"peak: best value {best.f_best:.4f} at {best.x_best.tolist()}")
