# %% [markdown]
# # Your first multi-objective run
#
# NSGA-II on ZDT1, a two-objective benchmark with 30 variables whose Pareto front is known
# (`f2 = 1 - sqrt(f1)`), against random search at the same budget: the result, its hypervolume, the
# front against the true one, and the hypervolume as the run goes.

# %%
import matplotlib.pyplot as plt
import torch

import polyopt

result = polyopt.optimize("nsga2", "zdt1", budget=4_000, seed=0, pop_size=40)
print(result.summary())

# %% [markdown]
# `optimize` takes registered names (`polyopt list optimizers`, `polyopt list objectives`) or objects,
# a budget (here 4,000 evaluations; `polyopt.Budget` also counts steps, environment steps and
# seconds, whichever comes first), a seed, and the optimizer's config as keyword arguments
# (`pop_size`; `polyopt info nsga2` lists every option with its default).
#
# For several objectives the result is the non-dominated set: `result.x` (`k x d`) and `result.f`
# (`k x m`), in the problem's own direction (ZDT1 minimizes both).

# %%
print("points on the front:", tuple(result.f.shape), "variables:", tuple(result.x.shape))
zdt1 = polyopt.make("objective", "zdt1")
ref = zdt1.ref_point  # the problem's reference point for the hypervolume
print("reference point:", ref)
print("hypervolume:", round(result.hypervolume(ref), 4))

# %% [markdown]
# The same budget spent on random points, for scale: a run is only as good as what it beats. In 30
# dimensions, 4,000 random points never come near the front: none dominates the reference point, so their
# hypervolume is 0.

# %%
baseline = polyopt.optimize("random-search", "zdt1", budget=4_000, seed=0)
print("random search hypervolume:", round(baseline.hypervolume(ref), 4))
print("its best f2:", round(baseline.f[:, 1].min().item(), 3), "(the true front reaches 0)")

# %% [markdown]
# ## The front
#
# `pareto_front(n)` gives `n` points of the true front where the problem knows it.

# %%
true_front = zdt1.pareto_front(200)
fig, ax = plt.subplots(figsize=(5, 4))
ax.plot(true_front[:, 0], true_front[:, 1], color="0.6", label="true front")
ax.scatter(result.f[:, 0], result.f[:, 1], s=14, label="NSGA-II")
ax.set(xlabel="$f_1$", ylabel="$f_2$", title="ZDT1, 4,000 evaluations")
ax.legend()
# %% [markdown]
# ## Watching the run
#
# A callback is called as `callback(optimizer, metrics)` after every step (returning True stops the
# run). Here it records the hypervolume of the current non-dominated set each generation.

# %%
curve = []


def record(optimizer, metrics):
    curve.append((optimizer.n_evaluations, optimizer.result().hypervolume(ref)))


polyopt.optimize("nsga2", "zdt1", budget=4_000, seed=0, pop_size=40, callbacks=[record])
evaluations, hypervolumes = zip(*curve)
fig, ax = plt.subplots(figsize=(5, 3))
ax.plot(evaluations, hypervolumes)
ax.set(xlabel="evaluations", ylabel="hypervolume", title="NSGA-II on ZDT1")
print(f"{len(curve)} generations, final hypervolume {hypervolumes[-1]:.4f}")

# %% [markdown]
# Same seed, same result: the second run above repeated the first one exactly (see
# [seeds and reproducibility](../guide/seeding.md)).

# %%
again = polyopt.optimize("nsga2", "zdt1", budget=4_000, seed=0, pop_size=40)
print("identical fronts:", torch.equal(again.f, result.f))

# %% [markdown]
# From the shell the same run is
#
# ```bash
# polyopt optimize -o nsga2 -p zdt1 --budget 4000 --seed 0 --set pop_size=40
# ```
#
# Next: [your own objective](own_objective.md), with constraints and a mixed space.
