"""Environment throughput: polyopt's batched torch environments against MO-Gymnasium's vector environments.

For each environment and number of copies, random actions are stepped for about ``--seconds`` seconds and the
sub-environment steps per second are reported: polyopt's environment (one tensor step for all copies, on the
CPU, and on the GPU when there is one) and MO-Gymnasium's environment in Gymnasium's ``SyncVectorEnv`` (the
copies stepped one after the other in Python), interleaved in one process with one torch thread.

    .venv/bin/python benchmarks/env_throughput.py --copies 1,64,4096 --seconds 1
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Callable

import numpy as np
import torch

ENVS = {  # polyopt registry name -> (MO-Gymnasium id, its options)
    "deep-sea-treasure": ("deep-sea-treasure-v0", {}),
    "resource-gathering": ("resource-gathering-v0", {}),
    "fruit-tree": ("fruit-tree-v0", {"depth": 6}),
    "four-room": ("four-room-v0", {}),
    "mo-mountaincar": ("mo-mountaincar-v0", {}),
}


def _rate(step: Callable[[], None], copies: int, seconds: float) -> tuple[float, float]:
    """Sub-environment steps per wall second and per CPU second (``time.process_time``, the comparable
    cost on a shared machine), over at least ``seconds`` of wall time and at least two steps."""
    step()  # warm-up
    count = 0
    start, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - start < seconds or count < 2:
        step()
        count += 1
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu
    return count * copies / wall, count * copies / max(cpu, 1e-9)


def polyopt_rate(name: str, copies: int, seconds: float, device: str) -> tuple[float, float]:
    import polyopt

    env = polyopt.make("environment", name, num_envs=copies, device=device)
    env.reset(seed=0)
    high = int(env.action_space.bounds[1, 0].item())
    gen = torch.Generator(device=device).manual_seed(0)
    actions = torch.randint(0, high + 1, (64, copies), generator=gen, device=device)
    i = [0]

    def step() -> None:
        env.step(actions[i[0] % 64])
        i[0] += 1

    rate = _rate(step, copies, seconds)
    if device != "cpu":
        torch.cuda.synchronize()
    return rate


def mo_gymnasium_rate(
    env_id: str, options: dict, copies: int, seconds: float
) -> tuple[float, float]:
    import gymnasium as gym
    import mo_gymnasium as mo_gym

    env = gym.vector.SyncVectorEnv([lambda: mo_gym.make(env_id, **options)] * copies)
    reward_dim = int(env.envs[0].unwrapped.reward_dim)  # type: ignore[attr-defined]  # MO-Gymnasium's
    env._rewards = np.zeros((copies, reward_dim))  # room for vector rewards
    env.reset(seed=0)
    n_actions = int(env.single_action_space.n)  # type: ignore[attr-defined]  # Discrete
    actions = np.random.default_rng(0).integers(0, n_actions, (64, copies))
    i = [0]

    def step() -> None:
        env.step(actions[i[0] % 64])
        i[0] += 1

    rate = _rate(step, copies, seconds)
    env.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--copies", default="1,64,4096")
    parser.add_argument("--seconds", type=float, default=1.0)
    parser.add_argument("--envs", default=",".join(ENVS))
    args = parser.parse_args()
    torch.set_num_threads(1)
    copies = [int(c) for c in args.copies.split(",")]
    gpu = torch.cuda.is_available()
    print(f"load average before: {os.getloadavg()}; GPU: {gpu}")
    print("steps per wall second (ratio), and the ratio of steps per CPU second (process_time)")
    print(
        f"{'environment':20s} {'copies':>6s} {'polyopt cpu':>13s} {'mo-gym sync':>13s} {'ratio':>8s}"
        f" {'cpu ratio':>9s}"
    )
    for name in args.envs.split(","):
        env_id, options = ENVS[name]
        for n in copies:
            ours, ours_cpu = polyopt_rate(name, n, args.seconds, "cpu")
            theirs, theirs_cpu = mo_gymnasium_rate(env_id, options, n, args.seconds)
            line = f"{name:20s} {n:6d} {ours:13,.0f} {theirs:13,.0f} {ours / theirs:7.1f}x"
            line += f" {ours_cpu / theirs_cpu:8.1f}x"
            if gpu:
                line += f"  gpu {polyopt_rate(name, n, args.seconds, 'cuda')[0]:,.0f}"
            print(line, flush=True)
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
