"""PPO on CartPole-v1: polyopt's ``actor-critic-ppo`` against a framework-free reference PPO loop.

The anchor is CleanRL's single-file ``ppo.py``. CleanRL is not a pip package and nothing can be downloaded
here, so :func:`reference_ppo` is a re-implementation written from the algorithm CleanRL documents (the PPO
paper plus the "37 implementation details" of Huang et al. 2022) with ``ppo.py``'s default hyperparameters:
4 synchronous Gymnasium CartPole-v1 envs (same-step auto-reset, as the Gymnasium 0.29 CleanRL targets),
128 steps per env per rollout, Adam (lr 2.5e-4, eps 1e-5) annealed linearly over the run, gamma 0.99, GAE
lambda 0.95, 4 minibatches, 4 epochs, per-minibatch advantage normalization, clip 0.2, clipped value loss,
entropy 0.01, value coefficient 0.5, gradient norm 0.5, separate 64-64 tanh actor and critic with orthogonal
initialization, ``torch.distributions.Categorical`` sampling. It is not CleanRL's code; say so when quoting.

polyopt runs the same hyperparameters (its defaults) on the batched torch CartPole (checked step for step
against Gymnasium in tests/unit/envs/test_cartpole.py) and on Gymnasium's CartPole through ``GymnasiumEnv``.
Each seed runs the three interleaved, one after the other, in one process with one torch thread.

"Reaches 475" is measured the same way for both: the first environment step at which the mean return of the
last 10 finished training episodes is at least 475 (CartPole-v1's reward threshold).

    .venv/bin/python benchmarks/rl_vs_cleanrl.py --seeds 5 --steps 100000 --config cleanrl
    .venv/bin/python benchmarks/rl_vs_cleanrl.py --seeds 5 --steps 100000 --config zoo
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from typing import Any

import numpy as np
import torch
from torch import nn

THRESHOLD = 475.0
WINDOW = 10

#: Hyperparameter sets, applied identically to the reference loop and to polyopt. ``cleanrl``: ppo.py's
#: defaults. ``zoo``: rl-baselines3-zoo's tuned CartPole-v1 PPO (8 envs x 32 steps, one minibatch of 256,
#: 20 epochs, lr 1e-3 annealed, gamma 0.98, lambda 0.8, no entropy bonus, no value clipping; the zoo also
#: anneals the clip range, which neither side does here).
CONFIGS: dict[str, dict[str, Any]] = {
    "cleanrl": {
        "num_envs": 4,
        "rollout_steps": 128,
        "num_minibatches": 4,
        "update_epochs": 4,
        "learning_rate": 2.5e-4,
        "gamma": 0.99,
        "lam": 0.95,
        "ent_coef": 0.01,
        "value_clip": 0.2,
    },
    "zoo": {
        "num_envs": 8,
        "rollout_steps": 32,
        "num_minibatches": 1,
        "update_epochs": 20,
        "learning_rate": 1e-3,
        "gamma": 0.98,
        "lam": 0.8,
        "ent_coef": 0.0,
        "value_clip": None,
    },
}


# -- the reference loop (re-implemented from CleanRL's ppo.py algorithm and defaults) ---------------------------


def _layer(n_in: int, n_out: int, std: float) -> nn.Linear:
    layer = nn.Linear(n_in, n_out)
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, 0.0)
    return layer


class _Agent(nn.Module):
    def __init__(self, obs_dim: int, n_actions: int) -> None:
        super().__init__()
        root2 = float(np.sqrt(2))
        self.critic = nn.Sequential(
            _layer(obs_dim, 64, root2),
            nn.Tanh(),
            _layer(64, 64, root2),
            nn.Tanh(),
            _layer(64, 1, 1.0),
        )
        self.actor = nn.Sequential(
            _layer(obs_dim, 64, root2),
            nn.Tanh(),
            _layer(64, 64, root2),
            nn.Tanh(),
            _layer(64, n_actions, 0.01),
        )

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x)

    def action_and_value(
        self, x: torch.Tensor, action: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        dist = torch.distributions.Categorical(logits=self.actor(x))
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action), dist.entropy(), self.critic(x)


def reference_ppo(seed: int, total_steps: int, hp: dict[str, Any]) -> dict[str, Any]:
    """One run of the reference loop; returns the finished episodes ``(step, return)`` and the wall time."""
    import gymnasium as gym

    num_envs, num_steps = hp["num_envs"], hp["rollout_steps"]
    minibatches, epochs = hp["num_minibatches"], hp["update_epochs"]
    lr, gamma, lam, ent_coef = hp["learning_rate"], hp["gamma"], hp["lam"], hp["ent_coef"]
    clip, vclip, vf_coef, max_norm = 0.2, hp["value_clip"], 0.5, 0.5
    batch = num_envs * num_steps
    mb_size = batch // minibatches
    iterations = total_steps // batch
    start = time.perf_counter()
    np.random.seed(seed)
    torch.manual_seed(seed)
    envs = gym.vector.SyncVectorEnv(
        [lambda: gym.make("CartPole-v1") for _ in range(num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,
    )
    agent = _Agent(4, 2)
    optimizer = torch.optim.Adam(agent.parameters(), lr=lr, eps=1e-5)
    obs = torch.zeros(num_steps, num_envs, 4)
    actions = torch.zeros(num_steps, num_envs)
    logprobs = torch.zeros(num_steps, num_envs)
    rewards = torch.zeros(num_steps, num_envs)
    dones = torch.zeros(num_steps, num_envs)
    values = torch.zeros(num_steps, num_envs)
    global_step = 0
    next_obs = torch.tensor(envs.reset(seed=seed)[0])
    next_done = torch.zeros(num_envs)
    running = np.zeros(num_envs)
    episodes: list[tuple[int, float]] = []
    for iteration in range(1, iterations + 1):
        optimizer.param_groups[0]["lr"] = (1.0 - (iteration - 1.0) / iterations) * lr
        for step in range(num_steps):
            global_step += num_envs
            obs[step] = next_obs
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, _, value = agent.action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob
            o, r, term, trunc, _ = envs.step(action.numpy())
            done = np.logical_or(term, trunc)
            running += r
            for i in np.flatnonzero(done):
                episodes.append((global_step, float(running[i])))
                running[i] = 0.0
            rewards[step] = torch.tensor(r, dtype=torch.float32)
            next_obs = torch.tensor(o)
            next_done = torch.tensor(done, dtype=torch.float32)
        with torch.no_grad():  # GAE, CleanRL's layout: dones[t] marks that obs[t] began an episode
            next_value = agent.value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            last = torch.zeros(num_envs)
            for t in reversed(range(num_steps)):
                if t == num_steps - 1:
                    nonterminal, nxt = 1.0 - next_done, next_value
                else:
                    nonterminal, nxt = 1.0 - dones[t + 1], values[t + 1]
                delta = rewards[t] + gamma * nxt * nonterminal - values[t]
                last = delta + gamma * lam * nonterminal * last
                advantages[t] = last
            returns = advantages + values
        b_obs, b_logprobs, b_actions = obs.reshape(-1, 4), logprobs.reshape(-1), actions.reshape(-1)
        b_adv, b_returns, b_values = advantages.reshape(-1), returns.reshape(-1), values.reshape(-1)
        indices = np.arange(batch)
        for _ in range(epochs):
            np.random.shuffle(indices)
            for s in range(0, batch, mb_size):
                mb = indices[s : s + mb_size]
                _, newlogprob, entropy, newvalue = agent.action_and_value(
                    b_obs[mb], b_actions.long()[mb]
                )
                ratio = (newlogprob - b_logprobs[mb]).exp()
                adv = b_adv[mb]
                adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - clip, 1 + clip)).mean()
                newvalue = newvalue.view(-1)
                v_unclipped = (newvalue - b_returns[mb]) ** 2
                if vclip is None:
                    v_loss = 0.5 * v_unclipped.mean()
                else:
                    v_clipped = b_values[mb] + (newvalue - b_values[mb]).clamp(-vclip, vclip)
                    v_loss = 0.5 * torch.max(v_unclipped, (v_clipped - b_returns[mb]) ** 2).mean()
                loss = pg_loss - ent_coef * entropy.mean() + vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), max_norm)
                optimizer.step()
    envs.close()
    return {"episodes": episodes, "wall": time.perf_counter() - start, "steps": global_step}


# -- polyopt -----------------------------------------------------------------------------------------------------


def polyopt_ppo(seed: int, total_steps: int, env_kind: str, hp: dict[str, Any]) -> dict[str, Any]:
    import polyopt

    start = time.perf_counter()
    config = dict(hp)
    num_envs = config.pop("num_envs")
    if env_kind == "torch":
        env = polyopt.make("environment", "cartpole", num_envs=num_envs)
    else:
        env = polyopt.GymnasiumEnv("CartPole-v1", num_envs=num_envs)
    opt = polyopt.make("optimizer", "actor-critic-ppo", env, seed=seed, device="cpu", **config)
    polyopt.run(opt, polyopt.Budget(env_steps=total_steps), threads=1)
    wall = time.perf_counter() - start
    log = opt.episodes  # (end step, length, return)
    episodes = [(int(row[0]), float(row[2])) for row in log.tolist()]
    t0 = time.perf_counter()
    result = opt.result()  # greedy evaluation, outside the timed training
    return {
        "episodes": episodes,
        "wall": wall,
        "steps": opt.n_env_steps,
        "eval": result.metrics.get("eval_return", float("nan")),
        "eval_wall": time.perf_counter() - t0,
    }


# -- report ------------------------------------------------------------------------------------------------------


def steps_to_threshold(episodes: list[tuple[int, float]]) -> int | None:
    """The first step at which the mean of the last WINDOW finished episodes reaches THRESHOLD."""
    for i in range(WINDOW - 1, len(episodes)):
        window = [r for _, r in episodes[i - WINDOW + 1 : i + 1]]
        if sum(window) / WINDOW >= THRESHOLD:
            return episodes[i][0]
    return None


def curve(episodes: list[tuple[int, float]], total: int, bins: int) -> list[float]:
    """Mean return of the episodes ending in each of ``bins`` equal step ranges (NaN where none ended)."""
    width = total / bins
    out = []
    for b in range(bins):
        inside = [r for s, r in episodes if b * width < s <= (b + 1) * width]
        out.append(sum(inside) / len(inside) if inside else float("nan"))
    return out


def _fmt(x: float | None) -> str:
    return "-" if x is None or x != x else f"{x:,.0f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--steps", type=int, default=100_000)
    parser.add_argument("--bins", type=int, default=10)
    parser.add_argument("--config", choices=sorted(CONFIGS), default="cleanrl")
    parser.add_argument(
        "--runs", default="reference,polyopt-torch,polyopt-gymnasium", help="comma-separated"
    )
    args = parser.parse_args()
    torch.set_num_threads(int(os.environ.get("POLYOPT_THREADS", "1")))
    runs = args.runs.split(",")
    print(f"hyperparameters {args.config}: {CONFIGS[args.config]}")
    print(f"load average before: {os.getloadavg()}; torch threads {torch.get_num_threads()}")
    results: dict[str, list[dict[str, Any]]] = {name: [] for name in runs}
    hp = CONFIGS[args.config]
    warmup = hp["num_envs"] * hp["rollout_steps"]  # one iteration each, untimed: imports, allocator
    for name in runs:
        if name == "reference":
            reference_ppo(0, warmup, hp)
        else:
            polyopt_ppo(0, warmup, name.split("-", 1)[1], hp)
    for seed in range(args.seeds):
        for name in runs:
            if name == "reference":
                out = reference_ppo(seed, args.steps, hp)
            else:
                out = polyopt_ppo(seed, args.steps, name.split("-", 1)[1], hp)
            out["reach"] = steps_to_threshold(out["episodes"])
            last = [r for _, r in out["episodes"][-WINDOW:]]
            out["final"] = sum(last) / len(last) if last else float("nan")
            results[name].append(out)
            print(
                f"seed {seed} {name:18s} wall {out['wall']:6.1f} s  steps {out['steps']}  "
                f"reaches {THRESHOLD:.0f} at {_fmt(out['reach'])}  last-{WINDOW} mean "
                f"{out['final']:.1f}  greedy eval {out.get('eval', float('nan')):.1f}",
                flush=True,
            )
    print(f"load average after: {os.getloadavg()}")
    print(f"\nmedian over {args.seeds} seeds ({args.steps:,} steps):")
    print(f"{'run':18s} {'wall s':>8s} {'reach 475 at':>13s} {'reached':>8s} {'last-10':>8s}")
    walls = {}
    for name, outs in results.items():
        walls[name] = statistics.median(o["wall"] for o in outs)
        reach = [o["reach"] if o["reach"] is not None else float("inf") for o in outs]
        med_reach = statistics.median(reach)
        reached = sum(o["reach"] is not None for o in outs)
        final = statistics.median(o["final"] for o in outs)
        print(
            f"{name:18s} {walls[name]:8.1f} {_fmt(med_reach if med_reach != float('inf') else None):>13s} "
            f"{reached:>5d}/{len(outs)} {final:8.1f}"
        )
    if "reference" in walls:
        for name in walls:
            if name != "reference":
                print(f"wall time reference / {name}: {walls['reference'] / walls[name]:.2f}x")
    print(
        f"\nreturns vs steps (median over seeds of the mean return per {args.steps // args.bins:,}-step bin):"
    )
    for name, outs in results.items():
        curves = [curve(o["episodes"], args.steps, args.bins) for o in outs]
        med = [
            statistics.median(c[b] for c in curves if c[b] == c[b])
            if any(c[b] == c[b] for c in curves)
            else float("nan")
            for b in range(args.bins)
        ]
        print(f"{name:18s} " + " ".join(f"{v:5.0f}" for v in med))


if __name__ == "__main__":
    main()
