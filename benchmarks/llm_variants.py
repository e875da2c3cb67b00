"""The llm trainer's axes and GRPO variants (issue 19) on issue 5's protocol: the same 0.53 M-parameter char Llama
warm-started with polyopt's SFT helper on 2-digit addition, 16 prompts x 8 completions per step, polyopt's default
learning rate and temperature, greedy accuracy on all 10,000 prompts of the task (and on 512 sampled ones).

    # every axis at its default changes nothing: the code before issue 19 (a `git archive` of it) and HEAD,
    # seed by seed and alternating, on one SFT checkpoint; accuracy must match exactly, s/step within 5 %
    git archive e47a42c core plugins envs | tar -x -C /tmp/base
    python benchmarks/llm_variants.py --base /tmp/base --steps 300 --seeds 3 --only grpo
    # variants vs plain GRPO from the weaker warm start (450 SFT steps)
    python benchmarks/llm_variants.py --sft-steps 450 --steps 300 --seeds 3 --only grpo,gold,relift,scaf
    # replay: 10 fresh groups + 6 replayed vs 16 fresh (and 10 fresh alone); --sft-dir keeps the checkpoint
    python benchmarks/llm_variants.py --steps 300 --seeds 3 --only grpo,replay,grpo-10 --sft-dir /tmp/ck
    # replay from the weak start, where it matched GRPO at 37.5 % fewer completions (RESULTS.md)
    python benchmarks/llm_variants.py --sft-steps 450 --steps 300 --seeds 5 --only grpo,replay-selective-once,grpo-10

Each run is a child process (``--base``/``--head`` runs put that source tree first on ``PYTHONPATH``, so the
checkout can change while a benchmark runs); one process run prints every table. Reported per run: greedy
accuracy on all prompts and on 512 sampled ones, seconds per step and the process's CPU seconds per step (first
step excluded; CPU time is the steadier measure on a loaded machine), generated completions, and the final
weights' checksum (equal runs are equal bit for bit).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).parent))
from llm_vs_trl import all_prompts_accuracy, held_out, prepare  # issue 5's protocol

PROMPTS, GROUP = 16, 8

#: name -> config overrides of the default trainer (GRPO at polyopt's defaults)
VARIANTS: dict[str, dict[str, Any]] = {
    "grpo": {},
    "grpo-10": {"prompts_per_step": 10},
    "replay": {"prompts_per_step": 10, "replay": "recent", "replay_options": {"groups": 6}},
    "replay-selective": {
        "prompts_per_step": 10,
        "replay": "selective",
        "replay_options": {"groups": 6},
    },
    "replay-age1": {
        "prompts_per_step": 10,
        "replay": "recent",
        "replay_options": {"groups": 6, "max_age": 1},
    },
    "replay-selective-once": {
        "prompts_per_step": 10,
        "replay": "selective",
        "replay_options": {"groups": 6, "once": True},
    },
    "replay-selective-age1": {
        "prompts_per_step": 10,
        "replay": "selective",
        "replay_options": {"groups": 6, "max_age": 1},
    },
    "qae": {"advantage": "qae"},
    "mapo": {"advantage": "mapo"},
    "pass-at-k": {"advantage": "pass-at-k"},
    "s-grpo": {"advantage": "s-grpo"},
    "entropy-adv": {"advantage_shaping": "entropy-advantage"},
    "edge": {"advantage_shaping": "edge"},
    "gmpo": {"policy_loss": "gmpo"},
    "gvpo": {"advantage": "dr-grpo", "policy_loss": "gvpo"},
    "rebel": {"advantage": "dr-grpo", "policy_loss": "rebel"},
    "copg": {"advantage": "dr-grpo", "policy_loss": "copg"},
    "dcpo": {
        "advantage_shaping": "dcpo-sas",
        "clip_range": "dcpo",
        "policy_loss": "clip-higher",
        "clip_low": 0.16,
        "loss_aggregation": "token-mean",
        "update_epochs": 2,
    },
    "bapo": {"clip_range": "bapo", "policy_loss": "clip-higher", "update_epochs": 2},
    "mopps": {"prompt_sampler": "mopps"},
    "gfpo": {"prompt_sampler": "gfpo"},
    "scaf": {"guidance": "scaf-hints"},
    "gold": {"guidance": "gold"},
    "relift": {"guidance": "relift"},
    "entropy-bonus": {"entropy_coef": 0.01},
    "vas": {"prompt_sampler": "vas"},
    "knapsack": {"prompt_sampler": "knapsack"},
    "aapo": {"advantage": "aapo", "loss_aggregation": "token-mean"},
}


def run(name: str, model: str, steps: int, seed: int) -> dict[str, Any]:
    import polyopt
    from polyopt_envs.text import Addition

    config = {"prompts_per_step": PROMPTS, "completions_per_prompt": GROUP, **VARIANTS[name]}
    opt = polyopt.make(
        "optimizer", "grpo", Addition(n_digits=2), seed=seed, device="cpu", model=model, **config
    )
    times, cpu, rows = [], [], []
    for _ in range(steps):
        t0, c0 = time.perf_counter(), time.process_time()
        rows.append(opt.step())
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
    keep = times[1:] if steps > 1 else times
    keep_cpu = cpu[1:] if steps > 1 else cpu
    policy = opt.policy.eval()
    checksum = sum(float(p.double().sum()) for p in policy.parameters())
    return {
        "s_per_step": sum(keep) / len(keep),
        "cpu_s_per_step": sum(keep_cpu) / len(keep_cpu),
        "completions": opt.n_env_steps,
        "accuracy": held_out(policy),
        "accuracy_all": all_prompts_accuracy(policy),
        "checksum": checksum,
        "entropy_last": rows[-1].get("entropy", float("nan")),
    }


def child(name: str, model: str, steps: int, seed: int, base: str) -> dict[str, Any]:
    """One run in a child process; ``base`` a source tree to run instead of the installed one."""
    cmd = [sys.executable, __file__, "--child", name, "--model", model]
    cmd += ["--steps", str(steps), "--seed", str(seed)]
    env = dict(os.environ, POLYOPT_THREADS="1")
    if base:
        roots = [f"{base}/{root}" for root in ("core", "plugins", "envs")]
        env["PYTHONPATH"] = os.pathsep.join([*roots, env.get("PYTHONPATH", "")])
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if proc.returncode:
        lines = proc.stderr.strip().splitlines()
        return {"error": lines[-1] if lines else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--sft-steps", type=int, default=500)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--first-seed", type=int, default=0)
    ap.add_argument("--only", default="grpo")
    ap.add_argument("--base", default="", help="a source tree of another commit, run beside HEAD")
    ap.add_argument(
        "--head", default="", help="a source tree to run as HEAD (default: the checkout)"
    )
    ap.add_argument(
        "--sft-dir",
        default="",
        help="reuse the SFT checkpoint of an earlier invocation's folder (made there if missing)",
    )
    ap.add_argument("--child", default="")
    ap.add_argument("--model", default="")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(1)
    if a.child:
        print(json.dumps(run(a.child, a.model, a.steps, a.seed)))
        return
    unknown = [n for n in a.only.split(",") if n not in VARIANTS]
    if unknown:
        raise SystemExit(f"--only: unknown {unknown}; expected among {sorted(VARIANTS)}")
    root = Path(a.sft_dir or tempfile.mkdtemp())
    if (root / "sft").is_dir():
        print(f"# reusing the SFT checkpoint {root / 'sft'}", flush=True)
    else:
        info = prepare(root, a.sft_steps, 128, 2)
        print(
            f"# SFT {a.sft_steps} steps: greedy accuracy {info['sft_accuracy_all']:.4f} (all "
            f"prompts), {info['sft_accuracy']:.3f} (512)",
            flush=True,
        )
    print(f"# {PROMPTS} x {GROUP}, {a.steps} steps, load {os.getloadavg()[0]:.1f}", flush=True)
    results: dict[tuple[str, str], list[dict[str, Any]]] = {}
    sides = [("base", a.base), ("head", a.head)] if a.base else [("head", a.head)]
    for seed in range(a.first_seed, a.first_seed + a.seeds):
        for name in a.only.split(","):
            for side, base in sides:  # alternate, so load hits both alike
                out = child(name, str(root / "sft"), a.steps, seed, base)
                results.setdefault((name, side), []).append({"seed": seed, **out})
                print(name, side, seed, json.dumps(out), flush=True)
    print(
        "\n| run | code | seeds | accuracy, all prompts | median | 512 prompts (median) | s/step "
        "(median) | CPU s/step (median) | completions |"
    )
    print("|---|---|---|---|---|---|---|---|---|")
    for (name, side), rows in results.items():
        ok = [r for r in rows if "error" not in r]
        if not ok:
            print(f"| {name} | {side} | error: {rows[0]['error'][:80]} |")
            continue
        accs = ", ".join(f"{r['accuracy_all']:.4f}" for r in ok)
        print(
            f"| {name} | {side} | {','.join(str(r['seed']) for r in ok)} | {accs} | "
            f"{statistics.median(r['accuracy_all'] for r in ok):.4f} | "
            f"{statistics.median(r['accuracy'] for r in ok):.3f} | "
            f"{statistics.median(r['s_per_step'] for r in ok):.3f} | "
            f"{statistics.median(r['cpu_s_per_step'] for r in ok):.3f} | {ok[0]['completions']} |"
        )


if __name__ == "__main__":
    main()
