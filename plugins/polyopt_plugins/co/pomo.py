"""POMO (Kwon et al. 2020): an attention policy for the TSP trained with REINFORCE and a shared multi-start
baseline, decoded from every start city with 8-fold symmetric augmentation at inference.

The policy is the attention model of Kool et al. (2019): a Transformer encoder over the cities, and a decoder
whose query is the graph embedding plus projections of the first and the current city, a multi-head glimpse
over the cities, and single-head pointer logits clipped by ``C tanh`` with visited cities masked. Rollouts
run in :class:`polyopt_envs.co.TSPEnv` (the masks come from it): each of ``B`` random instances is built
``P`` times, rollout ``p`` starting at city ``p``; the advantage of a rollout is its return minus the mean
return of its instance's ``P`` rollouts (POMO's shared baseline), and the loss is REINFORCE's.

At inference (:meth:`POMOPolicy.solve`) the instance is also rotated/reflected into its 8 symmetric copies
(``x <-> y``, ``x -> 1 - x``, ``y -> 1 - y``), every copy is decoded greedily from every start, and the
shortest tour is kept. Checkpoints (:meth:`POMOPolicy.save`, :func:`load_policy`) carry a format name and a
version so an incompatible file is refused with a clear message.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from polyopt import TrainerResult
from polyopt_envs.co import TSPEnv, euclidean_distances, tour_length, uniform_tsp
from polyopt_plugins.co._pomo import (
    EVAL_SEED,
    LOADERS_HINT,
    ModelConfig,
    PointerAttention,
    POMOConfig,
    POMOTrainer,
    augment_xy,
    gather_nodes,
    read_checkpoint,
    select_actions,
    write_checkpoint,
)

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "POMO",
    "AttentionModel",
    "ModelConfig",
    "POMOConfig",
    "POMOPolicy",
    "load_policy",
]

CHECKPOINT_FORMAT = "polyopt.co.pomo"
CHECKPOINT_VERSION = 1
_augment = augment_xy  # the 8 symmetric copies (kept under its former name)


class AttentionModel(PointerAttention):
    """Encoder-decoder attention policy over cities (see the module docstring)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        d = cfg.d_model
        self.embed = nn.Linear(2, d)
        self.encoder = self.encoder_stack()
        self.query_first = nn.Linear(d, d, bias=False)
        self.query_last = nn.Linear(d, d, bias=False)
        self.init_heads()

    def encode(self, locs: Tensor) -> dict[str, Tensor]:
        """Embeddings and attention keys of ``B`` instances (``locs``: ``B x n x 2``)."""
        return self.encode_embeddings(self.embed(locs))

    def logits(
        self, enc: dict[str, Tensor], first: Tensor, current: Tensor, mask: Tensor
    ) -> Tensor:
        """Masked, clipped pointer logits ``B x P x n`` for ``P`` rollouts per instance (``first``,
        ``current``: ``B x P`` city indices; ``mask``: ``B x P x n`` allowed cities)."""
        h = enc["h"]
        q = (
            enc["graph"]
            + self.query_first(gather_nodes(h, first))
            + self.query_last(gather_nodes(h, current))
        )
        return self.attend(enc, q, mask)


def rollout(
    model: AttentionModel,
    locs: Tensor,
    distances: Tensor | None = None,
    *,
    greedy: bool,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor, int]:
    """Build ``P = n`` tours per instance in :class:`TSPEnv`, rollout ``p`` starting at city ``p``.

    Args:
        model: the policy.
        locs: ``B x n x 2`` coordinates the policy sees.
        distances: ``B x n x n`` distances the returns measure; None: Euclidean from ``locs``.
        greedy: take the most likely city (else sample from ``generator``).

    Returns:
        ``(tours: B x P x n, returns: B x P, log_probs: B x P, env_steps)``.
    """
    b, n, _ = locs.shape
    env = TSPEnv(
        b * n,
        device=locs.device,
        locs=locs.repeat_interleave(n, 0),
        distances=None if distances is None else distances.repeat_interleave(n, 0),
        autoreset=False,
    )
    env.reset()
    enc = model.encode(locs)
    start = torch.arange(n, device=locs.device).repeat(b)  # B*P
    returns = torch.zeros(b * n, device=locs.device)
    log_prob = torch.zeros(b * n, device=locs.device)
    actions = [start]
    # ``transition`` directly, not ``step``: the masked policy only picks allowed cities (nothing to repair)
    # and nothing reads ``step``'s observations, which cost about a sixth of a greedy x8 decode on a CPU
    active = torch.ones(b * n, dtype=torch.bool, device=locs.device)
    returns += env.transition(start, active)[0][:, 0]
    first = start.view(b, n)
    for _ in range(n - 1):
        mask = env.action_mask().view(b, n, n)
        logp = model.logits(enc, first, env.current.view(b, n), mask).log_softmax(dim=-1)
        action, chosen = select_actions(logp.view(b * n, n), greedy, generator)
        log_prob = log_prob + chosen
        returns += env.transition(action, active)[0][:, 0]
        actions.append(action)
    tours = torch.stack(actions, dim=1).view(b, n, n)
    return tours, returns.view(b, n), log_prob.view(b, n), b * n * n


class POMOPolicy(nn.Module):
    """A trained POMO policy: :meth:`solve` TSP instances, :meth:`save` a versioned checkpoint."""

    def __init__(self, model: AttentionModel) -> None:
        super().__init__()
        self.model = model

    @torch.no_grad()
    def solve(self, locs: Tensor, *, augment: bool = True) -> tuple[Tensor, Tensor]:
        """Greedy multi-start decoding (and the 8 symmetric copies with ``augment``) of unit-square instances.

        Args:
            locs: ``B x n x 2`` coordinates in the unit square.

        Returns:
            ``(tours: B x n, lengths: B)``: the shortest tour found per instance, in Euclidean length.
        """
        self.model.eval()
        dtype = next(self.model.parameters()).dtype
        locs = locs.to(dtype)
        b = locs.shape[0]
        dist = euclidean_distances(locs.double())
        views = _augment(locs) if augment else locs
        k = views.shape[0] // b
        tours, _, _, _ = rollout(self.model, views, greedy=True)  # lengths measured below
        tours = (
            tours.view(k, b, -1, tours.shape[-1]).transpose(0, 1).reshape(b, -1, tours.shape[-1])
        )
        lengths = tour_length(
            tours.reshape(-1, tours.shape[-1]), dist.repeat_interleave(tours.shape[1], 0)
        )
        lengths = lengths.view(b, -1)
        best, arg = lengths.min(dim=1)
        return tours[torch.arange(b), arg], best

    def save(self, path: str | Path) -> None:
        """Write a checkpoint: format, version, model config and weights."""
        write_checkpoint(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, self.model)


def load_policy(path: str | Path, *, device: torch.device | str = "cpu") -> POMOPolicy:
    """Load a :meth:`POMOPolicy.save` checkpoint.

    Raises:
        ConfigError: not a POMO checkpoint, or one of another version.
    """
    data = read_checkpoint(path, CHECKPOINT_FORMAT, CHECKPOINT_VERSION, device, LOADERS_HINT)
    model = AttentionModel(ModelConfig(**data["model"]))
    model.load_state_dict(data["state_dict"])
    return POMOPolicy(model.to(device))


class POMO(POMOTrainer):
    """POMO on a random-uniform :class:`~polyopt_envs.co.TSPEnv` (its ``n`` sets the training size)."""

    train_metric = "train_length"
    train_sign = -1.0

    problem: TSPEnv
    model: AttentionModel

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super().compatibility(problem)
        if reason is None and not (isinstance(problem, TSPEnv) and not problem.fixed):
            return (
                "it trains on a TSPEnv of random uniform instances (polyopt_envs.co.TSPEnv; "
                "pomo-cvrp trains CVRP and open CVRP, pomo-knapsack the knapsack)"
            )
        return reason

    def build_model(self, cfg: ModelConfig) -> AttentionModel:
        return AttentionModel(cfg)

    def train_rollout(self) -> tuple[Tensor, Tensor, int]:
        locs = uniform_tsp(self.config.batch_size, self.problem.n, generator=self.generator)
        _, returns, log_prob, steps = rollout(
            self.model, locs.to(**self.like), greedy=False, generator=self.generator
        )
        return returns, log_prob, steps

    def evaluation(self) -> dict[str, float]:
        """Mean tour length on the fixed evaluation instances: greedy from all starts, and with x8
        augmentation."""
        gen = torch.Generator(device=self.device).manual_seed(EVAL_SEED)
        locs = uniform_tsp(self.config.eval_instances, self.problem.n, generator=gen)
        policy = POMOPolicy(self.model)
        _, plain = policy.solve(locs, augment=False)
        _, aug = policy.solve(locs, augment=True)
        return {"eval_length": float(plain.mean()), "eval_length_aug": float(aug.mean())}

    def result(self) -> TrainerResult:
        """The policy and minus its x8-augmented mean tour length on the evaluation instances (``1 x 1``)."""
        metrics = self.evaluation()
        return self.finish(POMOPolicy(self.model), -metrics["eval_length_aug"], "-length", metrics)
