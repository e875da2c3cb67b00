"""Run the conformance kit over every registered optimizer, objective and environment.

One test class per registered name is generated at collection, so a failure names the plugin entry.
"""

from __future__ import annotations

import re

import polyopt
from polyopt.testing import EnvironmentContract, ObjectiveContract, OptimizerContract

_CONTRACTS = {
    "optimizer": OptimizerContract,
    "objective": ObjectiveContract,
    "environment": EnvironmentContract,
}


def _class_name(kind: str, name: str) -> str:
    return f"Test_{kind}_" + re.sub(r"\W", "_", name)


for _kind, _contract in _CONTRACTS.items():
    for _entry in polyopt.registry().entries(_kind):
        _cls = type(_class_name(_kind, _entry.name), (_contract,), {_kind: _entry.name})
        globals()[_cls.__name__] = _cls


def test_every_registered_name_imports() -> None:
    """A name whose target cannot be imported is a broken plugin entry, not something to skip."""
    broken = []
    for entry in polyopt.registry().entries():
        try:
            entry.load()
        except polyopt.PluginError as exc:
            broken.append(str(exc))
    assert not broken, "\n".join(broken)


def test_every_builtin_plugin_loads() -> None:
    """polyopt's own plugins are part of the product: each must load, not just be reported."""
    from polyopt.plugins import plugin_infos

    failed = [
        f"{i.name}: {i.error}"
        for i in plugin_infos()
        if i.distribution == "polyopt" and i.status != "loaded"
    ]
    assert not failed, "\n".join(failed)
