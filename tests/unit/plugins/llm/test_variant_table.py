"""Every config in docs/grpo-variants.md's table of papers names registered components and valid fields."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import polyopt
from polyopt.cli import _config_value, _pairs
from polyopt.config import build_config

DOC = Path(__file__).parents[4] / "docs" / "grpo-variants.md"
#: config fields that name a registered component, and its kind
COMPONENT_FIELDS = {
    "advantage": "advantage",
    "policy_loss": "policy_loss",
    "kl_estimator": "kl_estimator",
    "advantage_shaping": "advantage_shaping",
    "clip_range": "clip_range",
    "replay": "replay",
    "prompt_sampler": "prompt_sampler",
    "guidance": "guidance",
    "reward_weighting": "reward_weighting",
    "turn_advantage": "turn_advantage",
}
#: the issue-19 variants the table must map (by a word of the paper cell)
REQUIRED = (
    "QAE",
    "MAPO",
    "Pass@k",
    "S-GRPO",
    "GMPO",
    "APA",
    "MDPO",
    "REBEL",
    "GVPO",
    "CoPG",
    "DCPO",
    "BAPO",
    "T-PPO",
    "VC-PPO",
    "VAPO",
    "Scaf-GRPO",
    "GCPO",
    "ReLIFT",
)


def _rows() -> list[tuple[str, str]]:
    text = DOC.read_text()
    section = text[text.index("## Papers and their configs") : text.index("## Measuring")]
    rows = []
    for line in section.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and len(cells) == 3 and cells[0] not in ("paper", "---"):
            rows.append((cells[0], cells[1]))
    return rows


def _parse(config: str) -> tuple[str, dict[str, object]]:
    code = re.findall(r"`([^`]*)`", config)[0]
    named = re.match(r"-o (\S+)(?: -p \S+)?(?: --set (\S+))?$", code)
    name, sets = (named.group(1), named.group(2) or "") if named else ("grpo", code)
    values = {k: _config_value(v) for k, v in _pairs([sets], "--set").items()} if sets else {}
    return name, values


def test_every_required_variant_has_a_row() -> None:
    papers = " ".join(paper for paper, _ in _rows())
    assert not [v for v in REQUIRED if v not in papers]


@pytest.mark.parametrize(("paper", "config"), _rows(), ids=[p[:24] for p, _ in _rows()])
def test_the_config_builds(paper: str, config: str) -> None:
    registry = polyopt.registry()
    name, values = _parse(config)
    cls = registry.get("optimizer", name)
    cfg = build_config(cls.Config, values, owner=name)
    for field, kind in COMPONENT_FIELDS.items():
        if hasattr(cfg, field):
            registry.get(kind, getattr(cfg, field))
