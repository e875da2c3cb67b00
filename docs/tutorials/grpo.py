# %% [markdown]
# # GRPO and friends on a text task, measuring accuracy
#
# Policy-gradient training of a language model, small enough to run on a laptop's CPU in seconds: the
# builtin character-level GPT (two layers, 64 wide) learns one-digit addition (`"3+4="` -> `"7"`). A short
# supervised warm start teaches it the format, then GRPO trains on rewards alone, and we measure what
# matters: greedy accuracy on **every** one of the 100 possible prompts, before and during training.
# RLOO, another estimator of the same trainer, runs beside it.

# %%
import matplotlib.pyplot as plt
import torch

import polyopt
from polyopt.components import TaskBatch
from polyopt_plugins.llm.evaluate import evaluate

task = polyopt.make("environment", "text-addition", n_digits=1)
print(
    "rewards:",
    task.reward_names,
    "| prompt:",
    task.sample(3, torch.Generator().manual_seed(0)).prompts,
)

# every prompt there is: accuracy on these is exact, not an estimate
all_prompts = TaskBatch(
    [f"{a}+{b}=" for a in range(10) for b in range(10)],
    {"answer": [str(a + b) for a in range(10) for b in range(10)]},
)

# %% [markdown]
# The task is an `Environment` whose observations are prompts and whose rewards score completions:
# `exact` (1 for the right sum) and `partial` (credit per right character), weighted 1 and 0.5 by default.
#
# `polyopt.optimize("grpo", task, ...)` runs the trainer; its config (`polyopt info grpo`) sets the
# model, the warm start, the group size and the learning rate. A callback measures accuracy every 50
# steps with `polyopt_plugins.llm.evaluate.evaluate`, which decodes greedily.

# %%
SMALL = dict(
    sft_steps=100,  # supervised warm start on the task's reference answers
    lr=3e-4,  # the tiny model moves slowly at the default 5e-6, which suits a pretrained model
    prompts_per_step=16,
    completions_per_prompt=8,  # the group: advantages compare completions of one prompt
)


def train(name, steps=150, **config):
    curve = []

    def measure(trainer, metrics):
        if trainer.n_steps == 1 or trainer.n_steps % 50 == 0:
            accuracy = evaluate(trainer.result().policy, task, prompts=all_prompts)["accuracy"]
            curve.append((trainer.n_steps, accuracy))

    result = polyopt.optimize(
        name,
        task,
        budget=polyopt.Budget(steps=steps),
        seed=0,
        callbacks=[measure],
        **SMALL,
        **config,
    )
    return result, curve


grpo, grpo_curve = train("grpo")
for step, accuracy in grpo_curve:
    print(f"GRPO step {step:3d}: accuracy {accuracy:.2f}")

# %% [markdown]
# The result is a `TrainerResult`: the trained `policy`, the `returns` of its best steps, the step
# `history` and the trainer's `metrics`:

# %%
print(grpo.summary())
print({k: round(v, 3) for k, v in grpo.metrics.items()})
print("history:", tuple(grpo.history.shape), "(steps x rewards)")

# %% [markdown]
# ## Another estimator, same trainer
#
# GRPO, RLOO, Dr. GRPO, ReMax, DAPO, PPO and the rest are presets of one trainer that differ in their
# registered components (`advantage`, `policy_loss`, `loss_aggregation`, `kl_estimator`, ...). RLOO's
# baseline is the mean reward of the *other* completions of the group:

# %%
rloo, rloo_curve = train("rloo")
fig, ax = plt.subplots(figsize=(5, 3))
for label, curve in (("GRPO", grpo_curve), ("RLOO", rloo_curve)):
    ax.plot(*zip(*curve), marker="o", label=label)
ax.set(xlabel="RL steps (after 100 supervised ones)", ylabel="greedy accuracy, all 100 prompts")
ax.set_ylim(0, 1)
ax.legend()
print(f"final accuracy: GRPO {grpo_curve[-1][1]:.2f}, RLOO {rloo_curve[-1][1]:.2f}")

# %% [markdown]
# One seed and 150 steps of a 100-thousand-parameter model: the curves are noisy and say
# nothing general about the estimators. `benchmarks/llm_vs_trl.py` and `benchmarks/llm_variants.py` run
# the protocol behind the [results](../guide/results.md) against TRL, with several seeds.
#
# ## Changing one axis
#
# Each axis takes a registered name; a plugin adds its own in a few lines (see [writing a
# plugin](plugin.md)). For instance, GRPO with Dr. GRPO's unnormalized advantages and a KL penalty to the
# warm-started reference in the reward:

# %%
variant = polyopt.optimize(
    "grpo",
    task,
    budget=polyopt.Budget(steps=20),
    seed=0,
    advantage="dr-grpo",
    kl_coef=0.05,
    kl_in="reward",
    **SMALL,
)
scores = evaluate(
    variant.policy, task, prompts=all_prompts, k=4
)  # greedy, and 4 samples at temperature 1
print({k: round(v, 2) for k, v in scores.items()})

# %% [markdown]
# From the shell: `polyopt optimize -o grpo -p text-addition -P n_digits=1 --budget-steps 150 --set
# sft_steps=100,lr=3e-4`. A local Hugging Face model (`model="path/to/dir"`, with `lora_rank` for LoRA)
# trains the same way; nothing is downloaded at run time.
