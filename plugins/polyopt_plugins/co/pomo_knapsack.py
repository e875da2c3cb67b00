"""POMO for the 0/1 knapsack (Kwon et al. 2020, section 6.3): the shared attention model over the items,
trained with REINFORCE and POMO's shared multi-start baseline.

An item is embedded from its weight and value (each divided by the instance's largest, so the scale of the
integers does not matter); the decoder's query is the graph embedding plus a projection of the remaining
capacity (in units of the largest weight: POMO's capacity 12.5 for 50 items in ``[0, 1]`` is the same
scale). Rollouts run in :class:`polyopt_envs.co.KnapsackEnv`: each of ``B`` instances is packed ``P = n``
times, rollout ``p`` packing item ``p`` first; its mask allows the items not packed that still fit. Packing
an item never lowers the value, so the policy never stops early: the environment's stop action is taken
(and the episode ends) exactly when nothing else fits. The return is the packed value. There is no
augmentation (a knapsack has no geometric symmetry): :meth:`KnapsackPolicy.solve` keeps the best of the
``n`` greedy rollouts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from polyopt import TrainerResult
from polyopt.errors import ConfigError
from polyopt_envs.co import KnapsackEnv, knapsack_dp, uniform_knapsack
from polyopt_plugins.co._pomo import (
    EVAL_SEED,
    LOADERS_HINT,
    ModelConfig,
    PointerAttention,
    POMOTrainer,
    read_checkpoint,
    select_actions,
    write_checkpoint,
)

__all__ = [
    "KNAPSACK_CHECKPOINT_FORMAT",
    "KNAPSACK_CHECKPOINT_VERSION",
    "KnapsackAttentionModel",
    "KnapsackPolicy",
    "POMOKnapsack",
    "knapsack_rollout",
    "load_knapsack_policy",
]

KNAPSACK_CHECKPOINT_FORMAT = "polyopt.co.pomo-knapsack"
KNAPSACK_CHECKPOINT_VERSION = 1


class KnapsackAttentionModel(PointerAttention):
    """Encoder-decoder attention policy over items (see the module docstring)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__(cfg)
        d = cfg.d_model
        self.embed = nn.Linear(2, d)  # weight, value (scaled)
        self.encoder = self.encoder_stack()
        self.context = nn.Linear(1, d, bias=False)  # remaining capacity
        self.init_heads()

    def encode(self, items: Tensor) -> dict[str, Tensor]:
        """Embeddings and keys of ``B`` instances (``items``: ``B x n x 2`` scaled weights and values)."""
        return self.encode_embeddings(self.embed(items))

    def logits(self, enc: dict[str, Tensor], left: Tensor, mask: Tensor) -> Tensor:
        """Masked pointer logits ``B x P x n`` (``left``: ``B x P`` remaining capacity in units of the
        largest weight; ``mask``: ``B x P x n`` items that fit and are not packed)."""
        return self.attend(enc, enc["graph"] + self.context(left.unsqueeze(2)), mask)


def knapsack_rollout(
    model: KnapsackAttentionModel,
    instances: dict[str, Tensor],
    *,
    greedy: bool,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, Tensor, Tensor, int]:
    """Pack each instance ``P = n`` times in :class:`KnapsackEnv`, rollout ``p`` packing item ``p`` first.

    Args:
        model: the policy.
        instances: ``weights`` (``B x n``), ``values`` (``B x 1 x n``), ``capacity`` (``B``).
        greedy: take the most likely item (else sample from ``generator``).

    Returns:
        ``(packed: B x P x n bool, returns: B x P values, log_probs: B x P, env_steps)``.
    """
    weights, values = instances["weights"], instances["values"]
    b, n = weights.shape
    p = n
    dev, dtype = weights.device, next(model.parameters()).dtype
    scale = weights.amax(dim=1, keepdim=True).clamp_min(1e-12)
    vscale = values[:, 0].amax(dim=1, keepdim=True).clamp_min(1e-12)
    items = torch.stack([weights / scale, values[:, 0] / vscale], dim=2)
    env = KnapsackEnv(
        b * p,
        device=dev,
        instances={k: v.repeat_interleave(p, 0) for k, v in instances.items()},
        autoreset=False,
    )
    env.reset()
    enc = model.encode(items.to(dtype))
    row_scale = scale.repeat_interleave(p, 0).squeeze(1)
    start = torch.arange(n, device=dev).repeat(b)  # B*P: item p first
    returns = env.step(start).reward[:, 0].to(torch.float64)
    log_prob = torch.zeros(b * p, device=dev, dtype=dtype)
    steps = b * p
    for _ in range(n - 1):
        active = ~env.done
        if not bool(active.any()):
            break
        mask = env.action_mask()[:, :n] & active.unsqueeze(1)  # the stop action: only when done
        left = ((env.instances["capacity"] - env.load) / row_scale).to(dtype).view(b, p)
        logits = model.logits(enc, left, mask.view(b, p, n)).view(b * p, n)
        logits = torch.where(active.unsqueeze(1), logits, 0.0)  # ended rows: no -inf-only rows
        action, chosen = select_actions(logits.log_softmax(dim=1), greedy, generator)
        log_prob = log_prob + torch.where(active, chosen, 0.0)
        returns = returns + env.step(torch.where(active, action, n)).reward[:, 0].to(torch.float64)
        steps += int(active.sum())
    return env.packed.view(b, p, n), returns.view(b, p), log_prob.view(b, p), steps


def _check_instances(
    weights: Tensor, values: Tensor, capacity: Tensor | float
) -> dict[str, Tensor]:
    w = torch.as_tensor(weights, dtype=torch.float64)
    if w.dim() != 2 or w.shape[1] < 1:
        raise ConfigError(f"weights of shape {tuple(w.shape)}; expected (B, n)")
    b, n = w.shape
    v = torch.as_tensor(values, dtype=torch.float64, device=w.device)
    if tuple(v.shape) not in ((b, n), (b, 1, n)):
        raise ConfigError(f"values of shape {tuple(v.shape)}; expected ({b}, {n}) or ({b}, 1, {n})")
    cap = torch.as_tensor(capacity, dtype=torch.float64, device=w.device).reshape(-1)
    cap = cap.expand(b) if cap.numel() == 1 else cap
    if tuple(cap.shape) != (b,):
        raise ConfigError(f"capacity of shape {tuple(cap.shape)}; expected a number or ({b},)")
    if bool((w <= 0).any()) or bool((v < 0).any()) or bool((cap < 0).any()):
        raise ConfigError("expected positive weights, non-negative values and capacities")
    return {"weights": w, "values": v.reshape(b, 1, n), "capacity": cap.contiguous()}


class KnapsackPolicy(nn.Module):
    """A trained POMO knapsack policy: :meth:`solve` instances, :meth:`save` a versioned checkpoint."""

    def __init__(self, model: KnapsackAttentionModel) -> None:
        super().__init__()
        self.model = model

    @torch.no_grad()
    def solve(
        self, weights: Tensor, values: Tensor, capacity: Tensor | float
    ) -> tuple[Tensor, Tensor]:
        """Greedy packing from every start item; the best per instance.

        Args:
            weights: ``B x n`` positive weights.
            values: ``B x n`` (or ``B x 1 x n``) non-negative values.
            capacity: a number or ``B`` capacities.

        Returns:
            ``(packed: B x n bool, value: B float64)``.
        """
        self.model.eval()
        dev = next(self.model.parameters()).device
        inst = {k: v.to(dev) for k, v in _check_instances(weights, values, capacity).items()}
        packed, returns, _, _ = knapsack_rollout(self.model, inst, greedy=True)
        best, arg = returns.max(dim=1)
        return packed[torch.arange(packed.shape[0]), arg], best

    def save(self, path: str | Path) -> None:
        """Write a checkpoint: format, version, model config and weights."""
        write_checkpoint(path, KNAPSACK_CHECKPOINT_FORMAT, KNAPSACK_CHECKPOINT_VERSION, self.model)


def load_knapsack_policy(path: str | Path, *, device: torch.device | str = "cpu") -> KnapsackPolicy:
    """Load a :meth:`KnapsackPolicy.save` checkpoint.

    Raises:
        ConfigError: not a POMO knapsack checkpoint, or one of another version.
    """
    data = read_checkpoint(
        path, KNAPSACK_CHECKPOINT_FORMAT, KNAPSACK_CHECKPOINT_VERSION, device, LOADERS_HINT
    )
    model = KnapsackAttentionModel(ModelConfig(**data["model"]))
    model.load_state_dict(data["state_dict"])
    return KnapsackPolicy(model.to(device))


class POMOKnapsack(POMOTrainer):
    """POMO on a random :class:`~polyopt_envs.co.KnapsackEnv` with one value per item (its ``n`` sets the
    training size)."""

    train_metric = "train_value"
    train_sign = 1.0

    problem: KnapsackEnv
    model: KnapsackAttentionModel

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super().compatibility(problem)
        if reason is not None:
            return reason
        if not (isinstance(problem, KnapsackEnv) and not problem.fixed):
            return (
                "it trains on a KnapsackEnv of random instances (polyopt_envs.co.KnapsackEnv; pomo "
                "trains TSP, pomo-cvrp the CVRP)"
            )
        if problem.n_obj != 1:
            return f"it packs one value per item; this KnapsackEnv has n_obj={problem.n_obj}"
        return None

    def build_model(self, cfg: ModelConfig) -> KnapsackAttentionModel:
        return KnapsackAttentionModel(cfg)

    def setup(self) -> None:
        super().setup()
        self._optimum: Tensor | None = None  # exact DP values of the evaluation instances

    def train_rollout(self) -> tuple[Tensor, Tensor, int]:
        inst = uniform_knapsack(self.config.batch_size, self.problem.n, generator=self.generator)
        inst = {k: v.to(self.device) for k, v in inst.items()}
        _, returns, log_prob, steps = knapsack_rollout(
            self.model, inst, greedy=False, generator=self.generator
        )
        return returns.to(self.dtype), log_prob, steps

    def evaluation(self) -> dict[str, float]:
        """Mean packed value on the fixed evaluation instances (greedy from all starts), the exact DP
        optimum's mean, and the mean per-instance gap to it in percent."""
        gen = torch.Generator(device=self.device).manual_seed(EVAL_SEED)
        inst = uniform_knapsack(self.config.eval_instances, self.problem.n, generator=gen)
        _, value = KnapsackPolicy(self.model).solve(
            inst["weights"], inst["values"], inst["capacity"]
        )
        if self._optimum is None:
            self._optimum, _ = knapsack_dp(inst["weights"], inst["values"][:, 0], inst["capacity"])
        opt = self._optimum.to(value.device)
        gap = 100.0 * (1.0 - value / opt.clamp_min(1e-12))
        return {
            "eval_value": float(value.mean()),
            "eval_optimum": float(opt.mean()),
            "eval_gap_pct": float(gap.mean()),
        }

    def result(self) -> TrainerResult:
        """The policy and its mean packed value on the evaluation instances (``1 x 1``)."""
        metrics = self.evaluation()
        return self.finish(KnapsackPolicy(self.model), metrics["eval_value"], "value", metrics)
