"""Envelope Q-learning on Deep Sea Treasure: polyopt's ``envelope`` against MORL-Baselines' ``Envelope``.

Both train on Deep Sea Treasure (polyopt's batched torch version, checked step for step against MO-Gymnasium's
``deep-sea-treasure-v0``, which MORL-Baselines steps) for the same number of environment steps, with the same
seeds and the same hyperparameters where both have them (network, learning rate, batch, gamma, epsilon
schedule, target copies, sampled preferences; MORL-Baselines' prioritized replay is off because polyopt has
none). MORL-Baselines logs nothing (``log=False``, ``WANDB_MODE=disabled``). Training time is measured without
evaluation; then both policies are evaluated by the same protocol (polyopt_plugins.morl.protocol: 100 evenly
spread preferences x 5 episodes, discounted returns at gamma 0.99, HV against [0, -25]) and the number of the
10 true front points found is counted.

``--runs pd-morl`` trains polyopt's PD-MORL on the same environment, steps and seeds (its own defaults, the
authors' Deep Sea Treasure settings: epsilon 0.8 -> 0.05, soft targets, hindsight preferences, key solutions
from the known front; network, learning rate, batch and gamma shared), evaluated the same way.
``--per`` turns on prioritized replay on both Envelopes (MORL-Baselines' default).

The replay ratios differ unless ``--num-envs 1 --updates 1``: MORL-Baselines makes one update per environment
step; polyopt makes ``updates`` updates per step of ``num_envs`` environments. Say which when quoting.

    WANDB_MODE=disabled .venv/bin/python benchmarks/morl_vs_morl_baselines.py --steps 20000 --seeds 1
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


def shared_config(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "learning_rate": args.lr,
        "hidden_sizes": [args.width] * args.depth,
        "batch_size": args.batch,
        "gamma": GAMMA,
        "initial_epsilon": args.eps_start,
        "final_epsilon": args.eps_end,
        "epsilon_decay_steps": args.eps_decay,
        "learning_starts": 100,
        "target_update_every": 200,
        "num_sample_w": 4,
        "per": args.per,
    }


def evaluate(act: Any) -> dict[str, float]:
    from polyopt_envs.deep_sea_treasure import DeepSeaTreasure
    from polyopt_plugins.morl.protocol import (
        equally_spaced_weights,
        evaluate_preferences,
        front_metrics,
    )

    env = DeepSeaTreasure()
    ev = evaluate_preferences(
        act, env, equally_spaced_weights(2, 100), episodes=5, gamma=GAMMA, seed=0
    )
    true = env.pareto_front(GAMMA).double()
    metrics = front_metrics(ev["discounted"], REF, true)
    found = (torch.cdist(true, ev["discounted"]).min(1).values < 1e-3).sum()
    metrics["true_points_found"] = float(found)
    return metrics


def run_morl_baselines(seed: int, steps: int, cfg: dict[str, Any]) -> dict[str, Any]:
    import mo_gymnasium as mo_gym
    from morl_baselines.multi_policy.envelope.envelope import Envelope

    torch.manual_seed(seed)
    agent = Envelope(
        mo_gym.make("deep-sea-treasure-v0"),
        learning_rate=cfg["learning_rate"],
        initial_epsilon=cfg["initial_epsilon"],
        final_epsilon=cfg["final_epsilon"],
        epsilon_decay_steps=cfg["epsilon_decay_steps"],
        target_net_update_freq=cfg["target_update_every"],
        net_arch=cfg["hidden_sizes"],
        batch_size=cfg["batch_size"],
        learning_starts=cfg["learning_starts"],
        gamma=cfg["gamma"],
        max_grad_norm=None,
        num_sample_w=cfg["num_sample_w"],
        per=cfg["per"],
        log=False,
        seed=seed,
        device="cpu",
    )
    start = time.perf_counter()
    cpu_start = time.process_time()
    agent.train(total_timesteps=steps, eval_env=None)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start

    @torch.no_grad()
    def act(obs: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        q = agent.q_net(obs.float(), w.float())  # n x actions x objectives
        return torch.einsum("nam,nm->na", q, w.float()).argmax(1)

    return {"wall": wall, "cpu": cpu, **evaluate(act)}


def run_polyopt(
    seed: int, steps: int, cfg: dict[str, Any], num_envs: int, updates: int, algo: str = "envelope"
) -> dict:
    import polyopt

    env = polyopt.make("environment", "deep-sea-treasure", num_envs=num_envs)
    if (
        algo == "pd-morl"
    ):  # shared: network, learning rate, batch, gamma; the rest PD-MORL's defaults
        keep = ("learning_rate", "hidden_sizes", "batch_size", "gamma")
        cfg = {k: v for k, v in cfg.items() if k in keep}
    opt = polyopt.make(
        "optimizer", algo, env, seed=seed, device="cpu", gradient_updates=updates, **cfg
    )
    start = time.perf_counter()
    cpu_start = time.process_time()
    polyopt.run(opt, polyopt.Budget(env_steps=steps), threads=1)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    return {"wall": wall, "cpu": cpu, **evaluate(opt.greedy)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds first-seed ... + seeds - 1"
    )
    parser.add_argument(
        "--runs",
        default="morl-baselines,polyopt",
        help="comma-separated; polyopt-1 = one env, one update; pd-morl = polyopt's PD-MORL",
    )
    parser.add_argument("--num-envs", type=int, default=16, help="polyopt's sub-environments")
    parser.add_argument("--updates", type=int, default=1, help="polyopt's updates per step")
    parser.add_argument("--lr", type=float, default=3e-4)
    parser.add_argument("--width", type=int, default=256)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--eps-start", type=float, default=0.01, help="MORL-Baselines' default")
    parser.add_argument("--eps-end", type=float, default=0.01)
    parser.add_argument("--eps-decay", type=int, default=10_000)
    parser.add_argument("--per", action="store_true", help="prioritized replay on both Envelopes")
    args = parser.parse_args()
    torch.set_num_threads(1)
    cfg = shared_config(args)
    print(f"config {cfg}; polyopt num_envs={args.num_envs} updates/step={args.updates}")
    print(f"load average before: {os.getloadavg()}")
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name in args.runs.split(","):
            if name == "morl-baselines":
                out = run_morl_baselines(seed, args.steps, cfg)
            elif name == "polyopt-1":  # MORL-Baselines' replay ratio: one environment, one update
                out = run_polyopt(seed, args.steps, cfg, 1, 1)
            elif name == "pd-morl":
                out = run_polyopt(seed, args.steps, cfg, args.num_envs, args.updates, "pd-morl")
            else:
                out = run_polyopt(seed, args.steps, cfg, args.num_envs, args.updates)
            per_step = 1000 * out["wall"] / args.steps
            print(
                f"seed {seed} {name:15s} train {out['wall']:7.1f} s ({per_step:.2f} ms/env step, "
                f"CPU {out['cpu']:.1f} s)  "
                f"HV {out['hypervolume']:.2f}  true points {out['true_points_found']:.0f}/10  "
                f"cardinality {out['cardinality']:.0f}  EUM {out['eum']:.3f}  MUL {out['mul']:.3f}",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
