"""Run the conformance kit over every registered name of every kind.

One test class per registered name is generated at collection, so a failure names the plugin entry; a kind
without a conformance class fails too.
"""

from __future__ import annotations

import re

import polyopt
from polyopt.testing import CONTRACTS


def _class_name(kind: str, name: str) -> str:
    return f"Test_{kind}_" + re.sub(r"\W", "_", name)


for _kind in polyopt.registry().kinds():
    _contract = CONTRACTS.get(_kind)
    if _contract is None:
        continue  # reported by test_every_kind_has_a_conformance_class
    for _entry in polyopt.registry().entries(_kind):
        _cls = type(_class_name(_kind, _entry.name), (_contract,), {_kind: _entry.name})
        globals()[_cls.__name__] = _cls


def test_every_kind_has_a_conformance_class() -> None:
    missing = [k for k in polyopt.registry().kinds() if k not in CONTRACTS]
    assert not missing, f"kinds without a conformance class in polyopt.testing: {missing}"


def test_every_registered_name_imports_and_fits_its_kind() -> None:
    """A name whose target cannot be imported, or does not fit its kind, is a broken plugin entry."""
    broken = []
    reg = polyopt.registry()
    for entry in reg.entries():
        try:
            reg.get(entry.kind, entry.name)
        except (polyopt.PluginError, polyopt.ConfigError) as exc:
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
