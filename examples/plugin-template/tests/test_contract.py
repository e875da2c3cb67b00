"""polyopt's conformance kit, run on this plugin's five names: what every entry of each kind must satisfy."""

from __future__ import annotations

from typing import Any, ClassVar

from polyopt_hello.bowl import Bowl

from polyopt.testing import (
    AcquisitionContract,
    AdvantageContract,
    ObjectiveContract,
    OperatorContract,
    OptimizerContract,
)


class TestHillClimb(OptimizerContract):
    optimizer = (
        "hello.hill-climb"  # resolved through the registry, so this also checks the entry point
    )

    def make_problem(self) -> tuple[Any, dict[str, Any]]:
        return Bowl(dim=3), {"batch_size": 4}


class TestBowl(ObjectiveContract):
    objective = "hello.bowl"


class TestGauss(OperatorContract):
    operator = "hello.gauss"
    options: ClassVar[dict[str, Any]] = {"sigma": 0.3}


class TestCentered(AdvantageContract):
    advantage = "hello.centered"
    options: ClassVar[dict[str, Any]] = {"scale": 2.0}


class TestMean(AcquisitionContract):
    acquisition = "hello.mean"
