"""Online and constrained multi-reward training at toy scale (issue 18): iterative DPO vs offline DPO, reward
thresholds with Lagrange multipliers (``constrained-grpo``), and dynamic vs static reward weights.

Every run starts from the SFT checkpoint of ``benchmarks/preference_vs_trl.py`` (a 0.53 M-parameter char Llama
warm-started on ``pref-sort``'s mix of right and near-miss answers; made there, or here when ``--root`` has none)
on sorting four digits, with one torch thread; seeds 0..n-1, the methods of a part interleaved seed by seed.

    python benchmarks/online_preference.py --part iterative --seeds 3 --root /tmp/pref/bench
    python benchmarks/online_preference.py --part constrained --seeds 3 --root /tmp/pref/bench
    python benchmarks/online_preference.py --part weighting --seeds 3 --root /tmp/pref/bench
    python benchmarks/online_preference.py --part judge --seeds 3 --root /tmp/pref/bench

iterative: offline ``dpo`` on the task's 2,048 fixed pairs vs ``iterative-dpo`` (rounds of on-policy pairs: the
best and worst of 4 samples of 256 prompts under the gold reward), both 32 pairs per step, lr 1e-5, beta 0.1,
the same steps; win rate of one sampled completion (temperature 1) against the SFT model's on 512 prompts under
the gold reward (ties 1/2), as the offline losses' win rates in RESULTS.md.

constrained: rewards exact-match and brevity (``-len/10``) with weights (0, 1) — make answers short — and the
constraint mean exact-match >= ``--threshold``: ``constrained-grpo`` vs ``grpo`` with the same weights and no
constraint. Reported: the held-out means (256 prompts, one sample each at temperature 1), whether the
constraint holds there, and the exact-match multiplier over training.

weighting: the same two rewards with weights (1, 1), ``reward_weighting`` static vs ``hypervolume`` vs
``gradient`` (per-reward policy gradients) vs ``mgda`` (``--methods`` picks others, e.g. ``advantage-influence``;
``--options`` sets ``reward_weighting_options`` as JSON; ``--normalization per-reward`` normalizes each reward in
its group first): the held-out mean reward vector, its hypervolume against the reference point (0, -0.8), the
hypervolume of the run's reward front (its non-dominated training steps), the final weights and s/step.

selfplay: ``grpo`` on one reward, ``partial-credit`` (pointwise) vs ``win-rate`` (each completion's win rate
against the other completions of its prompt under partial-credit: DNO/SPPO-style self-play); held-out
exact-match and partial-credit.

judge: training judged by a learned reward model instead of the gold reward. Each seed first trains a
``reward-model`` (Bradley-Terry, from the SFT checkpoint, lr 1e-4, ``--rm-steps`` steps of 32 of ``pref-sort``'s
2,048 synthetic pairs; the held-out pairwise accuracy is printed), then runs ``iterative-dpo`` judged by the gold
reward vs by the reward model (as the iterative part), and ``grpo`` on ``pref-sort`` (8 prompts x 4 completions,
lr 3e-5) rewarded by the gold reward vs the reward model's scores vs a pairwise judge: each completion's win rate
against its group under the reward model read as a preference model, ``sigmoid(r(a) - r(b))``. Reported: the
gold win rate of one sample (temperature 1) against the SFT model's on 512 prompts, as the iterative part.
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

REF = (0.0, -0.8)  # hypervolume reference point of (exact-match, brevity), maximized


def sort_task() -> Any:
    from polyopt_envs.text import SortDigits

    return SortDigits(length=4)


def held_out(policy: Any, rewards: list[str], seed: int, n: int = 256) -> list[float]:
    """Mean of each reward over one sampled completion (temperature 1) of ``n`` prompts of a seeded draw."""
    import polyopt
    from polyopt_plugins.llm.win_rate import complete

    task = sort_task()
    batch = task.sample(n, torch.Generator().manual_seed(2000 + seed))
    policy.eval()
    texts = complete(
        policy,
        batch.prompts,
        max_new_tokens=task.completion_len,
        temperature=1.0,
        generator=torch.Generator().manual_seed(3000 + seed),
    )
    reg = polyopt.registry()
    return [
        float(reg.get("reward", r)(batch.prompts, texts, **batch.fields).mean()) for r in rewards
    ]


def hv(points: torch.Tensor) -> float:
    from polyopt.metrics import hypervolume

    ref = torch.tensor(REF, dtype=torch.float64)
    return hypervolume(-points.to(torch.float64), -ref)


def train(opt: Any, steps: int) -> tuple[list[dict[str, float]], float]:
    t0 = time.perf_counter()
    metrics = [opt.step() for _ in range(steps)]
    return metrics, time.perf_counter() - t0


# -- parts -----------------------------------------------------------------------------------------------------


def run_iterative(model: str, method: str, seed: int, steps: int) -> dict[str, Any]:
    import polyopt
    from polyopt_envs.preference import PreferenceSort
    from polyopt_plugins.llm.hf import HFPolicy
    from polyopt_plugins.llm.win_rate import win_rate

    task = PreferenceSort(length=4, n_pairs=2048, n_test=256)
    common = {"model": model, "lr": 1e-5, "pairs_per_step": 32, "beta": 0.1}
    if method == "dpo":
        opt = polyopt.make(
            "optimizer", "dpo", task, seed=seed, device="cpu", eval_every=0, **common
        )
    else:
        opt = polyopt.make(
            "optimizer",
            "iterative-dpo",
            task,
            seed=seed,
            device="cpu",
            prompts_per_round=256,
            completions_per_prompt=4,
            steps_per_round=max(steps // 10, 1),
            **common,
        )
    metrics, seconds = train(opt, steps)
    sft = HFPolicy.from_pretrained(model).eval()
    out = win_rate(opt.policy.eval(), sft, task, n=512, temperature=1.0, seed=1000 + seed)
    rounds = [m["round/pairs"] for m in metrics if "round/pairs" in m]
    judge = [m["round/judge"] for m in metrics if "round/judge" in m]
    return {**out, "seconds": seconds, "round_pairs": rounds, "round_judge": judge}


def run_constrained(
    model: str, method: str, seed: int, steps: int, threshold: float, lr: float
) -> dict[str, Any]:
    import polyopt

    rewards = ["exact-match", "brevity"]
    extra = {"reward_thresholds": [threshold, None]} if method == "constrained-grpo" else {}
    opt = polyopt.make(
        "optimizer",
        method,
        sort_task(),
        seed=seed,
        device="cpu",
        model=model,
        rewards=rewards,
        reward_weights=[0.0, 1.0],
        temperature=1.0,
        lr=lr,
        prompts_per_step=8,
        completions_per_prompt=4,
        **extra,
    )
    metrics, seconds = train(opt, steps)
    lam = [m.get("lambda/exact-match", 0.0) for m in metrics]
    exact = [m["reward/exact-match"] for m in metrics]
    return {
        "held_out": held_out(opt.policy, rewards, seed),
        "lambda": lam,
        "train_exact": exact,
        "seconds": seconds,
    }


def run_weighting(
    model: str,
    method: str,
    seed: int,
    steps: int,
    lr: float,
    normalization: str,
    options: dict[str, Any],
) -> dict[str, Any]:
    import polyopt

    rewards = ["exact-match", "brevity"]
    opt = polyopt.make(
        "optimizer",
        "grpo",
        sort_task(),
        seed=seed,
        device="cpu",
        model=model,
        rewards=rewards,
        reward_weights=[1.0, 1.0],
        reward_weighting=method,
        reward_weighting_options=options if method != "static" else None,
        reward_normalization=normalization,
        multi_objective=True,
        temperature=1.0,
        lr=lr,
        prompts_per_step=8,
        completions_per_prompt=4,
    )
    metrics, seconds = train(opt, steps)
    front = opt.result().returns
    point = held_out(opt.policy, rewards, seed)
    return {
        "held_out": point,
        "held_out_hv": hv(torch.tensor([point])),
        "front_hv": hv(front),
        "front_size": int(front.shape[0]),
        "weights": [metrics[-1].get(f"weight/{r}", 1.0) for r in rewards],
        "seconds": seconds,
        "s_per_step": seconds / steps,
    }


def train_judge(model: str, seed: int, steps: int) -> Any:
    """A Bradley-Terry reward model on pref-sort's synthetic pairs, from the SFT checkpoint."""
    import polyopt
    from polyopt_envs.preference import PreferenceSort

    result: Any = polyopt.optimize(  # a TrainerResult
        "reward-model",
        PreferenceSort(length=4, n_pairs=2048, n_test=256),
        budget=polyopt.Budget(steps=steps),
        seed=seed,
        device="cpu",
        verbose=False,
        model=model,
        lr=1e-4,
        pairs_per_step=32,
        eval_every=0,
    )
    print(
        f"# seed {seed}: reward model held-out pairwise accuracy {result.metrics['accuracy']:.3f}"
    )
    return result.policy


def run_judge(model: str, method: str, seed: int, steps: int, lr: float) -> dict[str, Any]:
    """``method`` is ``<trainer>:<judge>``: ``iterative-dpo`` or ``grpo``, judged by ``gold``, ``rm`` (the
    registered ``bench.rm-seed<seed>``) or ``rm-pairwise`` (``bench.rm-pairwise-seed<seed>``)."""
    import polyopt
    from polyopt_envs.preference import PreferenceSort
    from polyopt_plugins.llm.hf import HFPolicy
    from polyopt_plugins.llm.win_rate import win_rate

    trainer, judge = method.split(":")
    task = PreferenceSort(length=4, n_pairs=2048, n_test=256)
    name = "" if judge == "gold" else f"bench.{judge}-seed{seed}"
    if trainer == "iterative-dpo":
        opt = polyopt.make(
            "optimizer",
            "iterative-dpo",
            task,
            seed=seed,
            device="cpu",
            model=model,
            lr=1e-5,
            pairs_per_step=32,
            beta=0.1,
            prompts_per_round=256,
            completions_per_prompt=4,
            steps_per_round=max(steps // 10, 1),
            judge=name,
        )
    else:
        opt = polyopt.make(
            "optimizer",
            "grpo",
            task,
            seed=seed,
            device="cpu",
            model=model,
            rewards=[name] if name else None,
            temperature=1.0,
            lr=lr,
            prompts_per_step=8,
            completions_per_prompt=4,
        )
    _, seconds = train(opt, steps)
    sft = HFPolicy.from_pretrained(model).eval()
    out = win_rate(opt.policy.eval(), sft, task, n=512, temperature=1.0, seed=1000 + seed)
    return {**out, "seconds": seconds}


def run_selfplay(model: str, method: str, seed: int, steps: int, lr: float) -> dict[str, Any]:
    import polyopt

    opt = polyopt.make(
        "optimizer",
        "grpo",
        sort_task(),
        seed=seed,
        device="cpu",
        model=model,
        rewards=[method],
        temperature=1.0,
        lr=lr,
        prompts_per_step=8,
        completions_per_prompt=4,
    )
    _, seconds = train(opt, steps)
    return {
        "held_out": held_out(opt.policy, ["exact-match", "partial-credit"], seed),
        "seconds": seconds,
    }


# -- report ----------------------------------------------------------------------------------------------------


def mean_std(values: list[float]) -> str:
    t = torch.tensor(values, dtype=torch.float64)
    std = float(t.std()) if t.numel() > 1 else 0.0
    return f"{float(t.mean()):.3f} ± {std:.3f}"


def report(part: str, results: dict[str, list[dict[str, Any]]], args: argparse.Namespace) -> None:
    if part in ("iterative", "judge"):
        print("\n| method | win rate vs SFT (seeds) | mean | gold | length | s |")
        print("|---|---|---|---|---|---|")
        for method, rs in results.items():
            wins = [r["win_rate"] for r in rs]
            print(
                f"| {method} | {', '.join(f'{w:.3f}' for w in wins)} | {mean_std(wins)} | "
                f"{mean_std([r['gold'] for r in rs])} | {mean_std([r['length'] for r in rs])} | "
                f"{mean_std([r['seconds'] for r in rs])} |"
            )
        for r in results.get("iterative-dpo", []):
            print(
                "pairs per round",
                r["round_pairs"],
                "judge per round",
                [round(j, 3) for j in r["round_judge"]],
            )
    elif part == "constrained":
        print(
            f"\n| method | held-out exact-match | held-out brevity | exact >= {args.threshold} (seeds) | "
            "lambda at 25/50/75/100 % of steps | s |"
        )
        print("|---|---|---|---|---|---|")
        for method, rs in results.items():
            met = ["yes" if r["held_out"][0] >= args.threshold else "no" for r in rs]
            n = len(rs[0]["lambda"])
            marks = [max(int(n * q) - 1, 0) for q in (0.25, 0.5, 0.75, 1.0)]
            lam = " / ".join(mean_std([r["lambda"][i] for r in rs]) for i in marks)
            print(
                f"| {method} | {mean_std([r['held_out'][0] for r in rs])} | "
                f"{mean_std([r['held_out'][1] for r in rs])} | {', '.join(met)} | {lam} | "
                f"{mean_std([r['seconds'] for r in rs])} |"
            )
    elif part == "selfplay":
        print("\n| reward | held-out exact-match | held-out partial-credit | s |")
        print("|---|---|---|---|")
        for method, rs in results.items():
            print(
                f"| {method} | {mean_std([r['held_out'][0] for r in rs])} | "
                f"{mean_std([r['held_out'][1] for r in rs])} | {mean_std([r['seconds'] for r in rs])} |"
            )
    else:
        print(
            "\n| weighting | held-out exact-match | held-out brevity | held-out HV | training-front HV | "
            "front size | final weights | s/step |"
        )
        print("|---|---|---|---|---|---|---|---|")
        for method, rs in results.items():
            w = torch.tensor([r["weights"] for r in rs]).mean(0).tolist()
            print(
                f"| {method} | {mean_std([r['held_out'][0] for r in rs])} | "
                f"{mean_std([r['held_out'][1] for r in rs])} | "
                f"{mean_std([r['held_out_hv'] for r in rs])} | {mean_std([r['front_hv'] for r in rs])} | "
                f"{mean_std([float(r['front_size']) for r in rs])} | "
                f"{w[0]:.2f}, {w[1]:.2f} | {mean_std([r['s_per_step'] for r in rs])} |"
            )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument(
        "--part",
        choices=("iterative", "constrained", "weighting", "selfplay", "judge"),
        required=True,
    )
    ap.add_argument("--methods", default="", help="comma-separated; default: the part's own")
    ap.add_argument(
        "--options", default="{}", help="weighting part: reward_weighting_options (JSON)"
    )
    ap.add_argument("--rm-steps", type=int, default=200, help="judge part: reward-model steps")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--steps", type=int, default=0, help="0: 200 (iterative), 150 (the others)")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--lr", type=float, default=3e-5, help="constrained and weighting parts")
    ap.add_argument("--normalization", default="none", help="weighting part: reward_normalization")
    ap.add_argument("--root", default="/tmp/pref/bench")
    args = ap.parse_args()
    torch.set_num_threads(1)
    root = Path(args.root)
    if not (root / "sft").is_dir():
        from preference_vs_trl import prepare

        root.mkdir(parents=True, exist_ok=True)
        info = prepare(root, 600)
        (root / "info.json").write_text(json.dumps(info))
    model = str(root / "sft")
    steps = args.steps or (200 if args.part == "iterative" else 150)
    methods = (
        args.methods.split(",")
        if args.methods
        else {
            "iterative": ["dpo", "iterative-dpo"],
            "constrained": ["grpo", "constrained-grpo"],
            "weighting": ["static", "hypervolume", "gradient", "mgda"],
            "selfplay": ["partial-credit", "win-rate"],
            "judge": [
                "iterative-dpo:gold",
                "iterative-dpo:rm",
                "grpo:gold",
                "grpo:rm",
                "grpo:rm-pairwise",
            ],
        }[args.part]
    )
    print(f"load before: {os.getloadavg()}", flush=True)
    results: dict[str, list[dict[str, Any]]] = {m: [] for m in methods}
    for seed in range(args.seeds):
        if args.part == "judge":
            import polyopt
            from polyopt_plugins.llm.win_reward import WinRate

            rm = train_judge(model, seed, args.rm_steps)
            reg = polyopt.registry()
            for name, fn in (("rm", rm), ("rm-pairwise", WinRate.from_reward(rm, 1.0))):
                reg.add("reward", f"bench.{name}-seed{seed}", fn, summary="benchmark judge")
        for method in methods:
            if args.part == "judge":
                trainer = method.split(":")[0]
                iters = args.steps or (200 if trainer == "iterative-dpo" else 150)
                r = run_judge(model, method, seed, iters, args.lr)
            elif args.part == "iterative":
                r = run_iterative(model, method, seed, steps)
            elif args.part == "selfplay":
                r = run_selfplay(model, method, seed, steps, args.lr)
            elif args.part == "constrained":
                r = run_constrained(model, method, seed, steps, args.threshold, args.lr)
            else:
                options = json.loads(args.options)
                r = run_weighting(model, method, seed, steps, args.lr, args.normalization, options)
            results[method].append(r)
            short = {k: v for k, v in r.items() if not isinstance(v, list) or len(v) <= 3}
            print(
                f"{method} seed {seed}: {json.dumps(short)} load {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    print(f"load after: {os.getloadavg()}")
    report(args.part, results, args)


if __name__ == "__main__":
    main()
