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

import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from polyopt import Trainer, TrainerResult
from polyopt.errors import ConfigError
from polyopt_envs.co import TSPEnv, euclidean_distances, tour_length, uniform_tsp

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_VERSION",
    "POMO",
    "AttentionModel",
    "POMOPolicy",
    "load_policy",
]

CHECKPOINT_FORMAT = "polyopt.co.pomo"
CHECKPOINT_VERSION = 1
_EVAL_SEED = 20_240_601  # fixed evaluation instances, so results compare across steps and runs


@dataclass
class ModelConfig:
    d_model: int = 128
    n_head: int = 8
    n_layer: int = 3
    ff_dim: int = 512
    clip: float = 10.0


class AttentionModel(nn.Module):
    """Encoder-decoder attention policy over cities (see the module docstring)."""

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.d_model % cfg.n_head:
            raise ConfigError(f"d_model={cfg.d_model} is not a multiple of n_head={cfg.n_head}")
        self.cfg = cfg
        d = cfg.d_model
        self.embed = nn.Linear(2, d)
        layer = nn.TransformerEncoderLayer(d, cfg.n_head, cfg.ff_dim, dropout=0.0, batch_first=True)
        self.encoder = nn.TransformerEncoder(layer, cfg.n_layer, enable_nested_tensor=False)
        self.query_first = nn.Linear(d, d, bias=False)
        self.query_last = nn.Linear(d, d, bias=False)
        self.keys = nn.Linear(d, 3 * d, bias=False)  # glimpse keys, glimpse values, pointer keys
        self.out = nn.Linear(d, d, bias=False)

    def encode(self, locs: Tensor) -> dict[str, Tensor]:
        """Embeddings and attention keys of ``B`` instances (``locs``: ``B x n x 2``)."""
        h = self.encoder(self.embed(locs))  # B x n x d
        k, v, pointer = self.keys(h).chunk(3, dim=-1)
        return {"h": h, "graph": h.mean(dim=1, keepdim=True), "k": k, "v": v, "pointer": pointer}

    def logits(
        self, enc: dict[str, Tensor], first: Tensor, current: Tensor, mask: Tensor
    ) -> Tensor:
        """Masked, clipped pointer logits ``B x P x n`` for ``P`` rollouts per instance (``first``,
        ``current``: ``B x P`` city indices; ``mask``: ``B x P x n`` allowed cities)."""
        b, p = first.shape
        d, heads = self.cfg.d_model, self.cfg.n_head
        h = enc["h"]
        pick = h.gather(1, first.unsqueeze(2).expand(b, p, d))
        here = h.gather(1, current.unsqueeze(2).expand(b, p, d))
        q = enc["graph"] + self.query_first(pick) + self.query_last(here)  # B x P x d

        def split(t: Tensor) -> Tensor:  # B x L x d -> B x heads x L x d/heads
            return t.view(b, t.shape[1], heads, d // heads).transpose(1, 2)

        scores = split(q) @ split(enc["k"]).transpose(2, 3) / math.sqrt(d // heads)  # B x H x P x n
        scores = scores.masked_fill(~mask.unsqueeze(1), -math.inf)
        glimpse = (scores.softmax(dim=-1) @ split(enc["v"])).transpose(1, 2).reshape(b, p, d)
        logits = self.out(glimpse) @ enc["pointer"].transpose(1, 2) / math.sqrt(d)  # B x P x n
        return (self.cfg.clip * torch.tanh(logits)).masked_fill(~mask, -math.inf)


def _augment(locs: Tensor) -> Tensor:
    """The 8 symmetric copies of ``B x n x 2`` unit-square instances, ``8B x n x 2`` (copy-major)."""
    x, y = locs[..., :1], locs[..., 1:]
    views = []
    for a, c in ((x, y), (y, x)):
        for sa in (a, 1 - a):
            for sc in (c, 1 - c):
                views.append(torch.cat([sa, sc], dim=-1))
    return torch.cat(views)


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
    returns += env.step(start).reward[:, 0]
    first = start.view(b, n)
    for _ in range(n - 1):
        mask = env.action_mask().view(b, n, n)
        logp = model.logits(enc, first, env.current.view(b, n), mask).log_softmax(dim=-1)
        flat = logp.view(b * n, n)
        if greedy:
            action = flat.argmax(dim=1)
        else:
            action = torch.multinomial(flat.exp(), 1, generator=generator).squeeze(1)
        log_prob = log_prob + flat.gather(1, action.unsqueeze(1)).squeeze(1)
        returns += env.step(action).reward[:, 0]
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
        torch.save(
            {
                "format": CHECKPOINT_FORMAT,
                "version": CHECKPOINT_VERSION,
                "model": asdict(self.model.cfg),
                "state_dict": self.model.state_dict(),
            },
            path,
        )


def load_policy(path: str | Path, *, device: torch.device | str = "cpu") -> POMOPolicy:
    """Load a :meth:`POMOPolicy.save` checkpoint.

    Raises:
        ConfigError: not a POMO checkpoint, or one of another version.
    """
    data = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(data, dict) or data.get("format") != CHECKPOINT_FORMAT:
        raise ConfigError(f"{path}: not a {CHECKPOINT_FORMAT} checkpoint")
    if data.get("version") != CHECKPOINT_VERSION:
        raise ConfigError(
            f"{path}: checkpoint version {data.get('version')!r}; this polyopt reads version "
            f"{CHECKPOINT_VERSION}"
        )
    model = AttentionModel(ModelConfig(**data["model"]))
    model.load_state_dict(data["state_dict"])
    return POMOPolicy(model.to(device))


@dataclass
class POMOConfig:
    d_model: int = 128
    """Embedding width (POMO/AM: 128)."""
    n_head: int = 8
    """Attention heads (8)."""
    n_layer: int = 3
    """Encoder layers (AM: 3; POMO: 6)."""
    ff_dim: int = 512
    """Feed-forward width of the encoder layers (512)."""
    batch_size: int = 64
    """Instances per step; each is rolled out from all ``n`` start cities."""
    learning_rate: float = 1e-4
    """Adam step size (POMO: 1e-4)."""
    weight_decay: float = 1e-6
    """Adam weight decay (POMO: 1e-6)."""
    clip: float = 10.0
    """Logit clipping ``C tanh`` (AM/POMO: 10)."""
    eval_instances: int = 32
    """Fixed random instances the result is evaluated on (greedy, x8 augmentation)."""

    def __post_init__(self) -> None:
        for key in ("d_model", "n_head", "n_layer", "ff_dim", "batch_size", "eval_instances"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key}={getattr(self, key)}; expected a positive integer")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate={self.learning_rate}; expected > 0")


class POMO(Trainer):
    """POMO on a random-uniform :class:`~polyopt_envs.co.TSPEnv` (its ``n`` sets the training size)."""

    Config = POMOConfig
    dtypes = frozenset({torch.float32})

    config: POMOConfig
    problem: TSPEnv

    @classmethod
    def compatibility(cls, problem: Any) -> str | None:
        reason = super().compatibility(problem)
        if reason is None and not (isinstance(problem, TSPEnv) and not problem.fixed):
            return "it trains on a TSPEnv of random uniform instances (polyopt_envs.co.TSPEnv)"
        return reason

    def setup(self) -> None:
        c = self.config
        cfg = ModelConfig(c.d_model, c.n_head, c.n_layer, c.ff_dim, c.clip)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # initial weights follow the run seed
            model = AttentionModel(cfg)
        self.model = model.to(device=self.device, dtype=self.dtype)
        self.opt = torch.optim.Adam(
            self.model.parameters(), lr=c.learning_rate, weight_decay=c.weight_decay
        )
        self.history = torch.zeros(0, 1, dtype=torch.float64)  # mean best return (-length) per step

    def iterate(self) -> dict[str, float]:
        self.model.train()
        n = self.problem.n
        locs = uniform_tsp(self.config.batch_size, n, generator=self.generator).to(**self.like)
        _, returns, log_prob, steps = rollout(
            self.model, locs, greedy=False, generator=self.generator
        )
        advantage = returns - returns.mean(dim=1, keepdim=True)  # the shared multi-start baseline
        loss = -(advantage.detach() * log_prob).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.n_env_steps += steps
        length = float(-returns.max(dim=1).values.mean())
        self.history = torch.cat([self.history, torch.tensor([[-length]], dtype=torch.float64)])
        return {
            "train_length": length,
            "loss": float(loss.detach()),
            "n_env_steps": float(self.n_env_steps),
        }

    def evaluation(self) -> dict[str, float]:
        """Mean tour length on the fixed evaluation instances: greedy from all starts, and with x8
        augmentation."""
        gen = torch.Generator(device=self.device).manual_seed(_EVAL_SEED)
        locs = uniform_tsp(self.config.eval_instances, self.problem.n, generator=gen)
        policy = POMOPolicy(self.model)
        _, plain = policy.solve(locs, augment=False)
        _, aug = policy.solve(locs, augment=True)
        return {"eval_length": float(plain.mean()), "eval_length_aug": float(aug.mean())}

    def result(self) -> TrainerResult:
        """The policy and minus its x8-augmented mean tour length on the evaluation instances (``1 x 1``)."""
        metrics = self.evaluation()
        returns = torch.tensor([[-metrics["eval_length_aug"]]], dtype=self.dtype)
        return self.make_result(
            POMOPolicy(self.model),
            returns,
            labels=torch.tensor([self.n_steps]),
            reward_names=["-length"],
            history=self.history.clone(),
            metrics=metrics,
        )

    def get_state(self) -> dict[str, Any]:
        return {
            "model": self.model.state_dict(),
            "opt": self.opt.state_dict(),
            "history": self.history,
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.opt.load_state_dict(state["opt"])
        self.history = state["history"]
