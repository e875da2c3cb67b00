# %% [markdown]
# # Devices, dtypes and threads
#
# Every optimizer takes `device` and `dtype` (in `polyopt.optimize`, `polyopt.make` and a study's
# `[[optimizers]]` table), keeps its tensors on that device for the whole run, and asks the objective for
# values on the points' device. The defaults:
#
# | | device | dtype |
# |---|---|---|
# | search optimizers (evolutionary, random, CO) | the GPU when there is one (`"auto"`) | float64 on the CPU, float32 on a GPU |
# | Bayesian optimization | the CPU | float64 (as BoTorch recommends for fitting GPs) |
# | trainers (RL, language models) | `"auto"` | float32 |
#
# `polyopt info NAME` shows an optimizer's default device and the dtypes it accepts. This page was built
# on a machine without a GPU, so "auto" meant the CPU here.

# %%
import torch

import polyopt

zdt1 = polyopt.make("objective", "zdt1")
branin = polyopt.make("objective", "branin")
for name, problem in (("nsga2", zdt1), ("random-search", zdt1), ("ego", branin)):
    opt = polyopt.make("optimizer", name, problem, seed=0)
    print(f"{name:14s} device {opt.device}, dtype {opt.dtype}")

# %%
single = polyopt.optimize("nsga2", "zdt1", budget=600, seed=0, dtype=torch.float32, verbose=False)
print("asked for float32:", single.f.dtype, single.x.dtype)
print("cuda available here:", torch.cuda.is_available())

# %% [markdown]
# On a GPU: `polyopt.optimize("nsga2", "dtlz2", budget=..., device="cuda")`. An objective of your own then
# receives CUDA tensors and must return values on the same device (a clear `EvaluationError` says so
# otherwise); `**opt.like` in an optimizer, or `x.new_tensor(...)` in an objective, creates tensors where
# they belong.
#
# ## dtypes: honoured or refused
#
# An optimizer computes in the dtype it is given and returns its results in it, or it refuses the dtype
# when it is built. The language-model trainers train in float32 only:

# %%
task = polyopt.make("environment", "text-addition", n_digits=1)
try:
    polyopt.make("optimizer", "grpo", task, seed=0, dtype=torch.float64)
except polyopt.ConfigError as error:
    print(f"{type(error).__name__}: {error}")

# %% [markdown]
# Names work too (`dtype="float32"`, `"double"`, `"bfloat16"`); an unknown name or device raises with the
# ones that exist, and `device="cuda"` on a machine without CUDA says so rather than falling back.
#
# ## Threads: one per run on the CPU, and why
#
# Optimizers do small tensor work — sorting a population of a thousand, fitting a GP of fifty points —
# whose kernels are too short to split across cores. Extra intra-op threads then only add
# synchronization, and when the other cores are busy (other workers of a study, tests, a notebook) the
# threads wait for each other: NSGA-II with a population of 1,000 ran 11-12x slower with 2 threads than
# with 1 on a loaded 2-core machine, and a small GRPO trainer 3-8x slower (`benchmarks/threads.py`, in the
# [results](results.md)). So `polyopt.optimize`, `polyopt.run` and study workers run a CPU optimizer's
# steps with **one** intra-op thread and restore torch's setting afterwards:

# %%
torch.set_num_threads(2)  # as torch itself would on this 2-core machine
seen = []
polyopt.optimize(
    "random-search",
    "zdt1",
    budget=100,
    seed=0,
    verbose=False,
    callbacks=[lambda opt, metrics: seen.append(torch.get_num_threads())],
)
print("threads during the run:", set(seen), "| after it:", torch.get_num_threads())

polyopt.optimize(
    "random-search",
    "zdt1",
    budget=100,
    seed=0,
    verbose=False,
    threads=2,
    callbacks=[lambda opt, metrics: seen.append(torch.get_num_threads())],
)
print("with threads=2:", seen[-1])

# %% [markdown]
# `threads=n` (or the environment variable `POLYOPT_THREADS`) chooses another count, and `threads=0`
# leaves torch's own setting alone: for a large model on a dedicated machine with many cores. Runs on a
# GPU are not limited. A study spreads runs over processes instead (`--workers`), one thread each, which
# uses the cores without the synchronization cost.
#
# Optimizers themselves never change the thread settings; the conformance kit checks that too.
