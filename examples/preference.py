"""Preference learning on your own data: pairs in a JSON-lines file, DPO and a loss of your own, and a
Bradley-Terry reward model that any trainer can then use as a reward.

Runs in about half a minute on one CPU core (a one-layer tiny model, 50 warm-start and 30 training steps).
"""

import json
import tempfile
from pathlib import Path

import torch

import polyopt
from polyopt.components import preference_needs
from polyopt_envs.preference import load_jsonl

# 1. your data: one JSON object per line, {"prompt", "chosen", "rejected"} (TRL's layout; see load_jsonl)
# (here: the plain sum is preferred to one with a chatty tail)
rows = [
    {"prompt": f"{a}+{b}=", "chosen": str(a + b), "rejected": f"{a + b}, i think"}
    for a in range(10)
    for b in range(10)
]
path = Path(tempfile.mkdtemp()) / "pairs.jsonl"
path.write_text("\n".join(json.dumps(r) for r in rows))
data = load_jsonl(path, test_fraction=0.2)  # 80 training pairs, 20 held out


# 2. a loss of your own: a few lines against the public PreferenceBatch / PreferenceParams
@preference_needs("reference")
def margin_hinge(batch, params):
    chosen, rejected = batch.logratios()  # log pi/ref of each side, one value per pair
    return torch.relu(params.options.get("margin", 1.0) - params.beta * (chosen - rejected))


polyopt.registry().add("preference_loss", "my-hinge", margin_hinge)

small = {
    "n_layer": 1,
    "d_model": 32,
    "n_head": 2,
    "sft_steps": 50,
    "lr": 1e-3,
    "pairs_per_step": 16,
}
for loss in ("dpo", "my-hinge"):
    result = polyopt.optimize(
        "dpo", data, budget=polyopt.Budget(steps=30), seed=0, loss=loss, verbose=False, **small
    )
    print(f"{loss}: held-out preference accuracy {result.metrics['accuracy']:.2f}")

# 3. a reward model on the same pairs, then used by name as a reward of any trainer
rm = polyopt.optimize(
    "reward-model",
    data,
    budget=polyopt.Budget(steps=30),
    seed=0,
    verbose=False,
    n_layer=1,
    d_model=32,
    n_head=2,
    lr=1e-3,
    pairs_per_step=16,
).policy
polyopt.registry().add("reward", "my-rm", rm)
scores = rm(["2+2=", "2+2="], ["4", "4, i think"])
print(f"reward of '2+2=4' {float(scores[0]):.2f}, of '2+2=4, i think' {float(scores[1]):.2f}")
