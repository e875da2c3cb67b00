"""Conformance test kit: pytest classes that plugins subclass in their own tests.

Example (in a plugin's ``tests/test_contract.py``)::

    from polyopt.testing import ObjectiveContract, OptimizerContract

    class TestHillClimb(OptimizerContract):
        optimizer = "acme.hill-climb"          # a registered name or the class itself

    class TestBowl(ObjectiveContract):
        objective = "acme.bowl"                # a registered name, a class, or a zero-argument factory

An optimizer that needs a special problem (a permutation space, an environment) or a small configuration to run
fast defines ``contract_problem(cls) -> (problem, config)`` as a classmethod; the contract uses it.
"""

from polyopt.testing.contracts import EnvironmentContract, ObjectiveContract, OptimizerContract

__all__ = ["OptimizerContract", "ObjectiveContract", "EnvironmentContract"]
