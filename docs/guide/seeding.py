# %% [markdown]
# # Seeds and reproducibility
#
# The rule: **same seed, same device, same result**. Each optimizer owns one `torch.Generator`, seeded
# from the run seed, and takes every random number from it; it never draws from torch's global random
# state, so your own code's random numbers neither disturb a run nor are disturbed by it. The conformance
# kit (`polyopt.testing.OptimizerContract`) checks this for every registered optimizer: two runs with one
# seed agree exactly, and the global generator is left as it was.

# %%
import torch

import polyopt

first = polyopt.optimize("nsga2", "zdt1", budget=1_000, seed=7, pop_size=20, verbose=False)
torch.manual_seed(123)  # the global generator plays no part
second = polyopt.optimize("nsga2", "zdt1", budget=1_000, seed=7, pop_size=20, verbose=False)
other = polyopt.optimize("nsga2", "zdt1", budget=1_000, seed=8, pop_size=20, verbose=False)
print("seed 7 twice, identical fronts:", torch.equal(first.f, second.f))
print("seed 7 and seed 8, identical fronts:", torch.equal(first.f, other.f))

# %%
state = torch.random.get_rng_state()
polyopt.optimize("cma-es", "sphere", budget=300, seed=0, verbose=False)
print("global generator untouched by a run:", torch.equal(state, torch.random.get_rng_state()))

# %% [markdown]
# Without a seed, a run draws one at random and records it, so any run can be repeated afterwards:

# %%
unseeded = polyopt.optimize("random-search", "zdt1", budget=200, verbose=False)
seed = unseeded.extras["seed"]
again = polyopt.optimize("random-search", "zdt1", budget=200, seed=seed, verbose=False)
print(f"recorded seed {seed}; repeated exactly:", torch.equal(unseeded.f, again.f))

# %% [markdown]
# ## Stopping and resuming exactly
#
# `state_dict()` holds the optimizer's whole state — population, model, counters and the generator's
# state — as tensors and plain values (loadable with `torch.load(weights_only=True)`). A run stopped after
# ten steps and resumed from its state continues as if it had never stopped; studies checkpoint runs this
# way and resume them after a crash.

# %%
import io

zdt1 = polyopt.make("objective", "zdt1")
straight = polyopt.make("optimizer", "nsga2", zdt1, seed=0, pop_size=20)
for _ in range(20):
    straight.step()

stopped = polyopt.make("optimizer", "nsga2", zdt1, seed=0, pop_size=20)
for _ in range(10):
    stopped.step()
buffer = io.BytesIO()
torch.save(stopped.state_dict(), buffer)  # a checkpoint file, in memory here

resumed = polyopt.make("optimizer", "nsga2", zdt1, seed=0, pop_size=20)
resumed.load_state_dict(torch.load(io.BytesIO(buffer.getvalue()), weights_only=True))
for _ in range(10):
    resumed.step()
print(
    "resumed after 10 steps, identical to 20 straight:",
    torch.equal(straight.result().f, resumed.result().f),
)

# %% [markdown]
# ## What the rule does not cover
#
# - **Another device** gives other numbers: a CUDA generator draws a different stream from a CPU one, and
#   kernels sum in another order. A GPU run repeats on the same GPU model, and only as far as its kernels
#   are deterministic (`torch.use_deterministic_algorithms(True)` for the strict kind).
# - **Another dtype or torch version** may change the last bits of a value, and an evolutionary run that
#   compares values then takes another path.
# - **Your objective's own randomness** is yours to seed: a noisy simulator should take a seed or a
#   generator. `polyopt.noisy(objective, std)` adds noise from a generator of its own (`seed=`, 0 by
#   default).
# - **Environments** are seeded by the trainer from its run seed (`reset(seed)` and their action spaces),
#   so trainer runs repeat too, on one device.
#
# **Studies** run each optimizer with seeds `0..n-1` (`seeds = n` in the `[study]` table) or a list you
# give; the run seed is stored with each run, and the report compares optimizers over the same seeds.
