"""The ``polyopt`` command line: list and inspect plugins, run one optimization, and (mounted) studies.

Commands::

    polyopt plugins                          discovered plugins: name, distribution, version, status, error
    polyopt list [KIND]                      registered names and summaries (optimizers, objectives, ..., all)
    polyopt info NAME                        docstring, plugin, and config fields (optimizers) or space (objectives)
    polyopt optimize -o NAME -p NAME --budget N [--set a=1,b=2 ...] [--json] [--quiet]
    polyopt study ...                        studies (from ``polyopt.study.cli``, loaded on use)

Errors print one red line (``error: ...``) and exit with 2 for bad input (unknown names, config keys, an
incompatible problem) or 1 for anything else; ``polyopt --debug ...`` shows the traceback instead. Listing and
inspecting names never imports heavy libraries: registry targets stay lazy until a command needs the object.
"""

from __future__ import annotations

import ast
import contextlib
import json
import math
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from polyopt.errors import (
    ConfigError,
    IncompatibleProblemError,
    PolyoptError,
    SpaceError,
    UnknownNameError,
    did_you_mean,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="polyopt",
    help="One framework for black-box search and reinforcement learning: plugins, optimizers, problems.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    # plain help: typer's rich panels show flags as taking a value ("--json <bool>"), which they do not
    rich_markup_mode=None,
)

_out = Console(soft_wrap=True, highlight=False)
_err = Console(stderr=True, soft_wrap=True, highlight=False)
_options = {"debug": False}
#: Errors that mean "the user asked for something invalid" (exit code 2); anything else exits with 1.
_USAGE_ERRORS = (ConfigError, IncompatibleProblemError, SpaceError)


def _kind_aliases() -> dict[str, str]:
    """``{"optimizers": "optimizer", "policy-loss": "policy_loss", ...}``: every spelling a user may type."""
    aliases = {}
    for kind in _registry(report_failed=False).kinds():
        for form in (kind, kind.replace("_", "-")):
            aliases[form] = aliases[_plural(form)] = kind
    return aliases


def _plural(kind: str) -> str:
    """``policy_loss`` -> ``policy-losses``, ``local_search`` -> ``local-searches``, ``optimizer`` ->
    ``optimizers`` (as users type them)."""
    word = kind.replace("_", "-")
    return word + ("es" if word.endswith(("s", "ch", "sh", "x")) else "s")


# ---------------------------------------------------------------------------------------------------- errors


@contextlib.contextmanager
def _errors() -> Iterator[None]:
    """Turn exceptions into one red ``error:`` line and an exit code, unless ``--debug`` asks for tracebacks."""
    try:
        yield
    except (typer.Exit, typer.Abort, KeyboardInterrupt):
        raise
    except Exception as exc:
        if _options["debug"]:
            raise
        if isinstance(exc, PolyoptError):
            message = str(exc)
        else:  # a bug or a library error: say what it was and how to see more
            message = f"{type(exc).__name__}: {exc} (run `polyopt --debug ...` for the traceback)"
        _err.print(f"error: {' '.join(message.splitlines())}", style="red", markup=False)
        raise typer.Exit(2 if isinstance(exc, _USAGE_ERRORS) else 1) from None


def _registry(*, report_failed: bool = True) -> Any:
    """The process-wide registry. Plugin load failures become one warning line (details: ``polyopt plugins``);
    other discovery warnings (e.g. polyopt not installed) are shown as they are."""
    from polyopt import plugins

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        reg = plugins.registry()
    for w in caught:
        if "was not loaded" not in str(w.message):
            _err.print(f"warning: {w.message}", style="yellow", markup=False)
    failed = [i.name for i in plugins.plugin_infos() if i.status == "failed"]
    if failed and report_failed:
        _err.print(
            f"warning: {len(failed)} plugin(s) failed to load: {', '.join(failed)}; "
            "run `polyopt plugins` for details",
            style="yellow",
            markup=False,
        )
    return reg


@app.callback()
def _root(
    debug: bool = typer.Option(
        False, "--debug", help="Show tracebacks instead of one-line errors."
    ),
) -> None:
    _options["debug"] = debug


# --------------------------------------------------------------------------------------------------- plugins


@app.command("plugins")
def plugins_command() -> None:
    """List discovered plugins with their distribution, version and status (and why a failed one failed)."""
    with _errors():
        from polyopt import plugins

        _registry(report_failed=False)  # failures are rows of the table below
        infos = plugins.plugin_infos()
        any_failed = any(i.error for i in infos)
        columns = ("plugin", "distribution", "version", "status") + (
            ("error",) if any_failed else ()
        )
        table = Table(*columns, title="polyopt plugins")
        styles = {"loaded": "green", "failed": "red", "disabled": "dim"}
        for info in infos:
            status = f"[{styles.get(info.status, '')}]{info.status}[/]"
            table.add_row(
                info.name,
                info.distribution,
                info.version,
                status,
                *((info.error,) if any_failed else ()),
            )
        _out.print(table)
        if not infos:
            _out.print(
                "no plugins found: install polyopt (`pip install -e .` from a source checkout)"
            )


# ------------------------------------------------------------------------------------------------------ list


@app.command("list")
def list_command(
    kind: str = typer.Argument(
        "all",
        help="optimizers, objectives, environments, metrics, operators, survivals, acquisitions, "
        "advantages, policy-losses, kl-estimators, rewards, or all.",
    ),
) -> None:
    """List registered names of one kind (or all kinds) with their summaries."""
    with _errors():
        kinds = _resolve_kinds(kind)
        reg = _registry()
        for k in kinds:
            entries = list(reg.entries(k))
            if not entries and len(kinds) > 1:
                continue
            table = Table("name", "summary", "plugin", title=_plural(k))
            for e in entries:
                table.add_row(e.name, e.summary, e.plugin)
            _out.print(table if entries else f"no {_plural(k)} registered")


def _resolve_kinds(kind: str) -> list[str]:
    kinds = _registry(report_failed=False).kinds()
    if kind.lower() == "all":
        return kinds
    aliases = _kind_aliases()
    if kind.lower() not in aliases:
        plurals = [_plural(k) for k in kinds]
        hint = did_you_mean(kind.lower(), plurals) or did_you_mean(kind.lower(), aliases)
        raise UnknownNameError(f"unknown kind {kind!r}.{hint} Kinds: {', '.join(plurals)}, all")
    return [aliases[kind.lower()]]


# ------------------------------------------------------------------------------------------------------ info


@app.command("info")
def info_command(
    name: str = typer.Argument(..., help="A registered name, e.g. random-search or zdt1."),
    kind: str = typer.Option(None, "--kind", "-k", help="Only look among this kind."),
) -> None:
    """Describe a registered name: its kind, plugin, docstring, and config fields or problem definition."""
    with _errors():
        reg = _registry()
        kinds = _resolve_kinds(kind) if kind else None
        entries = [
            e for e in reg.entries() if e.name == name and (kinds is None or e.kind in kinds)
        ]
        if not entries:
            names = sorted({e.name for e in reg.entries() if kinds is None or e.kind in kinds})
            raise UnknownNameError(
                f"unknown name {name!r}.{did_you_mean(name, names)} "
                "See `polyopt list` for every registered name."
            )
        for entry in entries:
            _describe(entry)


def _describe(entry: Any) -> None:
    from polyopt._describe import (
        describe,  # shared with the documentation site's registry reference
    )

    _out.print(f"[bold]{entry.name}[/] ({entry.kind.replace('_', ' ')})")
    _out.print(
        f"plugin: {entry.plugin or '-'} ({entry.distribution or 'unknown distribution'})",
        markup=False,
    )
    if isinstance(entry.target, str):
        _out.print(f"target: {entry.target}", markup=False)
    if entry.summary:
        _out.print(f"summary: {entry.summary}", markup=False)
    described = describe(entry, _registry(report_failed=False))
    if described.doc:
        _out.print("")
        _out.print(described.doc, markup=False)
    if entry.kind not in ("objective", "environment"):
        _out.print("")
    for fact in described.facts:
        _out.print(fact, markup=False)
    if described.fields is None:
        return
    if not described.fields:
        _out.print("config: no options")
        return
    table = Table(
        "option",
        "type",
        "default",
        "description",
        title="config (polyopt optimize --set key=value)",
    )
    for field in described.fields:
        table.add_row(field.name, field.type, field.shown_default, field.doc)
    _out.print(table)


# -------------------------------------------------------------------------------------------------- optimize


@app.command("optimize")
def optimize_command(
    optimizer: str = typer.Option(
        ..., "--optimizer", "-o", help="Optimizer name (`polyopt list optimizers`)."
    ),
    problem: str = typer.Option(..., "--problem", "-p", help="Objective or environment name."),
    budget: int = typer.Option(None, "--budget", "-b", help="Objective evaluations."),
    budget_seconds: float = typer.Option(None, "--budget-seconds", help="Wall-clock seconds."),
    budget_steps: int = typer.Option(None, "--budget-steps", help="Optimizer steps."),
    budget_env_steps: int = typer.Option(
        None, "--budget-env-steps", help="Environment steps (RL)."
    ),
    seed: int = typer.Option(None, "--seed", help="Run seed (random when omitted; printed)."),
    device: str = typer.Option(
        None, "--device", help="cpu, cuda, cuda:1 or auto (default: optimizer's)."
    ),
    dtype: str = typer.Option(None, "--dtype", help="float32 or float64 (default: optimizer's)."),
    set_: list[str] = typer.Option(
        [],
        "--set",
        "-s",
        metavar="KEY=VALUE[,...]",
        help="Optimizer config: --set pop_size=50,crossover_prob=0.9 (or repeat --set).",
    ),
    problem_set: list[str] = typer.Option(
        [],
        "--problem-set",
        "-P",
        metavar="KEY=VALUE[,...]",
        help="Problem options: -P n_var=10,n_obj=3 (or repeat -P).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the result as JSON."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress on stderr."),
) -> None:
    """Run one optimizer on one problem under a budget and print the result (progress on stderr)."""
    with _errors():
        import polyopt

        limits = {
            "evaluations": budget,
            "seconds": budget_seconds,
            "steps": budget_steps,
            "env_steps": budget_env_steps,
        }
        if all(v is None for v in limits.values()):
            raise ConfigError(
                "no budget: give --budget N (evaluations), --budget-seconds, --budget-steps "
                "or --budget-env-steps"
            )
        config = {k: _config_value(v) for k, v in _pairs(set_, "--set").items()}
        options = {k: _literal(v) for k, v in _pairs(problem_set, "--problem-set").items()}
        reg = _registry()
        reg.entry("optimizer", optimizer)  # unknown names fail before the problem is built
        prob = polyopt.make_problem(problem, **options)
        result = polyopt.optimize(
            optimizer,
            prob,
            budget=polyopt.Budget.coerce(limits),
            seed=seed,
            device=device,
            dtype=dtype,
            verbose=not quiet,
            **config,
        )
        ref = getattr(prob, "ref_point", None) if result.n_objectives > 1 else None
        hv = None if ref is None else float(result.hypervolume(ref))
        if as_json:
            sys.stdout.write(json.dumps(_result_dict(result, hv), indent=2) + "\n")
        else:
            _print_result(result, hv, ref)


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    """``["a=1,b=2", "c=[3, 4]"]`` -> ``{"a": "1", "b": "2", "c": "[3, 4]"}``: commas split pairs, except
    inside brackets or quotes (``--set weights=[1,2]`` is one pair)."""
    out = {}
    for item in (pair for group in items for pair in _split_pairs(group)):
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"{flag} {item!r}; expected key=value (several: a=1,b=2)")
        out[key.strip()] = value.strip()
    return out


def _split_pairs(text: str) -> list[str]:
    """Split ``text`` at the commas that are outside brackets and quotes."""
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch in "([{":
            depth += 1
        elif ch in ")]}":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p for p in parts if p.strip()] or [text]


def _literal(text: str) -> Any:
    """A Python literal (``3``, ``0.5``, ``[1, 2]``, ``None``, ``True``) or, failing that, the text itself."""
    if text.lower() in ("none", "null"):
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def _config_value(text: str) -> Any:
    """Config values stay text (the optimizer's Config coerces them by field type) except None and containers."""
    if text.lower() in ("none", "null") or text[:1] in "[({":
        return _literal(text)
    return text


def _print_result(result: Any, hv: float | None, ref: Any) -> None:
    _out.print(result.summary(), markup=False)
    if result.n_objectives > 1 and result.values.shape[0]:  # a trainer result has no x
        f = result.f
        ranges = ", ".join(
            f"f{i + 1} in [{float(lo):.4g}, {float(hi):.4g}]"
            for i, (lo, hi) in enumerate(zip(f.min(dim=0).values, f.max(dim=0).values))
        )
        _out.print(f"front: {ranges}", markup=False)
    if hv is not None:
        _out.print(
            f"hypervolume = {hv:.6g} (reference point {[float(r) for r in ref]})", markup=False
        )
    _out.print(f"seed = {result.extras.get('seed')}", markup=False)


def _result_dict(result: Any, hv: float | None) -> dict[str, Any]:
    def clean(values: list[Any]) -> list[Any]:  # JSON has no inf/NaN
        return [
            clean(v) if isinstance(v, list) else (v if math.isfinite(v) else None) for v in values
        ]

    out: dict[str, Any] = {
        "optimizer": result.optimizer,
        "problem": result.problem,
        "seed": result.extras.get("seed"),
        "n_evaluations": result.n_evaluations,
        "n_steps": result.n_steps,
        "n_env_steps": result.n_env_steps,
        "wall_time": result.wall_time,
        "feasible": result.feasible,
        "directions": list(result.directions),
    }
    if hasattr(result, "x"):
        out["x"] = clean(result.x.tolist())
    out["f"] = clean(result.f.tolist())
    if hasattr(result, "x") and result.n_objectives == 1 and result.x.shape[0]:
        out["f_best"] = result.f_best
    if not hasattr(result, "x"):  # a trainer: what its rows are and its own metrics
        out["reward_names"] = list(result.reward_names)
        out["labels"] = None if result.labels is None else result.labels.tolist()
        out["metrics"] = dict(zip(result.metrics, clean(list(result.metrics.values()))))
    if hv is not None:
        out["hypervolume"] = hv
    return out


# ----------------------------------------------------------------------------------------------------- study


@app.command(
    "study",
    add_help_option=False,
    context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
)
def study_command(ctx: typer.Context) -> None:
    """Define, run and report studies (optimizer x problem x seed grids); see `polyopt study --help`."""
    with _errors():
        try:
            from polyopt.study.cli import app as study_app
        except ImportError as exc:
            raise PolyoptError(
                f"`polyopt study` is not available: cannot import polyopt.study.cli "
                f"({type(exc).__name__}: {exc})"
            ) from exc
        command = typer.main.get_command(study_app)
        command.main(args=list(ctx.args), prog_name="polyopt study")


# ------------------------------------------------------------------------------------------------------ main


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``polyopt`` script and ``python -m polyopt``."""
    app(args=argv, prog_name="polyopt")
