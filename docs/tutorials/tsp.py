# %% [markdown]
# # The travelling salesman with an ant colony
#
# Combinatorial problems are Objectives over discrete spaces: a TSP tour is a point of `Permutation(n)`,
# a knapsack packing a point of `Binary(n)`. So any optimizer of those spaces runs on them. Here a
# MAX-MIN ant colony, whose ants build all their tours at once as tensors and whose best ants are improved
# by 2-opt and Or-opt, against a genetic algorithm with the same number of iterations, on 40 random cities.

# %%
import matplotlib.pyplot as plt
import torch

import polyopt
from polyopt_envs.co import TSP

tsp = TSP(n=40, seed=0)  # uniform cities in the unit square; TSP(tsplib="file.tsp") reads TSPLIB
print(tsp.space, "| coordinates:", tuple(tsp.coords.shape))

ants = polyopt.optimize("mmas", tsp, budget=polyopt.Budget(steps=30), seed=0)
ga = polyopt.optimize("ga", tsp, budget=polyopt.Budget(steps=30), seed=0, crossover="pmx")
print(f"MAX-MIN ant system: tour length {ants.f_best:.4f} in {ants.wall_time:.1f} s")
print(f"genetic algorithm:  tour length {ga.f_best:.4f} in {ga.wall_time:.1f} s")

# %% [markdown]
# A tour is a permutation of the cities; `result.x_best` holds the best one.


# %%
def draw(ax, tour, title):
    xy = tsp.coords[torch.cat([tour, tour[:1]]).long()]
    ax.plot(xy[:, 0], xy[:, 1], "-o", markersize=3)
    ax.set(title=title, xticks=[], yticks=[], aspect="equal")


fig, (left, right) = plt.subplots(1, 2, figsize=(8, 4))
draw(left, ants.x_best, f"MAX-MIN ants: {ants.f_best:.3f}")
draw(right, ga.x_best, f"GA (PMX): {ga.f_best:.3f}")

# %% [markdown]
# ## The pieces
#
# The colony's improvement step is a `local_search`, a registry kind of its own: `polyopt list
# local-searches` shows 2-opt, Or-opt, their sequence, relocate/swap for routes and a greedy repair for
# packings; a plugin's neighbourhood plugs into the colonies and the GA alike. Without it, the ants alone:

# %%
plain = polyopt.optimize("mmas", tsp, budget=polyopt.Budget(steps=30), seed=0, local_search=None)
print(f"ants without local search: {plain.f_best:.4f}; with 2-opt + Or-opt: {ants.f_best:.4f}")

# %% [markdown]
# The same solvers take vehicle routing (CVRP: giant tours cut into routes by the optimal split) and the
# knapsack (against its exact dynamic-programming optimum):

# %%
cvrp = polyopt.make("objective", "cvrp", n=20)
routes = polyopt.optimize("mmas", cvrp, budget=polyopt.Budget(steps=5), seed=0)
print("CVRP length:", round(routes.f_best, 3), "| routes:", cvrp.routes(routes.x)[0])

knapsack = polyopt.make("objective", "knapsack", n=50)
packed = polyopt.optimize("mmas-knapsack", knapsack, budget=polyopt.Budget(steps=20), seed=0)
print(f"knapsack value {packed.f_best:.2f} of the optimum {knapsack.optimum:.2f}")

# %% [markdown]
# `polyopt_plugins.co.aco.solve_tsp` runs one colony per instance over a whole batch of instances (the
# throughput path); `pomo` trains an attention policy on the construction environment `tsp-construct`;
# `benchmarks/co_vs_anchors.py` compares with OR-Tools, LKH-3 and PyVRP (see the
# [results](../guide/results.md)).
