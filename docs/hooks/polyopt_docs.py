"""MkDocs hooks that generate the pages which must never drift from the code, at every build.

- ``reference/registry/*.md``: every registered optimizer, objective, environment, metric and component of
  every kind, from the registry itself, described by the code behind ``polyopt info`` (:mod:`polyopt._describe`)
  and listed as ``polyopt list`` lists them.
- ``reference/cli.md``: the ``--help`` of every command, from the typer apps of :mod:`polyopt.cli` and
  :mod:`polyopt.study.cli`.
- ``tutorials/NAME.md`` and ``guide/NAME.md``: each ``docs/tutorials/NAME.py`` and ``docs/guide/NAME.py`` run
  by ``run_tutorial.py`` in a fresh temporary folder, its code, printed output and figures embedded. The tutorials start when the configuration is read and run
  beside the rest of the build, ``POLYOPT_DOCS_JOBS`` at a time (default: the number of CPUs); one that fails
  stops the build with its traceback.

Only polyopt's own plugins are loaded (``POLYOPT_DISABLE_PLUGIN_AUTOLOAD=1``), so the site describes polyopt
and not whatever else is installed beside it.
"""

from __future__ import annotations

import concurrent.futures
import hashlib
import json
import logging
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from mkdocs.config.defaults import MkDocsConfig
from mkdocs.exceptions import PluginError
from mkdocs.structure.files import File, Files

sys.path.insert(0, str(Path(__file__).parent))

from docstring_md import docstring_md, rst_to_md  # importable through the path above

log = logging.getLogger("mkdocs.plugins.polyopt")
HOOKS = Path(__file__).parent
DOCS = HOOKS.parent
#: Tutorials run so far in this process (``mkdocs serve`` rebuilds): source hash -> (cells, images).
_CACHE: dict[str, tuple[list[dict[str, Any]], dict[str, bytes]]] = {}
#: Tutorials started by this build: script -> (source hash when started, its run).
_RUNNING: dict[
    Path, tuple[str, concurrent.futures.Future[tuple[list[dict[str, Any]], dict[str, bytes]]]]
] = {}
_POOL: concurrent.futures.ThreadPoolExecutor | None = None
TUTORIAL_TIMEOUT = 600
#: Folders of docs/ whose ``*.py`` pages are executed at build time.
EXECUTED = ("tutorials", "guide")
#: The tutorials that take longest (about a minute each on a loaded 2-core machine): started first.
SLOWEST = ("grpo", "study", "preference", "morl")


# --------------------------------------------------------------------------------------------------- tutorials


def _all_tutorials() -> list[Path]:
    return [path for folder in EXECUTED for path in sorted((DOCS / folder).glob("*.py"))]


def _tutorials() -> list[Path]:
    """Every tutorial, or those ``POLYOPT_DOCS_TUTORIALS`` names (``first_run,tsp``; empty: none) while
    working on the rest of the site (the others get a page that says they were not run)."""
    scripts = _all_tutorials()
    chosen = os.environ.get("POLYOPT_DOCS_TUTORIALS")
    if chosen is None:
        return scripts
    names = {name.strip().removesuffix(".py") for name in chosen.split(",") if name.strip()}
    unknown = names - {script.stem for script in scripts}
    if unknown:
        raise PluginError(f"POLYOPT_DOCS_TUTORIALS names no tutorial {sorted(unknown)}")
    return [script for script in scripts if script.stem in names]


def _run_tutorial(script: Path) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    with tempfile.TemporaryDirectory(prefix=f"polyopt-docs-{script.stem}-") as tmp:
        out = Path(tmp) / "out"
        work = Path(tmp) / "work"
        out.mkdir()
        work.mkdir()
        # COLUMNS: rich lays out the CLI's tables for a page, not for whatever terminal ran the build
        env = dict(
            os.environ, OMP_NUM_THREADS="1", COLUMNS="100", POLYOPT_DOCS_ROOT=str(DOCS.parent)
        )
        started = time.perf_counter()
        try:
            proc = subprocess.run(
                [sys.executable, str(HOOKS / "run_tutorial.py"), str(script), str(out)],
                cwd=work,
                env=env,
                capture_output=True,
                text=True,
                timeout=TUTORIAL_TIMEOUT,
            )
        except subprocess.TimeoutExpired as exc:
            raise PluginError(
                f"tutorial {script.name} ran past {TUTORIAL_TIMEOUT} s; its budgets are too large"
            ) from exc
        if proc.returncode != 0:
            raise PluginError(
                f"tutorial {script.name} failed (exit {proc.returncode}):\n{proc.stderr[-6000:]}"
            )
        cells = json.loads((out / "cells.json").read_text())
        images = {p.name: p.read_bytes() for p in out.glob("*.png")}
        log.info(f"tutorial {script.name}: {time.perf_counter() - started:.1f} s")
        return cells, images


def _page_path(script: Path, suffix: str) -> str:
    """``tutorials/first_run.md`` for ``docs/tutorials/first_run.py`` (with suffix ``.md``)."""
    return f"{script.parent.name}/{script.stem}{suffix}"


def _key(script: Path) -> str:
    return hashlib.sha256(script.read_bytes()).hexdigest()


def on_config(config: MkDocsConfig) -> MkDocsConfig:
    """Start every tutorial whose source changed since this process last ran it. The build documents
    polyopt's own plugins only (none a user installed), and tutorials plot without a display."""
    global _POOL
    # set when the build starts, not at import: tests import this module
    os.environ["POLYOPT_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    os.environ.setdefault("MPLBACKEND", "Agg")
    if _POOL is None:
        jobs = int(os.environ.get("POLYOPT_DOCS_JOBS", os.cpu_count() or 1))
        _POOL = concurrent.futures.ThreadPoolExecutor(max_workers=max(jobs, 1))
    _RUNNING.clear()
    # the slowest first, so that two workers finish together
    for script in sorted(_tutorials(), key=lambda path: path.stem not in SLOWEST):
        key = _key(script)
        if key not in _CACHE:
            _RUNNING[script] = (key, _POOL.submit(_run_tutorial, script))
    return config


def _tutorial_page(script: Path, cells: list[dict[str, Any]]) -> str:
    seconds = sum(cell.get("seconds", 0.0) for cell in cells)
    out = []
    for index, cell in enumerate(cells):
        if cell["kind"] == "markdown":
            out.append(cell["source"])
            if index == 0:  # after the title
                out.append(
                    f'!!! info "Run when this site was built"\n\n    Every output and figure below '
                    f"came from running [`{script.name}`]({script.name}) during the build "
                    f"({seconds:.0f} s of code cells). It is a Python script in the percent format: "
                    "run it with `python`, or open it as a notebook with jupytext or VS Code."
                )
            continue
        out.append(f"```python\n{cell['source']}\n```")
        printed = (cell.get("stdout", "") + cell.get("stderr", "")).rstrip()
        if printed:
            out.append(f'```text title="output"\n{printed}\n```')
        for image in cell.get("images", []):
            out.append(f"![a figure drawn by {script.name}]({script.stem}/{image})")
    return "\n\n".join(out) + "\n"


def _tutorial_files(config: MkDocsConfig) -> list[File]:
    failures = []
    for key, future in _RUNNING.values():
        try:
            _CACHE[key] = future.result()
        except PluginError as exc:
            failures.append(str(exc))
    if failures:
        raise PluginError("\n\n".join(failures))
    files = []
    chosen = _tutorials()
    for script in _all_tutorials():
        if script not in chosen:
            title = next(
                (line[4:] for line in script.read_text().splitlines() if line.startswith("# # ")),
                script.stem,
            )
            note = f"# {title}\n\nNot run in this build (`POLYOPT_DOCS_TUTORIALS`): see `{script.name}`.\n"
            files.append(File.generated(config, _page_path(script, ".md"), content=note))
            continue
        # the source as it was when its run started (it may have been edited since)
        key = _RUNNING[script][0] if script in _RUNNING else _key(script)
        cells, images = _CACHE[key]
        page = _tutorial_page(script, cells)
        files.append(File.generated(config, _page_path(script, ".md"), content=page))
        for image, data in images.items():
            files.append(File.generated(config, f"{_page_path(script, '')}/{image}", content=data))
    return files


# ---------------------------------------------------------------------------------------------------- registry

#: Registry kinds with a page of their own; every other kind is a component and goes to components.md.
KIND_PAGES = {
    "optimizer": ("optimizers", "Optimizers"),
    "objective": ("objectives", "Objectives"),
    "environment": ("environments", "Environments"),
    "metric": ("metrics", "Metrics"),
}
CORE_PROTOCOLS = {
    "optimizer": "polyopt.Optimizer",
    "objective": "polyopt.Objective",
    "environment": "polyopt.Environment",
}


def _anchor(kind: str, name: str) -> str:
    return re.sub(r"[^a-z0-9-]", "-", f"{kind}-{name}".replace("_", "-"))


def _cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def _code_cell(text: str) -> str:
    """A value in a table cell as code (backticks inside are doubled around)."""
    text = _cell(text)
    return f"`` {text} ``" if "`" in text else f"`{text}`"


def _protocol_link(identifier: str) -> str:
    return f"[`{identifier.rsplit('.', 1)[-1]}`][{identifier}]"


def _entry_md(description: Any) -> str:
    entry = description.entry
    anchor = _anchor(entry.kind, entry.name)
    lines = [f"### `{entry.name}` {{ #{anchor} }}", ""]
    if entry.summary:
        lines += [f"*{rst_to_md(entry.summary)}*", ""]
    target = entry.target if isinstance(entry.target, str) else repr(entry.target)
    lines += [f"plugin `{entry.plugin or '-'}` · target `{target}`", ""]
    facts = [f for f in description.facts if not f.startswith(("kind ", "protocol: "))]
    lines += [f"- {_cell(fact)}" for fact in facts]
    lines.append("")
    if description.doc:
        lines += [docstring_md(description.doc), ""]
    if description.fields:
        lines += [
            "| option | type | default | description |",
            "|---|---|---|---|",
            *(
                f"| `{f.name}` | {_code_cell(f.type)} | {_code_cell(f.shown_default)} | "
                f"{_cell(rst_to_md(f.doc))} |"
                for f in description.fields
            ),
            "",
        ]
    elif description.fields is not None:
        lines += ["No config options.", ""]
    return "\n".join(lines)


def _entries_table(descriptions: list[Any]) -> list[str]:
    rows = ["| name | summary | plugin |", "|---|---|---|"]
    for d in descriptions:
        e = d.entry
        link = f"[`{e.name}`](#{_anchor(e.kind, e.name)})"
        rows.append(f"| {link} | {_cell(rst_to_md(e.summary))} | `{e.plugin}` |")
    return rows


def registry_pages() -> dict[str, str]:
    """``{path: markdown}`` for the registry reference, from the registry of polyopt's own plugins."""
    from polyopt import plugins
    from polyopt._describe import describe
    from polyopt.testing import CONTRACTS

    reg = plugins.registry()
    failed = [f"{i.name}: {i.error}" for i in plugins.plugin_infos() if i.status == "failed"]
    if failed:
        raise PluginError(f"polyopt plugins failed to load: {'; '.join(failed)}")
    described: dict[str, list[Any]] = {
        k: [describe(e, reg) for e in reg.entries(k)] for k in reg.kinds()
    }
    pages: dict[str, str] = {}
    header = "<!-- Generated at build time by docs/hooks/polyopt_docs.py from the registry; do not edit. -->\n\n"
    for kind, (slug, title) in KIND_PAGES.items():
        items = described[kind]
        by_plugin: dict[str, list[Any]] = defaultdict(list)
        for d in items:
            by_plugin[d.entry.plugin].append(d)
        protocol = CORE_PROTOCOLS.get(kind, "polyopt.components.Metric")
        contract = CONTRACTS[kind]
        lines = [
            f"# {title}",
            "",
            header.strip(),
            "",
            f"{len(items)} {slug} registered by polyopt's plugins (`polyopt list {slug}`), each as "
            f"`polyopt info NAME` describes it. Protocol: {_protocol_link(protocol)}; conformance class: "
            f"{_protocol_link(f'polyopt.testing.{contract.__name__}')}.",
            "",
            *_entries_table(items),
            "",
        ]
        for plugin in sorted(by_plugin):
            lines += [f"## Plugin `{plugin}`", ""]
            lines += [_entry_md(d) for d in by_plugin[plugin]]
        pages[f"reference/registry/{slug}.md"] = "\n".join(lines)
    pages["reference/registry/components.md"] = _components_page(reg, described, CONTRACTS)
    pages["reference/registry/index.md"] = _registry_index(reg, described, CONTRACTS)
    return pages


def _components_page(reg: Any, described: dict[str, list[Any]], contracts: dict[str, type]) -> str:
    kinds = [k for k in reg.kinds() if k not in KIND_PAGES]
    total = sum(len(described[k]) for k in kinds)
    lines = [
        "# Components",
        "",
        "<!-- Generated at build time by docs/hooks/polyopt_docs.py from the registry; do not edit. -->",
        "",
        f"{total} components of {len(kinds)} kinds. A component is a piece a plugin adds without writing a "
        "whole optimizer; each kind is declared by the family that owns it, with a protocol in "
        "`polyopt.components` and a conformance class in `polyopt.testing`. An optimizer takes one by "
        'name through its config (`mutation="..."`, `advantage="..."`, `acquisition="..."`).',
        "",
    ]
    for kind in kinds:
        k = reg.kind(kind)
        protocol = (
            k.protocol
            if isinstance(k.protocol, str)
            else f"polyopt.components.{k.protocol.__name__}"
        )
        lines += [
            f"## `{kind}` {{ #kind-{kind.replace('_', '-')} }}",
            "",
            f"{k.doc[:1].upper()}{k.doc[1:]}. Declared by `{k.plugin}`; protocol "
            f"{_protocol_link(protocol)}; conformance class "
            f"{_protocol_link(f'polyopt.testing.{contracts[kind].__name__}')}; "
            f"`polyopt list {kind.replace('_', '-')}`.",
            "",
            *_entries_table(described[kind]),
            "",
        ]
        for d in described[kind]:
            lines.append(_entry_md(d).replace("### ", "### ", 1))
    return "\n".join(lines)


def _registry_index(reg: Any, described: dict[str, list[Any]], contracts: dict[str, type]) -> str:
    from polyopt import plugins

    lines = [
        "# Registry reference",
        "",
        "<!-- Generated at build time by docs/hooks/polyopt_docs.py from the registry; do not edit. -->",
        "",
        "Every name polyopt's plugins register, generated from the registry when this site was built, with "
        "the code behind `polyopt list` and `polyopt info`: the two cannot disagree. Third-party plugins "
        "add their own names (prefixed with the plugin's name); `polyopt list` on your machine shows them too.",
        "",
        "| kind | what an entry is | names | page |",
        "|---|---|---|---|",
    ]
    for kind in reg.kinds():
        page = KIND_PAGES.get(kind, ("components", ""))[0]
        link = (
            f"{page}.md" if kind in KIND_PAGES else f"components.md#kind-{kind.replace('_', '-')}"
        )
        lines.append(
            f"| `{kind}` | {_cell(reg.kind(kind).doc)} | {len(described[kind])} | [{page}]({link}) |"
        )
    lines += ["", "Plugins loaded for this reference:", ""]
    for info in plugins.plugin_infos():
        lines.append(f"- `{info.name}` ({info.distribution} {info.version}): {info.status}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------------- CLI


def cli_page() -> str:
    """Every command's ``--help``, as the terminal shows it."""
    import typer

    from polyopt.cli import app
    from polyopt.study.cli import app as study_app

    def help_of(command: Any, name: str, parent: Any) -> tuple[str, Any]:
        # typer vendors click: the command's own context class, not click's
        ctx = command.context_class(
            command, info_name=name, parent=parent, terminal_width=100, max_content_width=100
        )
        return command.get_help(ctx), ctx

    root = typer.main.get_command(app)
    text, root_ctx = help_of(root, "polyopt", None)
    lines = [
        "# Command line",
        "",
        "<!-- Generated at build time by docs/hooks/polyopt_docs.py from the typer apps; do not edit. -->",
        "",
        "The `polyopt` command (also `python -m polyopt`). Errors print one line (`error: ...`) and exit with 2 "
        "for bad input (unknown names, config keys, an incompatible problem) or 1 otherwise; `polyopt --debug "
        "...` shows the traceback. Below is each command's `--help`, generated from the command definitions "
        "when this site was built.",
        "",
        "## `polyopt`",
        "",
        f"```text\n{text}\n```",
        "",
    ]
    for name, command in root.commands.items():  # type: ignore[attr-defined]  # a group
        if name == "study":
            continue
        text, _ = help_of(command, name, root_ctx)
        lines += [f"## `polyopt {name}`", "", f"```text\n{text}\n```", ""]
    study = typer.main.get_command(study_app)
    study_text, study_ctx = help_of(study, "study", root_ctx)
    lines += ["## `polyopt study`", "", f"```text\n{study_text}\n```", ""]
    for name, command in study.commands.items():  # type: ignore[attr-defined]  # a group
        text, _ = help_of(command, name, study_ctx)
        lines += [f"### `polyopt study {name}`", "", f"```text\n{text}\n```", ""]
    return "\n".join(lines)


# ------------------------------------------------------------------------------------------------------ files


def on_files(files: Files, config: MkDocsConfig) -> Files:
    started = time.perf_counter()
    generated = {**registry_pages(), "reference/cli.md": cli_page()}
    for path, content in generated.items():
        files.append(File.generated(config, path, content=content))
    log.info(f"registry and CLI reference generated in {time.perf_counter() - started:.1f} s")
    waited = time.perf_counter()
    for file in _tutorial_files(config):
        files.append(file)
    log.info(f"waited {time.perf_counter() - waited:.1f} s for the tutorials")
    return files


# ---------------------------------------------------------------------------------------------------- results

RESULTS_MARKER = "<!-- benchmarks/RESULTS.md -->"


def results_md(text: str) -> str:
    """benchmarks/RESULTS.md for the results page: a table of its sections (each with the line that says when,
    where and how it was measured), then the file itself with every heading one level down."""
    body: list[str] = []
    sections: list[tuple[str, str, str]] = []  # (title, anchor, first line of its text)
    fenced = False
    pending: tuple[str, str] | None = None
    for line in text.splitlines():
        if line.startswith("```"):
            fenced = not fenced
        if not fenced and line.startswith("# "):
            continue  # the file's own title
        if not fenced and line.startswith("## "):
            title = line[3:].strip()
            anchor = "results-" + re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
            pending = (title, anchor)
            body.append(f"#{line} {{ #{anchor} }}")
            continue
        if not fenced and line.startswith("#"):
            line = "#" + line
        elif pending and line.strip() and not line.startswith("#"):
            first = line.strip()
            sections.append((*pending, first if len(first) < 160 else first[:157] + "..."))
            pending = None
        body.append(line)
    table = ["| comparison | measured |", "|---|---|"]
    table += [
        f"| [{_cell(title)}](#{anchor}) | {_cell(first)} |" for title, anchor, first in sections
    ]
    return "\n".join([*table, "", *body])


def on_page_markdown(markdown: str, page: Any, **kwargs: Any) -> str:
    if RESULTS_MARKER in markdown:
        results = (DOCS.parent / "benchmarks" / "RESULTS.md").read_text()
        markdown = markdown.replace(RESULTS_MARKER, results_md(results))
    return markdown
