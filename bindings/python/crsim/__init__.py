"""crsim: simulation of CAR-T / T-cell-engager pharmacology, cytokine release syndrome and its
treatment, on a C++ ODE engine. Time is in hours everywhere; units travel with every state,
parameter and observable.

Example (tocilizumab 8 mg/kg IV over 1 h, at most 800 mg, 70 kg, 8 weeks)::

    import crsim
    crsim.models()
    res = crsim.simulate("pk2_mm", doses=[crsim.Dose("central", 8, unit="mg/kg", duration=1,
                         cap=800)], weight=70, days=56)
    res["C"]          # mg/L at res.times (h)
    res.summary()     # Cmax, Tmax, AUC per observable
    res.plot()        # matplotlib figure
"""
from ._core import __version__
from ._dosing import Dose
from ._errors import InputError, SolverError
from ._citations import citations
from ._model import Model, models
from ._parameter_sets import parameter_sets
from ._nonmem import doses_from_nonmem
from ._result import Result
from ._sensitivities import Sensitivities
from ._simulate import simulate

__all__ = [
    "__version__",
    "Dose",
    "InputError",
    "Model",
    "citations",
    "parameter_sets",
    "Result",
    "Sensitivities",
    "SolverError",
    "doses_from_nonmem",
    "models",
    "simulate",
]
