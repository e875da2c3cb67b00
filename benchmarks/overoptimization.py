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

RL part (``--rl-methods``, empty to skip): with the same reward models, ``grpo`` trains the SFT model for
``--rl-steps`` steps against each proxy (``single`` = member 0, or an ensemble aggregation), KL coefficient
``--rl-kl-coef`` (0: nothing holds the policy near the SFT model), and every ``--rl-every`` steps samples one
completion (temperature 1) for each of ``--eval-prompts`` held-out prompts to log the gold reward, the proxy and
the sequence KL from the SFT model: the sum over the sampled completion's positions of the exact per-token
``KL(pi || sft)`` over the vocabulary (an unbiased estimate of the sequence-level KL).

``--out`` saves every number as JSON; ``--plot`` draws gold and proxy against KL (rows), best-of-n and RL
(columns), single model vs ensembles, from that JSON (``--plot-only`` re-draws without running).

    python benchmarks/overoptimization.py --root /tmp/pref/bench --seeds 3 \
        --out /tmp/overopt.json --plot docs/assets/overoptimization.png
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
        result: Any = polyopt.optimize(  # a TrainerResult
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


def proxies_of(members: list[Any], uwo: float) -> dict[str, Any]:
    """Each proxy as a ``reward`` component: ``single`` (member 0) and one ensemble per aggregation."""
    from polyopt.components import AggregationParams
    from polyopt_plugins.llm.reward_ensemble import RewardEnsemble

    params = AggregationParams(uncertainty_coef=uwo)
    out: dict[str, Any] = {"single": members[0]}
    for key, name in AGGREGATIONS.items():
        out[key] = RewardEnsemble(members, name, params)
    return out


def best_of_n(a: argparse.Namespace, seed: int, sft: str, members: list[Any]) -> dict[str, Any]:
    import polyopt
    from polyopt.components import AggregationParams
    from polyopt_envs.preference import PreferenceSort
    from polyopt_plugins.llm.best_of_n import kl_bound
    from polyopt_plugins.llm.hf import HFPolicy
    from polyopt_plugins.llm.win_rate import complete, gold_scores

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


@torch.no_grad()
def probe(policy: Any, sft: Any, task: Any, batch: Any, proxy: Any, seed: int) -> dict[str, float]:
    """Gold, proxy and sequence KL(policy || sft) of one sample (temperature 1) per held-out prompt."""
    from polyopt_plugins.llm.kl import exact_kl
    from polyopt_plugins.llm.policy import completion_logprobs
    from polyopt_plugins.llm.sampler import SamplingParams, generate
    from polyopt_plugins.llm.sft import decode_completions
    from polyopt_plugins.llm.win_rate import gold_scores

    was_training = policy.training
    policy.eval()
    ids, mask = policy.tokenizer.batch_encode(batch.prompts, torch.device("cpu"))
    gen = generate(
        policy,
        ids,
        mask,
        SamplingParams(max_new_tokens=task.completion_len, temperature=1.0),
        stop_ids=(policy.tokenizer.eos_id,),
        generator=torch.Generator().manual_seed(seed),
    )
    _, full = completion_logprobs(policy, ids, mask, gen.tokens, gen.mask, full=True)
    _, ref = completion_logprobs(sft, ids, mask, gen.tokens, gen.mask, full=True)
    assert full is not None and ref is not None
    kl = (exact_kl(full, ref) * gen.mask).sum(-1)  # (n,)
    texts = decode_completions(policy, gen.tokens, gen.mask)
    policy.train(was_training)
    return {
        "kl": float(kl.mean()),
        "gold": float(gold_scores(task, batch, texts).mean()),
        "proxy": float(proxy(batch.prompts, texts).mean()),
        "length": sum(len(t) for t in texts) / len(texts),
    }


def rl(a: argparse.Namespace, seed: int, sft: str, members: list[Any]) -> dict[str, Any]:
    """``grpo`` against each proxy in ``--rl-methods``, probed every ``--rl-every`` steps."""
    import polyopt
    from polyopt_envs.preference import PreferenceSort
    from polyopt_plugins.llm.hf import HFPolicy

    proxies = proxies_of(members, a.uwo)
    task = PreferenceSort(length=4)
    batch = task.sample(a.eval_prompts, torch.Generator().manual_seed(30_000 + seed))
    ref = HFPolicy.from_pretrained(sft).eval()
    reg = polyopt.registry()
    out: dict[str, Any] = {}
    for key in a.rl_methods:
        name = f"bench.overopt-{key}-seed{seed}"
        if name not in reg.names("reward"):
            reg.add("reward", name, proxies[key], summary="benchmark proxy reward")
        opt = polyopt.make(
            "optimizer",
            "grpo",
            task,
            seed=seed,
            device="cpu",
            model=sft,
            rewards=[name],
            temperature=1.0,
            lr=a.rl_lr,
            kl_coef=a.rl_kl_coef,
            prompts_per_step=8,
            completions_per_prompt=4,
        )
        t0 = time.perf_counter()
        rows = [{"step": 0, **probe(opt.policy, ref, task, batch, proxies[key], 40_000 + seed)}]
        for step in range(1, a.rl_steps + 1):
            opt.step()
            if step % a.rl_every == 0:
                row = probe(opt.policy, ref, task, batch, proxies[key], 40_000 + seed + step)
                rows.append({"step": step, **row})
        seconds = time.perf_counter() - t0
        peak = max(rows, key=lambda r: r["gold"])
        print(
            f"# seed {seed} rl {key}: {seconds:.0f} s; gold {rows[0]['gold']:.3f} -> peak "
            f"{peak['gold']:.3f} (step {peak['step']}, KL {peak['kl']:.2f}) -> {rows[-1]['gold']:.3f} "
            f"(KL {rows[-1]['kl']:.2f}, proxy {rows[-1]['proxy']:.3f}); load {os.getloadavg()[0]:.1f}",
            flush=True,
        )
        out[key] = {"rows": rows, "seconds": seconds}
    return out


def mean_std(values: list[float]) -> str:
    t = torch.tensor(values, dtype=torch.float64)
    return f"{float(t.mean()):.3f} ± {float(t.std()) if t.numel() > 1 else 0.0:.3f}"


def report(results: list[dict[str, Any]], a: argparse.Namespace) -> None:
    if results[0]["bon"]:
        keys = list(results[0]["bon"])
        print("\n| n | KL | " + " | ".join(f"{k} gold | {k} proxy" for k in keys) + " |")
        print("|---|---|" + "---|---|" * len(keys))
        for i, n in enumerate(a.ns):
            cells = [
                mean_std([s["bon"][k][i][f] for s in results])
                for k in keys
                for f in ("gold", "proxy")
            ]
            kl = results[0]["bon"][keys[0]][i]["kl"]
            print(f"| {n} | {kl:.2f} | " + " | ".join(cells) + " |")
    for key in a.rl_methods:
        print(f"\nRL against `{key}` (mean ± std over seeds at each probe):\n")
        print("| step | KL | gold | proxy | length |")
        print("|---|---|---|---|---|")
        for i, row in enumerate(results[0]["rl"][key]["rows"]):
            cells = [mean_std([s["rl"][key]["rows"][i][f] for s in results]) for f in FIELDS]
            print(f"| {row['step']} | " + " | ".join(cells) + " |")


FIELDS = ("kl", "gold", "proxy", "length")
LABELS = {
    "single": "single RM",
    "mean": "ensemble mean",
    "wco": "ensemble WCO",
    "uwo": "ensemble UWO",
}


def plot(data: dict[str, Any], path: str) -> None:
    """Gold (top) and proxy (bottom) against KL from the SFT model, best-of-n (left) and RL (right)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    results = data["results"]
    fig, axes = plt.subplots(
        2, 2, figsize=(10, 7), sharex="col", sharey="row", constrained_layout=True
    )
    colors = {"single": "tab:red", "mean": "tab:blue", "wco": "tab:green", "uwo": "tab:purple"}
    for col, part in enumerate(("bon", "rl")):
        if not results[0][part]:
            continue
        for key, color in colors.items():
            if key not in results[0][part]:
                continue
            runs = [r[part][key]["rows"] if part == "rl" else r[part][key] for r in results]
            kl = torch.tensor([[row["kl"] for row in run] for run in runs]).mean(0)
            for row, field in enumerate(("gold", "proxy")):
                v = torch.tensor([[r[field] for r in run] for run in runs])
                m = v.mean(0)
                s = v.std(0) if len(runs) > 1 else torch.zeros_like(m)
                ax = axes[row][col]
                ax.plot(kl, m, marker="o", ms=3, color=color, label=LABELS[key])
                ax.fill_between(kl, m - s, m + s, color=color, alpha=0.15, lw=0)
    axes[0][0].set_title("best-of-n (KL = log n - (n-1)/n)")
    axes[0][1].set_title("GRPO against the proxy (KL from samples)")
    for col in (0, 1):
        axes[0][col].set_ylabel("gold reward")
        axes[1][col].set_ylabel("proxy reward (standardized)")
        axes[1][col].set_xlabel("KL(policy || SFT), nats")
    for ax in axes[0]:
        if ax.lines:
            ax.legend(loc="lower left", fontsize=8)
            break
    seeds = len(results)
    fig.suptitle(
        f"Reward-model over-optimization on pref-sort: mean ± std over {seeds} seed(s)", fontsize=11
    )
    fig.savefig(path, dpi=110)
    print(f"# wrote {path}")


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
    ap.add_argument(
        "--ns", default="1,2,4,8,16,32,64", help="best-of-n sizes; empty to skip the part"
    )
    ap.add_argument("--rl-methods", default="single,mean,uwo", help="empty to skip the RL part")
    ap.add_argument("--rl-steps", type=int, default=300)
    ap.add_argument("--rl-every", type=int, default=25)
    ap.add_argument("--rl-lr", type=float, default=1e-4)
    ap.add_argument("--rl-kl-coef", type=float, default=0.0)
    ap.add_argument("--eval-prompts", type=int, default=256)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", default="", help="write every number to this JSON file")
    ap.add_argument("--plot", default="", help="draw the figure to this file (PNG or SVG)")
    ap.add_argument("--plot-only", default="", help="re-draw --plot from this JSON; run nothing")
    a = ap.parse_args()
    if a.plot_only:
        if not a.plot:
            sys.exit("--plot-only needs --plot PATH")
        plot(json.loads(Path(a.plot_only).read_text()), a.plot)
        return
    a.ns = [int(x) for x in a.ns.split(",") if x]
    a.rl_methods = [x for x in a.rl_methods.split(",") if x]
    unknown = set(a.rl_methods) - set(LABELS)
    if unknown:
        sys.exit(f"--rl-methods {sorted(unknown)}: expected some of {list(LABELS)}")
    torch.set_num_threads(1)
    os.environ["POLYOPT_THREADS"] = "1"
    print(f"# load before: {os.getloadavg()}; {json.dumps(vars(a))}", flush=True)
    root = Path(a.root) if a.root else Path(os.environ.get("TMPDIR", "/tmp")) / "polyopt-pref"
    if not (root / "sft").exists():
        print(f"# {json.dumps(prepare(root, a.sft_steps))}", flush=True)
    sft = str(root / "sft")
    t0 = time.perf_counter()
    results = []
    for seed in range(a.seeds):
        members = train_members(sft, a.pairs, a.noise, a.members, a.rm_steps, seed)
        bon = best_of_n(a, seed, sft, members) if a.ns else {}
        results.append({"seed": seed, "bon": bon, "rl": rl(a, seed, sft, members)})
        if a.out:  # after every seed, so an interrupted run keeps what it measured
            Path(a.out).write_text(json.dumps({"args": vars(a), "results": results}))
    report(results, a)
    print(f"# {time.perf_counter() - t0:.0f} s; load after: {os.getloadavg()}")
    if a.plot:
        plot({"args": vars(a), "results": results}, a.plot)


if __name__ == "__main__":
    main()
