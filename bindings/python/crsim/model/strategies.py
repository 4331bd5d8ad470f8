"""Strategies: named bundles of triggered policies and scheduled doses (:class:`Strategy`).

A model's standard strategies (e.g. the CRS model's tocilizumab and dexamethasone algorithms, each
cited) live in its extension (:mod:`crsim.model.extension`); :func:`strategy` and :func:`strategies` look
them up by name, for one model or over every model that has some. Strategies are data; change any
field with ``strategy(name).policies[i].replace(...)`` or build your own :class:`Strategy`.
"""
from __future__ import annotations

from typing import Any, Dict, List, Optional, Sequence, Tuple

import pandas as pd

from crsim.base.errors import input_error
from crsim.model.extension import extension, extensions
from crsim.spec.policy import Policy
from crsim.spec.strategy import Strategy
from crsim.base.problems import suggest

__all__ = ["Strategy", "strategy", "strategies", "standard_names", "expand"]


def _table(model: Optional[str]) -> Dict[str, Strategy]:
    """Standard strategies by name: the model's, or (model None) every model's, in registration
    order (a name two models use: the first)."""
    if model is not None:
        return extension(model).standard_strategies()
    table: Dict[str, Strategy] = {}
    for ext in extensions().values():
        for name, s in ext.standard_strategies().items():
            table.setdefault(name, s)
    return table


def standard_names(model: Optional[str] = None) -> Tuple[str, ...]:
    """Names of the standard strategies of a model (None: of every model)."""
    return tuple(_table(model))


def strategy(name: str, model: Optional[str] = None, field: str = "strategy") -> Strategy:
    """A standard strategy by name (see :func:`strategies`); ``model``: look only among that model's
    strategies; ``field``: what an error calls the name (e.g. ``policies[0]``)."""
    table = _table(model)
    if not isinstance(name, str) or name not in table:
        whose = "a standard strategy" if model is None else f"a standard strategy of model {model}"
        raise input_error(field, name, f"{whose}, one of {{{', '.join(table)}}}"
                          f"{suggest(str(name), table)}")
    return table[name]


def strategies(model: Optional[str] = None) -> pd.DataFrame:
    """The standard strategies (of one model, or of every model that has some): name, description,
    policies (their conditions), regimen, source."""
    rows = []
    for s in _table(model).values():
        rows.append({"name": s.name, "description": s.description,
                     "policies": "; ".join(f"{p.when}" + (f" for {p.sustained_h:g} h" if p.sustained_h and
                                                          " for " not in p.when else "")
                                           + f" -> {', '.join(str(g) for g in p.give)}" for p in s.policies),
                     "regimen": "; ".join(s.regimen), "source": s.source})
    return pd.DataFrame(rows, columns=["name", "description", "policies", "regimen", "source"])


def expand(entries: Sequence[Any], model: Optional[str] = None) -> Tuple[List[Policy], List[str]]:
    """Policies and scheduled regimen entries of a list of Policy / Strategy / strategy names (names
    looked up among ``model``'s standard strategies)."""
    pols: List[Policy] = []
    regimen: List[str] = []
    for e in entries:
        s = strategy(e, model) if isinstance(e, str) else e
        if isinstance(s, Strategy):
            pols.extend(s.policies)
            regimen.extend(s.regimen)
        else:
            pols.append(s)
    return pols, regimen
