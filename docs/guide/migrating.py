# %% [markdown]
# # From pymoo, Optuna, BoTorch and TRL
#
# The same task in the library you know and in polyopt, side by side. The pymoo, Optuna and BoTorch
# versions run here too (pymoo and BoTorch are polyopt dependencies, Optuna is in the `docs` extra), on
# the same problem and budget, so you can compare what comes out. Speed and quality comparisons at
# proper budgets are in the [results](results.md).
#
# | you know | in polyopt |
# |---|---|
# | pymoo `Problem._evaluate(x, out)` on NumPy arrays | `@polyopt.objective` or `polyopt.Objective.evaluate(x)` on batched torch tensors, returning `f` (and `g <= 0` feasible, as in pymoo) |
# | pymoo `minimize(problem, algorithm, termination)` | `polyopt.optimize(name, problem, budget=...)`; `res.F` is `result.f`, `res.X` is `result.x` |
# | Optuna `study.optimize(objective, n_trials)` with `trial.suggest_*` | a space declared up front (`Box`, `Integer`, `Categorical`, `Product`) and a batched function of it; ask/tell for a loop of your own |
# | Optuna `create_study(storage=..., directions=[...])` | a study file or `polyopt.study.Study` with SQLite or PostgreSQL storage; `directions=` on the objective |
# | a BoTorch loop (fit a GP, optimize an acquisition, evaluate, repeat) | `ego`, `qlognehvi`, `qlogparego`, `turbo` with ask/tell; acquisitions are registry names |
# | TRL's `GRPOTrainer`, `DPOTrainer`, `RewardTrainer` | `grpo` (and its variants), `dpo` (and the other preference losses), `reward-model`; components by name instead of trainer subclasses |
#
# ## pymoo: NSGA-II on ZDT1

# %%
import numpy as np
import torch
from pymoo.algorithms.moo.nsga2 import NSGA2
from pymoo.optimize import minimize
from pymoo.problems import get_problem

import polyopt

hypervolume = polyopt.registry().get("metric", "hypervolume")  # any registered metric, by name

# pymoo
res = minimize(get_problem("zdt1"), NSGA2(pop_size=40), ("n_gen", 50), seed=0, verbose=False)
print(
    "pymoo:  ",
    len(res.F),
    "points; HV",
    round(hypervolume(torch.tensor(res.F), [1.1, 1.1]), 4),
)

# polyopt: the same algorithm, budget and population
result = polyopt.optimize("nsga2", "zdt1", budget=2_000, seed=0, pop_size=40, verbose=False)
print("polyopt:", len(result.f), "points; HV", round(result.hypervolume([1.1, 1.1]), 4))

# %% [markdown]
# One seed at a small budget: the two fronts differ as two seeds of one library do (their random streams
# differ). The [results](results.md) compare the two over seeds and larger budgets, speed included.
#
# Any pymoo test problem runs in polyopt through the adapters (`polyopt.make("objective",
# "pymoo.problem", name="dtlz2", n_obj=3)`), and pymoo's own algorithms are registered as `pymoo.nsga2`,
# `pymoo.cmaes`, ... so a study can put them beside polyopt's.
#
# Your own problem, pymoo style and polyopt style, each solved with 1,000 evaluations:

# %%
from pymoo.core.problem import ElementwiseProblem


# pymoo: one point at a time, NumPy in, lists out
class Mine(ElementwiseProblem):
    def __init__(self):
        super().__init__(n_var=2, n_obj=2, n_ieq_constr=1, xl=-2.0, xu=2.0)

    def _evaluate(self, x, out, *args, **kwargs):
        out["F"] = [(x**2).sum(), ((x - 1) ** 2).sum()]
        out["G"] = [x.sum() - 1.5]


res = minimize(Mine(), NSGA2(pop_size=20), ("n_gen", 50), seed=0, verbose=False)
print("pymoo:  ", len(res.F), "points, all feasible:", bool((res.G <= 0).all()))


# polyopt: the whole batch at once, torch in, (f, g) out
@polyopt.objective(bounds=([-2.0, -2.0], [2.0, 2.0]), n_objectives=2, n_constraints=1)
def mine(x):  # x: n x 2, the whole batch at once
    f = torch.stack([(x**2).sum(-1), ((x - 1) ** 2).sum(-1)], dim=-1)
    g = (x.sum(-1) - 1.5).unsqueeze(-1)
    return f, g


front = polyopt.optimize("nsga2", mine, budget=1_000, seed=0, pop_size=20, verbose=False)
print("polyopt:", len(front.f), "points, all feasible:", bool((front.g <= 0).all()))

# %% [markdown]
# ## Optuna: a mixed space, one objective
#
# Optuna discovers the space as the objective asks for values; polyopt declares it first, which lets
# optimizers encode it (for a GP) and evaluate whole batches.

# %%
import optuna

optuna.logging.set_verbosity(optuna.logging.WARNING)


def score(lr, layers, activation):
    return (
        (np.log10(lr) + 2.5) ** 2 + 0.1 * (layers - 3) ** 2 + (0.0 if activation == "gelu" else 0.3)
    )


# Optuna
def objective(trial):
    lr = trial.suggest_float("lr", 1e-5, 1e-1, log=True)
    layers = trial.suggest_int("layers", 1, 6)
    activation = trial.suggest_categorical("activation", ["relu", "gelu", "tanh"])
    return score(lr, layers, activation)


study = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=0))
study.optimize(objective, n_trials=40)
print("Optuna TPE: ", round(study.best_value, 4), study.best_params)

# polyopt: the space up front; log10(lr) as a box variable
space = polyopt.Product(
    {
        "log_lr": polyopt.Box(-5.0, -1.0),
        "layers": polyopt.Integer(1, 6),
        "activation": polyopt.Categorical(["relu", "gelu", "tanh"]),
    }
)
ACTIVATIONS = ["relu", "gelu", "tanh"]


@polyopt.objective(space=space)
def tuned(x):
    parts = space.unflatten(x)
    values = [
        score(10 ** float(lr), int(layers), ACTIVATIONS[int(act)])
        for lr, layers, act in zip(
            parts["log_lr"][:, 0], parts["layers"][:, 0], parts["activation"][:, 0]
        )
    ]
    return x.new_tensor(values)


best = polyopt.optimize(
    "ego", tuned, budget=25, seed=0, n_initial=8, num_restarts=2, raw_samples=64, verbose=False
)
chosen = space.unflatten(best.x_best[None])
print(
    "polyopt EGO:",
    round(best.f_best, 4),
    {
        "lr": round(10 ** chosen["log_lr"].item(), 5),
        "layers": int(chosen["layers"].item()),
        "activation": ACTIVATIONS[int(chosen["activation"].item())],
    },
)

# %% [markdown]
# Optuna's `storage="sqlite:///..."` and `load_if_exists` correspond to a polyopt [study](../tutorials/study.md)
# (SQLite by default, PostgreSQL by URL); its ask-and-tell interface to `opt.ask()` / `opt.tell(x,
# evaluation)`; `directions=["minimize", "maximize"]` to an objective's `directions`. Pruning of trials
# has no counterpart: a polyopt evaluation is one call.
#
# ## BoTorch: the loop you would write, and the optimizer that runs it
#
# A BoTorch loop with LogEI on Branin, then polyopt's `ego`, which runs the same loop (a GP fitted by
# maximum likelihood, LogEI optimized with restarts) behind ask/tell:

# %%
from botorch.acquisition import LogExpectedImprovement
from botorch.fit import fit_gpytorch_mll
from botorch.models import SingleTaskGP
from botorch.models.transforms import Normalize, Standardize
from botorch.optim import optimize_acqf
from gpytorch.mlls import ExactMarginalLogLikelihood

branin = polyopt.make("objective", "branin")
bounds = torch.stack([branin.space.lower, branin.space.upper]).double()

# BoTorch (it maximizes: the negated Branin)
torch.manual_seed(0)
x = bounds[0] + (bounds[1] - bounds[0]) * torch.rand(6, 2, dtype=torch.float64)
y = -branin.evaluate(x).f
for _ in range(10):
    gp = SingleTaskGP(x, y, input_transform=Normalize(d=2), outcome_transform=Standardize(m=1))
    fit_gpytorch_mll(ExactMarginalLogLikelihood(gp.likelihood, gp))
    candidate, _ = optimize_acqf(
        LogExpectedImprovement(gp, best_f=y.max()),
        bounds=bounds,
        q=1,
        num_restarts=2,
        raw_samples=64,
    )
    x = torch.cat([x, candidate])
    y = torch.cat([y, -branin.evaluate(candidate).f])
print("BoTorch loop, 16 evaluations:", round(-y.max().item(), 4))

# polyopt
bo = polyopt.optimize(
    "ego", branin, budget=16, seed=0, n_initial=6, num_restarts=2, raw_samples=64, verbose=False
)
print("polyopt ego,  16 evaluations:", round(bo.f_best, 4), "| optimum", round(branin.optimum, 4))

# %% [markdown]
# What `ego` adds to the loop: constraints (each with its own GP), batches (`batch_size=q`) with pending
# points, failed evaluations left out of the fit, exact resume, and the same interface as every other
# optimizer. A BoTorch acquisition of your own plugs in as an `acquisition` component (see [writing a
# plugin](../tutorials/plugin.md)).
#
# ## TRL: GRPO and DPO
#
# TRL trains Hugging Face models on datasets; polyopt trains the same kinds of model (a local Hugging Face
# model directory with `model="path"`, LoRA with `lora_rank`) or its own small GPT. Below, both train a tiny
# Llama with a character tokenizer, saved to a directory as any Hugging Face model is, for two steps each.
# TRL is not a polyopt dependency (it is in the `baselines` extra), so these two blocks do not run when
# this site is built: `tests/integration/test_docs_code.py` runs them, in order, wherever TRL is installed
# (CI installs it with the `dev` extra).
#
# <!-- docs-code: needs trl, datasets -->
# ```python
# import datasets
# from trl import GRPOConfig, GRPOTrainer
#
# import polyopt
# from polyopt_plugins.llm.hf import save_char_llama
#
# model = str(save_char_llama("tiny-llama", n_layer=1, d_model=32, n_head=2))  # a model directory
#
# # TRL: a dataset of prompts, reward functions of the completions and the dataset's other columns
# sums = [(a, b) for a in range(10, 100, 7) for b in range(10, 100, 11)]
# dataset = datasets.Dataset.from_dict(
#     {"prompt": [f"{a}+{b}=" for a, b in sums], "answer": [str(a + b) for a, b in sums]}
# )
#
#
# def exact(completions, answer, **kwargs):
#     return [1.0 if c.strip() == a else 0.0 for c, a in zip(completions, answer)]
#
#
# args = GRPOConfig(
#     output_dir="trl-grpo", num_generations=4, per_device_train_batch_size=16, learning_rate=1e-3,
#     max_completion_length=4, beta=0.0, max_steps=2, use_cpu=True, report_to="none",
#     save_strategy="no", disable_tqdm=True,
# )
# GRPOTrainer(model=model, reward_funcs=[exact], train_dataset=dataset, args=args).train()
#
# # polyopt: the task is an Environment whose rewards are registered functions (exact answer, format)
# task = polyopt.make("environment", "text-addition", n_digits=2)
# result = polyopt.optimize(
#     "grpo", task, budget=polyopt.Budget(steps=2), seed=0, model=model, completions_per_prompt=4,
#     prompts_per_step=4, lr=1e-3, verbose=False,
# )
# print("polyopt GRPO:", result.metrics)
# ```
#
# <!-- docs-code: needs trl, datasets -->
# ```python
# import json
#
# from trl import DPOConfig, DPOTrainer
#
# from polyopt_envs.preference import load_jsonl
#
# # TRL: pairs {"prompt", "chosen", "rejected"}; here, prefer the plain sum
# pairs = [(f"{a}+{b}=", str(a + b)) for a in range(10) for b in range(10)]
# rows = [{"prompt": p, "chosen": s, "rejected": s + ", i think"} for p, s in pairs]
# args = DPOConfig(
#     output_dir="trl-dpo", beta=0.1, per_device_train_batch_size=16, learning_rate=1e-3, max_steps=2,
#     use_cpu=True, report_to="none", save_strategy="no", disable_tqdm=True,
# )
# DPOTrainer(model=model, args=args, train_dataset=datasets.Dataset.from_list(rows)).train()
#
# # polyopt: the same pairs as JSON lines (or a `datasets` dataset saved on disk)
# with open("pairs.jsonl", "w") as fh:
#     fh.writelines(json.dumps(row) + "\n" for row in rows)
# result = polyopt.optimize(
#     "dpo", load_jsonl("pairs.jsonl"), budget=polyopt.Budget(steps=2), seed=0, model=model,
#     beta=0.1, pairs_per_step=16, lr=1e-3, verbose=False,
# )
# print("polyopt DPO: held-out preference accuracy", result.metrics["accuracy"])
# ```
#
# Where TRL has a trainer class per method, polyopt has one trainer with registered axes: `advantage`,
# `policy_loss`, `loss_aggregation`, `kl_estimator` and more for policy gradients
# ([the GRPO variants](../grpo-variants.md) maps each paper to its config), `preference_loss` for the
# DPO family. A new paper's estimator is a component of a few lines, not a subclass. The
# [GRPO](../tutorials/grpo.md) and [preference](../tutorials/preference.md) tutorials run both on builtin
# tasks.
