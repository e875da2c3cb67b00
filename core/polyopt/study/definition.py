"""Study definitions: a grid of runs (optimizers x problems x seeds), from TOML or Python, validated up front.

A study file::

    [study]
    name = "quickstart"
    seeds = 3                       # or a list: [0, 1, 2]
    budget = { evaluations = 2000 }
    checkpoint_every = 10           # steps between checkpoints

    [metrics]
    record = ["hv", "igd"]          # "hv", "igd", "igd-plus", "best"
    every = 1                       # steps between recordings (the last step is always recorded)
    # every_evaluations = 200       # or: once per 200 evaluations, whatever each step's size

    [[optimizers]]
    name = "nsga2"                  # a registered name, or "package.module:Class"
    config = { pop_size = 40 }

    [[problems]]
    name = "zdt1"
    options = { n_var = 10 }

:meth:`Study.validate` resolves every name, builds every optimizer config and checks every optimizer against
every problem before anything runs, so a typo or an impossible pairing fails in a second, not after an hour.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from polyopt.config import build_config, config_to_dict
from polyopt.errors import ConfigError, did_you_mean
from polyopt.study._parsing import (
    budget_dict,
    check_keys,
    collect_error,
    count,
    table_list,
    toml_reader,
)
from polyopt.study.names import (
    METRIC_ALIASES,
    add_module_dir,
    canonical_metric,
    make_problem,
    metric_input,
    n_objectives,
    resolve_target,
    unknown_metrics,
)

__all__ = [
    "OptimizerSpec",
    "ProblemSpec",
    "MetricsSpec",
    "RunSpec",
    "Study",
    "load_study",
    "make_problem",
    "resolve_target",
]


@dataclass
class OptimizerSpec:
    name: str
    """A registered optimizer name, or ``"module:Class"``: an Optimizer subclass in a module beside the study
    file (or on ``sys.path``)."""
    config: dict[str, Any] = field(default_factory=dict)
    """The optimizer's config fields (unknown keys are refused with suggestions)."""
    label: str = ""
    """Name shown in reports; defaults to ``name`` (set it to compare two configs of one optimizer)."""
    device: str | None = None
    """Device for this optimizer's runs (default: the optimizer's own default)."""
    dtype: str | None = None
    """Floating dtype, e.g. ``"float32"`` (default: the optimizer's)."""
    resources: dict[str, float] = field(default_factory=dict)
    """What each run asks the Ray executor for: ``num_cpus`` (default 1) and ``num_gpus`` (default 0)."""
    budget: dict[str, Any] | None = None
    """Budget for this optimizer's runs, overriding the problem's and the study's (e.g. a small one for BO)."""

    def __post_init__(self) -> None:
        self.label = self.label or self.name
        for key in self.resources:
            if key not in ("num_cpus", "num_gpus"):
                raise ValueError(
                    f"resources key {key!r}; expected num_cpus or num_gpus."
                    f"{did_you_mean(key, ['num_cpus', 'num_gpus'])}"
                )


@dataclass
class ProblemSpec:
    name: str
    """A registered objective or environment name, or ``"module:name"`` in a module beside the study file (or
    on ``sys.path``): an Objective or Environment subclass, or an Objective (``@polyopt.objective``)."""
    options: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the problem's constructor (none for an Objective instance)."""
    label: str = ""
    """Name shown in reports; defaults to ``name``."""
    ref_point: list[float] | None = None
    """Hypervolume reference point (user's direction); default: the problem's ``ref_point``."""
    budget: dict[str, Any] | None = None
    """Budget for this problem's runs, overriding the study's."""

    def __post_init__(self) -> None:
        self.label = self.label or self.name


@dataclass
class MetricsSpec:
    record: list[str] = field(default_factory=lambda: ["hv", "igd", "best"])
    """Metrics recorded while running: any registered metric (``polyopt list metrics``: hypervolume, igd,
    igd-plus, gd, gd-plus, spacing, sparsity, cardinality, expected-utility, and plugins' own), "hv" (short for
    hypervolume) or "best" (single objective). Each is recorded where the problem allows it: hypervolume
    needs a reference point, igd/gd a known Pareto front; "best" is for one objective, the others for
    several."""
    every: int = 1
    """Record every this many steps (the last step is always recorded)."""
    every_evaluations: int | None = None
    """Instead of ``every``: record at the first step past each multiple of this many evaluations, so
    optimizers with different batch sizes are sampled alike."""
    front_points: int = 500
    """Points sampled on the problem's Pareto front for IGD."""

    def __post_init__(self) -> None:
        if isinstance(self.record, str) or not all(isinstance(n, str) for n in self.record):
            raise ValueError(f"record={self.record!r}; expected a list of metric names")
        seen: dict[str, str] = {}
        for name in self.record:
            same = seen.setdefault(canonical_metric(name), name)
            if same != name or self.record.count(name) > 1:
                raise ValueError(f"record lists {same!r} and {name!r}: the same metric twice")
        if self.every < 1:
            raise ValueError(f"every={self.every}; expected at least 1")
        if self.every_evaluations is not None and self.every_evaluations < 1:
            raise ValueError(f"every_evaluations={self.every_evaluations}; expected at least 1")


@dataclass
class _StudySection:
    name: str
    """The study's name (unique within a storage)."""
    seeds: int | list[int] = 3
    """How many seeds (0..n-1) or the list of seeds."""
    budget: dict[str, Any] = field(default_factory=lambda: {"evaluations": 1000})
    """Budget of every run: evaluations, steps, env_steps, seconds (whichever comes first)."""
    checkpoint_every: int = 10
    """Steps between checkpoints (evaluations are stored with each checkpoint)."""
    storage: str | None = None
    """SQLAlchemy URL (PostgreSQL for several machines); default: SQLite in ``<name>.polyopt/study.sqlite``
    beside the study file."""
    heartbeat_seconds: float = 5.0
    """How often a worker renews its lease on the run it executes."""
    stale_after_seconds: float = 60.0
    """A running run whose lease is older than this is considered abandoned and is resumed."""
    max_attempts: int = 3
    """A run that raised, or whose worker died, this many times stays failed (resume --retry-crashed gives
    runs failed by dead workers another round)."""


@dataclass(frozen=True)
class RunSpec:
    """One cell of the grid: what a worker needs to execute a run (JSON-serializable via :meth:`to_dict`)."""

    key: str
    optimizer: str
    optimizer_label: str
    config: dict[str, Any]
    problem: str
    problem_label: str
    problem_options: dict[str, Any]
    seed: int
    budget: dict[str, Any]
    device: str | None
    dtype: str | None
    resources: dict[str, float]
    ref_point: list[float] | None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSpec:
        return cls(**dict(data))


class Study:
    """A grid of runs: ``optimizers x problems x seeds``.

    Args:
        name: unique name within the storage.
        optimizers: specs, names, or a mapping ``{name: config}``.
        problems: specs, names, or a mapping ``{name: options}``.
        seeds: a count (seeds ``0..n-1``) or a list of seeds.
        budget: budget of every run (``{"evaluations": 2000}``, an int, or a :class:`polyopt.Budget`).
        metrics: a :class:`MetricsSpec`, a list of metric names, or a dict of its fields.
        checkpoint_every: steps between checkpoints.
        storage: SQLAlchemy URL (default: SQLite beside the study file, or in the working directory).
        base_dir: where a default SQLite storage and reports go.
        heartbeat_seconds: lease renewal period.
        max_attempts: how many times a run that raised, or whose worker died, is tried.
        max_attempts: how many times a raising run is retried.

    Example:
        >>> from polyopt.study import Study
        >>> s = Study("demo", optimizers=["random-search"], problems=["zdt1"], seeds=2, budget=64)
        >>> [r.key for r in s.runs()]
        ['random-search/zdt1/0', 'random-search/zdt1/1']
        >>> report = s.run(quiet=True)  # doctest: +SKIP
    """

    def __init__(
        self,
        name: str,
        *,
        optimizers: Any,
        problems: Any,
        seeds: int | Sequence[int] = 3,
        budget: Any = 1000,
        metrics: Any = None,
        checkpoint_every: int = 10,
        storage: str | None = None,
        base_dir: str | Path | None = None,
        heartbeat_seconds: float = 5.0,
        stale_after_seconds: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        self.name = name
        self.optimizers = _specs(optimizers, OptimizerSpec, "config", "optimizers")
        self.problems = _specs(problems, ProblemSpec, "options", "problems")
        self.seeds = list(range(seeds)) if isinstance(seeds, int) else [int(s) for s in seeds]
        self.budget = budget_dict(budget)
        self.metrics = _metrics(metrics)
        self.checkpoint_every = int(checkpoint_every)
        self.storage = storage
        self.base_dir = Path(base_dir) if base_dir is not None else Path.cwd()
        add_module_dir(self.base_dir)
        self.heartbeat_seconds = float(heartbeat_seconds)
        self.stale_after_seconds = float(stale_after_seconds)
        self.max_attempts = int(max_attempts)
        #: where reports go (default ``output_dir / "report"``)
        self.report_dir: Path | None = None
        self._check_shape()

    def _check_shape(self) -> None:
        if not self.name or "/" in self.name:
            raise ConfigError(f"study name {self.name!r}; expected a non-empty name without '/'")
        for what, specs in (("optimizer", self.optimizers), ("problem", self.problems)):
            if not specs:
                raise ConfigError(f"the study {self.name!r} lists no {what}s")
            labels = [s.label for s in specs]
            dup = sorted({x for x in labels if labels.count(x) > 1})
            if dup:
                raise ConfigError(
                    f"{what} label(s) {dup} appear twice; give each entry a distinct label"
                )
        if not self.seeds or len(set(self.seeds)) != len(self.seeds):
            raise ConfigError(f"seeds={self.seeds}; expected at least one seed, no repeats")
        if self.checkpoint_every < 1:
            raise ConfigError(f"checkpoint_every={self.checkpoint_every}; expected at least 1")
        if not 0 < self.heartbeat_seconds < self.stale_after_seconds:
            raise ConfigError(
                f"heartbeat_seconds={self.heartbeat_seconds} must be positive and below "
                f"stale_after_seconds={self.stale_after_seconds}"
            )

    @property
    def storage_url(self) -> str:
        """The storage URL (default: ``sqlite:///<base_dir>/<name>.polyopt/study.sqlite``)."""
        return self.storage or f"sqlite:///{self.output_dir / 'study.sqlite'}"

    @property
    def output_dir(self) -> Path:
        """Folder for the default SQLite file and reports: ``<base_dir>/<name>.polyopt``."""
        return self.base_dir / f"{self.name}.polyopt"

    def runs(self) -> list[RunSpec]:
        """Every run of the grid, in a stable order (problem, optimizer, seed)."""
        out = []
        for p in self.problems:
            for o in self.optimizers:
                budget = budget_dict(
                    next(b for b in (o.budget, p.budget, self.budget) if b is not None)
                )
                for seed in self.seeds:
                    out.append(
                        RunSpec(
                            key=f"{o.label}/{p.label}/{seed}",
                            optimizer=o.name,
                            optimizer_label=o.label,
                            config=dict(o.config),
                            problem=p.name,
                            problem_label=p.label,
                            problem_options=dict(p.options),
                            seed=seed,
                            budget=dict(budget),
                            device=o.device,
                            dtype=o.dtype,
                            resources=dict(o.resources),
                            ref_point=None
                            if p.ref_point is None
                            else [float(v) for v in p.ref_point],
                        )
                    )
        return out

    def validate(self) -> None:
        """Resolve every name, build every config, and check every pairing; raise before anything runs.

        Raises:
            UnknownNameError: an optimizer or problem name is not registered (with suggestions).
            ConfigError: an unknown config key or bad value, a bad budget, or an impossible pairing.
        """
        from polyopt.run import Budget

        errors: list[str] = []
        problems = {}
        for p in self.problems:
            try:
                problems[p.label] = make_problem(p.name, p.options)
            except Exception as exc:  # collect every mistake, then raise once
                errors.append(f"{_who(p)}: {exc}")
            if p.budget is not None:
                collect_error(
                    errors, f"problem {p.label!r} budget", lambda p=p: Budget.coerce(p.budget)
                )
        for o in self.optimizers:
            if o.budget is not None:
                collect_error(
                    errors, f"optimizer {o.label!r} budget", lambda o=o: Budget.coerce(o.budget)
                )
        collect_error(errors, "study budget", lambda: Budget.coerce(self.budget))
        for o in self.optimizers:
            try:
                cls = resolve_target("optimizer", o.name)
                build_config(cls.Config, o.config, owner=f"optimizer {o.label!r}")
            except Exception as exc:
                errors.append(f"{_who(o)}: {exc}")
                continue
            for label, problem in problems.items():
                reason = cls.compatibility(problem)
                if reason:
                    errors.append(f"{_who(o)} cannot run on {_who(self._spec(label))}: {reason}")
        errors += unknown_metrics(self.metrics.record)
        for label, problem in problems.items():
            errors += _metric_problems(self.metrics, self._spec(label), problem)
        if errors:
            raise ConfigError(
                f"study {self.name!r} is invalid:\n  - " + "\n  - ".join(dict.fromkeys(errors))
            )

    def run(
        self,
        *,
        executor: str = "local",
        workers: int = 1,
        ray_address: str | None = None,
        quiet: bool = False,
        report: bool = True,
    ) -> Path | None:
        """Validate, store and execute the study (see :func:`polyopt.study.executors.run_study`).

        Returns:
            The HTML report's path (None with ``report=False``).
        """
        from polyopt.study.executors import run_study

        return run_study(
            self,
            executor=executor,
            workers=workers,
            ray_address=ray_address,
            quiet=quiet,
            report=report,
        )

    def report(self, out_dir: str | Path | None = None) -> Path:
        """Write the report of this study's stored runs; return the HTML file's path."""
        from polyopt.study.report import write_report

        return write_report(
            self.storage_url, self.name, out_dir or self.report_dir or self.output_dir / "report"
        )

    def _spec(self, label: str) -> ProblemSpec:
        return next(p for p in self.problems if p.label == label)

    def to_dict(self) -> dict[str, Any]:
        """The definition as plain data (stored with the study; two workers must agree on it)."""
        return {
            "name": self.name,
            "seeds": self.seeds,
            "budget": self.budget,
            "checkpoint_every": self.checkpoint_every,
            "metrics": config_to_dict(self.metrics),
            "heartbeat_seconds": self.heartbeat_seconds,
            "stale_after_seconds": self.stale_after_seconds,
            "max_attempts": self.max_attempts,
            "optimizers": [config_to_dict(o) for o in self.optimizers],
            "problems": [config_to_dict(p) for p in self.problems],
            # where "module:attr" targets beside the study file are found (by workers that load this)
            "module_dir": str(self.base_dir.resolve()),
        }

    def fingerprint(self) -> str:
        """A hash of the settings every run's record depends on besides its own spec: the metrics and the
        checkpoint cadence (unset optional fields left out, so fields added later keep old fingerprints)."""
        metrics = {k: v for k, v in config_to_dict(self.metrics).items() if v is not None}
        data = {"metrics": metrics, "checkpoint_every": self.checkpoint_every}
        return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], *, base_dir: str | Path | None = None) -> Study:
        """Build a study from the TOML layout (``{"study": {...}, "metrics": {...}, "optimizers": [...]}``)."""
        data = dict(data)
        check_keys(data, ("study", "metrics", "optimizers", "problems"), "the study file")
        section = build_config(_StudySection, data.get("study", {}), owner="[study]")
        metrics = build_config(MetricsSpec, data.get("metrics", {}), owner="[metrics]")
        unknown = unknown_metrics(metrics.record)
        if unknown:
            raise ConfigError(f"[metrics] {unknown[0]}")
        return cls(
            section.name,
            optimizers=table_list(data, "optimizers"),
            problems=table_list(data, "problems"),
            seeds=section.seeds,
            budget=section.budget,
            metrics=metrics,
            checkpoint_every=section.checkpoint_every,
            storage=section.storage,
            base_dir=base_dir,
            heartbeat_seconds=section.heartbeat_seconds,
            stale_after_seconds=section.stale_after_seconds,
            max_attempts=section.max_attempts,
        )

    @classmethod
    def from_stored(cls, data: Mapping[str, Any], *, storage: str | None = None) -> Study:
        """Rebuild a study from :meth:`to_dict` output (as kept in the storage)."""
        d = dict(data)
        study = cls(
            d["name"],
            optimizers=[OptimizerSpec(**o) for o in d["optimizers"]],
            problems=[ProblemSpec(**p) for p in d["problems"]],
            seeds=d["seeds"],
            budget=d["budget"],
            metrics=MetricsSpec(**d["metrics"]),
            checkpoint_every=d["checkpoint_every"],
            storage=storage,
            heartbeat_seconds=d["heartbeat_seconds"],
            stale_after_seconds=d["stale_after_seconds"],
            max_attempts=d["max_attempts"],
        )
        if d.get(
            "module_dir"
        ):  # a worker on the machine that stored it finds the study's own modules
            add_module_dir(d["module_dir"])
        return study

    @property
    def grid(self) -> str:
        """``"2 optimizers x 1 problem x 3 seeds"``."""
        return " x ".join(
            count(n, word)
            for n, word in (
                (len(self.optimizers), "optimizer"),
                (len(self.problems), "problem"),
                (len(self.seeds), "seed"),
            )
        )

    def __repr__(self) -> str:
        return f"Study({self.name!r}, {self.grid})"


def load_study(path: str | Path) -> Study:
    """Read a TOML study file; a default SQLite storage goes beside it.

    Raises:
        ConfigError: the file is missing, is not valid TOML, or has unknown sections or keys.
    """
    toml = toml_reader()
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"study file {str(path)!r} does not exist")
    try:
        data = toml.loads(path.read_text())
    except toml.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from exc
    try:
        return Study.from_dict(data, base_dir=path.resolve().parent)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def _metric_problems(metrics: MetricsSpec, spec: ProblemSpec, problem: Any) -> list[str]:
    """What this problem lacks for the recorded metrics: a reference point for hypervolume (and any metric
    taking ``ref_point``) is an error; a missing front for IGD is skipped silently, as "best" is for several
    objectives and the set indicators for one."""
    from polyopt.plugins import registry

    m = n_objectives(problem)
    names = [n for n in metrics.record if n in registry().names("metric") or n in METRIC_ALIASES]
    needs_ref = [
        n
        for n in names
        if metric_input(registry().get("metric", canonical_metric(n))) == "ref_point"
    ]
    if not needs_ref or m == 1:
        return []
    ref = spec.ref_point if spec.ref_point is not None else getattr(problem, "ref_point", None)
    if ref is None:
        return [
            f"problem {spec.label!r} has no ref_point for {needs_ref[0]}; set ref_point = [...] in "
            "its entry"
        ]
    if len(ref) != m:
        return [
            f"problem {spec.label!r}: ref_point has {len(ref)} values, the problem has {m} objectives"
        ]
    return []


def _specs(items: Any, cls: type, options_key: str, what: str) -> list[Any]:
    if isinstance(items, (str, cls)):
        items = [items]
    if isinstance(items, Mapping):
        items = [{"name": k, options_key: dict(v or {})} for k, v in items.items()]
    out = []
    for item in items:
        if isinstance(item, cls):
            out.append(item)
        elif isinstance(item, str):
            out.append(cls(name=item))
        elif isinstance(item, Mapping):
            out.append(build_config(cls, item, owner=f"an entry of {what}"))
        else:
            raise ConfigError(
                f"{what} entry {item!r}; expected a name, a mapping or {cls.__name__}"
            )
    return out


def _metrics(metrics: Any) -> MetricsSpec:
    if metrics is None:
        return MetricsSpec()
    if isinstance(metrics, MetricsSpec):
        return metrics
    if isinstance(metrics, Mapping):
        return build_config(MetricsSpec, metrics, owner="metrics")
    return build_config(MetricsSpec, {"record": list(metrics)}, owner="metrics")


def _who(spec: OptimizerSpec | ProblemSpec) -> str:
    """``optimizer 'NSGA-II' (nsga2)``: the label, and the registered name when it differs."""
    what = "optimizer" if isinstance(spec, OptimizerSpec) else "problem"
    return f"{what} {spec.label!r}" + (f" ({spec.name})" if spec.name != spec.label else "")
