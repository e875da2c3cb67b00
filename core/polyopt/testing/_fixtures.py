"""What the conformance classes run on: small problems, small configs, and component inputs.

Everything here is built in code and small enough that the whole kit runs over every registered name in
seconds per name on a CPU.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import torch
from torch import Tensor

from polyopt.components import AdvantageParams, LossParams, Rollout, TrainingData
from polyopt.objective import Objective
from polyopt.optimizer import ObjectiveOptimizer, Optimizer, Trainer

__all__ = [
    "SMALL_CONFIG",
    "contract_problem",
    "small_gp",
    "small_rollout",
    "small_training_data",
]

#: Small values for config fields many optimizers share; applied where the optimizer's Config has the field.
SMALL_CONFIG: dict[str, Any] = {
    # Bayesian optimization: the model is used from the third point; acquisition optimization is cheap
    "n_initial": 2,
    "num_restarts": 2,
    "raw_samples": 32,
    "mc_samples": 32,
    # language-model trainers: a one-layer model, two prompts of two completions per step
    "n_layer": 1,
    "d_model": 32,
    "n_head": 2,
    "prompts_per_step": 2,
    "completions_per_prompt": 2,
    # actor-critic trainers on environments: 8 steps of each sub-environment, a small network, 2 eval episodes
    "rollout_steps": 8,
    "hidden_sizes": [16],
    "eval_episodes": 2,
    # multi-objective RL agents: 4 evaluation preferences, updates from the 4th environment step
    "eval_weights": 4,
    "learning_starts": 4,
    # offline preference trainers: four pairs per step, eight held-out pairs
    "pairs_per_step": 4,
    "eval_pairs": 8,
}


def _small_config(cls: type[Optimizer], n_objectives: int) -> dict[str, Any]:
    config_cls = cls.Config
    if not dataclasses.is_dataclass(config_cls):
        return {}
    fields = {f.name for f in dataclasses.fields(config_cls)}
    small = {k: v for k, v in SMALL_CONFIG.items() if k in fields}
    if "n_initial" in small and n_objectives > 1:
        small["n_initial"] = 3  # a multi-output model needs a few more points
    return small


def _objective_candidates() -> list[Objective]:
    """Small problems, simplest first: the first one an optimizer accepts is its contract problem."""
    from polyopt_envs.basic import Sphere
    from polyopt_envs.classic import BNH
    from polyopt_envs.co import TSP, Knapsack
    from polyopt_envs.zdt import ZDT1

    # optimizers of permutations or bits only (the co family) get a small TSP or knapsack
    return [Sphere(dim=3), ZDT1(n_var=3), BNH(), TSP(n=8, seed=0), Knapsack(n=10, seed=0)]


def contract_problem(cls: type[Optimizer]) -> tuple[Any, dict[str, Any]]:
    """A small problem ``cls`` supports and a small config for it.

    Objective optimizers get the first of a sphere (one objective), ZDT1 (two), BNH (two, constrained), an
    8-city TSP (a permutation, with its distances) and a 10-item knapsack (bits, one constraint) they
    accept; trainers get two CartPoles (an environment with discrete actions) or, when they need a text task,
    one-digit addition, or, for preference trainers, 32 pairs of it, or, for construction policies, two
    6-city TSP constructions (or 6-customer CVRP or 6-item knapsack ones), or, for multi-turn trainers, a
    number walk of at most two moves. Config fields listed in :data:`SMALL_CONFIG` are set small where the
    optimizer has them.

    Raises:
        LookupError: no builtin problem fits (override ``make_problem`` in your contract class).
    """
    if issubclass(cls, ObjectiveOptimizer):
        for problem in _objective_candidates():
            if cls.compatibility(problem) is None:
                return problem, _small_config(cls, problem.n_objectives)
    if issubclass(cls, Trainer):
        from polyopt_envs.cartpole import CartPole
        from polyopt_envs.co import CVRPEnv, KnapsackEnv, TSPEnv
        from polyopt_envs.deep_sea_treasure import DeepSeaTreasure
        from polyopt_envs.preference import PreferenceAddition
        from polyopt_envs.text import Addition, NumberWalk

        # preference trainers: 32 labelled pairs of one-digit sums (16 held out)
        pairs = PreferenceAddition(n_digits=1, n_pairs=32, n_test=16)
        # neural construction policies (the co family): two 6-city tours
        tours = TSPEnv(num_envs=2, n=6)
        routes, packings = CVRPEnv(num_envs=2, n=6), KnapsackEnv(num_envs=2, n=6)
        # multi-objective RL agents: two Deep Sea Treasure submarines
        dst = DeepSeaTreasure(num_envs=2)
        # multi-turn language-model trainers: reach a number in at most 2 moves
        walk = NumberWalk(max_turns=2)
        candidates = (CartPole(num_envs=2), dst, Addition(n_digits=1), pairs, tours, walk)
        for env in (*candidates, routes, packings):
            if cls.compatibility(env) is None:
                return env, _small_config(cls, env.reward_dim)
    raise LookupError(
        f"no builtin contract problem fits {cls.__name__}; override make_problem() in its contract class "
        "to return (problem, config)"
    )


def small_rollout(
    n_groups: int = 3, group_size: int = 4, length: int = 5, *, seed: int = 0
) -> Rollout:
    """A scored rollout with every optional field filled: rewards in [0, 1], ragged lengths, one group whose
    rewards are all equal (estimators must not divide by its zero spread)."""
    gen = torch.Generator().manual_seed(seed)
    n = n_groups * group_size
    scores = torch.rand(n, generator=gen)
    scores[:group_size] = 1.0  # an all-equal group
    lengths = torch.randint(1, length + 1, (n,), generator=gen)
    mask = (torch.arange(length).unsqueeze(0) < lengths.unsqueeze(1)).float()
    last = torch.nn.functional.one_hot(lengths - 1, length).float()
    logp = -torch.rand(n, length, generator=gen) * mask
    return Rollout(
        scores=scores,
        token_rewards=scores.unsqueeze(-1) * last,
        mask=mask,
        n_groups=n_groups,
        values=torch.randn(n, length, generator=gen) * mask,
        greedy_scores=torch.rand(n_groups, generator=gen).repeat_interleave(group_size),
        old_logp=logp,
        ref_logp=logp - 0.1 * torch.rand(n, length, generator=gen) * mask,
        ref_scores=torch.rand(n, generator=gen),
    )


def small_training_data(
    n: int = 8, dim: int = 2, n_objectives: int = 1, n_constraints: int = 0, *, seed: int = 0
) -> TrainingData:
    """Outcomes of a smooth function at ``n`` Sobol-like points of the unit square (float64)."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, dim, generator=gen, dtype=torch.float64)
    cols = [-((x - 0.3 * (j + 1)) ** 2).sum(-1) for j in range(n_objectives)]
    cols += [x[:, 0] - 0.7 + 0.1 * j for j in range(n_constraints)]
    return TrainingData(x, torch.stack(cols, dim=-1), n_objectives, n_constraints)


def small_gp(data: TrainingData) -> Any:
    """A BoTorch ``SingleTaskGP`` on ``data`` with fixed, reasonable hyperparameters (no fitting)."""
    from botorch.models import SingleTaskGP
    from botorch.models.transforms.outcome import Standardize

    model = SingleTaskGP(data.X, data.Y, outcome_transform=Standardize(m=data.Y.shape[-1]))
    model.eval()
    return model


def default_params() -> tuple[AdvantageParams, LossParams]:
    """Default advantage and loss parameters."""
    return AdvantageParams(), LossParams()


def assert_close(a: Tensor | None, b: Tensor | None) -> bool:
    """Whether two optional tensors have the same shape and values (NaN equal to NaN)."""
    if a is None or b is None:
        return a is None and b is None
    return a.shape == b.shape and torch.allclose(a, b, equal_nan=True, rtol=1e-6, atol=1e-9)
