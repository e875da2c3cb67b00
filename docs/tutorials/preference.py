# %% [markdown]
# # Preference learning: DPO and its family
#
# Offline preference optimization learns from pairs: a prompt, the completion preferred and the one
# rejected, with no reward function at training time. To know whether it worked we use a builtin task
# whose true preference is known, `pref-sort`: prompts ask to sort four digits, and each pair holds two
# sampled completions, of which the one the task's own scorer rates higher (closer to the sorted digits)
# is preferred; often neither is right. After training we measure two things: how often the
# model prefers the right completion of **held-out** pairs (its implicit-reward accuracy), and how often it
# now **writes** the sorted digits itself (greedy accuracy on the task).

# %%
import json
from pathlib import Path

import polyopt
from polyopt_envs.preference import load_jsonl
from polyopt_plugins.llm.evaluate import evaluate

task = polyopt.make("environment", "pref-sort", n_pairs=512, n_test=128)
pairs = task.pairs("train")  # a polyopt.components.PreferencePairs (and "test": held out)
print(len(pairs.prompts), "pairs; the first three:")
for i in range(3):
    print(f"  {pairs.prompts[i]!r:14} chosen {pairs.chosen[i]!r:8} rejected {pairs.rejected[i]!r}")

# %%
SMALL = dict(
    n_layer=1, d_model=32, n_head=2, sft_steps=60, lr=1e-3, pairs_per_step=16, verbose=False
)
BUDGET = polyopt.Budget(steps=40)

results = {}
for name in ("warm start only", "dpo", "ipo", "simpo"):
    if name == "warm start only":  # one DPO step after the warm start: the reference, nearly
        result = polyopt.optimize("dpo", task, budget=polyopt.Budget(steps=1), seed=0, **SMALL)
    else:
        result = polyopt.optimize(name, task, budget=BUDGET, seed=0, **SMALL)
    writes = evaluate(result.policy, task, prompts=200, seed=1)["accuracy"]
    results[name] = result
    print(
        f"{name:15s} held-out preference accuracy {result.metrics['accuracy']:.2f}, "
        f"margin {result.metrics['margin']:+.2f}; greedy sort accuracy {writes:.2f}"
    )

# %% [markdown]
# `dpo`, `cdpo`, `robust-dpo`, `ipo`, `slic`, `simpo`, `orpo`, `kto` and `modpo` are one trainer with a
# different `preference_loss` (`polyopt list preference-losses`). Before training, the reference model's
# log-probabilities of every pair are computed once and cached (SimPO and ORPO need none). The
# `sft_steps` warm start trains on the preferred completions first, so the reference is a reasonable
# model, as in the usual SFT-then-DPO recipe.
#
# The held-out accuracy compares implicit rewards `beta * log(pi / ref)` of the two completions of pairs
# the model never saw; the greedy accuracy asks the task's own scorer about what the model writes. The two
# need not move together: the losses raise the chosen completion's likelihood *relative* to the rejected
# one's, and can lower both. With a one-layer model and 40 steps, read the rows as a demonstration of the
# measurement, not as a ranking of the losses; the benchmarks measure them at scale.

# %%
dpo = results["dpo"]
print(dpo.summary())

# %% [markdown]
# ## Your own pairs
#
# Pairs come as JSON lines in the common layout (`{"prompt", "chosen", "rejected"}`, optionally a
# `"margin"`; KTO's unpaired `{"prompt", "completion", "label"}` too), or as a `datasets` dataset saved
# on disk (`polyopt_envs.preference.from_datasets`). Here: prefer a plain sum to a hedged one.

# %%
rows = [
    {"prompt": f"{a}+{b}=", "chosen": str(a + b), "rejected": f"{a + b}, i think"}
    for a in range(10)
    for b in range(10)
]
Path("pairs.jsonl").write_text("\n".join(json.dumps(row) for row in rows))
data = load_jsonl("pairs.jsonl", test_fraction=0.2)  # 80 pairs to train on, 20 held out
mine = polyopt.optimize("dpo", data, budget=polyopt.Budget(steps=30), seed=0, **SMALL)
print(f"held-out preference accuracy on my pairs: {mine.metrics['accuracy']:.2f}")

# %% [markdown]
# A preference loss of your own is a few lines against `polyopt.components.PreferenceBatch` and
# `PreferenceParams` (see [writing a plugin](plugin.md)); `reward-model` trains a Bradley-Terry reward
# model on the same pairs, which any policy-gradient trainer then takes as a `reward` by name.
