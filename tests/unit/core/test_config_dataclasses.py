from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

import pytest

from polyopt import ConfigError
from polyopt.config import build_config, config_fields, config_to_dict


@dataclass
class Demo:
    pop_size: int = 100
    """Individuals per generation."""
    eta: float = 15.0
    """Distribution index of SBX."""
    method: Literal["chebyshev", "pbi"] = "chebyshev"
    """Decomposition."""
    tags: list = field(default_factory=list)
    """Free-form tags."""
    limit: int | None = None
    """Optional cap."""


def test_defaults_and_values() -> None:
    cfg = build_config(Demo, {"pop_size": 8, "eta": 20})
    assert cfg.pop_size == 8 and cfg.eta == 20.0 and isinstance(cfg.eta, float)


def test_unknown_keys_get_a_suggestion_and_the_known_keys() -> None:
    with pytest.raises(
        ConfigError, match=r"unknown config key 'pop_sise' for nsga2\. Did you mean 'pop_size'\?"
    ):
        build_config(Demo, {"pop_sise": 8}, owner="nsga2")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"pop_size": 1.5}, "'pop_size'.*1.5.*expected int"),
        ({"eta": "fast"}, "'eta'.*'fast'.*expected float"),
        ({"pop_size": True}, "'pop_size'.*True.*expected int"),
        ({"tags": 3}, "'tags'.*expected list"),
    ],
)
def test_mistyped_values_are_refused(values, message) -> None:
    with pytest.raises(ConfigError, match=message):
        build_config(Demo, values)


def test_strings_from_the_command_line_are_parsed() -> None:
    cfg = build_config(Demo, {"pop_size": "12", "eta": "2.5", "limit": "3"})
    assert (cfg.pop_size, cfg.eta, cfg.limit) == (12, 2.5, 3)
    assert build_config(Demo, {"limit": "None"}).limit is None


def test_field_docs_are_read_from_the_source() -> None:
    fields = {name: (default, doc) for name, _, default, doc in config_fields(Demo)}
    assert fields["pop_size"] == (100, "Individuals per generation.")
    assert fields["method"][1] == "Decomposition."
    assert config_to_dict(build_config(Demo, {}))["eta"] == 15.0
