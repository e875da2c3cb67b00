"""Population MORL on Deep Sea Treasure: polyopt's ``morld`` and ``c-morl`` against MORL-Baselines' ``MORLD``.

Each seed trains, one after the other in the same process: MORL-Baselines' MORL/D (its only discrete-action
member policy, ``MOSACDiscrete``; ``pop_size`` members trained in turn for ``exchange_every`` steps each,
PSA weight adaptation, ``log=False``, ``WANDB_MODE=disabled``) on MO-Gymnasium's ``deep-sea-treasure-v0``;
polyopt's MORL/D (MO-PPO members, all trained at once, PSA) and C-MORL on polyopt's batched Deep Sea
Treasure (checked step for step against MO-Gymnasium's), for the same number of training environment steps
(all members together) and the same population size. Wall time is training plus the evaluations each
algorithm makes during training (MORL-Baselines evaluates its population after every exchange; polyopt after
every ``adapt_every`` iterations / every extension round); then each archive's discounted returns (gamma
0.99; MORL-Baselines' own evaluation of its archive, 5 episodes per policy; polyopt's protocol, 5 episodes of
each greedy policy) give HV against [0, -25], EUM, and how many of the 10 true front points were found.

    WANDB_MODE=disabled .venv/bin/python benchmarks/morld_vs_morl_baselines.py --steps 20000 --seeds 3
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import torch

os.environ.setdefault("WANDB_MODE", "disabled")

GAMMA = 0.99
REF = (0.0, -25.0)


def score(returns: torch.Tensor) -> dict[str, float]:
    """HV/EUM/cardinality of discounted returns, and the number of true front points among them."""
    from polyopt_envs.deep_sea_treasure import DeepSeaTreasure
    from polyopt_plugins.morl.protocol import front_metrics

    known = DeepSeaTreasure().pareto_front(GAMMA).to(torch.float64)
    pts = returns.to(torch.float64)
    metrics = front_metrics(pts, REF, known)
    if pts.shape[0]:
        hit = (torch.cdist(known, pts) < 1e-3).any(1)
        metrics["found"] = float(hit.sum())
    else:
        metrics["found"] = 0.0
    return metrics


def run_morl_baselines(seed: int, steps: int, pop: int, exchange: int) -> dict[str, Any]:
    import mo_gymnasium as mo_gym
    import numpy as np
    from morl_baselines.multi_policy.morld.morld import MORLD

    env = mo_gym.make("deep-sea-treasure-v0")
    eval_env = mo_gym.make("deep-sea-treasure-v0")
    agent = MORLD(
        env,
        policy_name="MOSACDiscrete",
        pop_size=pop,
        exchange_every=exchange,
        gamma=GAMMA,
        weight_adaptation_method="PSA",
        log=False,
        seed=seed,
        device="cpu",
    )
    start = time.perf_counter()
    agent.train(
        total_timesteps=steps,
        eval_env=eval_env,
        ref_point=np.array(REF),
        num_eval_episodes_for_front=5,
        checkpoints=False,
    )
    seconds = time.perf_counter() - start
    returns = torch.tensor(np.array(agent.archive.evaluations), dtype=torch.float64).reshape(-1, 2)
    return {"seconds": seconds, "steps": agent.global_step, **score(returns)}


def run_polyopt(name: str, seed: int, steps: int, config: dict[str, Any]) -> dict[str, Any]:
    import polyopt
    from polyopt_envs.deep_sea_treasure import DeepSeaTreasure

    opt = polyopt.make(
        "optimizer", name, DeepSeaTreasure(num_envs=4), seed=seed, device="cpu", **config
    )
    opt.env_step_limit = steps  # the learning-rate schedule's horizon and C-MORL's stage split
    per_step = config["rollout_steps"] * config["pop_size"] * 4
    start = time.perf_counter()
    while opt.n_env_steps + per_step <= steps:  # never more steps than MORL-Baselines
        opt.step()
    seconds = time.perf_counter() - start
    result = opt.result()
    return {
        "seconds": seconds,
        "steps": opt.n_env_steps,
        "eval_steps": int(result.metrics["n_eval_env_steps"]),
        **score(result.returns.to(torch.float64)),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--pop", type=int, default=6, help="population size of all three")
    parser.add_argument(
        "--exchange", type=int, default=2_000, help="MORL-Baselines' exchange_every"
    )
    parser.add_argument(
        "--rollout", type=int, default=32, help="polyopt's rollout steps per iteration"
    )
    parser.add_argument("--beta", type=float, default=0.3, help="C-MORL's constraint relaxation")
    parser.add_argument("--runs", default="morl-baselines,morld,c-morl")
    args = parser.parse_args()
    torch.set_num_threads(1)  # as polyopt.run does; MORL-Baselines is single-threaded at this size
    shared = {"pop_size": args.pop, "rollout_steps": args.rollout, "gamma": GAMMA}
    configs = {
        "morld": {**shared, "adapt_every": 5},
        "c-morl": {**shared, "beta": args.beta, "extension_iters": 5},
    }
    rows: dict[str, list[dict[str, Any]]] = {}
    for seed in range(args.seeds):
        for run in args.runs.split(","):
            if run == "morl-baselines":
                out = run_morl_baselines(seed, args.steps, args.pop, args.exchange)
            else:
                out = run_polyopt(run, seed, args.steps, configs[run])
            rows.setdefault(run, []).append(out)
            print(
                f"seed {seed} {run:15s} {out['seconds']:7.1f} s  steps {out['steps']}  "
                f"HV {out['hypervolume']:7.2f}  EUM {out['eum']:6.3f}  found {out['found']:.0f}/10  "
                f"cardinality {out['cardinality']:.0f}",
                flush=True,
            )
    print("\nmedians over seeds:")
    for run, outs in rows.items():

        def med(key: str, outs: list[dict[str, Any]] = outs) -> float:
            return float(torch.tensor([o[key] for o in outs], dtype=torch.float64).median())

        per_1e5 = med("seconds") / med("steps") * 1e5
        print(
            f"{run:15s} {med('seconds'):7.1f} s ({per_1e5:7.0f} s per 1e5 steps)  HV {med('hypervolume'):7.2f}"
            f"  EUM {med('eum'):6.3f}  found {med('found'):.0f}/10"
        )


if __name__ == "__main__":
    main()
