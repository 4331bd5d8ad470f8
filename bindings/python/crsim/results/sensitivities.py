"""Forward sensitivities of a result, as a (time x output x parameter) array with names and units."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List

import numpy as np
import pandas as pd

__all__ = ["Sensitivities"]


@dataclass(frozen=True)
class Sensitivities:
    """d output / d parameter at each output time.

    Attributes:
        values: array (T, n_outputs, n_parameters); ``values[i, j, k]`` is d outputs[j] /
            d parameters[k] at ``times[i]``, in ``output_units[j] / parameter_units[k]``.
        times: output times, h.
        outputs: state and observable names.
        parameters: parameter names, or ``init:<state>`` for a sensitivity to an initial value.
        output_units, parameter_units: units of the outputs and of the parameters.
    """

    values: np.ndarray
    times: np.ndarray
    outputs: List[str]
    parameters: List[str]
    output_units: List[str]
    parameter_units: List[str]

    @property
    def shape(self):
        return self.values.shape

    def __getitem__(self, key):
        """``sens[output, parameter]`` -> the (T,) time course of one derivative."""
        output, parameter = key
        return self.values[:, self.outputs.index(output), self.parameters.index(parameter)]

    def to_pandas(self) -> pd.DataFrame:
        """Long table: time_h, output, parameter, value, unit (output unit / parameter unit)."""
        T, n, m = self.values.shape
        units = [[f"{ou}/({pu})" for pu in self.parameter_units] for ou in self.output_units]
        return pd.DataFrame({
            "time_h": np.repeat(self.times, n * m),
            "output": np.tile(np.repeat(self.outputs, m), T),
            "parameter": np.tile(self.parameters, T * n),
            "value": self.values.reshape(-1),
            "unit": np.tile(np.asarray(units, dtype=object).reshape(-1), T),
        })
