# %% [markdown]
# # Failures and NaN
#
# A black box fails: a simulation diverges, a solver does not converge, a training run returns NaN. polyopt
# distinguishes three cases and treats each the same way in every optimizer:
#
# | what happens | what polyopt does |
# |---|---|
# | `evaluate` returns NaN or ±inf in an objective, or NaN in a constraint | the row is **failed**: recorded as it was, counted against the budget, never in a result, and it loses every comparison |
# | `evaluate` raises | the exception propagates: `polyopt.optimize` stops; a study retries the run (`max_attempts`) |
# | `evaluate` returns the wrong shape, dtype or device | `EvaluationError` naming the problem and the expected shape: a bug in the objective, not a failure |
#
# This page runs each case.

# %%
import torch

import polyopt
from polyopt import Evaluation


@polyopt.objective(bounds=([-2.0, -2.0], [2.0, 2.0]))
def flaky(x):
    """The sphere, except that the "simulator" diverges for x0 > 1: a quarter of the box."""
    value = (x**2).sum(-1)
    return torch.where(x[:, 0] > 1.0, torch.nan, value)


failed_per_step = []
result = polyopt.optimize(
    "random-search",
    flaky,
    budget=200,
    seed=0,
    verbose=False,
    callbacks=[lambda opt, metrics: failed_per_step.append(metrics["n_failed"])],
)
print(result.summary())
print("evaluations:", result.n_evaluations, "| failed:", int(sum(failed_per_step)))

# %% [markdown]
# About a quarter of the 200 evaluations failed; they counted against the budget (a failed simulation
# costs time too), and the best point is a valid one. Every ask/tell optimizer reports `n_failed` in its
# step metrics, and studies store each evaluation's `failed` flag.
#
# ## How optimizers treat a failed row
#
# `polyopt.evaluate` (what optimizers call) marks the rows in `Evaluation.failed`; the row then counts as
# infeasible with infinite constraint violation. So it loses every comparison against a valid point in
# the evolutionary algorithms' selection, and Bayesian optimization leaves it out of the surrogate's fit
# (and stops with a clear error if every evaluation so far failed). The same holds for a constraint returning
# NaN.

# %%
evaluation = polyopt.evaluate(flaky, torch.tensor([[0.5, 0.5], [1.5, 0.0]], dtype=torch.float64))
print("f:", evaluation.f.flatten().tolist(), "| failed:", evaluation.failed_mask.tolist())
print("violation:", evaluation.violation().tolist(), "| feasible:", evaluation.feasible().tolist())

# %% [markdown]
# ## A black box that raises
#
# When you drive an optimizer yourself with ask/tell, catch the exception and tell the rows as failed
# with `Evaluation.failure(n, m)`: they are recorded and the search goes on.


# %%
def simulate(x):
    if x[0, 0] > 1.0:
        raise RuntimeError("the solver did not converge")
    return polyopt.evaluate(flaky, x)


opt = polyopt.make("optimizer", "cma-es", flaky, seed=0)
crashed = 0
for _ in range(30):
    x = opt.ask(1)
    try:
        evaluation = simulate(x)
    except RuntimeError:
        evaluation = Evaluation.failure(1, 1, dtype=x.dtype, device=x.device)
        crashed += 1
    opt.tell(x, evaluation)
print(f"{crashed} of 30 evaluations crashed; best {opt.result().f_best:.4f}")

# %% [markdown]
# Under `polyopt.optimize` an exception is not caught: it stops the run with its traceback (a crash is
# usually a bug you want to see), and `polyopt optimize` on the command line prints one line, `error:
# ...`, and exits with 1. Wrap the function and return NaN if crashes are expected and should count as
# failed evaluations.
#
# In a **study**, a run that raises is retried up to `max_attempts` times (default 3, the `[study]` table)
# and then marked failed with its traceback; the other runs go on, and the report lists failed runs
# separately. A run whose worker process died is taken over from its last checkpoint, and counts as an
# attempt too (`polyopt study resume --retry-crashed` gives those another round).
#
# ## Nothing valid at all
#
# When every evaluation failed there is no best point, and asking for one says so:


# %%
@polyopt.objective(bounds=([-1.0], [1.0]))
def broken(x):
    return torch.full((len(x),), torch.nan, dtype=x.dtype)


empty = polyopt.optimize("random-search", broken, budget=50, seed=0, verbose=False)
print("points in the result:", len(empty.f))
try:
    print(empty.f_best)
except polyopt.PolyoptError as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# ## A bug, not a failure
#
# Returning the wrong number of rows, objectives on another device or an integer tensor is an error in
# the objective, raised at once with what was expected:


# %%
@polyopt.objective(bounds=([-1.0], [1.0]))
def wrong(x):
    return x[:3, 0]  # three values, whatever the batch


try:
    polyopt.optimize("random-search", wrong, budget=50, seed=0, verbose=False)
except polyopt.EvaluationError as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# **Trainers.** Environments and reward functions are not filtered: a NaN reward reaches the loss. Make
# reward functions return finite values (0 for an unparsable completion, as the builtin text tasks do).
