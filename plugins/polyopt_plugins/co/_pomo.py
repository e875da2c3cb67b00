"""What the POMO policies share (TSP in :mod:`.pomo`, CVRP/OCVRP in :mod:`.pomo_cvrp`, knapsack in
:mod:`.pomo_knapsack`): the attention encoder and pointer decoder, action selection, the 8 symmetric copies
of unit-square instances, versioned checkpoints, and the REINFORCE trainer with POMO's shared multi-start
baseline.

A problem supplies its node embedding and its decoder query (the "context"); the encoder (a Transformer over
the nodes), the multi-head glimpse and the single-head pointer with ``C tanh`` clipping are the attention
model of Kool et al. (2019) for every problem.
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

__all__ = [
    "ModelConfig",
    "POMOConfig",
    "POMOTrainer",
    "PointerAttention",
    "augment_xy",
    "gather_nodes",
    "read_checkpoint",
    "select_actions",
    "write_checkpoint",
]

EVAL_SEED = 20_240_601  # fixed evaluation instances, so results compare across steps and runs


@dataclass
class ModelConfig:
    d_model: int = 128
    n_head: int = 8
    n_layer: int = 3
    ff_dim: int = 512
    clip: float = 10.0


class PointerAttention(nn.Module):
    """Base of the POMO attention models: a subclass creates its embeddings, then ``self.encoder =
    self.encoder_stack()``, its context projections, then :meth:`init_heads` (in the order that fixes its
    initial weights), and builds its decoder query for :meth:`attend`."""

    encoder: nn.TransformerEncoder
    keys: nn.Linear
    out: nn.Linear

    def __init__(self, cfg: ModelConfig) -> None:
        super().__init__()
        if cfg.d_model % cfg.n_head:
            raise ConfigError(f"d_model={cfg.d_model} is not a multiple of n_head={cfg.n_head}")
        self.cfg = cfg

    def encoder_stack(self) -> nn.TransformerEncoder:
        c = self.cfg
        layer = nn.TransformerEncoderLayer(
            c.d_model, c.n_head, c.ff_dim, dropout=0.0, batch_first=True
        )
        return nn.TransformerEncoder(layer, c.n_layer, enable_nested_tensor=False)

    def init_heads(self) -> None:
        d = self.cfg.d_model
        self.keys = nn.Linear(d, 3 * d, bias=False)  # glimpse keys, glimpse values, pointer keys
        self.out = nn.Linear(d, d, bias=False)

    def encode_embeddings(self, h0: Tensor) -> dict[str, Tensor]:
        """Encoder output ``h`` (``B x N x d``), its mean ``graph`` and the decoder's keys, of the node
        embeddings ``h0``."""
        h = self.encoder(h0)
        k, v, pointer = self.keys(h).chunk(3, dim=-1)
        return {"h": h, "graph": h.mean(dim=1, keepdim=True), "k": k, "v": v, "pointer": pointer}

    def attend(self, enc: dict[str, Tensor], q: Tensor, mask: Tensor) -> Tensor:
        """Masked, clipped pointer logits ``B x P x N`` of decoder queries ``q`` (``B x P x d``) over the
        ``N`` encoded nodes; ``mask`` (``B x P x N``) marks the allowed ones. A row with none allowed (an
        ended episode) glimpses at every node, so no NaN reaches the gradients; its logits are all -inf."""
        b, p, d = q.shape
        heads = self.cfg.n_head

        def split(t: Tensor) -> Tensor:  # B x L x d -> B x heads x L x d/heads
            return t.view(b, t.shape[1], heads, d // heads).transpose(1, 2)

        seen = mask | ~mask.any(dim=-1, keepdim=True)
        # the fused kernel: about a fifth less decode time than matmul + masked softmax on one CPU thread
        glimpse = torch.nn.functional.scaled_dot_product_attention(
            split(q), split(enc["k"]), split(enc["v"]), attn_mask=seen.unsqueeze(1)
        )  # B x H x P x d/heads
        glimpse = glimpse.transpose(1, 2).reshape(b, p, d)
        logits = self.out(glimpse) @ enc["pointer"].transpose(1, 2) / math.sqrt(d)  # B x P x N
        return (self.cfg.clip * torch.tanh(logits)).masked_fill(~mask, -math.inf)


def gather_nodes(h: Tensor, index: Tensor) -> Tensor:
    """Rows ``h[b, index[b, p]]``: ``B x P x d`` from ``h`` (``B x N x d``) and ``index`` (``B x P``)."""
    b, p = index.shape
    return h.gather(1, index.unsqueeze(2).expand(b, p, h.shape[2]))


def select_actions(
    logp: Tensor, greedy: bool, generator: torch.Generator | None
) -> tuple[Tensor, Tensor]:
    """The most likely (``greedy``) or a sampled action of each row of log-probabilities ``R x A``, and its
    log-probability."""
    if greedy:
        action = logp.argmax(dim=1)
    else:
        action = torch.multinomial(logp.exp(), 1, generator=generator).squeeze(1)
    return action, logp.gather(1, action.unsqueeze(1)).squeeze(1)


def augment_xy(locs: Tensor) -> Tensor:
    """The 8 symmetric copies of ``B x n x 2`` unit-square instances, ``8B x n x 2`` (copy-major)."""
    x, y = locs[..., :1], locs[..., 1:]
    views = []
    for a, c in ((x, y), (y, x)):
        for sa in (a, 1 - a):
            for sc in (c, 1 - c):
                views.append(torch.cat([sa, sc], dim=-1))
    return torch.cat(views)


def write_checkpoint(
    path: str | Path, fmt: str, version: int, model: PointerAttention, **extra: Any
) -> None:
    """A checkpoint: format, version, model config, weights and ``extra`` plain values."""
    data = {"format": fmt, "version": version, "model": asdict(model.cfg)}
    torch.save({**data, **extra, "state_dict": model.state_dict()}, path)


def read_checkpoint(
    path: str | Path, fmt: str, version: int, device: torch.device | str, hint: str
) -> dict[str, Any]:
    """Read a :func:`write_checkpoint` file of format ``fmt`` and version ``version``.

    Raises:
        ConfigError: not a checkpoint of ``fmt`` (naming the format it is, and ``hint`` on how to load the
            other POMO formats), or one of another version.
    """
    data = torch.load(path, map_location=device, weights_only=True)
    if not isinstance(data, dict) or data.get("format") != fmt:
        other = data.get("format") if isinstance(data, dict) else None
        found = f" (it is a {other} checkpoint; {hint})" if isinstance(other, str) else ""
        raise ConfigError(f"{path}: not a {fmt} checkpoint{found}")
    if data.get("version") != version:
        raise ConfigError(
            f"{path}: checkpoint version {data.get('version')!r}; this polyopt reads version {version}"
        )
    return data


#: How to load each POMO checkpoint format (named when another loader is handed one).
LOADERS_HINT = (
    "load polyopt.co.pomo with polyopt_plugins.co.pomo.load_policy, polyopt.co.pomo-cvrp with "
    "polyopt_plugins.co.pomo_cvrp.load_cvrp_policy, polyopt.co.pomo-knapsack with "
    "polyopt_plugins.co.pomo_knapsack.load_knapsack_policy"
)


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
    """Instances per step; each is rolled out from all ``n`` starts (cities, customers or items)."""
    learning_rate: float = 1e-4
    """Adam step size (POMO: 1e-4)."""
    weight_decay: float = 1e-6
    """Adam weight decay (POMO: 1e-6)."""
    clip: float = 10.0
    """Logit clipping ``C tanh`` (AM/POMO: 10)."""
    eval_instances: int = 32
    """Fixed random instances the result is evaluated on (greedy; x8 augmentation for routing)."""

    def __post_init__(self) -> None:
        for key in ("d_model", "n_head", "n_layer", "ff_dim", "batch_size", "eval_instances"):
            if getattr(self, key) < 1:
                raise ValueError(f"{key}={getattr(self, key)}; expected a positive integer")
        if not self.learning_rate > 0:
            raise ValueError(f"learning_rate={self.learning_rate}; expected > 0")


class POMOTrainer(Trainer):
    """REINFORCE with POMO's shared baseline: each step draws ``batch_size`` random instances, rolls each
    out from all its starts (sampling), and pushes up the log-probability of rollouts better than their
    instance's mean. A problem implements :meth:`build_model`, :meth:`train_rollout`, :meth:`evaluation`
    and ``result()`` (through :meth:`finish`); the history holds the mean best return per step."""

    Config = POMOConfig
    dtypes = frozenset({torch.float32})
    #: name of the per-step training metric and the sign that turns the best return into it
    train_metric = "train_return"
    train_sign = 1.0

    config: POMOConfig
    model: PointerAttention

    def build_model(self, cfg: ModelConfig) -> PointerAttention:
        raise NotImplementedError

    def train_rollout(self) -> tuple[Tensor, Tensor, int]:
        """Sampled rollouts of fresh random instances: ``(returns: B x P, log_probs: B x P, env_steps)``."""
        raise NotImplementedError

    def setup(self) -> None:
        c = self.config
        cfg = ModelConfig(c.d_model, c.n_head, c.n_layer, c.ff_dim, c.clip)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)  # initial weights follow the run seed
            model = self.build_model(cfg)
        self.model = model.to(device=self.device, dtype=self.dtype)
        self.opt = torch.optim.Adam(
            self.model.parameters(), lr=c.learning_rate, weight_decay=c.weight_decay
        )
        self.history = torch.zeros(0, 1, dtype=torch.float64)  # mean best return per step

    def iterate(self) -> dict[str, float]:
        self.model.train()
        returns, log_prob, steps = self.train_rollout()
        advantage = returns - returns.mean(dim=1, keepdim=True)  # the shared multi-start baseline
        loss = -(advantage.detach() * log_prob).mean()
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        self.n_env_steps += steps
        best = float(returns.max(dim=1).values.mean())
        self.history = torch.cat([self.history, torch.tensor([[best]], dtype=torch.float64)])
        return {
            self.train_metric: self.train_sign * best,
            "loss": float(loss.detach()),
            "n_env_steps": float(self.n_env_steps),
        }

    def evaluation(self) -> dict[str, float]:
        raise NotImplementedError

    def finish(
        self, policy: nn.Module, value: float, name: str, metrics: dict[str, float]
    ) -> TrainerResult:
        """The result: ``policy``, its evaluation ``value`` (``1 x 1``, maximized) named ``name``."""
        return self.make_result(
            policy,
            torch.tensor([[value]], dtype=self.dtype),
            labels=torch.tensor([self.n_steps]),
            reward_names=[name],
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
