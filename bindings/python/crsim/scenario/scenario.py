"""Scenarios: one patient, one product and treatment plan, one model, as an object or a YAML/JSON file.

A :class:`Scenario` is checked completely when it is made (from Python, a dict or a file): unknown
keys, wrong types, wrong units, missing fields and out-of-range values are all reported at once in
one :class:`crsim.InputError`, each with its path in the file (``regimen[2].amount``,
``solver.rtol``). The file format is documented in docs/scenarios.md.
"""
from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

import numpy as np

from crsim import _core
from crsim.base.errors import InputError, input_error
from crsim.base.problems import MISSING, Problems, read_data_file, suggest
from crsim.model.model import WEIGHT_PARAMETER, Model
from crsim.model.strategies import standard_names
from crsim.model.targets import targets_for
from crsim.model.usermodels import is_model_file, load_file
from crsim.scenario.resolve import (MAX_OUTPUT_TIMES, core_policies, effective_weight,
                                    has_weight_parameter, to_core_doses, unit_targets)
from crsim.spec.dosing import (HEIGHT_ALLOWED, HEIGHT_RANGE_CM, HOURS_PER_DAY, MAX_WEIGHT_KG,
                               WEIGHT_ALLOWED, Dose,
                               check_dose_mapping, dose_basis, dose_to_dict)
from crsim.spec.policy import POLICY_KEYS, Policy, check_policy, policy_to_dict
from crsim.spec.regimen import parse_regimen
from crsim.spec.strategy import Strategy

__all__ = ["Scenario", "Patient", "Outputs", "Solver", "MAX_OUTPUT_TIMES", "scenario_from_call"]

#: Largest run length, h (100 years).
MAX_HORIZON_H = 100 * 365.25 * 24

TOP_KEYS = ("name", "description", "model", "parameter_set", "parameters", "patient", "regimen",
            "policies", "horizon_h", "horizon_days", "outputs", "solver", "sensitivities",
            "initial", "t_start_h")
PATIENT_KEYS = ("weight_kg", "height_cm")
#: How a scenario names the weight and height in errors of the resolution step.
BODY_FIELDS = ("patient.weight_kg", "patient.height_cm")
OUTPUT_KEYS = ("step_h", "times_h")
SOLVER_KEYS = ("method", "rtol", "atol", "max_steps", "max_step", "initial_step")
METHODS = ("auto", "rosenbrock4", "dopri5")
#: A scenario name: no '/', no control characters (names are printed and are HDF5 group names).
NAME_PATTERN = r"(?!\.\.?$)[^/\x00-\x1f\x7f]+"


@dataclass(frozen=True)
class Patient:
    """The patient: body weight (kg; needed by per-kg doses unless the model has a body_weight
    parameter, whose value then serves) and body height (cm; with the weight, the body surface area
    of per-m² doses, Mosteller formula). Nothing else: what a model knows of a patient beyond them
    (tumor burden, B-cell count, ...) are its parameters (``Model(...).patient`` lists those of the
    parameter set), set under ``parameters``. Free covariates (``covariates: {disease: ALL}``) are
    refused: no model reads them, so they changed nothing."""

    weight_kg: Optional[float] = None
    height_cm: Optional[float] = None


@dataclass(frozen=True)
class Outputs:
    """Output times: ``step_h`` (an even grid from the start to the end of the run, plus every
    administration time and infusion end) or ``times_h`` (an explicit increasing list, h). Neither:
    the default grid of :func:`crsim.simulate`."""

    step_h: Optional[float] = None
    times_h: Optional[List[float]] = None


@dataclass(frozen=True)
class Solver:
    """Solver settings (see :func:`crsim.simulate`)."""

    method: str = "auto"
    rtol: float = 1e-8
    atol: float = 1e-10
    max_steps: int = 500_000
    max_step: float = 0.0
    initial_step: float = 0.0


RegimenEntry = Union[str, Dose]


@dataclass(frozen=True)
class Scenario:
    """A simulation scenario: model, parameters, patient, regimen, run length, outputs, solver.

    Args:
        model: model name (see :func:`crsim.models`), or the path of a model source file of your
            own (``.ant`` Antimony, ``.xml``/``.sbml`` SBML; in a scenario file relative to the
            file), compiled unless cached and loaded (docs/models.md); the scenario then names the
            model by its name.
        name: scenario name (the group name in a results file; no '/'). Files default to their
            file name without suffix.
        description: free text.
        parameter_set: name of a parameter set of the model (stored and passed on to the model).
        parameters: overrides of parameter values, name -> value in the parameter's unit.
        patient: a :class:`Patient` or a dict ``{"weight_kg": 70, "height_cm": 175}``.
        regimen: list of entries, each a text regimen (``"8 mg/kg iv over 1h max 800mg"``, see
            :func:`crsim.parse_regimen`; one text may hold several administrations separated by
            ``;``), a :class:`crsim.Dose`, or a dict of Dose fields (``target``, ``amount`` and
            ``unit`` required).
        policies: triggered policies and strategies: :class:`crsim.Policy` objects, dicts of their
            fields (``name``, ``when``, ``give``, ...), or names of standard strategies
            (:func:`crsim.strategies`; a strategy's scheduled doses join the regimen when run).
        horizon_h, horizon_days: length of the run from ``t_start_h`` (at most one of them).
            Neither: until 24 h after the last administration ends (or the last output time).
        outputs: an :class:`Outputs` or a dict ``{"step_h": 1}`` / ``{"times_h": [...]}``.
        solver: a :class:`Solver` or a dict of its fields.
        sensitivities: parameter names (or ``"init:<state>"``) whose forward sensitivities are
            computed, or True for all parameters.
        initial: overrides of the initial state, state name -> value in the state's unit.
        t_start_h: the time at which the initial state holds, h (default 0).

    Scenarios are immutable (use :meth:`replace` for a changed copy), so a scenario is always
    the checked one. A scenario binds its model and the values of its parameter set when it is
    made (they are what it was checked against); a parameter-set file changed afterwards is read
    by the scenarios made after the change.

    Raises:
        InputError listing every problem with its path (``regimen[0].unit``, ``solver.rtol``).
    """

    model: str
    name: str = "scenario"
    description: str = ""
    parameter_set: Optional[str] = None
    parameters: Dict[str, float] = field(default_factory=dict)
    patient: Patient = field(default_factory=Patient)
    regimen: List[RegimenEntry] = field(default_factory=list)
    policies: List[Union[str, Policy]] = field(default_factory=list)
    horizon_h: Optional[float] = None
    horizon_days: Optional[float] = None
    outputs: Outputs = field(default_factory=Outputs)
    solver: Solver = field(default_factory=Solver)
    sensitivities: Union[None, bool, List[str]] = None
    initial: Dict[str, float] = field(default_factory=dict)
    t_start_h: float = 0.0
    _doses: List[Dose] = field(default_factory=list, init=False, repr=False, compare=False)
    _model: Optional[Model] = field(default=None, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = Problems()
        norm = check_scenario(self._raw(), problems, default_name="scenario")
        problems.raise_if_any()
        self._assign(norm)

    # --- construction -------------------------------------------------------------------------
    def _raw(self) -> Dict[str, Any]:
        raw: Dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if not f.init:
                continue
            v = getattr(self, f.name)
            if dataclasses.is_dataclass(v) and not isinstance(v, (type, Dose)):
                v = {g.name: getattr(v, g.name) for g in dataclasses.fields(v)
                     if getattr(v, g.name) is not None}
                if f.name == "outputs" and not v:
                    v = None
            raw[f.name] = v
        return raw

    def _assign(self, norm: Dict[str, Any]) -> None:
        for k, v in norm.items():
            object.__setattr__(self, k, v)

    @classmethod
    def from_dict(cls, data: Any, *, source: Optional[str] = None, default_name: str = "scenario",
                  lines: Optional[Mapping[str, int]] = None, problems: Optional[Problems] = None
                  ) -> "Scenario":
        """A Scenario from plain data (as read from YAML/JSON). Every problem is reported at once
        in one InputError; ``source`` names the input in the message."""
        p = problems if problems is not None else Problems(source, lines)
        norm = check_scenario(data, p, default_name=default_name)
        p.raise_if_any()
        s = cls.__new__(cls)
        s._assign(norm)
        return s

    @classmethod
    def from_file(cls, path: Union[str, Path]) -> "Scenario":
        """Reads a scenario from a .yaml/.yml or .json file (name defaults to the file's stem)."""
        data, problems = read_data_file(path)
        if isinstance(data, Mapping) and is_model_file(data.get("model")):
            # model: a model source file, relative to the scenario file
            data = {**data, "model": str(Path(path).parent / Path(data["model"]).expanduser())}
        return cls.from_dict(data, default_name=Path(path).stem, problems=problems)

    # --- output -------------------------------------------------------------------------------
    def to_dict(self) -> Dict[str, Any]:
        """Plain data (str, numbers, lists, dicts) that ``from_dict`` turns into an equal Scenario;
        optional keys at their defaults are left out, the solver settings are always written."""
        out: Dict[str, Any] = {"name": self.name, "model": self.model}
        if self.description:
            out["description"] = self.description
        if self.parameter_set is not None:
            out["parameter_set"] = self.parameter_set
        if self.parameters:
            out["parameters"] = dict(self.parameters)
        patient: Dict[str, Any] = {}
        if self.patient.weight_kg is not None:
            patient["weight_kg"] = self.patient.weight_kg
        if self.patient.height_cm is not None:
            patient["height_cm"] = self.patient.height_cm
        if patient:
            out["patient"] = patient
        out["regimen"] = [e if isinstance(e, str) else dose_to_dict(e) for e in self.regimen]
        if self.policies:
            out["policies"] = [e if isinstance(e, str) else policy_to_dict(e) for e in self.policies]
        if self.horizon_h is not None:
            out["horizon_h"] = self.horizon_h
        if self.horizon_days is not None:
            out["horizon_days"] = self.horizon_days
        if self.outputs.step_h is not None:
            out["outputs"] = {"step_h": self.outputs.step_h}
        elif self.outputs.times_h is not None:
            out["outputs"] = {"times_h": list(self.outputs.times_h)}
        out["solver"] = dataclasses.asdict(self.solver)
        if self.sensitivities is not None:
            out["sensitivities"] = (self.sensitivities if isinstance(self.sensitivities, bool)
                                    else list(self.sensitivities))
        if self.initial:
            out["initial"] = dict(self.initial)
        if self.t_start_h != 0.0:
            out["t_start_h"] = self.t_start_h
        return out

    def to_json(self, indent: Optional[int] = None) -> str:
        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def to_yaml(self) -> str:
        import yaml

        return yaml.safe_dump(self.to_dict(), sort_keys=False, default_flow_style=False,
                              allow_unicode=True)

    def to_file(self, path: Union[str, Path]) -> None:
        """Writes the scenario as YAML (.yaml/.yml) or JSON (.json)."""
        p = Path(path)
        suffix = p.suffix.lower()
        if suffix in (".yaml", ".yml"):
            text = self.to_yaml()
        elif suffix == ".json":
            text = self.to_json(indent=2) + "\n"
        else:
            raise input_error("path", str(path), "a file name ending in .yaml, .yml or .json")
        try:
            p.write_text(text, encoding="utf-8")
        except OSError as ex:
            raise input_error("path", str(path), f"a writable file path ({ex.strerror})") from None

    # --- derived ------------------------------------------------------------------------------
    @property
    def horizon(self) -> Optional[float]:
        """The run length in h (from horizon_h or horizon_days), or None."""
        if self.horizon_h is not None:
            return self.horizon_h
        if self.horizon_days is not None:
            return self.horizon_days * HOURS_PER_DAY
        return None

    @property
    def doses(self) -> List[Dose]:
        """The regimen as :class:`crsim.Dose` records (text entries parsed, each part of a text
        its own Dose; targets resolved)."""
        return list(self._doses)

    def replace(self, **changes: Any) -> "Scenario":
        """A copy with some fields changed (checked like a new Scenario)."""
        raw = self._raw()
        raw.update(changes)
        return Scenario(**raw)


# --- checking ---------------------------------------------------------------------------------------


def _parse_text_entry(text: str, path: str, info: Optional[Mapping[str, Any]],
                      problems: Problems) -> Optional[List[Dose]]:
    """The Doses of a text entry (one per part between ';'), targets resolved when the model is
    known; None after a problem."""
    try:
        doses = parse_regimen(text, target="?", field=problems.where(path))
    except InputError as ex:
        problems.add_raw(path, str(ex))
        return None
    if info is None:
        return doses
    table = targets_for(info["name"], info)
    try:  # by drug and route, else the one state whose dose unit is the dose's unit (e.g. cells)
        return parse_regimen(text, targets=table, unit_targets=unit_targets(info))
    except InputError:
        pass
    dosable = [f"{s['name']} ({s['dose_unit']})" for s in info["states"] if s["dose_unit"]]
    problems.add(path, text, f"a regimen whose receiving state can be told: name the drug or the "
                 f"route ({', '.join(sorted(table)) or 'none known'}), or write the "
                 f"entry as a mapping with target: one of {{{', '.join(dosable)}}}")
    return None




def check_scenario(data: Any, p: Problems, default_name: str = "scenario") -> Dict[str, Any]:
    """Checks scenario data (a mapping as read from a file, or the raw fields of a Scenario):
    records every problem in ``p`` and returns the normalised fields (meaningful only when ``p``
    is empty). Each section is checked by its own function below, in the order of the file."""
    d = p.mapping("", data, TOP_KEYS, "a scenario")
    if d is None:
        return {}
    out: Dict[str, Any] = {}
    out["name"], out["description"] = _check_identity(d, p, default_name)
    model, info = _check_model(d, p)
    out["model"] = model or ""
    out["parameter_set"] = _check_parameter_set(d, p, model, info)
    out["parameters"] = params = _check_parameters(d, p, model, info)
    out["patient"], weight_given, height_given = _check_patient(d, p, params, model,
                                                                out["parameter_set"])
    out["regimen"], groups = _check_regimen(d, p, model, info, weight_given, height_given)
    doses = [dose for group in groups for dose in group]
    out["policies"] = _check_policies(d.get("policies", []), info, p)
    out["t_start_h"], out["horizon_h"], out["horizon_days"], horizon = _check_run_window(d, p)
    out["outputs"] = _check_outputs(d, p, out["t_start_h"], horizon)
    out["solver"] = _check_solver(d, p)
    out["sensitivities"] = _check_sensitivities(d, p, model, info)
    out["initial"] = _check_initial(d, p, model, info)
    out["_doses"] = doses
    out["_model"] = None
    if not p and info is not None:  # the doses and policies against the model and the run
        out["_model"] = _check_against_model(p, out, groups, horizon)
    return out


def _check_identity(d: Mapping[str, Any], p: Problems, default_name: str):
    """The scenario's name and description."""
    name = p.text("name", d.get("name", default_name), "a scenario name: non-empty text without '/' "
                  "or control characters (not '.' or '..')", pattern=NAME_PATTERN) or default_name
    desc = d.get("description", "")
    if desc is None:
        desc = ""
    if not isinstance(desc, str):
        p.add("description", desc, "free text")
    desc = desc if isinstance(desc, str) else ""
    return name, desc


def _check_model(d: Mapping[str, Any], p: Problems):
    """The model's name and its description (None for both after a problem)."""
    model = d.get("model", MISSING)
    if isinstance(model, str) and is_model_file(model):
        model = _load_model_file(model, p)  # a user's model source: compiled (cached) and loaded
    names = list(_core.models())
    if model is None:
        pass  # the model file's problem is recorded
    elif isinstance(model, str) and model not in names:
        p.add("model", model, "a model name, one of {" + ", ".join(names) + "}" + suggest(model, names))
        model = None
    else:
        model = p.text("model", model, "a model name, one of {" + ", ".join(names) + "}")
    info = _core.model_info(model) if model else None
    return model, info


def _check_parameter_set(d: Mapping[str, Any], p: Problems, model: Optional[str], info: Any):
    """The parameter set's name or path (None: the model's default)."""
    ps = d.get("parameter_set")
    if ps is not None and p.text("parameter_set", ps, "the name of a parameter set of the model, or "
                                 "null for the model's default") is None:
        ps = None
    if ps is not None and info is not None:
        try:
            Model(model, parameter_set=ps)
        except InputError as ex:
            p.add_raw("parameter_set", str(ex))
    return ps


def _check_parameters(d: Mapping[str, Any], p: Problems, model: Optional[str], info: Any):
    """Parameter overrides, each within the parameter's bounds."""
    params: Dict[str, float] = {}
    raw_params = d.get("parameters") or {}
    if not isinstance(raw_params, Mapping):
        p.add("parameters", raw_params, "a mapping of parameter name -> value (in the parameter's unit)")
    else:
        pinfo = {q["name"]: q for q in info["parameters"]} if info else {}
        for k, v in raw_params.items():
            path = f"parameters.{k}"
            if info is not None and k not in pinfo:
                p.add(path, v, f"a parameter of model {model}: unknown name '{k}'"
                      f"{suggest(str(k), pinfo)}; see `crsim params {model}`")
                continue
            if k in pinfo:
                q = pinfo[k]
                allowed = f"a value in [{q['lower']:g}, {q['upper']:g}] {q['unit']}"
                val = p.number(path, v, allowed, lower=q["lower"], upper=q["upper"])
            else:
                val = p.number(path, v, "a finite number in the parameter's unit")
            if val is not None:
                params[k] = val
    return params


def _check_patient(d: Mapping[str, Any], p: Problems, params: Mapping[str, float],
                   model: Optional[str], parameter_set: Optional[str]):
    """The patient, and whether the scenario says anything of the weight and of the height (a
    value, even a wrong one already reported, or a patient entry that is itself wrong): per-kg
    doses need a weight otherwise, per-m² doses a weight and a height."""
    weight = height = None
    raw_patient = d.get("patient") or {}
    if isinstance(raw_patient, Mapping) and "covariates" in raw_patient:
        _refuse_covariates(raw_patient["covariates"], p, model, parameter_set)
        raw_patient = {k: v for k, v in raw_patient.items() if k != "covariates"}
    pd_ = p.mapping("patient", raw_patient, PATIENT_KEYS, "patient")
    if pd_ is not None:
        if pd_.get("weight_kg") is not None:
            weight = p.number("patient.weight_kg", pd_["weight_kg"], WEIGHT_ALLOWED,
                              lower=0.0, lower_open=True, upper=MAX_WEIGHT_KG)
        if pd_.get("height_cm") is not None:
            height = p.number("patient.height_cm", pd_["height_cm"], HEIGHT_ALLOWED,
                              lower=HEIGHT_RANGE_CM[0], upper=HEIGHT_RANGE_CM[1])
    if weight is not None and params.get(WEIGHT_PARAMETER, weight) != weight:
        p.add("patient.weight_kg", weight, f"the same body weight as parameters.{WEIGHT_PARAMETER} = "
              f"{params[WEIGHT_PARAMETER]:g} kg (give one of them)")
    weight_given = pd_ is None or pd_.get("weight_kg") is not None
    height_given = pd_ is None or pd_.get("height_cm") is not None
    return Patient(weight_kg=weight, height_cm=height), weight_given, height_given


def _patient_parameters(model: Optional[str], parameter_set: Optional[str]) -> List[str]:
    """The parameters the model's parameter set calls patient covariates (``Model.patient``)."""
    if not model:
        return []
    try:
        return sorted(Model(model, parameter_set=parameter_set).patient)
    except InputError:  # reported where the model or the set is checked
        return []


def _refuse_covariates(cov: Any, p: Problems, model: Optional[str], parameter_set: Optional[str]):
    """``patient.covariates``: no model reads free covariates, so each one is an error that says
    where the value belongs, if anywhere (an empty mapping says nothing and passes)."""
    if cov is None or (isinstance(cov, Mapping) and not cov):
        return
    fields = "the patient fields are weight_kg (kg) and height_cm (cm)"
    known = _patient_parameters(model, parameter_set)
    others = [k for k in known if k != WEIGHT_PARAMETER]
    where = (f"; what model {model} knows of a patient beyond them are its parameters "
             f"{', '.join(others)}: set them under parameters" if others else
             f"; model {model} has no other patient parameters" if model else "")
    base = "no model reads free covariates, so this value would change nothing; " + fields + where
    if not isinstance(cov, Mapping):
        p.add("patient.covariates", cov, base)
        return
    for k, v in cov.items():
        path = f"patient.covariates.{k}"
        if k in ("weight", "weight_kg", WEIGHT_PARAMETER):
            p.add(path, v, "the body weight given as patient.weight_kg (free covariates are not read)")
        elif k in ("height", "height_cm"):
            p.add(path, v, "the body height given as patient.height_cm (free covariates are not read)")
        elif k in known:
            p.add(path, v, f"the value set as parameters.{k} (a parameter of model {model}; free "
                  "covariates are not read and would change nothing)")
        else:
            p.add(path, v, base + suggest(str(k), others))


def _check_regimen(d: Mapping[str, Any], p: Problems, model: Optional[str], info: Any,
                   weight_given: bool, height_given: bool):
    """The regimen's entries as written (text or Dose) and the Doses of each entry (text parsed,
    one Dose per part; targets resolved)."""
    raw_reg = d.get("regimen", [])
    if raw_reg is None:
        raw_reg = []
    if isinstance(raw_reg, (str, Dose)) or isinstance(raw_reg, Mapping):
        raw_reg = [raw_reg]
    entries: List[RegimenEntry] = []
    groups: List[List[Dose]] = []
    missing: set = set()  # patient fields already reported missing
    if not isinstance(raw_reg, (list, tuple)):
        p.add("regimen", raw_reg, "a list of regimen entries (text such as '8 mg/kg iv over 1h max "
              "800mg', or mappings of dose fields)")
        raw_reg = []
    for i, e in enumerate(raw_reg):
        path = f"regimen[{i}]"
        group: Optional[List[Dose]]
        if isinstance(e, str):
            group = _parse_text_entry(e, path, info, p)
            entry: Any = e
        elif isinstance(e, Dose):
            dose = check_dose_mapping(dose_to_dict(e), path, info, p)
            entry = dose if dose is not None else e
            group = None if dose is None else [dose]
        elif isinstance(e, Mapping):
            dose = check_dose_mapping(e, path, info, p)
            entry = dose
            group = None if dose is None else [dose]
        else:
            p.add(path, e, "a text regimen (e.g. '8 mg/kg iv over 1h max 800mg') or a mapping of "
                  "dose fields (target, amount, unit, ...)")
            group = entry = None
        for dose in (group or []) if info is not None else []:
            du = next(s["dose_unit"] for s in info["states"] if s["name"] == dose.target)
            basis = dose_basis(dose.unit, du)
            weight_known = weight_given or has_weight_parameter(info)
            if basis is None:
                p.add(f"{path}.unit" if not isinstance(e, str) else path, dose.unit if not isinstance(e, str) else e,
                      f"'{du}', '{du}/kg' or '{du}/m2' (the dose unit of state '{dose.target}' of "
                      f"model {model}, per kg of body weight or per m² of body surface area)")
                break
            if basis == "m2" and not height_given and "height" not in missing:
                missing.add("height")
                p.add("patient.height_cm", MISSING, f"{HEIGHT_ALLOWED}, required with the body "
                      f"weight for the body surface area of the per-m² dose {path} ({dose.unit})")
            if basis and not weight_known and "weight" not in missing:
                missing.add("weight")
                p.add("patient.weight_kg", MISSING, f"a body weight > 0 kg, required by the "
                      f"per-{'kg' if basis == 'kg' else 'm²'} dose {path} ({dose.unit})")
        if entry is not None:
            entries.append(entry)
        if group is not None:
            groups.append(group)
    return entries, groups


def _check_run_window(d: Mapping[str, Any], p: Problems):
    """Start time, horizon in h and in days as given, and the horizon in h (None: not given)."""
    t0 = 0.0
    if d.get("t_start_h") is not None:
        t0 = p.number("t_start_h", d["t_start_h"], "a finite time in h") or 0.0
    hh = hd = None
    if d.get("horizon_h") is not None:
        hh = p.number("horizon_h", d["horizon_h"], f"a run length > 0 h (at most {MAX_HORIZON_H:g} h)",
                      lower=0.0, lower_open=True, upper=MAX_HORIZON_H)
    if d.get("horizon_days") is not None:
        hd = p.number("horizon_days", d["horizon_days"],
                      f"a run length > 0 days (at most {MAX_HORIZON_H / 24:g} days)",
                      lower=0.0, lower_open=True, upper=MAX_HORIZON_H / 24)
    if d.get("horizon_h") is not None and d.get("horizon_days") is not None:
        p.add("horizon_days", d["horizon_days"], f"either horizon_h or horizon_days, not both "
              f"(horizon_h = {d['horizon_h']!r})")
    horizon = hh if hh is not None else (hd * HOURS_PER_DAY if hd is not None else None)
    return t0, hh, hd, horizon


def _check_outputs(d: Mapping[str, Any], p: Problems, t0: float, horizon: Optional[float]):
    """The output times: a step or explicit times."""
    outputs = Outputs()
    raw_out = d.get("outputs")
    od = p.mapping("outputs", raw_out, OUTPUT_KEYS, "outputs") if raw_out is not None else None
    if od is not None:
        if "step_h" in od and "times_h" in od:
            p.add("outputs", dict(od), "either step_h or times_h, not both")
        elif not od:
            p.add("outputs", dict(od), "step_h (an output step in h) or times_h (a list of output "
                  "times in h)")
        elif "step_h" in od:
            step = p.number("outputs.step_h", od["step_h"], "an output step > 0 h", lower=0.0, lower_open=True)
            if step is not None and horizon is not None and horizon / step > MAX_OUTPUT_TIMES:
                p.add("outputs.step_h", step, f"a step giving at most {MAX_OUTPUT_TIMES} output times "
                      f"over the run of {horizon:g} h (a step >= {horizon / MAX_OUTPUT_TIMES:.3g} h)")
                step = None
            outputs = Outputs(step_h=step)
        else:
            outputs = Outputs(times_h=_check_times(od["times_h"], t0, horizon, p))
    return outputs


def _check_solver(d: Mapping[str, Any], p: Problems):
    """Solver settings."""
    solver = Solver()
    raw_solver = d.get("solver")
    sd = p.mapping("solver", raw_solver, SOLVER_KEYS, "solver") if raw_solver is not None else None
    if sd is not None:
        kw: Dict[str, Any] = {}
        if "method" in sd:
            kw["method"] = p.text("solver.method", sd["method"], "one of {auto, rosenbrock4, dopri5}",
                                  choices=METHODS)
        if "rtol" in sd:
            kw["rtol"] = p.number("solver.rtol", sd["rtol"], "a relative tolerance in [1e-14, 1)",
                                  lower=1e-14, upper=1.0, upper_open=True)
        if "atol" in sd:
            kw["atol"] = p.number("solver.atol", sd["atol"], "a finite absolute tolerance > 0 (state "
                                  "units)", lower=0.0, lower_open=True)
        if "max_steps" in sd:
            kw["max_steps"] = p.number("solver.max_steps", sd["max_steps"], "an integer step count "
                                       "> 0", lower=1.0, upper=9e15, integer=True)
        if "max_step" in sd:
            kw["max_step"] = p.number("solver.max_step", sd["max_step"], "a finite step in h >= 0 "
                                      "(0 = unlimited)", lower=0.0)
        if "initial_step" in sd:
            kw["initial_step"] = p.number("solver.initial_step", sd["initial_step"], "a finite step "
                                          "in h >= 0 (0 = automatic)", lower=0.0)
        solver = Solver(**{k: v for k, v in kw.items() if v is not None})
    return solver


def _check_sensitivities(d: Mapping[str, Any], p: Problems, model: Optional[str], info: Any):
    """Sensitivity names (or True for all parameters, None for none)."""
    sens = d.get("sensitivities")
    allowed_sens = ("parameter names or 'init:<state>' (each once), or true for all parameters")
    if sens is None or sens is False:
        sens_out: Union[None, bool, List[str]] = None
    elif sens is True:
        sens_out = True
    elif isinstance(sens, (list, tuple)):
        sens_out = []
        valid = None
        if info:
            valid = [q["name"] for q in info["parameters"]] + [f"init:{s['name']}" for s in info["states"]]
        for i, s in enumerate(sens):
            path = f"sensitivities[{i}]"
            if not isinstance(s, str):
                p.add(path, s, allowed_sens)
            elif valid is not None and s not in valid:
                p.add(path, s, f"a parameter of model {model} or 'init:<state>'{suggest(s, valid)}")
            elif s in sens_out:
                p.add(path, s, "each sensitivity once")
            else:
                sens_out.append(s)
    else:
        p.add("sensitivities", sens, allowed_sens)
        sens_out = None
    return sens_out


def _check_initial(d: Mapping[str, Any], p: Problems, model: Optional[str], info: Any):
    """Overrides of initial values, by state name."""
    initial: Dict[str, float] = {}
    raw_init = d.get("initial") or {}
    if not isinstance(raw_init, Mapping):
        p.add("initial", raw_init, "a mapping of state name -> initial value (state unit)")
    else:
        snames = {s["name"]: s["unit"] for s in info["states"]} if info else {}
        for k, v in raw_init.items():
            path = f"initial.{k}"
            if info is not None and k not in snames:
                p.add(path, v, f"a state of model {model}: unknown name '{k}'{suggest(str(k), snames)}")
                continue
            unit = snames.get(k, "the state unit")
            val = p.number(path, v, f"a finite initial value >= 0 in {unit} (states are amounts, "
                           "counts or concentrations)", lower=0.0)
            if val is not None:
                initial[k] = val
    return initial


def _check_against_model(p: Problems, out: Mapping[str, Any], groups: List[List[Dose]],
                         horizon: Optional[float]) -> Optional[Model]:
    """The doses within the run window, then as the engine checks them, and each policy against the
    model (variable, unit, dose targets). ``groups`` holds the Doses of each regimen entry (several
    for a text with parts separated by ';'). Returns the Model the scenario binds (None after a
    problem)."""
    model, ps, params, t0 = out["model"], out["parameter_set"], out["parameters"], out["t_start_h"]
    weight, entries = out["patient"].weight_kg, out["regimen"]
    height = math.nan if out["patient"].height_cm is None else out["patient"].height_cm
    for i, group in enumerate(groups):
        for dose in group:
            if dose.time < t0 or (horizon is not None and dose.time > t0 + horizon):
                end = f"{t0 + horizon:g}" if horizon is not None else "inf"
                p.add(f"regimen[{i}]" + (".time" if not isinstance(entries[i], str) else ""),
                      dose.time, f"a first administration time within the run [{t0:g}, {end}] h")
                break
    if p:
        return None
    model_obj = Model(model, parameter_set=ps) if ps is not None else Model(model)
    w = effective_weight(model_obj, weight, params)
    # As the engine checks them: the first dose of each entry, so that the engine's regimen[i] is
    # entry i; then the parts of each text with several, named regimen[i][k] (part k of entry i).
    checks = [("regimen", [group[0] for group in groups])]
    checks += [(f"regimen[{i}]", group) for i, group in enumerate(groups) if len(group) > 1]
    for name, doses in checks:
        try:
            _core.expand_doses(model, to_core_doses(doses, model_obj, w, field=name, height_cm=height,
                                                    body_fields=BODY_FIELDS), w, t0, field=name)
        except InputError as ex:
            p.add_raw(getattr(ex, "field", None) or name, str(ex))
            return None
    for i, pol in enumerate(out["policies"]):  # variable, unit, dose targets of each policy
        if not isinstance(pol, Policy):
            continue
        try:
            core_policies([pol], model_obj, w, first=i, height_cm=height, body_fields=BODY_FIELDS)
        except InputError as ex:
            p.add_raw(getattr(ex, "field", None) or f"policies[{i}]", str(ex))
    return model_obj if not p else None


def _load_model_file(path: str, p: Problems) -> Optional[str]:
    """The name of the user model in the source file ``path`` (.ant, .xml, .sbml), compiled unless
    cached and loaded; None after recording the problem of the file in ``p``."""
    try:
        return load_file(path)
    except InputError as ex:
        p.add_raw("model", f"model: {path}: {ex}" if str(path) not in str(ex) else f"model: {ex}")
        return None


def _check_policies(raw: Any, info: Optional[Mapping[str, Any]], p: Problems) -> List[Any]:
    """Policies of a scenario: each a Policy, a mapping of its fields or a standard strategy's name."""
    if raw is None:
        return []
    names = standard_names(info["name"] if info is not None else None)  # the model's (or all)
    allowed = ("a list of policies: mappings with name, when, give, ... (docs/scenarios.md), "
               "crsim.Policy objects, or names of standard strategies {" + ", ".join(names) + "}")
    if isinstance(raw, (str, Policy, Mapping)):
        raw = [raw]
    if not isinstance(raw, (list, tuple)):
        p.add("policies", raw, allowed)
        return []
    out: List[Any] = []
    for i, e in enumerate(raw):
        path = f"policies[{i}]"
        if isinstance(e, str):
            if e not in names:
                p.add(path, e, "the name of a standard strategy, one of {" + ", ".join(names) + "}"
                      + suggest(e, names) if names else "the name of a standard strategy: model "
                      f"{info['name'] if info else '?'} has none (write the policy out)")
            else:
                out.append(e)
        elif isinstance(e, Strategy):
            p.add(path, f"Strategy {e.name!r}", "a Policy, a mapping of policy fields or a standard "
                  "strategy's name (for a custom Strategy, add its policies here and its regimen to "
                  "regimen)")
        elif isinstance(e, (Policy, Mapping)):
            data = e if isinstance(e, Mapping) else {k: getattr(e, k) for k in POLICY_KEYS}
            n0 = len(p)
            norm = check_policy(data, p, path, info)
            if len(p) == n0:
                out.append(Policy(**norm))
        else:
            p.add(path, e, allowed)
    return out


def _check_times(raw: Any, t0: float, horizon: Optional[float], p: Problems) -> Optional[List[float]]:
    allowed = "a list of output times in h: finite, strictly increasing, >= t_start_h"
    if horizon is not None:
        allowed += f", <= t_start_h + horizon = {t0 + horizon:g} h"
    if not isinstance(raw, (list, tuple, np.ndarray)) or len(raw) == 0:
        p.add("outputs.times_h", raw, allowed + " (at least one)")
        return None
    if len(raw) > MAX_OUTPUT_TIMES:
        p.add("outputs.times_h", f"{len(raw)} times", f"at most {MAX_OUTPUT_TIMES} output times")
        return None
    out: List[float] = []
    n0 = len(p)
    for i, t in enumerate(raw):
        v = p.number(f"outputs.times_h[{i}]", t, allowed, lower=t0,
                     upper=t0 + horizon if horizon is not None else math.inf)
        if v is not None and out and not v > out[-1]:
            p.add(f"outputs.times_h[{i}]", t, f"a time after the previous one ({out[-1]:g} h): "
                  "output times strictly increasing")
        if v is not None:
            out.append(v)
        if len(p) - n0 >= 5:  # enough to show the pattern
            break
    return out if len(p) == n0 else None


# --- the Scenario of a keyword call ----------------------------------------------------------------

def scenario_from_call(model: str, parameter_set: Optional[str], doses: Sequence[Dose],
                       parameters: Mapping[str, float],
                       weight: Optional[float], initial: Mapping[str, float],
                       options: Mapping[str, Any], sensitivities: Sequence[str], t_start: float,
                       times: np.ndarray, policies: Sequence[Any] = (),
                       height: Optional[float] = None) -> Scenario:
    """The Scenario equivalent to a crsim.simulate call (explicit output times)."""
    return Scenario(model=model, name=model, parameter_set=parameter_set, parameters=dict(parameters),
                    patient=Patient(weight_kg=weight, height_cm=height), regimen=list(doses),
                    outputs=Outputs(times_h=[float(t) for t in times]),
                    # the scenario records the solver settings of its schema (SOLVER_KEYS); the
                    # sensitivity_error_control switch of simulate() applies to the run only
                    solver=Solver(**{k: v for k, v in options.items() if k in SOLVER_KEYS}),
                    sensitivities=list(sensitivities) or None,
                    initial=dict(initial), t_start_h=float(t_start), policies=list(policies))
