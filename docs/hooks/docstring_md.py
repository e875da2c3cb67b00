"""polyopt's docstrings as Markdown: the site's API reference (through a griffe extension) and its registry
reference (rendered here) read the same text.

The docstrings are Google style with a few reStructuredText habits: roles (``:class:`~polyopt.Objective```),
double-backtick literals, ``::`` before a literal block and ``Example:`` for doctests. Roles become code spans (``Objective``); double
backticks are already code spans in Markdown; ``::`` becomes ``:`` (the indented block after it is a code
block in Markdown too).
"""

from __future__ import annotations

import re
from typing import Any

import griffe

_ROLE = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|data|attr|obj|exc|const|ref|term):`(~?)([^`]+)`"
)
_LITERAL = re.compile(r"(\S)::$", re.MULTILINE)
_BARE_LITERAL = re.compile(r"^(\s*)::$", re.MULTILINE)
# griffe reads "Example:" as an admonition, whose ">>>" lines would be Markdown; "Examples:" is code
_EXAMPLE = re.compile(r"^(\s*)Example:\s*$", re.MULTILINE)


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2).strip()
    if short:
        target = target.rsplit(".", 1)[-1]
    return f"`{target}`"


def rst_to_md(text: str) -> str:
    """Rewrite the reStructuredText habits above into Markdown."""
    text = _ROLE.sub(_role, text)
    text = _LITERAL.sub(r"\1:", text)
    text = _EXAMPLE.sub(r"\1Examples:", text)
    return _BARE_LITERAL.sub("", text)


def _cell(text: str) -> str:
    """One table cell: a single line, pipes escaped."""
    return " ".join(text.split()).replace("|", "\\|")


def _named_rows(section: griffe.DocstringSection) -> list[str]:
    rows = ["| name | description |", "|---|---|"]
    for item in section.value:
        rows.append(f"| `{item.name}` | {_cell(item.description)} |")
    return rows


def docstring_md(text: str) -> str:
    """Render a Google-style docstring as Markdown: prose as it is, Args/Attributes as tables, Returns, Raises
    and Examples as lists and code blocks, admonitions (``Note:``) as admonitions."""
    docstring = griffe.Docstring(rst_to_md(text))
    sections = griffe.parse_google(docstring, warnings=False)
    out: list[str] = []
    for section in sections:
        kind = section.kind.value
        title = section.title or kind.replace("_", " ").capitalize()
        if kind == "text":
            out.append(section.value)
        elif kind in ("parameters", "other parameters", "attributes"):
            heading = {"parameters": "Args", "attributes": "Attributes"}.get(kind, title)
            out.append(f"**{heading}**\n\n" + "\n".join(_named_rows(section)))
        elif kind in ("returns", "yields", "raises", "warns"):
            items = []
            for item in section.value:
                name = getattr(item, "name", "") or ""
                annotation = item.annotation if kind in ("raises", "warns") else name
                lead = f"`{annotation}`: " if annotation else ""
                items.append(f"- {lead}{' '.join(item.description.split())}")
            out.append(f"**{kind.capitalize()}**\n\n" + "\n".join(items))
        elif kind == "examples":
            out.append("**Examples**")
            for sub_kind, value in section.value:
                if sub_kind.value == "examples":
                    out.append(f"```pycon\n{value}\n```")
                else:
                    out.append(value)
        elif kind == "admonition":
            admonition: Any = section.value
            body = "\n".join("    " + line for line in admonition.description.splitlines())
            out.append(
                f'!!! {admonition.annotation} "{section.title or admonition.annotation}"\n\n{body}'
            )
        else:  # any other section: its text as it is
            out.append(str(section.value))
    return "\n\n".join(out)


class RstToMarkdown(griffe.Extension):
    """A griffe extension: every docstring the API reference renders goes through :func:`rst_to_md`."""

    def on_instance(self, *, obj: griffe.Object, **kwargs: Any) -> None:
        if obj.docstring is not None:
            obj.docstring.value = rst_to_md(obj.docstring.value)
