"""Envelope Q-learning on discrete-action MO environments: polyopt's ``envelope`` against MORL-Baselines'.

Both train on the same environment (``--env``: polyopt's batched torch version, checked step for step against
the MO-Gymnasium id MORL-Baselines steps, or for Minecart MO-Gymnasium's own environment through polyopt's
``mo-gymnasium`` adapter) for the same number of environment steps, with the same seeds and the same
hyperparameters where both have them (network, learning rate, batch, gamma, epsilon schedule, target copies,
sampled preferences; prioritized replay off on both unless ``--per``). MORL-Baselines logs nothing
(``log=False``, ``WANDB_MODE=disabled``). Training time is measured without evaluation; then both policies are
evaluated by the same protocol (polyopt_plugins.morl.protocol: 100 evenly spread preferences x 5 episodes,
discounted returns at the environment's gamma, HV against its registered reference point) and the points of
the known front found are counted.

Environments (``--env``; gamma, HV reference point, known front):

- ``deep-sea-treasure`` (default): 0.99, [0, -25], the 10-point true front (HV 360.4009).
- ``resource-gathering``: 0.99, [-1, -1, -1]; MO-Gymnasium's listed front (HV 3.345) is not the true one:
  :func:`resource_gathering_front` computes the exact front of expected returns by dynamic programming.
- ``fruit-tree-6``: depth 6, 0.99, [-1] * 6, the 64 fruits (HV 46,034.80). The default 100 evaluation
  preferences (126 Das-Dennis weights, none interior) are the best of only 50 fruits: a perfect agent
  shows 85.8 % of the HV; ``--eval-weights 1287`` (8 partitions) asks for all 64 (the ``evaluation
  ceiling`` line; an imperfect agent can land on unasked fruits and score above it).
- ``minecart``: MO-Gymnasium's ``minecart-v0`` (through polyopt's adapter), 0.98, [-1, -1, -200], MO-Gymnasium's
  front (HV 668.18).

``--runs pd-morl`` trains polyopt's PD-MORL on the same environment, steps and seeds (its own defaults, the
authors' Deep Sea Treasure settings: epsilon 0.8 -> 0.05, soft targets, hindsight preferences, key solutions
from the known front; network, learning rate, batch and gamma shared), evaluated the same way.
``--per`` turns on prioritized replay on both Envelopes (MORL-Baselines' default). ``--envelope-config`` and
``--pd-config`` (JSON objects) set further fields of polyopt's agents only (say which when quoting). Each
evaluation's environment steps, wall and CPU seconds are printed apart from training's. ``--select-best EVERY``
has PD-MORL and polyopt's Envelope evaluate by the full protocol every ``EVERY`` steps, timed with
training, and keep the network of the best hypervolume as its policy (``select_best``: a policy selected
on training-time evaluations).

``--runs pareto-q,pql`` trains polyopt's tabular Pareto Q-learning (``pareto-q``, ``--num-envs``
sub-environments) and MORL-Baselines' ``PQL`` (one environment, its default hypervolume action scores) with
MORL-Baselines' PQL exploration (epsilon 1.0 -> 0.1 over 10^5 steps) and the environment's gamma; both are
evaluated by the same protocol, acting greedily on their Q-sets (``argmax_a max_{q in Q(s, a)} w . q``), and
each line adds the HV of the agent's own front estimate (the start state's non-dominated Q vectors).
On Resource Gathering every line also counts the points of the exact front (:func:`resource_gathering_front`)
found, and gives the HV of the greedy policies' exact expected returns (:func:`resource_gathering_expected`,
free of the 5-episode evaluation's noise: a risky path that survived its episodes scores above the front).

The replay ratios differ unless ``--num-envs 1 --updates 1``: MORL-Baselines makes one update per environment
step; polyopt makes ``updates`` updates per step of ``num_envs`` environments. Say which when quoting.

polyopt's agents evaluate with one episode inside ``polyopt.run`` (their result's own evaluation, timed with
training; before the ``--env`` option it was the full protocol, a second or two on Deep Sea Treasure).

    WANDB_MODE=disabled .venv/bin/python benchmarks/morl_vs_morl_baselines.py --steps 20000 --seeds 1
    WANDB_MODE=disabled .venv/bin/python benchmarks/morl_vs_morl_baselines.py --env fruit-tree-6 ...
"""

from __future__ import annotations

import argparse
import os
import time
from typing import Any

import torch

os.environ.setdefault("WANDB_MODE", "disabled")

#: ``--env``: polyopt's environment (registry name and options), MO-Gymnasium's id and options, gamma, reference.
ENVS: dict[str, dict[str, Any]] = {
    "deep-sea-treasure": {
        "polyopt": ("deep-sea-treasure", {}),
        "mo_gym": ("deep-sea-treasure-v0", {}),
        "gamma": 0.99,
        "ref": (0.0, -25.0),
    },
    "resource-gathering": {
        "polyopt": ("resource-gathering", {}),
        "mo_gym": ("resource-gathering-v0", {}),
        "gamma": 0.99,
        "ref": (-1.0, -1.0, -1.0),
    },
    "fruit-tree-6": {
        "polyopt": ("fruit-tree", {"depth": 6}),
        "mo_gym": ("fruit-tree-v0", {"depth": 6}),
        "gamma": 0.99,
        "ref": (-1.0,) * 6,
    },
    "minecart": {
        "polyopt": ("mo-gymnasium", {"env_id": "minecart-v0"}),
        "mo_gym": ("minecart-v0", {}),
        "gamma": 0.98,
        "ref": (-1.0, -1.0, -200.0),
    },
}


def make_env(name: str, num_envs: int) -> Any:
    import polyopt

    registered, options = ENVS[name]["polyopt"]
    return polyopt.make("environment", registered, num_envs=num_envs, **options)


def resource_gathering_front(gamma: float, horizon: int = 40) -> torch.Tensor:
    """The exact Pareto front of expected discounted returns of Resource Gathering's deterministic policies.

    A forward search over (cell, has gold, has gem) that keeps, per state and step, the non-dominated pairs of
    (probability of being alive, expected discounted enemy penalty so far): the future of a state is the same
    for every pair and scales with the probability, so a dominated pair cannot lead to a better return. An
    episode ends home (reward ``(0, gold, gem)`` at ``gamma^(t-1)``) or by a kill (probability 0.1 on each
    enemy cell, reward ``(-1, 0, 0)``), as in MO-Gymnasium's ``resource-gathering-v0``.
    """
    from polyopt.pareto import non_dominated_mask

    home, gold, gem, enemies, kill = (4, 2), (0, 2), (1, 4), {(1, 2), (0, 3)}, 0.1
    labels: dict[tuple[tuple[int, int], bool, bool], list[tuple[float, float]]] = {
        (home, False, False): [(1.0, 0.0)]
    }
    ends = []
    for t in range(1, horizon + 1):
        grown: dict[tuple[tuple[int, int], bool, bool], list[tuple[float, float]]] = {}
        for (cell, has_gold, has_gem), pairs in labels.items():
            for dr, dc in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                row, col = cell[0] + dr, cell[1] + dc
                nxt = (row, col) if 0 <= row < 5 and 0 <= col < 5 else cell
                state = (nxt, has_gold or nxt == gold, has_gem or nxt == gem)
                for alive, penalty in pairs:
                    if nxt in enemies:
                        penalty, alive = (
                            penalty - kill * alive * gamma ** (t - 1),
                            alive * (1 - kill),
                        )
                    if nxt == home:  # the episode ends here
                        scale = alive * gamma ** (t - 1)
                        ends.append((penalty, scale * state[1], scale * state[2]))
                    else:
                        grown.setdefault(state, []).append((alive, penalty))
        labels = {}
        for state, pairs in grown.items():
            values = torch.tensor(pairs, dtype=torch.float64)
            kept = values[non_dominated_mask(-values)].unique(dim=0)  # equal pairs once
            labels[state] = [(float(a), float(b)) for a, b in kept.tolist()]
    points = torch.tensor(ends, dtype=torch.float64)
    return torch.unique(points[non_dominated_mask(-points)], dim=0)


def resource_gathering_expected(act: Any, weights: torch.Tensor, gamma: float) -> torch.Tensor:
    """The exact expected discounted return (``k x 3``) of the greedy policy of each preference (``k x m``)
    on Resource Gathering: the policy is deterministic, so its path is fixed until a kill ends it; each enemy
    cell on the path costs ``0.1 * P(alive) * gamma^(t-1)`` and multiplies ``P(alive)`` by 0.9, and the items
    brought home count ``P(alive) * gamma^(t-1)`` (100-step limit, as MO-Gymnasium's)."""
    home, gold, gem, enemies, kill = (4, 2), (0, 2), (1, 4), ((1, 2), (0, 3)), 0.1
    k = weights.shape[0]
    moves = torch.tensor([[-1, 0], [1, 0], [0, -1], [0, 1]])
    pos = torch.tensor([home]).repeat(k, 1)
    items = torch.zeros(k, 2, dtype=torch.bool)
    alive = torch.ones(k, dtype=torch.float64)
    ret = torch.zeros(k, 3, dtype=torch.float64)
    running = torch.ones(k, dtype=torch.bool)

    def at(cell: tuple[int, int]) -> torch.Tensor:
        return (pos[:, 0] == cell[0]) & (pos[:, 1] == cell[1])

    for t in range(1, 101):
        obs = torch.cat([pos, items.long()], 1).float()
        target = pos + moves[act(obs, weights.float()).long().reshape(-1).cpu()]
        move = ((target >= 0) & (target < 5)).all(1) & running
        pos = torch.where(move.unsqueeze(1), target, pos)
        items = items | (torch.stack([at(gold), at(gem)], 1) & running.unsqueeze(1))
        step = gamma ** (t - 1)
        enemy = (at(enemies[0]) | at(enemies[1])) & running
        ret[:, 0] -= torch.where(enemy, kill * alive * step, 0.0)
        alive = torch.where(enemy, alive * (1 - kill), alive)
        back = at(home) & running
        ret[:, 1:] += (back.unsqueeze(1) & items) * (alive * step).unsqueeze(1)
        running = running & ~back
        if not bool(running.any()):
            break
    return ret


def shared_config(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "learning_rate": args.lr,
        "hidden_sizes": [args.width] * args.depth,
        "batch_size": args.batch,
        "gamma": ENVS[args.env]["gamma"],
        "initial_epsilon": args.eps_start,
        "final_epsilon": args.eps_end,
        "epsilon_decay_steps": args.eps_decay,
        "learning_starts": 100,
        "target_update_every": 200,
        "num_sample_w": 4,
        "per": args.per,
    }


def evaluate(act: Any, args: argparse.Namespace) -> dict[str, float]:
    from polyopt_plugins.morl.protocol import (
        equally_spaced_weights,
        evaluate_preferences,
        front_metrics,
    )

    spec = ENVS[args.env]
    env = make_env(args.env, 1)
    start = time.perf_counter()
    cpu_start = time.process_time()
    ev = evaluate_preferences(
        act, env, equally_spaced_weights(env.reward_dim, args.eval_weights),
        episodes=args.eval_episodes, gamma=spec["gamma"], seed=0, max_steps=1_000,
    )  # fmt: skip
    true = env.pareto_front(spec["gamma"]).double()
    env.close()
    metrics = front_metrics(ev["discounted"], spec["ref"], true)
    found = (torch.cdist(true, ev["discounted"]).min(1).values < 1e-3).sum()
    metrics["true_points_found"] = float(found)
    metrics["known_points"] = float(true.shape[0])
    metrics["eval_env_steps"] = float(ev["env_steps"])
    if args.env == "resource-gathering":  # the exact front, not MO-Gymnasium's list
        exact = resource_gathering_front(spec["gamma"])
        metrics["exact_found"] = float(
            (torch.cdist(exact, ev["discounted"]).min(1).values < 1e-3).sum()
        )
        # without the evaluation's noise: each preference's policy's exact expected return
        from polyopt.metrics import hypervolume

        weights = equally_spaced_weights(3, args.eval_weights)
        expected = resource_gathering_expected(act, weights, spec["gamma"])
        ref = torch.tensor(spec["ref"], dtype=torch.float64)
        metrics["expected_hv"] = float(hypervolume(-expected, -ref))
        metrics["expected_found"] = float((torch.cdist(exact, expected).min(1).values < 1e-3).sum())
    metrics["eval_wall"] = time.perf_counter() - start
    metrics["eval_cpu"] = time.process_time() - cpu_start
    return metrics


def run_morl_baselines(
    seed: int, steps: int, cfg: dict[str, Any], args: argparse.Namespace
) -> dict[str, Any]:
    import mo_gymnasium as mo_gym
    from morl_baselines.multi_policy.envelope.envelope import Envelope

    torch.manual_seed(seed)
    env_id, options = ENVS[args.env]["mo_gym"]
    agent = Envelope(
        mo_gym.make(env_id, **options),
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

    return {"wall": wall, "cpu": cpu, **evaluate(act, args)}


def run_polyopt(
    seed: int,
    steps: int,
    cfg: dict[str, Any],
    args: argparse.Namespace,
    num_envs: int,
    updates: int,
    algo: str = "envelope",
) -> dict:
    import polyopt

    env = make_env(args.env, num_envs)
    if (
        algo == "pd-morl"
    ):  # shared: network, learning rate, batch, gamma; the rest PD-MORL's defaults
        keep = ("learning_rate", "hidden_sizes", "batch_size", "gamma")
        cfg = {k: v for k, v in cfg.items() if k in keep}
    if args.n_step is not None:  # polyopt only (MORL-Baselines' agents bootstrap after one step)
        cfg = {**cfg, "n_step": args.n_step}
    extra = args.pd_config if algo == "pd-morl" else args.envelope_config
    cfg = {**cfg, **extra}  # --envelope-config / --pd-config: polyopt's own fields, last
    # the result's own evaluation (inside polyopt.run) is cut to one episode: the protocol's runs below,
    # outside the timed part, as for MORL-Baselines
    cfg = {**cfg, "eval_weights": 1, "eval_episodes": 1}
    # --select-best: PD-MORL / Envelope select on the full protocol, evaluated in (and timed with) training
    if args.select_best and algo in ("pd-morl", "envelope"):
        cfg = {k: v for k, v in cfg.items() if k not in ("eval_weights", "eval_episodes")}
        cfg = {**cfg, "eval_every": args.select_best, "select_best": True}
    opt = polyopt.make(
        "optimizer", algo, env, seed=seed, device="cpu", gradient_updates=updates, **cfg
    )
    start = time.perf_counter()
    cpu_start = time.process_time()
    result = polyopt.run(opt, polyopt.Budget(env_steps=steps), threads=1)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    env.close()
    selected = {"selected_step": result.extras["selected_step"]} if cfg.get("select_best") else {}
    return {"wall": wall, "cpu": cpu, **selected, **evaluate(opt.greedy, args)}


#: Pareto Q-learning's exploration on both sides (MORL-Baselines' ``PQL`` defaults).
PQL_EPSILON = {"initial_epsilon": 1.0, "final_epsilon": 0.1, "epsilon_decay_steps": 100_000}


def own_front_hv(front: torch.Tensor, args: argparse.Namespace) -> float:
    """HV of an agent's own front estimate (``k x m``) against the environment's reference point."""
    from polyopt.metrics import hypervolume

    ref = torch.tensor(ENVS[args.env]["ref"], dtype=torch.float64)
    return float(hypervolume(-front.double().reshape(-1, ref.numel()), -ref))


def run_pareto_q(seed: int, steps: int, args: argparse.Namespace) -> dict[str, Any]:
    """polyopt's ``pareto-q`` on ``--num-envs`` sub-environments."""
    import polyopt

    env = make_env(args.env, args.num_envs)
    opt = polyopt.make(
        "optimizer", "pareto-q", env, seed=seed, device="cpu", gamma=ENVS[args.env]["gamma"],
        eval_weights=1, eval_episodes=1, **PQL_EPSILON,
    )  # fmt: skip
    start = time.perf_counter()
    cpu_start = time.process_time()
    polyopt.run(opt, polyopt.Budget(env_steps=steps), threads=1)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    env.close()
    own = own_front_hv(opt.learned_front(), args)
    return {"wall": wall, "cpu": cpu, "own_hv": own, **evaluate(opt.greedy, args)}


def run_pql(seed: int, steps: int, args: argparse.Namespace) -> dict[str, Any]:
    """MORL-Baselines' ``PQL`` (one environment); its Q-sets act greedily for the protocol's preferences.

    ``own_hv`` is the HV of its start state's Q-set; ``tracked_hv`` what MORL-Baselines itself logs: the
    discounted returns of one episode tracking each vector of ``get_local_pcs(state=0)`` (flat state 0, which
    is the start only where the start observation is all zeros, as on Deep Sea Treasure)."""
    import mo_gymnasium as mo_gym
    import numpy as np
    from morl_baselines.multi_policy.pareto_q_learning.pql import PQL

    env_id, options = ENVS[args.env]["mo_gym"]
    spec = ENVS[args.env]
    agent = PQL(
        mo_gym.make(env_id, **options), ref_point=np.array(spec["ref"]), gamma=spec["gamma"],
        seed=seed, log=False, **PQL_EPSILON,
    )  # fmt: skip
    start = time.perf_counter()
    cpu_start = time.process_time()
    agent.train(total_timesteps=steps, eval_env=None)
    wall = time.perf_counter() - start
    cpu = time.process_time() - cpu_start
    low = np.array(agent.env.observation_space.low, dtype=np.int64)
    first, _ = agent.env.reset(seed=seed)
    first_state = int(np.ravel_multi_index(np.asarray(first) - low, agent.env_shape))
    own = own_front_hv(torch.tensor(np.array(list(agent.get_local_pcs(first_state)))), args)
    eval_env = mo_gym.make(env_id, **options)
    eval_env.reset(seed=seed)
    tracked = torch.tensor(np.array(agent._eval_all_policies(eval_env)))
    sets: dict[int, list[np.ndarray]] = {}

    def q_sets(state: int) -> list[np.ndarray]:
        if state not in sets:
            sets[state] = [
                np.array(list(agent.get_q_set(state, a))) for a in range(agent.num_actions)
            ]
        return sets[state]

    @torch.no_grad()
    def act(obs: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        cells = obs.long().numpy() - low
        states = np.ravel_multi_index(cells.T, agent.env_shape)
        weights = w.double().numpy()
        return torch.tensor(
            [int(np.argmax([float((q @ wi).max()) for q in q_sets(int(s))]))
             for s, wi in zip(states, weights, strict=True)]
        )  # fmt: skip

    return {
        "wall": wall, "cpu": cpu, "own_hv": own, "tracked_hv": own_front_hv(tracked, args),
        **evaluate(act, args),
    }  # fmt: skip


def json_object(text: str) -> dict[str, Any]:
    """``--envelope-config`` / ``--pd-config``: a JSON object of config fields."""
    import json

    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise argparse.ArgumentTypeError(f"{text!r} is not JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f"{text!r}: expected a JSON object of config fields")
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--env", choices=sorted(ENVS), default="deep-sea-treasure")
    parser.add_argument("--steps", type=int, default=20_000)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument(
        "--first-seed", type=int, default=0, help="seeds first-seed ... + seeds - 1"
    )
    parser.add_argument(
        "--runs",
        default="morl-baselines,polyopt",
        help="comma-separated; polyopt-1 = one env, one update; pd-morl = polyopt's PD-MORL; pareto-q "
        "and pql = polyopt's and MORL-Baselines' Pareto Q-learning",
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
    parser.add_argument(
        "--n-step", type=int, default=None, help="polyopt's n-step returns (default: the agent's)"
    )
    for flag, agent in (("--envelope-config", "Envelope"), ("--pd-config", "PD-MORL")):
        parser.add_argument(
            flag,
            type=json_object,
            default={},
            help=f"extra fields of polyopt's {agent} config as a JSON object (they override the shared "
            "ones), e.g. '{\"n_step\": 10}'",
        )
    parser.add_argument(
        "--select-best",
        type=int,
        default=0,
        metavar="EVERY",
        help="PD-MORL and polyopt's Envelope: evaluate by the protocol every EVERY training steps (timed "
        "with training) and keep the network of the best hypervolume as the policy (select_best; 0 = off)",
    )
    parser.add_argument("--eval-weights", type=int, default=100, help="evaluation preferences")
    parser.add_argument("--eval-episodes", type=int, default=5, help="episodes per preference")
    args = parser.parse_args()
    if args.steps < 1 or args.seeds < 1 or args.eval_weights < 1 or args.eval_episodes < 1:
        parser.error("--steps, --seeds, --eval-weights and --eval-episodes must be at least 1")
    runs = args.runs.split(",")
    known_runs = {"morl-baselines", "polyopt", "polyopt-1", "pd-morl", "pareto-q", "pql"}
    unknown = sorted(set(runs) - known_runs)
    if unknown:
        parser.error(f"--runs {unknown}: expected some of {sorted(known_runs)}")
    torch.set_num_threads(1)
    cfg = shared_config(args)
    spec = ENVS[args.env]
    print(f"env {args.env} (gamma {spec['gamma']}, reference {list(spec['ref'])})")
    print(f"config {cfg}; polyopt num_envs={args.num_envs} updates/step={args.updates}")
    if args.envelope_config or args.pd_config:
        print(f"polyopt extra config: Envelope {args.envelope_config}, PD-MORL {args.pd_config}")
    known = make_env(args.env, 1)
    front = known.pareto_front(spec["gamma"]).double()
    known.close()
    from polyopt.metrics import hypervolume

    ref = torch.tensor(spec["ref"], dtype=torch.float64)
    print(f"known front: {front.shape[0]} points, HV {hypervolume(-front, -ref):.4f}")
    from polyopt_plugins.morl.protocol import equally_spaced_weights, evaluation_ceiling

    weights = equally_spaced_weights(front.shape[1], args.eval_weights)
    ceiling = evaluation_ceiling(front, weights)
    print(f"evaluation ceiling ({weights.shape[0]} weights' best points): {ceiling.shape[0]} points, HV "
          f"{hypervolume(-ceiling, -ref):.4f}")  # fmt: skip
    if args.env == "resource-gathering":
        exact = resource_gathering_front(spec["gamma"])
        print(f"exact front of expected returns: {exact.shape[0]} points, HV "
              f"{hypervolume(-exact, -ref):.4f}: {[[round(v, 4) for v in p] for p in exact.tolist()]}")  # fmt: skip
    print(f"load average before: {os.getloadavg()}")
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        for name in runs:
            if name == "morl-baselines":
                out = run_morl_baselines(seed, args.steps, cfg, args)
            elif name == "polyopt-1":  # MORL-Baselines' replay ratio: one environment, one update
                out = run_polyopt(seed, args.steps, cfg, args, 1, 1)
            elif name == "pareto-q":
                out = run_pareto_q(seed, args.steps, args)
            elif name == "pql":
                out = run_pql(seed, args.steps, args)
            elif name == "pd-morl":
                out = run_polyopt(
                    seed, args.steps, cfg, args, args.num_envs, args.updates, "pd-morl"
                )
            else:
                out = run_polyopt(seed, args.steps, cfg, args, args.num_envs, args.updates)
            per_step = 1000 * out["wall"] / args.steps
            print(
                f"seed {seed} {name:15s} train {out['wall']:7.1f} s ({per_step:.2f} ms/env step, "
                f"CPU {out['cpu']:.1f} s, "
                f"{1e5 * out['wall'] / args.steps:.0f} s per 1e5 steps)  "
                f"HV {out['hypervolume']:.4f}  known points "
                f"{out['true_points_found']:.0f}/{out['known_points']:.0f}  "
                f"cardinality {out['cardinality']:.0f}  EUM {out['eum']:.4f}  MUL {out['mul']:.4f}  "
                f"eval env steps {out['eval_env_steps']:.0f} "
                f"({out['eval_wall']:.1f} s, CPU {out['eval_cpu']:.1f} s)"
                + (f"  selected step {out['selected_step']}" if "selected_step" in out else "")
                + (
                    f"  exact front points {out['exact_found']:.0f}/3"
                    if "exact_found" in out
                    else ""
                )
                + (
                    f"  expected-return HV {out['expected_hv']:.4f} (exact points "
                    f"{out['expected_found']:.0f}/3)"
                    if "expected_hv" in out
                    else ""
                )
                + (f"  own front HV {out['own_hv']:.4f}" if "own_hv" in out else "")
                + (f"  tracked HV {out['tracked_hv']:.4f}" if "tracked_hv" in out else ""),
                flush=True,
            )
    print(f"load average after: {os.getloadavg()}")


if __name__ == "__main__":
    main()
