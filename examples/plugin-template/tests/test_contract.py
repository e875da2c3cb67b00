"""polyopt's conformance kit, run on this plugin's names: what every optimizer and objective must satisfy."""

from __future__ import annotations

from typing import Any

from polyopt_hello.bowl import Bowl

from polyopt.testing import ObjectiveContract, OptimizerContract


class TestHillClimb(OptimizerContract):
    optimizer = (
        "hello.hill-climb"  # resolved through the registry, so this also checks the entry point
    )

    def make_problem(self) -> tuple[Any, dict[str, Any]]:
        return Bowl(dim=3), {"offspring": 4}


class TestBowl(ObjectiveContract):
    objective = "hello.bowl"
