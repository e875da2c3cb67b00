# %% [markdown]
# # Bayesian optimization of an expensive function
#
# When one evaluation costs minutes (a simulation, a training run, a lab experiment), a few dozen of them
# are the whole budget, and a model of the function decides where to look next. polyopt's BO family
# (`ego`, `config`, `turbo`, `aegis`, `qlognehvi`, `qlogparego`) fits a Gaussian process with BoTorch and
# maximizes an acquisition function. Here: one objective, then constraints, then batches of points
# evaluated in parallel, asked for and told one batch at a time.
#
# The acquisition optimization is set lighter than the defaults (`num_restarts`, `raw_samples`) so the
# page builds in seconds; on a real expensive function keep the defaults.

# %%
import matplotlib.pyplot as plt
import torch

import polyopt

LIGHT = dict(num_restarts=4, raw_samples=128)  # a cheaper acquisition optimization, for this page

branin = polyopt.make("objective", "branin")
print(branin.space, "| known optimum:", branin.optimum)

bo = polyopt.optimize("ego", branin, budget=20, seed=0, n_initial=6, **LIGHT)
rs = polyopt.optimize("random-search", branin, budget=20, seed=0)
print(f"EGO after 20 evaluations:           {bo.f_best:.4f} at {bo.x_best.tolist()}")
print(f"random search after 20 evaluations: {rs.f_best:.4f}")

# %% [markdown]
# `ego` starts with `n_initial` Sobol points, then asks the GP for one point at a time with LogEI
# (`acquisition="ucb"` or `"thompson"` choose another; `polyopt list acquisitions` shows all of them).
#
# To see the search, record the best value after each step with a callback:


# %%
def best_so_far(name, **config):
    curve = []

    def record(optimizer, metrics):
        curve.append((optimizer.n_evaluations, optimizer.result().f_best))

    polyopt.optimize(name, branin, budget=20, seed=0, callbacks=[record], **config)
    return list(zip(*curve))  # evaluations, best values


fig, ax = plt.subplots(figsize=(5, 3))
ax.step(*best_so_far("ego", n_initial=6, **LIGHT), where="post", label="EGO (LogEI)")
ax.step(*best_so_far("random-search"), where="post", label="random search (batches)")
ax.axhline(branin.optimum, color="0.6", linestyle="--", label="optimum")
ax.set(xlabel="evaluations", ylabel="best value", yscale="log", title="Branin")
ax.legend()
# %% [markdown]
# ## Constraints
#
# A constrained problem returns `g` (feasible where `g <= 0`); `ego` models each constraint with its own
# GP and weighs the expected improvement by the probability of feasibility. Gramacy's problem has a linear
# objective and two nonlinear constraints that leave a small feasible region:

# %%
gramacy = polyopt.make("objective", "gramacy")
print("constraints:", gramacy.n_constraints, "| known optimum:", gramacy.optimum)
constrained = polyopt.optimize("ego", gramacy, budget=25, seed=0, n_initial=8, **LIGHT)
print(f"best feasible value: {constrained.f_best:.4f}; feasible: {constrained.feasible}")
print("its constraint values:", constrained.g.tolist())

# %% [markdown]
# `config` is the alternative for constraints: an optimistic method that can also conclude a problem has
# no feasible point (`result.infeasible_declared`).
#
# ## Batches, and evaluations still running
#
# With `batch_size=q`, each step asks for `q` points chosen jointly (qLogNEI), to evaluate in parallel.
# Driving the optimizer by hand with `ask`/`tell` shows what a scheduler does: points asked for but not
# yet told are **pending**, and the next `ask` avoids them. Hartmann6 has six variables:

# %%
hartmann = polyopt.make("objective", "hartmann6")
opt = polyopt.make("optimizer", "ego", hartmann, seed=0, n_initial=8, batch_size=4, **LIGHT)

first = opt.ask(8)  # the Sobol start, all at once
opt.tell(first, polyopt.evaluate(hartmann, first))
told = len(first)
for round_ in range(3):
    running = opt.ask(4)  # four jobs start ...
    more = opt.ask(2)  # ... and two more while they run: they avoid the four pending points
    x = torch.cat([running, more])
    opt.tell(x, polyopt.evaluate(hartmann, x))  # all six come back
    told += len(x)
    print(f"round {round_}: {told} points told, best {opt.result().f_best:.4f}")
print("known optimum:", hartmann.optimum)

# %% [markdown]
# `polyopt.evaluate(problem, x)` returns the evaluation in minimization form, as `tell` takes it; an
# evaluation that crashed is told as `polyopt.Evaluation.failure(n, m)`. The same optimizer also runs under
# `polyopt.optimize(..., budget=...)`, which asks, evaluates and tells in a loop.
#
# For several objectives use `qlognehvi` (2 to 4 objectives, constraints) or `qlogparego` (any number);
# a [study](study.md) compares them with evolutionary algorithms under equal budgets.
