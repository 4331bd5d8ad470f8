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
    res.save("results.h5"); crsim.load("results.h5")

Scenarios hold the same as files (YAML or JSON; see docs/scenarios.md)::

    sc = crsim.Scenario("pk2_mm", name="toci", patient={"weight_kg": 70},
                        regimen=["8 mg/kg iv over 1h max 800mg"], horizon_days=56)
    sc.to_file("toci.yaml"); res = crsim.simulate(crsim.Scenario.from_file("toci.yaml"))

Models export to SBML (Level 3 with units) for other tools (libRoadRunner, COPASI)::

    crsim.to_sbml("crs", parameter_set="crs_tisagenlecleucel_ball", path="crs.xml")
"""
from ._core import __version__
from ._dosing import Dose
from ._errors import InputError, SolverError
from ._data import check_data, read_data
from ._examples import example, examples
from ._errormodels import ErrorModel
from ._explore import Explorer, explore
from ._fit import fit
from ._fitresult import FitResult, IdentifiabilityWarning
from ._fitset import FitSet
from ._profile import Profile
from ._io import IoError, load, save
from ._citations import citations
from ._model import Model, models
from ._parameter_sets import parameter_sets
from ._policy import Policy
from ._population import load_population, population, sample_parameters, save_population
from ._nonmem import doses_from_nonmem
from ._regimen import parse_regimen
from ._result import Result
from ._scan import plot_scan, scan
from ._scenario import Outputs, Patient, Scenario, Solver
from ._sbml import to_sbml
from ._sensitivities import Sensitivities
from ._simulate import simulate
from ._strategies import Strategy, strategies, strategy
from .extensions.crs import crs_grade  # the CRS model's ASTCT grade over time

__all__ = [
    "__version__",
    "Dose",
    "ErrorModel",
    "Explorer",
    "FitResult",
    "FitSet",
    "IdentifiabilityWarning",
    "InputError",
    "IoError",
    "Model",
    "Outputs",
    "Patient",
    "Policy",
    "Profile",
    "Result",
    "Scenario",
    "Sensitivities",
    "Solver",
    "SolverError",
    "Strategy",
    "check_data",
    "citations",
    "crs_grade",
    "doses_from_nonmem",
    "explore",
    "fit",
    "load",
    "load_population",
    "models",
    "parameter_sets",
    "parse_regimen",
    "plot_scan",
    "population",
    "read_data",
    "example",
    "examples",
    "sample_parameters",
    "save_population",
    "save",
    "scan",
    "simulate",
    "strategies",
    "strategy",
    "to_sbml",
]
