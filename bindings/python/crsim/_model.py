"""Models: metadata of the built-in models as pandas DataFrames."""
from __future__ import annotations

from typing import Any, Dict, List, Union

import pandas as pd

from . import _core
from ._errors import input_error

__all__ = ["Model", "models", "as_model"]


def models() -> List[str]:
    """Names of the built-in models, e.g. ``['pk1', 'pk1_oral', 'pk2', ...]``."""
    return list(_core.models())


class Model:
    """A built-in model: its states, parameters and observables with units and sources.

    ``Model(name)`` looks the model up in the engine's registry (unknown names raise
    :class:`crsim.InputError` listing the known ones). The object is immutable; the tables are new
    DataFrames on every access.

    Attributes:
        name, description, version: strings.
        sources: list of citations for the model structure and its default parameters.
        states: DataFrame (name, unit, dose_unit, description); ``dose_unit`` is empty for states
            that take no doses.
        parameters: DataFrame (name, value, unit, lower, upper, description, source); ``value``
            is the default, ``[lower, upper]`` the admissible range.
        observables: DataFrame (name, unit, description).
        parameter_values: dict name -> default value (in the parameter's unit).
    """

    def __init__(self, name: Union[str, "Model"]):
        if isinstance(name, Model):
            name = name.name
        if not isinstance(name, str):
            raise input_error("model", name, "a model name (str), one of {" + ", ".join(models()) + "}")
        self._info: Dict[str, Any] = _core.model_info(name)

    # --- identity -----------------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self._info["name"]

    @property
    def description(self) -> str:
        return self._info["description"]

    @property
    def version(self) -> str:
        return self._info["version"]

    @property
    def sources(self) -> List[str]:
        return list(self._info["sources"])

    # --- tables -------------------------------------------------------------------------------
    @property
    def states(self) -> pd.DataFrame:
        return pd.DataFrame(self._info["states"], columns=["name", "unit", "dose_unit", "description"])

    @property
    def parameters(self) -> pd.DataFrame:
        rows = [{**p, "value": p["default"]} for p in self._info["parameters"]]
        return pd.DataFrame(rows, columns=["name", "value", "unit", "lower", "upper", "description",
                                           "source"])

    @property
    def observables(self) -> pd.DataFrame:
        return pd.DataFrame(self._info["observables"], columns=["name", "unit", "description"])

    # --- plain lookups ------------------------------------------------------------------------
    @property
    def parameter_values(self) -> Dict[str, float]:
        return {p["name"]: p["default"] for p in self._info["parameters"]}

    @property
    def state_names(self) -> List[str]:
        return [s["name"] for s in self._info["states"]]

    @property
    def parameter_names(self) -> List[str]:
        return [p["name"] for p in self._info["parameters"]]

    @property
    def observable_names(self) -> List[str]:
        return [o["name"] for o in self._info["observables"]]

    def units(self) -> Dict[str, str]:
        """Unit of every state, observable and parameter by name."""
        out = {p["name"]: p["unit"] for p in self._info["parameters"]}
        out.update({s["name"]: s["unit"] for s in self._info["states"]})
        out.update({o["name"]: o["unit"] for o in self._info["observables"]})
        return out

    def dose_unit(self, state: str) -> str:
        """The unit doses into ``state`` are given in ('' when the state takes no doses)."""
        for s in self._info["states"]:
            if s["name"] == state:
                return s["dose_unit"]
        raise input_error("state", state, "one of {" + ", ".join(self.state_names) + "}")

    # --- Python protocol ----------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        return isinstance(other, Model) and other.name == self.name

    def __hash__(self) -> int:
        return hash(("crsim.Model", self.name))

    def __repr__(self) -> str:
        i = self._info
        return (f"<crsim.Model '{self.name}': {len(i['states'])} states, {len(i['parameters'])} "
                f"parameters, {len(i['observables'])} observables - {self.description}>")


def as_model(model: Union[str, Model], field: str = "model") -> Model:
    """``model`` as a Model (names are looked up)."""
    if isinstance(model, Model):
        return model
    if isinstance(model, str):
        return Model(model)
    raise input_error(field, model, "a model name (str) or crsim.Model, one of {" +
                      ", ".join(models()) + "}")
