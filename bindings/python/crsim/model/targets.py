"""What text regimens and policy conditions mean for one model: which state a drug name doses and
which observable a clinical word names (generic rules, then the model's extension,
:mod:`crsim.model.extension`).

- :func:`targets_table`: the generic rules: iv -> central, po/sc/im -> depot, states named
  ``<drug>_central`` / ``<drug>_depot``, and every dosable state by its own name.
- :func:`targets_for`: those plus the extension's ``drug_targets``.
- :func:`resolve_variable`: clinical words a policy condition may use for an observable.
"""
from __future__ import annotations

from typing import Any, Dict, Mapping

from crsim.model.extension import current_name, extension
from crsim.spec.regimen import DEFAULT_TARGETS

__all__ = ["targets_table", "targets_for", "resolve_variable"]


def targets_for(model: str, info: Mapping[str, Any]) -> Dict[str, str]:
    """The drug/route -> state table of text regimens for one model (generic rules, then the model's
    own names, which win)."""
    table = targets_table(info)
    table.update(extension(model).drug_targets)
    return table


def resolve_variable(model: str, name: str) -> str:
    """The observable or state a condition's variable names (aliases resolved, case kept)."""
    return current_name(model, extension(model).variable_aliases.get(name.lower(), name))




def targets_table(info: Mapping[str, Any]) -> Dict[str, str]:
    """Which state a text regimen doses, by "drug route", "drug" or "route", for one model: the PK
    library's iv -> central, po/sc/im -> depot where those states exist, for states named
    ``<drug>_central`` / ``<drug>_depot`` the drug name with and without a route, and every state
    that takes doses by its own name (``"gut 100 mg"``)."""
    dosable = [s["name"] for s in info["states"] if s["dose_unit"]]
    table = {route: st for route, st in DEFAULT_TARGETS.items() if st in dosable}
    table.update({st.lower(): st for st in dosable})
    for s in dosable:
        for suffix, routes in (("_central", ("iv",)), ("_depot", ("po", "sc", "im"))):
            if s.endswith(suffix) and len(s) > len(suffix):
                drug = s[: -len(suffix)].lower()
                for r in routes:
                    table[f"{drug} {r}"] = s
                if suffix == "_central" or drug not in table:
                    table[drug] = s
    return table
