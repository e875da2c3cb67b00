"""The one-call API: :func:`optimize` runs any optimizer on any problem under a budget."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import torch

from polyopt import devices
from polyopt._progress import quiet_third_party, watch
from polyopt.errors import ConfigError, UnknownNameError, did_you_mean
from polyopt.objective import Objective
from polyopt.optimizer import Optimizer
from polyopt.result import RunResult

__all__ = ["Budget", "optimize", "make", "make_problem", "Callback"]

#: ``callback(optimizer, metrics)`` after every step; returning True stops the run.
Callback = Callable[[Optimizer, dict[str, float]], Any]


@dataclass(frozen=True)
class Budget:
    """Limits of a run; the run stops at whichever is reached first.

    Attributes:
        evaluations: objective evaluations (an ask/tell step never asks for more than are left).
        steps: optimizer steps.
        env_steps: environment steps (RL trainers).
        seconds: wall-clock seconds the optimizer has run, across resumes (its setup included).

    Limits are checked before each step, so a run overshoots a budget by at most one step.
    """

    evaluations: int | None = None
    steps: int | None = None
    env_steps: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        limits = {
            "evaluations": self.evaluations,
            "steps": self.steps,
            "env_steps": self.env_steps,
            "seconds": self.seconds,
        }
        if all(v is None for v in limits.values()):
            raise ConfigError(
                "Budget() sets no limit; expected evaluations=, steps=, env_steps= or seconds="
            )
        for key, value in limits.items():
            if value is not None and (
                not isinstance(value, (int, float))
                or isinstance(value, bool)
                or not value > 0
                or not math.isfinite(value)
            ):
                raise ConfigError(f"Budget {key}={value!r}; expected a positive finite number")

    @classmethod
    def coerce(cls, budget: Budget | int | Mapping[str, Any]) -> Budget:
        """Accept a Budget, an int (evaluations) or a mapping of its fields."""
        if isinstance(budget, Budget):
            return budget
        if isinstance(budget, int) and not isinstance(budget, bool):
            return cls(evaluations=budget)
        if isinstance(budget, Mapping):
            from polyopt.config import build_config

            return build_config(cls, budget, owner="budget")
        raise ConfigError(
            f"budget={budget!r}; expected Budget(...), an int (evaluations) or a dict"
        )

    def exhausted(self, optimizer: Optimizer, seconds: float) -> bool:
        """Whether ``optimizer`` has spent this budget (``seconds``: its elapsed time)."""
        return (
            (self.evaluations is not None and optimizer.n_evaluations >= self.evaluations)
            or (self.steps is not None and optimizer.n_steps >= self.steps)
            or (self.env_steps is not None and optimizer.n_env_steps >= self.env_steps)
            or (self.seconds is not None and seconds >= self.seconds)
        )


def make(kind: str, name: str, /, *args: Any, **options: Any) -> Any:
    """Create a registered object by name: ``make("objective", "dtlz2", n_obj=5)``.

    Unknown names and options raise with "did you mean ...?".
    """
    from polyopt.plugins import registry

    return registry().create(kind, name, *args, **options)


def make_problem(problem: Any, **options: Any) -> Any:
    """Return ``problem`` itself, or make it from a registered objective or environment name."""
    if not isinstance(problem, str):
        if options:
            raise ConfigError(
                f"problem options {sorted(options)} given with a problem object; "
                "pass them when creating the problem"
            )
        return problem
    from polyopt.plugins import registry

    reg = registry()
    for kind in ("objective", "environment"):
        if (kind, problem) in reg:
            return reg.create(kind, problem, **options)
    other = [k for k in reg.kinds() if (k, problem) in reg]
    if other:
        what = " and ".join(
            f"a{'n' if k[0] in 'aeiou' else ''} {k.replace('_', ' ')}" for k in other
        )
        raise UnknownNameError(
            f"{problem!r} is {what}, not a problem; see `polyopt list objectives` and "
            "`polyopt list environments`"
        )
    names = reg.names("objective") + reg.names("environment")
    raise UnknownNameError(
        f"unknown problem {problem!r}.{did_you_mean(problem, names)} "
        "See `polyopt list objectives` and `polyopt list environments`."
    )


def _make_optimizer(
    optimizer: Any, problem: Any, seed: int | None, device: Any, dtype: Any, config: dict[str, Any]
) -> Optimizer:
    if isinstance(optimizer, Optimizer):
        if config or (problem is not None and problem is not optimizer.problem):
            raise ConfigError(
                "an optimizer instance is already configured with its problem; pass its name or "
                "class to configure it here"
            )
        return optimizer
    if isinstance(optimizer, str):
        from polyopt.plugins import registry

        built: Optimizer = registry().create(
            "optimizer", optimizer, problem, seed=seed, device=device, dtype=dtype, **config
        )
        return built
    if not (isinstance(optimizer, type) and issubclass(optimizer, Optimizer)):
        raise ConfigError(
            f"optimizer={optimizer!r}; expected a registered name, an Optimizer class or instance"
        )
    return optimizer(problem, seed=seed, device=device, dtype=dtype, **config)


def optimize(
    optimizer: str | type[Optimizer] | Optimizer,
    problem: str | Objective | Any = None,
    *,
    budget: Budget | int | Mapping[str, Any],
    seed: int | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype | str | None = None,
    callbacks: Iterable[Callback] = (),
    threads: int | None = None,
    verbose: bool | None = None,
    **config: Any,
) -> RunResult:
    """Run ``optimizer`` on ``problem`` until ``budget`` is spent and return the result (a
    :class:`~polyopt.Result` from a search optimizer, a :class:`~polyopt.TrainerResult` from a trainer).

    Args:
        optimizer: a registered name (``"nsga2"``), an Optimizer class, or a constructed optimizer.
        problem: a registered objective/environment name or an object (omit with an optimizer instance).
        budget: a :class:`Budget`, an int (evaluations) or a dict of Budget fields.
        seed: the run seed (random when None; the result records it in ``extras["seed"]``).
        device: ``"cpu"``, ``"cuda"``, ... (default: the optimizer's; the GPU when there is one).
        dtype: floating dtype (default: the optimizer's).
        callbacks: ``cb(optimizer, metrics)`` after each step; returning True stops the run.
        threads: torch intra-op threads during the run (default: ``$POLYOPT_THREADS``, else 1 on the CPU;
            0 leaves torch's setting); see :mod:`polyopt.devices`.
        verbose: show progress on stderr (True), not at all (False), or on a terminal only (None).
        **config: the optimizer's config fields (``pop_size=200``); unknown keys raise.

    Example:
        >>> import polyopt
        >>> result = polyopt.optimize("random-search", "zdt1", budget=200, seed=0)
        >>> result.f.shape[1]
        2
    """
    budget = Budget.coerce(budget)
    quiet_third_party()  # before the optimizer's module (and its libraries) is imported
    opt = _make_optimizer(
        optimizer,
        make_problem(problem) if problem is not None else None,
        seed,
        device,
        dtype,
        config,
    )
    return run(opt, budget, callbacks, threads=threads, verbose=verbose)


def run(
    opt: Optimizer,
    budget: Budget,
    callbacks: Iterable[Callback] = (),
    *,
    threads: int | None = None,
    verbose: bool | None = False,
) -> RunResult:
    """Step ``opt`` until ``budget`` is spent, counting what it already spent (a resumed optimizer's
    evaluations, steps and seconds count), calling plugin hooks and ``callbacks``.

    The budget is checked before each step, so a run overshoots it by at most one step. Steps run with
    ``threads`` torch intra-op threads (default: one on the CPU; see :mod:`polyopt.devices`). ``verbose`` as
    in :func:`optimize`, but quiet by default (study workers run this).

    Raises:
        ConfigError: ``budget`` sets no limit this optimizer can spend (e.g. evaluations for a trainer).
    """
    from polyopt.plugins import notify

    reason = opt.budget_problem(budget)
    if reason:
        raise ConfigError(f"{budget} can never stop optimizer {opt.name!r}: {reason}")
    callbacks = list(callbacks)
    opt.evaluation_limit = budget.evaluations
    opt.env_step_limit = budget.env_steps
    notify("polyopt_run_started", optimizer=opt, problem=opt.problem, budget=budget)
    with (
        devices.threads(devices.resolve_threads(threads, opt.device)),
        watch(opt, budget, verbose, callbacks),  # progress (verbose), third-party warnings quiet
    ):
        while not budget.exhausted(opt, opt.elapsed):
            metrics = opt.step()
            notify("polyopt_step_finished", optimizer=opt, step=opt.n_steps, metrics=metrics)
            if any(cb(opt, metrics) is True for cb in callbacks):
                break
        result = opt.result()
    result.extras.setdefault("seed", opt.seed)
    notify("polyopt_run_finished", optimizer=opt, result=result)
    return result
