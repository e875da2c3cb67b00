"""What ``polyopt info NAME`` says about a registered name, as data: the CLI prints it, the documentation
site's registry reference renders every name with it, so the two cannot say different things.

:func:`describe` loads the entry's target (a registry target is lazy until then) and returns its docstring,
the facts that apply to its kind (what an optimizer searches or trains on, its dtypes and budgets; a problem's
options, space and objectives; a component's kind and protocol) and, for optimizers, the config fields.
"""

from __future__ import annotations

import dataclasses
import inspect
import warnings
from dataclasses import dataclass
from typing import Any

from polyopt.config import config_fields
from polyopt.registry import Entry, Registry

__all__ = ["ConfigField", "Description", "describe", "options_of"]


@dataclass(frozen=True)
class ConfigField:
    """One field of an optimizer's ``Config``: name, type as written, default (``dataclasses.MISSING`` when
    required) and the docstring after the field."""

    name: str
    type: str
    default: Any
    doc: str

    @property
    def shown_default(self) -> str:
        """``repr(default)``, or ``"(required)"``."""
        return "(required)" if self.default is dataclasses.MISSING else repr(self.default)


@dataclass(frozen=True)
class Description:
    """What is known about one registered name.

    Attributes:
        entry: the registry entry (kind, name, plugin, distribution, target, summary).
        doc: the target's docstring (``inspect.getdoc``), or ``""``.
        facts: lines on what applies to the kind, in the order ``polyopt info`` prints them.
        fields: an optimizer's config fields; None where there is no ``Config`` dataclass.
        protocol: a component kind's protocol, as ``polyopt.components.Name``; ``""`` for core kinds.
    """

    entry: Entry
    doc: str
    facts: list[str]
    fields: list[ConfigField] | None
    protocol: str = ""


def describe(entry: Entry, registry: Registry) -> Description:
    """Describe ``entry`` (loading its target). Problems that cannot be built with their default options say
    why in a fact line instead of raising."""
    target = entry.load()
    doc = inspect.getdoc(target) or ""
    if entry.kind == "optimizer":
        facts, fields = _optimizer_facts(target), _fields(target)
        return Description(entry, doc, facts, fields)
    if entry.kind in ("objective", "environment"):
        return Description(entry, doc, _problem_facts(entry, target), None)
    kind = registry.kind(entry.kind)
    protocol = kind.protocol if isinstance(kind.protocol, str) else kind.protocol.__name__
    where = "" if isinstance(kind.protocol, str) else f"{kind.protocol.__module__.split('._')[0]}."
    facts = [
        f"kind {kind.name!r}: {kind.doc}",
        f"protocol: {where}{protocol} (declared by plugin {kind.plugin!r})",
    ]
    return Description(entry, doc, facts, None, protocol=f"{where}{protocol}")


def _optimizer_facts(cls: Any) -> list[str]:
    from polyopt.optimizer import ObjectiveOptimizer, Trainer

    facts = []
    spends = ", ".join(
        k for k in ("evaluations", "steps", "env_steps", "seconds") if k in cls.spends
    )
    device = f"default device: {cls.default_device}"
    dtypes = (
        "any float" if cls.dtypes is None else ", ".join(sorted(str(d)[6:] for d in cls.dtypes))
    )
    if issubclass(cls, ObjectiveOptimizer):
        lo, hi = cls.min_objectives, cls.max_objectives
        count = f"{lo} or more" if hi is None else (str(lo) if hi == lo else f"{lo} to {hi}")
        facts.append(f"searches: an Objective; spaces: {', '.join(sorted(cls.space_kinds))}")
        constraints = "yes" if cls.supports_constraints else "no"
        facts.append(f"objectives: {count}; constraints: {constraints}; {device}")
    elif issubclass(cls, Trainer):
        problem = cls.problem_type.__name__
        facts.append(
            f"trains a policy on: {_article(problem)} {problem}; "
            "returns a TrainerResult (policy, returns, history)"
        )
        facts.append(device)
    facts.append(f"dtype: {dtypes}; budgets it can spend: {spends}")
    return facts


def _fields(cls: Any) -> list[ConfigField] | None:
    config = getattr(cls, "Config", None)
    if not isinstance(config, type) or not dataclasses.is_dataclass(config):
        return None
    return [ConfigField(*f) for f in config_fields(config)]


def _article(word: str) -> str:
    return "an" if word[:1].lower() in "aeiou" else "a"


def _problem_facts(entry: Entry, target: Any) -> list[str]:
    facts = []
    if callable(target):
        facts.append(f"options: {options_of(target)} (polyopt optimize --problem-set key=value)")
    if entry.kind != "objective":
        return facts
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            problem = target() if callable(target) else target
    except Exception as exc:  # options without defaults: the signature above says what to pass
        return [*facts, f"(cannot build it with default options: {exc})"]
    space = repr(problem.space)
    space = space if len(space) <= 100 else space[:97] + "..."
    facts.append(f"space: {problem.space.kind}, {problem.space.dim} dimensions: {space}")
    facts.append(
        f"objectives: {problem.n_objectives} ({', '.join(problem.directions) or 'minimize'}); "
        f"constraints: {problem.n_constraints}"
    )
    for attr in ("ref_point", "optimum"):
        if getattr(problem, attr, None) is not None:
            facts.append(f"{attr.replace('_', ' ')}: {getattr(problem, attr)}")
    return facts


def options_of(target: Any) -> str:
    """``n_var: int | None = None, ...`` from a constructor's signature (annotations shown as written)."""
    try:
        params = list(inspect.signature(target).parameters.values())
    except (TypeError, ValueError):
        return "unknown"
    shown = []
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        text = p.name
        if p.annotation is not p.empty:
            annotation = p.annotation
            text += f": {annotation if isinstance(annotation, str) else inspect.formatannotation(annotation)}"
        if p.default is not p.empty:
            text += f" = {p.default!r}"
        shown.append(text)
    return ", ".join(shown) or "none"
