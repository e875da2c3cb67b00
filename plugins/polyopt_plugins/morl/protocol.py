"""The multi-objective RL evaluation protocol every MORL agent here reports with.

Every evaluation: ``K`` evenly spread preference weights (default 100) x ``E`` episodes each (default 5), run
together in one environment of ``K * E`` sub-environments (:meth:`Environment.spawn`); the discounted return
vector of each weight is the mean over its episodes. From those ``K`` vectors: the Pareto filter, hypervolume
against the environment's reference point (:data:`REFERENCE_POINTS`, each with the paper it comes from), expected
utility over 50 weights (EUM), sparsity, cardinality, and, where the true front is known, IGD and the maximum
utility loss (MUL). Evaluation steps are counted apart from training steps. No tracking service is involved:
the metrics are floats in the step metrics and the result; observation hooks forward them to trackers.

How many weights: a perfect agent shows only the front points that are some evaluation weight's best
(:func:`evaluation_ceiling`), so that is the most an evaluation can credit for being right (an imperfect agent
can land on other front points by its mistakes and score above it: not a hard bound). With many
objectives ``K = 100`` is too few: for 6 objectives the nearest Das-Dennis set (126 weights, 4 partitions) has
no interior weight (each has at least two zero entries), and on Fruit Tree (depth 6, 64 fruits) its ceiling is
50 fruits, 85.8 % of the front's HV (MORL-Baselines' 100 Riesz-energy weights: 44 fruits, 82.6 %). More weights
raise it: 252 weights 92.9 %, 462 96.9 %, 792 98.9 %, 1287 (8 partitions) 100 %. Pass ``eval_weights`` (the
agents' config, the benchmark's ``--eval-weights``) accordingly; the default stays 100 as the issue specifies.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor

from polyopt.environment import Environment
from polyopt.errors import ConfigError
from polyopt.metrics import cardinality, expected_utility, hypervolume, igd, sparsity
from polyopt.pareto import non_dominated_mask
from polyopt.refdirs import das_dennis, n_das_dennis

__all__ = [
    "REFERENCE_POINTS",
    "ReferencePoint",
    "evaluate_preferences",
    "equally_spaced_weights",
    "evaluation_ceiling",
    "front_metrics",
    "maximum_utility_loss",
    "random_weights",
    "reference_point",
]

#: ``act(obs: n x d, weights: n x m) -> actions n x k``: a preference-conditioned policy's greedy actions.
Act = Callable[[Tensor, Tensor], Tensor]


@dataclass(frozen=True)
class ReferencePoint:
    """A hypervolume reference point (maximized returns: every front point should dominate it).

    Attributes:
        point: one value per objective.
        gamma: the discount the returns are computed with.
        source: where the point comes from, so results stay comparable across papers.
    """

    point: tuple[float, ...]
    gamma: float
    source: str


_MORL_BASELINES = (
    "MORL-Baselines benchmark settings (Felten et al., 'A Toolkit for Reliable Benchmarking and Research in "
    "Multi-Objective Reinforcement Learning', NeurIPS 2023 Datasets and Benchmarks), as quoted in issue 16"
)

#: Reference points by environment name (polyopt's registry names and MO-Gymnasium ids).
REFERENCE_POINTS: dict[str, ReferencePoint] = {
    "deep-sea-treasure": ReferencePoint((0.0, -25.0), 0.99, _MORL_BASELINES),
    "deep-sea-treasure-v0": ReferencePoint((0.0, -25.0), 0.99, _MORL_BASELINES),
    "resource-gathering": ReferencePoint((-1.0, -1.0, -1.0), 0.99, _MORL_BASELINES),
    "resource-gathering-v0": ReferencePoint((-1.0, -1.0, -1.0), 0.99, _MORL_BASELINES),
    "fruit-tree-6": ReferencePoint((-1.0,) * 6, 0.99, _MORL_BASELINES),
    "fruit-tree-7": ReferencePoint((-1.0,) * 6, 0.99, _MORL_BASELINES),
    "minecart-v0": ReferencePoint((-1.0, -1.0, -200.0), 0.98, _MORL_BASELINES),
}


def reference_point(env: Environment | str) -> ReferencePoint:
    """The registered reference point of ``env`` (an environment or its name); ConfigError when none is."""
    name = env if isinstance(env, str) else env.name
    if name not in REFERENCE_POINTS:
        raise ConfigError(
            f"no reference point is registered for environment {name!r}; pass ref_point=[...] "
            f"(registered: {', '.join(sorted(REFERENCE_POINTS))})"
        )
    return REFERENCE_POINTS[name]


def equally_spaced_weights(m: int, k: int) -> Tensor:
    """About ``k`` weight vectors spread evenly over the ``m``-simplex (``k' x m`` float64): Das-Dennis points
    with the partitions whose count is closest to ``k`` (exactly ``k`` for two objectives)."""
    if m == 1:
        return torch.ones(1, 1, dtype=torch.float64)
    p = 1
    while n_das_dennis(p + 1, m) <= k:
        p += 1
    if abs(n_das_dennis(p + 1, m) - k) < abs(n_das_dennis(p, m) - k):
        p += 1
    return das_dennis(p, m)


def random_weights(m: int, n: int, generator: torch.Generator, device: torch.device) -> Tensor:
    """``n x m`` random weights on the simplex: absolute Gaussians normalized to sum 1 (the ``gaussian``
    distribution Envelope's paper and MORL-Baselines sample)."""
    w = torch.randn(n, m, generator=generator, device=device).abs()
    return w / w.sum(1, keepdim=True).clamp_min(1e-12)


@torch.no_grad()
def evaluate_preferences(
    act: Act,
    env: Environment,
    weights: Tensor,
    *,
    episodes: int = 5,
    gamma: float,
    seed: int,
    max_steps: int = 10_000,
) -> dict[str, Tensor]:
    """Run ``act`` for every weight ``episodes`` times, all in one batched copy of ``env``.

    Args:
        act: the policy's greedy actions given observations and weights.
        env: the environment; :meth:`~polyopt.Environment.spawn` makes the ``K * E`` copies.
        weights: ``K x m`` preferences.
        episodes: episodes per weight.
        gamma: discount of the returns.
        seed: resets the evaluation environment.
        max_steps: an episode still running after this many steps is cut and counted as it stands.

    Returns:
        ``discounted`` and ``returns`` (undiscounted): ``K x m`` float64 means over the episodes of each
        weight; ``env_steps``: sub-environment steps taken (0-d tensor).
    """
    k, m = weights.shape
    copies = env.spawn(k * episodes)
    n = copies.num_envs
    device = copies.device
    w = weights.to(device=device, dtype=torch.float32).repeat_interleave(episodes, 0)  # n x m
    obs = copies.reset(seed=seed)
    disc = torch.zeros(n, m, dtype=torch.float64, device=device)
    ret = torch.zeros_like(disc)
    scale = torch.ones(n, 1, dtype=torch.float64, device=device)
    live = torch.ones(n, dtype=torch.bool, device=device)
    steps = 0
    for _ in range(max_steps):
        step = copies.step(act(obs.reshape(n, -1).float(), w))
        steps += n
        reward = step.reward.to(torch.float64) * live.unsqueeze(1)
        ret += reward
        disc += scale * reward
        scale = scale * gamma
        live = live & ~step.done
        if not bool(live.any()):
            break
        obs = step.obs
    copies.close()
    return {
        "discounted": disc.view(k, episodes, m).mean(1).cpu(),
        "returns": ret.view(k, episodes, m).mean(1).cpu(),
        "env_steps": torch.tensor(steps),
    }


def evaluation_ceiling(front: Tensor, weights: Tensor) -> Tensor:
    """What a perfect agent's evaluation with ``weights`` (``K x m``) shows of a known ``front`` (``p x m``,
    maximized): the distinct front points that are some weight's best (``argmax_v w . v``), ``q x m`` float64.
    Their hypervolume is the evaluation's ceiling for being right: a point no weight prefers is never asked
    for, however well the agent learned it (a wrong action can still land on it, so it is not a hard bound)."""
    if weights.dim() != 2 or front.dim() != 2 or weights.shape[1] != front.shape[1]:
        raise ConfigError(
            f"weights {tuple(weights.shape)} and front {tuple(front.shape)}: expected K x m and p x m"
        )
    pts = front.detach().to(torch.float64).cpu()
    best = (weights.detach().to(torch.float64).cpu() @ pts.T).argmax(1)
    return pts[best.unique()]


def maximum_utility_loss(front: Tensor, reference: Tensor, weights: Tensor) -> float:
    """``max_w (max_{r in reference} w . r - max_{v in front} w . v)`` for maximized returns: the largest loss
    of linear utility against the known front (0 when the front reaches every weight's optimum)."""
    w = weights.to(torch.float64)
    best = (w @ reference.to(torch.float64).T).max(1).values
    ours = (w @ front.to(torch.float64).T).max(1).values
    return float((best - ours).max().clamp_min(0.0))


def front_metrics(
    points: Tensor,
    ref_point: Tensor | tuple[float, ...],
    known_front: Tensor | None = None,
    *,
    n_eum_weights: int = 50,
) -> dict[str, float]:
    """The protocol's indicators of evaluated return vectors (``K x m``, maximized).

    Returns:
        ``hypervolume``, ``eum``, ``sparsity``, ``cardinality`` of the Pareto-filtered points, and with a known
        front ``igd`` and ``mul`` (maximum utility loss).
    """
    pts = points.detach().to(torch.float64).cpu()
    front = pts[non_dominated_mask(-pts)] if pts.shape[0] else pts
    ref = torch.as_tensor(ref_point, dtype=torch.float64)
    m = pts.shape[1]
    eum_weights = equally_spaced_weights(m, n_eum_weights)
    out = {
        "hypervolume": hypervolume(-front, -ref) if front.shape[0] else 0.0,
        "eum": expected_utility(-front, eum_weights) if front.shape[0] else -math.inf,
        "sparsity": sparsity(front),
        "cardinality": float(cardinality(-front)),
    }
    if known_front is not None:
        known = known_front.detach().to(torch.float64).cpu()
        out["igd"] = igd(-front, -known)
        out["mul"] = maximum_utility_loss(front, known, eum_weights)
    return out
