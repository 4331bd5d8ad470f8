"""What policies, strategies and scans need to know about a model's drugs, from its extension
(:mod:`crsim._extension`):

- :func:`targets_for`: which state a text regimen doses, by ``"drug route"`` or ``"drug"`` (the
  generic rules of :func:`crsim._scenario.targets_table`: iv -> central, po -> depot, and states
  named ``<drug>_central`` / ``<drug>_depot``; then the extension's ``drug_targets``).
- :func:`resolve_variable`: clinical words a policy condition may use for an observable.
- :func:`extra_readouts`: readouts a scan reports beyond ``Result.readouts`` (dose counts per drug,
  the extension's extras, policy firings).
"""
from __future__ import annotations

from typing import Any, Dict, Mapping, Tuple

from ._extension import extension

__all__ = ["targets_for", "resolve_variable", "extra_readouts"]


def targets_for(model: str, info: Mapping[str, Any]) -> Dict[str, str]:
    """The drug/route -> state table of text regimens for one model (generic rules, then the model's
    own names, which win)."""
    from ._scenario import targets_table

    table = targets_table(info)
    table.update(extension(model).drug_targets)
    return table


def resolve_variable(model: str, name: str) -> str:
    """The observable or state a condition's variable names (aliases resolved, case kept)."""
    return extension(model).variable_aliases.get(name.lower(), name)


def extra_readouts(result: Any) -> Tuple[Dict[str, float], Dict[str, str]]:
    """Readouts beyond ``result.readouts`` for scans: per drug of the model's extension the number of
    administrations, the extension's extra readouts, and ``policy_firings`` (every model)."""
    ext = extension(result.model.name)
    values: Dict[str, float] = {}
    units: Dict[str, str] = {}
    states = list(result._doses["state"])
    for drug, targets in ext.drug_states.items():
        values[f"{drug}_doses"] = float(sum(1 for s in states if s in targets))
        units[f"{drug}_doses"] = ""
    if ext.extra_readouts is not None:
        v, u = ext.extra_readouts(result)
        values.update(v)
        units.update(u)
    values["policy_firings"] = float(len(result._firings["policy"])) if result._firings else 0.0
    units["policy_firings"] = ""
    return values, units
