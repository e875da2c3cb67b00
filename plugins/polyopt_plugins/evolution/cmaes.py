"""CMA-ES with full covariance, tensorized, with IPOP or BIPOP restarts.

The update is Hansen's tutorial (arXiv:1604.00772, positive recombination weights): cumulation paths ``pc`` and
``ps``, rank-one and rank-mu covariance updates, cumulative step-size adaptation, ``C = B D^2 B^T`` decomposed
every generation (``torch.linalg.eigh``; at population >= 1,000 the ``d x d`` eigensolve is cheap next to the
``lambda x d`` sampling). The search runs in the box normalized to ``[0, 1]^d``, so ``sigma0`` is a fraction of
each coordinate's range and anisotropic boxes need no care.

Bounds: a sample that leaves the box is evaluated at its projection onto it; ranking adds a penalty
``spread * ||(genotype - x) / width||^2`` (``spread`` = the generation's range of finite values), and the update
uses the unprojected sample, so the distribution is not biased towards the faces (the repair-and-penalize
scheme of pycma's ``BoundPenalty``, with a simpler weight).

Restarts (``restarts="ipop"``, Auger & Hansen 2005): when a run stalls (TolFun over the recent best values,
TolX, a condition number above 1e14, a coordinate without effect, or pycma's iteration cap
``100 + 150 (d + 3)^2 / sqrt(lambda)``) the mean restarts uniformly in the box with ``sigma0`` and the population
times ``ipop_factor``. ``"bipop"`` (Hansen 2009) alternates that regime with small populations and small step
sizes ``lambda_def * (lambda_large / (2 lambda_def))^(U^2)``, ``sigma0 * 10^(-2 U)``, choosing the regime that
has spent fewer evaluations.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from polyopt_plugins.evolution.base import Generation, GenerationalOptimizer

__all__ = ["BIPOPCMAES", "CMAES", "CMAESConfig", "IPOPCMAES"]


@dataclass
class CMAESConfig:
    pop_size: int | None = None
    """Samples per generation (lambda); None means ``4 + floor(3 ln d)`` (Hansen's default)."""
    sigma0: float = 0.3
    """Initial step size as a fraction of each coordinate's range (the box is normalized to ``[0, 1]``)."""
    restarts: str = "none"
    """``"none"``, ``"ipop"`` (population doubles at each restart) or ``"bipop"`` (large/small regimes)."""
    ipop_factor: float = 2.0
    """Population growth per large-population restart."""
    max_restarts: int = 9
    """Restarts allowed (later stalls keep the last run going)."""
    tol_fun: float = 1e-12
    """Restart when the recent best values and the current generation span less than this."""
    tol_x: float = 1e-12
    """Restart when ``sigma * max(|pc|, sqrt(diag C))`` (normalized coordinates) falls below this."""
    active: bool = True
    """Active CMA: the worst half of the samples shrink the covariance along their directions (pycma's
    default; faster on ill-conditioned problems)."""
    boundary_penalty: float = 1.0
    """Weight of the squared normalized distance to the box in the ranking of samples that left it."""

    def __post_init__(self) -> None:
        if self.pop_size is not None and self.pop_size < 4:
            raise ValueError(f"pop_size={self.pop_size}; expected at least 4 or None")
        if not 0.0 < self.sigma0 <= 1.0:
            raise ValueError(f"sigma0={self.sigma0}; expected a fraction of the range in (0, 1]")
        if self.restarts not in ("none", "ipop", "bipop"):
            raise ValueError(f"restarts={self.restarts!r}; expected 'none', 'ipop' or 'bipop'")
        if self.ipop_factor < 1.0:
            raise ValueError(f"ipop_factor={self.ipop_factor}; expected >= 1")
        if self.max_restarts < 0:
            raise ValueError(f"max_restarts={self.max_restarts}; expected >= 0")
        if self.tol_fun < 0 or self.tol_x < 0 or self.boundary_penalty < 0:
            raise ValueError(
                f"tol_fun={self.tol_fun}, tol_x={self.tol_x}, "
                f"boundary_penalty={self.boundary_penalty}; expected >= 0"
            )


class CMAES(GenerationalOptimizer):
    """CMA-ES on a box, restarts as configured (see the module docstring)."""

    Config = CMAESConfig
    config: CMAESConfig

    # ---- strategy parameters -----------------------------------------------------------------------------
    def init_state(self) -> None:
        d = self.dim
        default = 4 + int(3 * math.log(d))
        #: lambda of the first run and of BIPOP's small regime's base
        self.lambda_default = self.config.pop_size or default
        self.n_restarts = 0
        self.n_large = 0  # BIPOP: large-population runs started after the first
        self.evals_large = 0  # evaluations spent by the first and the large-population runs
        self.evals_small = 0
        self.regime = "large"
        self._start(self.lambda_default, self.config.sigma0, self.uniform_unit())

    def uniform_unit(self) -> Tensor:
        """A uniform point of ``[0, 1]^d`` (a restart's mean)."""
        return torch.rand(self.dim, generator=self.generator, **self.like)

    def _start(self, lam: int, sigma: float, mean: Tensor) -> None:
        """Begin a run: population ``lam``, step ``sigma``, mean ``mean`` (normalized), identity covariance."""
        d = self.dim
        self.lam = int(lam)
        self.mean = mean
        self.sigma = torch.tensor(sigma, **self.like)
        self.sigma_start = float(sigma)
        self.C = torch.eye(d, **self.like)
        self.B = torch.eye(d, **self.like)
        self.D = torch.ones(d, **self.like)
        self.pc = torch.zeros(d, **self.like)
        self.ps = torch.zeros(d, **self.like)
        self.run_generations = 0
        hist = 10 + math.ceil(30 * d / self.lam)
        self.best_history = torch.full((hist,), math.inf, **self.like)
        self._set_weights()

    def _set_weights(self) -> None:
        """Hansen's (2016) weights: positive for the best half, negative (active CMA) for the rest."""
        d, lam = self.dim, self.lam
        mu = lam // 2
        raw = math.log((lam + 1) / 2) - torch.log(torch.arange(1, lam + 1, **self.like))
        pos = raw[:mu] / raw[:mu].sum()
        self.weights = pos
        mu_eff = float(1.0 / (pos**2).sum())
        self.mu_eff = mu_eff
        neg = raw[mu:]
        mu_eff_neg = float(neg.sum() ** 2 / (neg**2).sum()) if neg.numel() else 0.0
        self.cc = (4 + mu_eff / d) / (d + 4 + 2 * mu_eff / d)
        self.cs = (mu_eff + 2) / (d + mu_eff + 5)
        self.c1 = 2 / ((d + 1.3) ** 2 + mu_eff)
        self.cmu = min(1 - self.c1, 2 * (mu_eff - 2 + 1 / mu_eff) / ((d + 2) ** 2 + mu_eff))
        alpha_neg = min(
            1 + self.c1 / self.cmu,
            1 + 2 * mu_eff_neg / (mu_eff + 2),
            (1 - self.c1 - self.cmu) / (d * self.cmu),
        )
        if self.config.active and neg.numel():
            neg = alpha_neg * neg / neg.abs().sum()
        else:
            neg = torch.zeros_like(neg)
        #: all ``lam`` recombination weights of the covariance update (negative ones: active CMA)
        self.cov_weights = torch.cat([pos, neg])
        #: their sum, read every generation: a number, so no host sync then
        self._cov_weight_sum = float(self.cov_weights.sum())
        self.damps = 1 + 2 * max(0.0, math.sqrt((mu_eff - 1) / (d + 1)) - 1) + self.cs
        self.chi_n = math.sqrt(d) * (1 - 1 / (4 * d) + 1 / (21 * d * d))
        self.max_run_generations = 100 + 150 * (d + 3) ** 2 / math.sqrt(lam)

    # ---- the generation ----------------------------------------------------------------------------------
    def generation_size(self) -> int:
        return self.lam

    def propose(self) -> Tensor:
        z = torch.randn(self.lam, self.dim, generator=self.generator, **self.like)  # (lam, d)
        y = (z * self.D) @ self.B.T  # ~ N(0, C)
        u = self.mean + self.sigma * y
        return self.lower + u * self.width

    def advance(self, generation: Generation) -> None:
        u = (generation.genotype - self.lower) / self.width  # (n, d), normalized, unprojected
        rank_f = self._ranking_values(generation)
        order = rank_f.argsort(stable=True)
        mu = self.weights.shape[0]
        y = (u[order[: self.lam]] - self.mean) / self.sigma  # (lam, d), best first
        y_w = self.weights @ y[:mu]  # (d,)
        self.mean = self.mean + self.sigma * y_w
        c_inv_sqrt_yw = self.B @ ((self.B.T @ y_w) / self.D)
        self.ps = (1 - self.cs) * self.ps + math.sqrt(
            self.cs * (2 - self.cs) * self.mu_eff
        ) * c_inv_sqrt_yw
        g = self.run_generations + 1
        ps_norm = self.ps.norm()
        expected = math.sqrt(1 - (1 - self.cs) ** (2 * g)) * self.chi_n
        hsig = (ps_norm / expected < 1.4 + 2 / (self.dim + 1)).to(self.dtype)
        self.pc = (1 - self.cc) * self.pc + hsig * math.sqrt(
            self.cc * (2 - self.cc) * self.mu_eff
        ) * y_w
        w = self.cov_weights[: y.shape[0]]
        k = self.weights.shape[0]  # the positive weights lead; the rest are negative (active) or 0
        if self.config.active and y.shape[0] > k:
            # negative weights act on directions rescaled to the expected length (Hansen 2016, eq. 46):
            # only their rows need the Mahalanobis norm (half the (lam x d) @ (d x d) product)
            mahalanobis2 = ((y[k:] @ self.B) / self.D).pow(2).sum(dim=1).clamp_min(1e-30)
            w = torch.cat([w[:k], w[k:] * self.dim / mahalanobis2])  # a 0 weight stays 0
        rank_mu = (y.T * w) @ y  # (d, d)
        lost = (1 - hsig) * self.cc * (2 - self.cc)
        self.C = (
            (1 - self.c1 - self.cmu * self._cov_weight_sum + self.c1 * lost) * self.C
            + self.c1 * torch.outer(self.pc, self.pc)
            + self.cmu * rank_mu
        )
        self.C = (self.C + self.C.T) / 2
        self.sigma = self.sigma * torch.exp((self.cs / self.damps) * (ps_norm / self.chi_n - 1))
        eigval, self.B = torch.linalg.eigh(self.C)
        self.D = eigval.clamp_min(torch.finfo(self.dtype).tiny).sqrt()
        self.run_generations = g
        best_now = generation.f.min()
        self.best_history = torch.cat([self.best_history[1:], best_now.view(1)])
        self._account(generation.f.shape[0])
        if self._stalled(generation.f):
            self._restart()

    def _ranking_values(self, generation: Generation) -> Tensor:
        """Objective values plus the boundary penalty of samples that left the box."""
        f = generation.f
        finite = f < math.inf  # failed rows are +inf, nothing is NaN here
        # range of the finite values without a host sync (none finite: f stays +inf either way)
        spread = (
            torch.where(finite, f, -math.inf).max() - torch.where(finite, f, math.inf).min()
        ).clamp_min(1e-12)
        out = ((generation.genotype - generation.x) / self.width).pow(2).sum(dim=1)
        return f + self.config.boundary_penalty * spread * out

    # ---- restarts ----------------------------------------------------------------------------------------
    def _account(self, n: int) -> None:
        if self.regime == "large":
            self.evals_large += n
        else:
            self.evals_small += n

    def _stalled(self, f: Tensor) -> bool:
        """Whether this run should stop (one host sync per generation)."""
        c = self.config
        if c.restarts == "none" or self.n_restarts >= c.max_restarts:
            return False
        finite = torch.isfinite(f)
        hist = self.best_history
        full = self.run_generations >= hist.shape[0]
        f_ok = torch.where(finite, f, f[finite].max() if bool(finite.any()) else f.new_zeros(()))
        tol_fun = (
            full & (hist.max() - hist.min() < c.tol_fun) & (f_ok.max() - f_ok.min() < c.tol_fun)
        )
        scale = torch.maximum(self.pc.abs().max(), self.C.diagonal().sqrt().max())
        tol_x = self.sigma * scale < c.tol_x
        condition = self.D.max() / self.D.min() > 1e7
        axis = 0.2 * self.sigma * self.C.diagonal().sqrt()
        no_effect = (self.mean + axis == self.mean).any()
        too_long = self.run_generations > self.max_run_generations
        return bool(tol_fun | tol_x | condition | no_effect) or too_long

    def _restart(self) -> None:
        c = self.config
        self.n_restarts += 1
        sigma = c.sigma0
        if c.restarts == "ipop":
            lam = round(self.lambda_default * c.ipop_factor**self.n_restarts)
        elif self.evals_small < self.evals_large:  # BIPOP: the regime that spent less
            self.regime = "small"
            u = float(
                torch.rand((), generator=self.generator, dtype=torch.float64, device=self.device)
            )
            large = self.lambda_default * c.ipop_factor**self.n_large
            lam = max(
                4, math.floor(self.lambda_default * (0.5 * large / self.lambda_default) ** (u * u))
            )
            sigma = c.sigma0 * 10 ** (-2 * u)
        else:
            self.regime = "large"
            self.n_large += 1
            lam = round(self.lambda_default * c.ipop_factor**self.n_large)
        self._start(lam, sigma, self.uniform_unit())

    # ---- metrics and state -------------------------------------------------------------------------------
    def algorithm_metrics(self) -> dict[str, float]:
        return {
            "sigma": float(self.sigma),
            "pop_size": float(self.lam),
            "n_restarts": float(self.n_restarts),
        }

    def algorithm_state(self) -> dict[str, Any]:
        return {
            "lam": self.lam,
            "mean": self.mean,
            "sigma": self.sigma,
            "sigma_start": self.sigma_start,
            "C": self.C,
            "B": self.B,
            "D": self.D,
            "pc": self.pc,
            "ps": self.ps,
            "run_generations": self.run_generations,
            "best_history": self.best_history,
            "n_restarts": self.n_restarts,
            "n_large": self.n_large,
            "evals_large": self.evals_large,
            "evals_small": self.evals_small,
            "regime": self.regime,
        }

    def load_algorithm_state(self, state: dict[str, Any]) -> None:
        self._start(int(state["lam"]), float(state["sigma_start"]), state["mean"])
        self.sigma = state["sigma"]
        self.C = state["C"]
        self.B = state["B"]
        self.D = state["D"]
        self.pc = state["pc"]
        self.ps = state["ps"]
        self.run_generations = int(state["run_generations"])
        self.best_history = state["best_history"]
        self.n_restarts = int(state["n_restarts"])
        self.n_large = int(state["n_large"])
        self.evals_large = int(state["evals_large"])
        self.evals_small = int(state["evals_small"])
        self.regime = str(state["regime"])


class IPOPCMAES(CMAES):
    """CMA-ES restarting with a doubled population at each stall (IPOP)."""

    @dataclass
    class Config(CMAESConfig):
        restarts: str = "ipop"
        """``"ipop"`` by default here; see :class:`CMAESConfig`."""


class BIPOPCMAES(CMAES):
    """CMA-ES alternating large- and small-population restarts (BIPOP)."""

    @dataclass
    class Config(CMAESConfig):
        restarts: str = "bipop"
        """``"bipop"`` by default here; see :class:`CMAESConfig`."""
