# %% [markdown]
# # Multi-objective RL on Deep Sea Treasure
#
# A submarine on a 11 x 10 grid chooses between treasures: the farther ones are worth more, and every move
# costs one unit of time. Each treasure at the end of its shortest path is one point of the Pareto front
# of (treasure, -time): there is no single best policy, only a preference between the two. **Envelope
# Q-learning** (Yang et al., NeurIPS 2019) learns one Q network conditioned on the preference weights, so
# that one trained agent serves every preference. This page trains it on 16 copies of the environment at
# once, with a small budget and a small network, and compares what it finds with the true front.

# %%
import matplotlib.pyplot as plt
import torch

import polyopt

dst = polyopt.make(
    "environment", "deep-sea-treasure", num_envs=16
)  # 16 copies, stepped as one batch
print("reward dimension:", dst.reward_dim, "| actions:", dst.action_space)
print("true front (treasure, -steps), undiscounted:")
print(dst.pareto_front().tolist())

# %% [markdown]
# Environments are batched and torch-native: `reset(seed)` returns `num_envs x obs_dim` observations and
# `step(actions)` a `Step` whose `reward` is `num_envs x reward_dim`. `polyopt list environments` shows
# the other multi-objective ones (Resource Gathering, Fruit Tree, Four Room, MO-Mountain Car); any
# MO-Gymnasium id runs through the `mo-gymnasium` environment.
#
# ## Training
#
# The budget counts environment steps over all copies. The defaults are MORL-Baselines' (a 4 x 256
# network, batches of 256, exploration rate 0.01 throughout); a 2 x 64 network with batches of 32 trains in
# seconds on a CPU. With this short a budget, exploring at random first (epsilon from 1 down to 0.05 over
# the first half) and two updates per batched step find more of the front: at MORL-Baselines' epsilon of
# 0.01 the same run found 2 of the 10 points when this page was written, this one 6. Evaluation
# follows the shared MORL protocol: 100 evenly spread preferences x 5 episodes, discounted returns,
# hypervolume against the environment's reference point, expected utility (EUM) and, since the true front
# is known, the maximum utility loss (MUL).

# %%
agent = polyopt.optimize(
    "envelope",
    dst,
    budget=polyopt.Budget(env_steps=12_000),
    seed=0,
    hidden_sizes=[64, 64],
    batch_size=32,
    initial_epsilon=1.0,
    final_epsilon=0.05,
    epsilon_decay_steps=6_000,
    gradient_updates=2,
    verbose=False,
)
print(agent.summary())
print({name: round(value, 3) for name, value in agent.metrics.items()})

# %% [markdown]
# `agent.returns` holds the discounted return vectors of the greedy policy's distinct non-dominated
# points, one row per preference that reached it (`agent.labels` indexes the preferences). Against the
# discounted true front:

# %%
true_front = dst.pareto_front(gamma=0.99)
found = agent.returns
hits = sum(bool(torch.isclose(found, point, atol=1e-3).all(dim=1).any()) for point in true_front)
print(f"{len(found)} points found; {hits} of the {len(true_front)} true points")

fig, ax = plt.subplots(figsize=(5, 3.5))
ax.scatter(
    true_front[:, 0],
    true_front[:, 1],
    s=60,
    facecolors="none",
    edgecolors="0.5",
    label="true front",
)
ax.scatter(found[:, 0], found[:, 1], s=18, color="C1", label="Envelope, 12,000 steps")
ax.set(xlabel="treasure (discounted)", ylabel="-time (discounted)", title="Deep Sea Treasure")
ax.legend()
# %% [markdown]
# The policy acts for any preference: `agent.policy` is the Q network, and the trainer's `greedy(obs,
# weights)` picks actions. A run this short finds part of the front; the far treasures need many more
# steps (`benchmarks/morl_vs_morl_baselines.py` and the [results](../guide/results.md) run 20,000 to
# 100,000 steps against MORL-Baselines).
#
# ## Single-objective RL on the same contracts
#
# `actor-critic-ppo` and `a2c` train on any batched environment; with a vector reward and
# `preference=[...]` PPO optimizes the weighted sum (MO-PPO). The advantage estimator and the clipped loss
# are the code the language-model trainers run (`polyopt.policy_gradient`).

# %%
cartpole = polyopt.make("environment", "cartpole", num_envs=8)
ppo = polyopt.optimize(
    "actor-critic-ppo",
    cartpole,
    budget=polyopt.Budget(env_steps=4_000),
    seed=0,
    rollout_steps=32,
    num_minibatches=1,
    update_epochs=20,
    learning_rate=1e-3,
    gamma=0.98,
    lam=0.8,
    ent_coef=0.0,
    value_clip=None,
    verbose=False,
)
print(
    "greedy evaluation return after 4,000 steps:",
    ppo.metrics["eval_return"],
    "(500 is the maximum)",
)
