# %% [markdown]
# # Your own objective: constraints and a mixed space
#
# A small design problem of our own: a cantilever plate with stiffening ribs. We choose its **material**
# (one of three), the **number of ribs** (an integer), and its **thickness** and **width** (continuous), to
# make it light and stiff at once, while the stress stays below what the material allows. Two objectives,
# one constraint, a space of three kinds.

# %%
import matplotlib.pyplot as plt
import torch

import polyopt
from polyopt import Box, Categorical, Integer, Product

MATERIALS = ["steel", "aluminium", "titanium"]
DENSITY = torch.tensor([7.85, 2.70, 4.43])  # g/cm^3
MODULUS = torch.tensor([200.0, 69.0, 114.0])  # GPa
STRENGTH = torch.tensor([250.0, 95.0, 830.0])  # MPa, yield

space = Product(
    {
        "material": Categorical(MATERIALS),
        "ribs": Integer(0, 8),
        "size": Box([2.0, 20.0], [20.0, 100.0]),  # thickness, width in mm
    }
)
print(space)
print("dimensions:", space.dim, "| encoded for Bayesian optimization:", space.encoded_dim)

# %% [markdown]
# A point is one row of `space.dim` numbers: the categorical part holds the index of the choice, the
# integer part whole numbers, the box part floats. `space.unflatten(x)` splits a batch back into its named
# parts, each `n x part.dim`.
#
# The objective is a plain **batched** function: it receives `n x d` points and returns the objectives
# (`n x m`) and, with `n_constraints`, the constraint values (`n x c`), feasible where `g <= 0`.


# %%
def plate_model(x: torch.Tensor, load: float):
    """Mass (g), tip deflection (mm), stress and allowed stress (MPa) of a 300 mm plate, batched."""
    parts = space.unflatten(x)
    material = parts["material"][:, 0].long()
    ribs = parts["ribs"][:, 0]
    thickness, width = parts["size"][:, 0], parts["size"][:, 1]
    # ribs stiffen the section as an equivalent extra thickness, and add their own mass
    effective = thickness * (1 + 0.15 * ribs)
    inertia = width * effective**3 / 12  # mm^4
    mass = DENSITY[material] * 300 * (width * thickness + ribs * 0.5 * thickness**2) / 1000
    deflection = load * 300**3 / (3 * MODULUS[material] * 1000 * inertia)
    stress = load * 300 * (effective / 2) / inertia
    return mass, deflection, stress, STRENGTH[material]


@polyopt.objective(space=space, n_objectives=2, n_constraints=1, name="ribbed-plate")
def plate(x: torch.Tensor):
    mass, deflection, stress, strength = plate_model(x, load=500.0)  # 500 N at the tip
    f = torch.stack([mass, deflection], dim=-1)
    g = (stress - strength).unsqueeze(-1)  # feasible when stress <= strength
    return f, g


points = space.sample(4, generator=torch.Generator().manual_seed(0))
print(points)
evaluation = plate(points)
print(f"f (mass, deflection):\n{evaluation.f}\ng (stress - strength):\n{evaluation.g}")

# %% [markdown]
# NSGA-II searches any space (each part gets its own variation operators) and honours constraints: a
# feasible point always beats an infeasible one, and infeasible ones are ranked by how much they violate.

# %%
result = polyopt.optimize("nsga2", plate, budget=3_000, seed=0, pop_size=40)
print(result.summary())
print("all feasible:", bool((result.g <= 0).all()))
chosen = space.unflatten(result.x)
for name in MATERIALS:
    count = int((chosen["material"][:, 0] == MATERIALS.index(name)).sum())
    print(f"{name:10s} {count:3d} points of the front")

# %%
fig, ax = plt.subplots(figsize=(5, 4))
for index, name in enumerate(MATERIALS):
    rows = chosen["material"][:, 0] == index
    ax.scatter(result.f[rows, 0], result.f[rows, 1], s=16, label=name)
ax.set(xlabel="mass (g)", ylabel="tip deflection (mm)", yscale="log", title="lighter or stiffer")
ax.legend()
# %% [markdown]
# ## A class instead of a function
#
# For problems with options and state, subclass `polyopt.Objective`: set `space`, the counts and
# directions, implement a batched `evaluate`, and return an `Evaluation`. Objectives are minimized
# unless they declare `directions`; results come back in your direction. Here, a stiffness to
# **maximize** (load over deflection) against mass to minimize, under a load given as an option:

# %%
from polyopt import Evaluation, Objective


class Plate(Objective):
    n_objectives = 2
    n_constraints = 1
    directions = ("minimize", "maximize")

    def __init__(self, load: float = 500.0) -> None:
        self.space = space
        self.load = load

    def evaluate(self, x: torch.Tensor) -> Evaluation:
        mass, deflection, stress, strength = plate_model(x, self.load)
        stiffness = self.load / deflection  # N/mm
        return Evaluation(torch.stack([mass, stiffness], dim=-1), (stress - strength).unsqueeze(-1))


stiff = polyopt.optimize("nsga2", Plate(load=400.0), budget=1_000, seed=0, pop_size=20)
print(stiff.summary())
print("largest stiffness found:", round(stiff.f[:, 1].max().item(), 3), "N/mm")

# %% [markdown]
# ## When an evaluation fails
#
# A simulator that crashes or returns NaN does not stop the run: rows with a NaN or infinite objective
# are recorded as failed, count against the budget, and never enter a result (see
# [failures and NaN](../guide/failures.md)).


# %%
@polyopt.objective(bounds=([-2.0, -2.0], [2.0, 2.0]))
def flaky(x):
    value = (x**2).sum(-1)
    return torch.where(x[:, 0] > 1.5, torch.nan, value)  # "crashes" on part of the space


best = polyopt.optimize("random-search", flaky, budget=200, seed=0)
print("best:", round(best.f_best, 4), "at", best.x_best.tolist())
