"""The ask/tell loop every BO optimizer shares.

:class:`BayesOptimizer` keeps the evaluated points (failed ones recorded but never fitted), the pending points,
and a scrambled Sobol initial design of ``n_initial`` points. Once a valid evaluation is known, each ``ask``
refits the surrogate from the stored data and calls :meth:`BayesOptimizer.propose`, which subclasses implement.
All randomness of an ask (raw samples, MC samples, Thompson paths, restarts of a failed fit) comes from torch's
global generator seeded from the optimizer's own generator inside a forked RNG scope, so the optimizer's state
(data + generator) determines every later ask: a resumed run continues exactly.
"""

from __future__ import annotations

import time
import warnings
from abc import abstractmethod
from dataclasses import dataclass
from typing import Any

import torch
from botorch.exceptions.warnings import OptimizationWarning
from botorch.models import SingleTaskGP
from threadpoolctl import threadpool_limits
from torch import Tensor

from polyopt import AskTellOptimizer, Evaluation, Result
from polyopt.errors import ConfigError, EvaluationError
from polyopt.objective import problem_name
from polyopt.spaces import SobolSampler
from polyopt_plugins.bo.acqopt import AcqOptSettings
from polyopt_plugins.bo.surrogate import (
    MODELS,
    SAAS_NUTS,
    TrainingData,
    fit_surrogate,
    hyperparameters,
    valid_rows,
)

__all__ = ["BOConfig", "BayesOptimizer"]

BO_SPACES = frozenset({"continuous", "integer", "categorical", "binary", "mixed"})


@dataclass
class BOConfig:
    n_initial: int | None = None
    """Sobol points before the first model-based point; None means max(5, 2 * encoded dimension), as Ax."""
    batch_size: int = 1
    """Points per ask (q); ``ask(n)`` may ask for any other number."""
    num_restarts: int = 10
    """L-BFGS-B starts of the acquisition optimization (run as one batch)."""
    raw_samples: int = 512
    """Quasi-random points scored to choose the starts."""
    acq_maxiter: int = 200
    """L-BFGS-B iterations per start of the acquisition optimization."""
    fit_maxiter: int = 200
    """L-BFGS-B iterations of the GP hyperparameter fit."""
    model: str = "polyopt"
    """GP prior: ``"polyopt"`` (Matern-5/2 with heuristic lengthscale and noise priors, noise floor 1e-8) or
    ``"botorch"`` (BoTorch's SingleTaskGP defaults, as Ax fits) or ``"saas"`` (BoTorch's fully Bayesian SAAS GP
    sampled by NUTS, for high-dimensional problems with few relevant inputs; one objective, no constraints,
    needs the ``saas`` extra: NumPyro and JAX); see ``polyopt_plugins.bo.surrogate``."""
    saas_nuts: tuple[int, int, int] = SAAS_NUTS
    """NUTS warmup steps, kept samples and thinning of ``model="saas"`` (BoTorch's SAAS tutorial's values;
    cost grows with their product and the data)."""
    incumbent_starts: int = 0
    """Acquisition-optimizer starts placed at the best observed points (continuous spaces, one point at a time),
    besides those chosen from raw samples: refines around the incumbents, as Optuna's GPSampler does."""
    warm_start: bool = False
    """Start each GP fit from the previous fit's hyperparameters (stored in the state). Faster, but it can trap
    fits in a poor optimum (seen on Hartmann6; benchmarks/RESULTS.md), so off by default."""
    mc_samples: int = 128
    """Quasi-Monte Carlo samples of MC acquisition functions."""
    max_failures: int = 50
    """While no evaluation has succeeded, keep sampling Sobol points until this many have failed, then stop
    with an error naming the problem."""

    def __post_init__(self) -> None:
        if self.model not in MODELS:
            raise ValueError(
                f"model={self.model!r}; expected one of {', '.join(map(repr, MODELS))}"
            )
        if len(self.saas_nuts) != 3 or min(self.saas_nuts) < 1:
            raise ValueError(
                f"saas_nuts={self.saas_nuts!r}; expected (warmup steps, samples, thinning), each >= 1"
            )
        self.saas_nuts = (int(self.saas_nuts[0]), int(self.saas_nuts[1]), int(self.saas_nuts[2]))
        if self.model == "saas" and self.warm_start:
            raise ValueError("warm_start=True with model='saas'; NUTS samples anew every fit")
        if self.incumbent_starts < 0:
            raise ValueError(f"incumbent_starts={self.incumbent_starts}; expected 0 or more")
        for key in (
            "batch_size",
            "num_restarts",
            "raw_samples",
            "acq_maxiter",
            "fit_maxiter",
            "mc_samples",
            "max_failures",
        ):
            if getattr(self, key) < 1:
                raise ValueError(f"{key}={getattr(self, key)}; expected at least 1")
        if self.n_initial is not None and self.n_initial < 1:
            raise ValueError(
                f"n_initial={self.n_initial}; expected at least 1 (or None for the default)"
            )
        if self.raw_samples < self.num_restarts:
            raise ValueError(
                f"raw_samples={self.raw_samples} < num_restarts={self.num_restarts}; expected at "
                "least one raw sample per restart"
            )


class BayesOptimizer(AskTellOptimizer):
    """Base of the BO optimizers: data, pending points, Sobol start, failures, seeding, state and result.

    Subclasses implement :meth:`propose` and may override :meth:`fit_data` (which rows the model sees) and
    :meth:`extra_state` / :meth:`load_extra_state`.
    """

    Config = BOConfig
    space_kinds = BO_SPACES
    default_device = "cpu"
    default_dtype = torch.float64
    #: Whether ``model="saas"`` works here (its proposals read the model only through acquisitions).
    supports_saas = False

    def setup(self) -> None:
        space, d = self.problem.space, self.problem.space.dim
        m, c = self.problem.n_objectives, self.problem.n_constraints
        if self.config.model == "saas" and (not self.supports_saas or m + c > 1):
            raise ConfigError(
                f"model='saas' on optimizer {self.name or type(self).__name__!r} with {m} objective(s) and "
                f"{c} constraint(s); the SAAS GP serves ego and turbo on one objective without constraints"
            )
        kw = self.like
        self.x_all = torch.empty(0, d, **kw)
        self.f_all = torch.empty(0, m, **kw)
        self.g_all = torch.empty(0, c, **kw) if c else None
        self.failed_all = torch.empty(0, dtype=torch.bool, device=self.device)
        self.pending = torch.empty(0, d, **kw)
        self.n_initial = self.config.n_initial or max(5, 2 * space.encoded_dim)
        self.settings = AcqOptSettings(
            self.config.num_restarts,
            self.config.raw_samples,
            self.config.acq_maxiter,
            self.config.incumbent_starts,
        )
        self._sobol = SobolSampler(space, self.generator)
        self._hypers: dict[str, Tensor] | None = None
        self.last_timing: dict[str, float] = {}
        self.last_method = ""
        self.setup_bo()

    def setup_bo(self) -> None:
        """Subclass hook run at the end of :meth:`setup`."""

    # ---- ask / tell -------------------------------------------------------------------------------------
    def ask(self, n: int | None = None) -> Tensor:
        n = n or self.batch_size
        n_valid = self.fit_data()[0].shape[0]
        n_sobol = max(0, min(n, self.n_initial - self.design_size() - self.pending.shape[0]))
        if n_valid == 0:
            self._check_failures()
            n_sobol = n  # nothing to model yet: keep exploring
        parts = [self.sobol(n_sobol)] if n_sobol else []
        if n - n_sobol:
            parts.append(self._propose_seeded(n - n_sobol))
        x = torch.cat(parts).to(device=self.device, dtype=self.dtype)
        self.pending = torch.cat([self.pending, x])
        return x

    def tell(self, x: Tensor, evaluation: Evaluation) -> None:
        x = x.to(device=self.device, dtype=self.dtype)
        self.x_all = torch.cat([self.x_all, x])
        self.f_all = torch.cat([self.f_all, evaluation.f.to(self.x_all)])
        if self.g_all is not None:
            g = (
                evaluation.g
                if evaluation.g is not None
                else torch.full((x.shape[0], self.g_all.shape[1]), torch.nan)
            )
            self.g_all = torch.cat([self.g_all, g.to(self.x_all)])
        self.failed_all = torch.cat([self.failed_all, evaluation.failed_mask.to(self.device)])
        if self.pending.shape[0]:
            told = (self.pending.unsqueeze(1) == x.unsqueeze(0)).all(dim=-1).any(dim=1)  # p
            self.pending = self.pending[~told]

    def design_size(self) -> int:
        """Points told so far that count toward the Sobol design (TuRBO restarts its design)."""
        return self.x_all.shape[0]

    def sobol(self, n: int) -> Tensor:
        """``n x d`` points of the scrambled Sobol sequence (decoded from the encoded unit cube)."""
        return self._sobol.draw(n, **self.like)

    def _check_failures(self) -> None:
        n_failed = int(self.failed_all.sum())
        if n_failed >= self.config.max_failures:
            name = problem_name(self.problem)
            raise EvaluationError(
                f"every one of the {n_failed} evaluations of problem {name!r} so far failed (non-finite values "
                f"or reported failures), so {self.name or type(self).__name__} has no data to fit a model on; "
                "check that the objective returns finite values on points of its space "
                f"(the limit is max_failures={self.config.max_failures})"
            )

    # ---- model --------------------------------------------------------------------------------------------
    def training_data(self) -> TrainingData:
        """The valid evaluations (see :meth:`fit_data`) encoded, outcomes in maximization form."""
        x, f, g = self.fit_data()
        space = self.problem.space
        y = -f if g is None else torch.cat([-f, g], dim=-1)
        pending = space.encode(self.pending) if self.pending.shape[0] else None
        return TrainingData(
            space.encode(x), y, self.problem.n_objectives, self.problem.n_constraints, pending
        )

    def fit_data(self) -> tuple[Tensor, Tensor, Tensor | None]:
        """``(x: n x d, f: n x m, g: n x c | None)``: the rows the model is fitted on (all valid rows)."""
        ok = valid_rows(self.f_all, self.g_all, self.failed_all)
        return self.x_all[ok], self.f_all[ok], None if self.g_all is None else self.g_all[ok]

    def fit_model(self, data: TrainingData) -> SingleTaskGP:
        """Fit the surrogate on ``data`` (warm-started from the previous fit when configured)."""
        start = time.perf_counter()
        warm = self._hypers if self.config.warm_start else None
        model, fitted = fit_surrogate(
            data,
            warm_start=warm,
            maxiter=self.config.fit_maxiter,
            kind=self.config.model,
            nuts=self.config.saas_nuts,
        )
        if self.config.warm_start:
            self._hypers = hyperparameters(model) if fitted else None
        self.last_timing["fit_seconds"] = time.perf_counter() - start
        self.last_timing["fit_failed"] = float(not fitted)
        return model

    def _propose_seeded(self, n: int) -> Tensor:
        seed = int(torch.randint(0, 2**31 - 1, (), generator=self.generator, device=self.device))
        devices = [self.device] if self.device.type == "cuda" else []
        # One BLAS thread for SciPy's L-BFGS-B: its OpenBLAS threads otherwise spin against torch's (and against
        # other workers'), measured to make a Branin GP fit 5x slower with two BO processes on two cores.
        with torch.random.fork_rng(devices=devices), threadpool_limits(limits=1, user_api="blas"):
            torch.manual_seed(seed)
            data = self.training_data()
            model = self.fit_model(data)
            start = time.perf_counter()
            with warnings.catch_warnings():
                # BoTorch warns when an L-BFGS-B start ends abnormally and retries with new starts by itself
                warnings.filterwarnings(
                    "ignore", message="Optimization failed", category=RuntimeWarning
                )
                warnings.filterwarnings("ignore", category=OptimizationWarning)
                x = self.propose(n, model, data)
            self.last_timing["acq_seconds"] = time.perf_counter() - start
        return x

    @abstractmethod
    def propose(self, n: int, model: SingleTaskGP, data: TrainingData) -> Tensor:
        """Return ``n x d`` new points given the fitted ``model`` and its ``data`` (pending points included)."""

    # ---- results and state --------------------------------------------------------------------------------
    def evaluations(self) -> Evaluation:
        """Every told evaluation (minimization form), failed rows included."""
        return Evaluation(f=self.f_all, g=self.g_all, failed=self.failed_all)

    def result(self) -> Result:
        return self.make_result(
            self.x_all, self.evaluations(), infeasible_declared=self.infeasible_declared()
        )

    def infeasible_declared(self) -> bool:
        """Whether the optimizer has concluded that no feasible point exists (CONFIG)."""
        return False

    def step_metrics(self, x: Tensor, evaluation: Evaluation) -> dict[str, float]:
        metrics = super().step_metrics(x, evaluation)
        metrics.update(self.last_timing)
        self.last_timing = {}
        return metrics

    def get_state(self) -> dict[str, Any]:
        return {
            "x": self.x_all,
            "f": self.f_all,
            "g": self.g_all,
            "failed": self.failed_all,
            "pending": self.pending,
            "sobol": self._sobol.state_dict(),
            "hypers": self._hypers,
            "extra": self.extra_state(),
        }

    def set_state(self, state: dict[str, Any]) -> None:
        dev = self.device
        self.x_all = state["x"].to(dev)
        self.f_all = state["f"].to(dev)
        self.g_all = None if state["g"] is None else state["g"].to(dev)
        self.failed_all = state["failed"].to(dev)
        self.pending = state["pending"].to(dev)
        self._sobol.load_state_dict(state["sobol"])
        self._hypers = state["hypers"]
        self.load_extra_state(state["extra"])

    def extra_state(self) -> dict[str, Any]:
        """Subclass state to store (tensors, numbers, strings, containers of them)."""
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        """Restore what :meth:`extra_state` returned."""
