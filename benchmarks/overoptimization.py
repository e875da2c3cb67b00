"""Reward-model over-optimization at toy scale (Gao et al. 2023; Coste et al. 2023): best-of-n selection by a
learned proxy reward, single model vs ensembles, with the gold reward known.

Protocol: the SFT model of ``preference_vs_trl.py`` (a 0.53 M-parameter char Llama warm-started on pref-sort's mix
of right and corrupted answers; ``--root`` reuses its checkpoint) samples ``max(ns)`` completions at temperature
``--temperature`` for each of ``--prompts`` held-out prompts. ``--members`` Bradley-Terry reward models, each
initialized from the SFT model with its own seed, learn from ``--pairs`` gold-labelled pairs with ``--noise`` of the
labels flipped (a proxy: little, noisy data). For each n, the first n samples of each prompt are ranked by

- ``single``: one reward model (member 0),
- ``mean``, ``wco`` (worst case) and ``uwo`` (mean - lambda var, lambda = ``--uwo``): the ensemble,

and the selected completion's gold and proxy rewards are averaged over prompts. The KL of best-of-n from the SFT
policy is ``log n - (n - 1) / n``. Over-optimization shows as the proxy rising with n while the gold reward
stops rising or falls. Everything repeats over ``--seeds`` (new reward models, new samples).

    python benchmarks/overoptimization.py --root /tmp/pref/bench --seeds 3
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from preference_vs_trl import prepare  # the shared SFT checkpoint

AGGREGATIONS = {"mean": "mean", "wco": "worst-case", "uwo": "uncertainty-weighted"}


def train_members(
    sft: str, pairs: int, noise: float, members: int, steps: int, seed: int
) -> list[Any]:
    import polyopt
    from polyopt_envs.preference import PreferenceSort

    data = PreferenceSort(
        length=4, n_pairs=pairs, n_test=256, label_noise=noise, data_seed=100 + seed
    )
    models = []
    for i in range(members):
        result = polyopt.optimize(
            "reward-model",
            data,
            budget=polyopt.Budget(steps=steps),
            seed=members * seed + i,
            device="cpu",
            verbose=False,
            model=sft,
            lr=1e-4,
            pairs_per_step=32,
            eval_every=0,
        )
        models.append(result.policy)
        print(
            f"# seed {seed} member {i}: held-out pairwise accuracy {result.metrics['accuracy']:.3f}"
        )
    return models


def study(a: argparse.Namespace, seed: int, sft: str) -> dict[str, list[dict[str, float]]]:
    import polyopt
    from polyopt.components import AggregationParams
    from polyopt_envs.preference import PreferenceSort
    from polyopt_plugins.llm.best_of_n import kl_bound
    from polyopt_plugins.llm.hf import HFPolicy
    from polyopt_plugins.llm.win_rate import complete, gold_scores

    members = train_members(sft, a.pairs, a.noise, a.members, a.rm_steps, seed)
    task = PreferenceSort(length=4)
    batch = task.sample(a.prompts, torch.Generator().manual_seed(10_000 + seed))
    n_max = max(a.ns)
    policy = HFPolicy.from_pretrained(sft).eval()
    prompts = [p for p in batch.prompts for _ in range(n_max)]
    texts = complete(
        policy,
        prompts,
        max_new_tokens=task.completion_len,
        temperature=a.temperature,
        generator=torch.Generator().manual_seed(20_000 + seed),
    )
    gold = gold_scores(task, batch.repeat(n_max), texts).view(a.prompts, n_max)
    scores = torch.stack([m(prompts, texts) for m in members], -1).view(a.prompts, n_max, -1)
    params = AggregationParams(uncertainty_coef=a.uwo)
    reg = polyopt.registry()
    proxies = {"single": scores[..., 0]}
    for key, name in AGGREGATIONS.items():
        proxies[key] = reg.get("reward_aggregation", name)(scores, params)
    rows: dict[str, list[dict[str, float]]] = {k: [] for k in proxies}
    for n in a.ns:
        for key, proxy in proxies.items():
            pick = proxy[:, :n].argmax(-1, keepdim=True)  # (prompts, 1)
            rows[key].append(
                {
                    "n": n,
                    "kl": kl_bound(n),
                    "gold": float(gold[:, :n].gather(1, pick).mean()),
                    "proxy": float(proxy[:, :n].gather(1, pick).mean()),
                }
            )
    return rows


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--root", default="")
    ap.add_argument("--sft-steps", type=int, default=600)
    ap.add_argument("--pairs", type=int, default=256)
    ap.add_argument("--noise", type=float, default=0.2)
    ap.add_argument("--members", type=int, default=4)
    ap.add_argument("--rm-steps", type=int, default=150)
    ap.add_argument("--prompts", type=int, default=256)
    ap.add_argument("--temperature", type=float, default=1.0)
    ap.add_argument("--uwo", type=float, default=0.5)
    ap.add_argument("--ns", default="1,2,4,8,16,32,64")
    ap.add_argument("--seeds", type=int, default=3)
    a = ap.parse_args()
    a.ns = [int(x) for x in a.ns.split(",")]
    torch.set_num_threads(1)
    os.environ["POLYOPT_THREADS"] = "1"
    print(f"# load before: {os.getloadavg()}; {json.dumps(vars(a))}", flush=True)
    root = Path(a.root) if a.root else Path(os.environ.get("TMPDIR", "/tmp")) / "polyopt-pref"
    if not (root / "sft").exists():
        print(f"# {json.dumps(prepare(root, a.sft_steps))}", flush=True)
    t0 = time.perf_counter()
    per_seed = [study(a, seed, str(root / "sft")) for seed in range(a.seeds)]
    keys = list(per_seed[0])
    print("\n| n | KL | " + " | ".join(f"{k} gold | {k} proxy" for k in keys) + " |")
    print("|---|---|" + "---|---|" * len(keys))
    for i, n in enumerate(a.ns):
        cells = []
        for key in keys:
            for field in ("gold", "proxy"):
                values = torch.tensor([s[key][i][field] for s in per_seed])
                std = float(values.std()) if len(values) > 1 else 0.0
                cells.append(f"{float(values.mean()):.3f} ± {std:.3f}")
        print(f"| {n} | {per_seed[0][keys[0]][i]['kl']:.2f} | " + " | ".join(cells) + " |")
    print(f"# {time.perf_counter() - t0:.0f} s; load after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
