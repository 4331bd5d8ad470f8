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
# The package is a stack of layers; each imports only from the layers above it in this list
# (tests/python/test_import_layers.py checks it):
#   base -> spec -> model -> scenario -> results -> run -> fitting | viz -> cli; extensions plug in.
from crsim._core import __version__
from crsim.base.errors import InputError, SolverError
from crsim.spec.dosing import Dose
from crsim.spec.policy import Policy
from crsim.spec.regimen import parse_regimen
from crsim.spec.strategy import Strategy
from crsim.model.citations import citations
from crsim.model.examples import example, examples
from crsim.model.model import Model, models
from crsim.model.parameter_sets import parameter_sets
from crsim.model.sbml import to_sbml
from crsim.model.strategies import strategies, strategy
from crsim.scenario.nonmem import doses_from_nonmem
from crsim.scenario.scenario import Outputs, Patient, Scenario, Solver
from crsim.results.files import IoError, load, save
from crsim.results.result import Result
from crsim.results.sensitivities import Sensitivities
from crsim.run.population import (PopulationFile, load_population, population, sample_parameters,
                                  save_population)
from crsim.run.incidence import incidence, plot_incidence
from crsim.run.gsa import GSAResult, gsa
from crsim.results.plot import plot
from crsim.run.scan import plot_scan, scan
from crsim.run.simulate import simulate
from crsim.run.accuracy import AccuracyWarning, check_accuracy
from crsim.fitting.data import check_data, read_data
from crsim.fitting.diagnostics import FitFailedWarning, IdentifiabilityWarning
from crsim.fitting.errormodels import ErrorModel
from crsim.fitting.fit import fit
from crsim.fitting.fitset import FitSet
from crsim.fitting.profile import Profile
from crsim.fitting.result import FitResult
from crsim.viz.explore import Explorer, explore
from crsim.extensions.crs import crs_grade, hlh_criteria, iec_hs_grade  # the CRS model's grades and HLH criteria

__all__ = [
    "__version__",
    "AccuracyWarning",
    "Dose",
    "ErrorModel",
    "Explorer",
    "FitFailedWarning",
    "FitResult",
    "FitSet",
    "GSAResult",
    "IdentifiabilityWarning",
    "InputError",
    "IoError",
    "Model",
    "Outputs",
    "Patient",
    "Policy",
    "PopulationFile",
    "Profile",
    "Result",
    "Scenario",
    "Sensitivities",
    "Solver",
    "SolverError",
    "Strategy",
    "check_accuracy",
    "check_data",
    "citations",
    "crs_grade",
    "doses_from_nonmem",
    "explore",
    "fit",
    "gsa",
    "incidence",
    "load",
    "load_population",
    "models",
    "parameter_sets",
    "parse_regimen",
    "plot",
    "plot_incidence",
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
