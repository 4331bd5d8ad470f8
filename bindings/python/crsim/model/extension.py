"""Per-model extensions: what a model knows beyond its equations (clinical readouts, standard
strategies, plot defaults, explorer controls, drug names), registered by model name.

A model's ODEs, units and sources come from its source file (docs/models.md); everything else that
is specific to one model lives in a :class:`ModelExtension` that a package registers under the
model's name in the entry-point group ``crsim.models`` (as PyBaMM registers its models)::

    # pyproject.toml of the package providing the extension
    [project.entry-points."crsim.models"]
    my_model = "my_package.crsim_ext:EXTENSION"

crsim's own models register theirs the same way (``crsim/extensions/<model>/``; an installation
without the entry points, e.g. package files copied over an older install, still finds these by
their subpackage). Generic code asks
:func:`extension` for the model at hand and never tests a model's name; a model without a
registered extension (every user model, unless its package registers one) gets :data:`EMPTY`, with
which everything works: readouts are the per-observable summary, plots show all observables, there
are no standard strategies and no drug aliases.
"""
from __future__ import annotations

import importlib
import importlib.util
import pkgutil
import threading
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, List, Mapping, Optional, Sequence, Tuple

from crsim import _core

__all__ = ["ModelExtension", "PlotPanel", "grader_thresholds", "EMPTY", "ENTRY_POINT_GROUP", "extension", "extensions",
           "register"]

ENTRY_POINT_GROUP = "crsim.models"

Readouts = Tuple[Dict[str, Any], Dict[str, str]]


@dataclass(frozen=True)
class PlotPanel:
    """One panel of a model's clinical figure (:func:`crsim.plot`): the variables drawn in it (a
    second unit goes on a right-hand axis), its title, a log axis, and reference lines
    ``(value, label)`` such as the ASTCT fever threshold (38, "fever")."""

    variables: Tuple[str, ...]
    title: str = ""
    log: bool = False
    thresholds: Tuple[Tuple[float, str], ...] = ()


def grader_thresholds(variable: str, count: int = 4) -> Tuple[Tuple[float, str], ...]:
    """The ASTCT grader's thresholds on one of its inputs (``temperature``, ``map``, ``sbp``,
    ``fio2_required``; its GradingPolicy, read through the readout watch), at most ``count`` of
    them, as reference lines ``(value, label)`` of a clinical figure."""
    words = {"temperature": "fever", "map": "MAP", "sbp": "SBP", "fio2_required": "FiO2"}
    values = [w[2] for w in _core.crs_readout_watch() if w[0] == variable][:count]
    return tuple((v, f"{words.get(variable, variable)} {v:g}") for v in values)


@dataclass(frozen=True)
class ModelExtension:
    """Model-specific knowledge beyond the equations; every field is optional.

    Attributes:
        drug_targets: ``"drug route"`` or ``"drug"`` -> the state a text regimen doses (on top of
            the generic rules: ``<drug>_central`` for iv, ``<drug>_depot`` for po/sc/im), e.g.
            ``{"car-t": "car_t_effector"}``.
        variable_aliases: clinical words a policy condition may use -> observable or state
            (lower case), e.g. ``{"il-6": "il6"}``.
        renamed: former name -> current name of observables or states renamed in a later version
            of the model: the former name still works where a variable is named (``result[name]``,
            policy conditions, plots) with a ``DeprecationWarning`` that gives the new name.
        grade_observable: the observable holding an instantaneous grade (enables the scan key
            ``policy.trigger_grade``), or None.
        drug_states: drug -> the states whose administrations count as its doses (scan readouts
            ``<drug>_doses``).
        readouts: function(result) -> (name -> value, name -> unit): the clinical readouts of a run
            (``Result.readouts``); None: the per-observable summary (max, t_max, auc, last). A model
            with readouts has its runs record a readout trajectory (docs/package.md, "Readout
            trajectory"): ``result._readout_trajectory()``, independent of the output grid.
        readout_watch: the thresholds that readout trajectory watches, ``(variable, ">=" or "<=",
            threshold)``: the engine records two points bracketing each crossing, located by
            bisection on the solver's dense output (1e-6 h), so that readouts see a change of
            state (fever, hypotension) with its true start and end whatever the output grid.
        extra_readouts: function(result) -> (values, units): readouts a scan reports beyond
            ``Result.readouts`` (besides the dose counts and ``policy_firings``), or None.
        scan_readouts: the readouts a scan tabulates when none are asked for (empty: all).
        native_readouts: readout -> (spec, unit) for readouts the engine computes itself in a
            readouts-only batch (``_core.simulate_batch_readouts``: ``("crs", name)`` or
            ``("value_at", variable, time_h)``); they must equal what ``readouts`` and
            ``extra_readouts`` give for a run. When every readout a population, scan or GSA asks
            for is native (the dose counts and ``policy_firings`` always are), its runs are reduced
            to those numbers in the engine's threads and no trajectory reaches Python.
        plot_variables: the variables of the default figure when the model has no ``plot_panels``
            (empty: all observables), one panel each.
        plot_panels: the model's clinical figure (:class:`PlotPanel` each), drawn by
            ``Result.plot()``, ``crsim.plot`` and the command line.
        plot_labels: variable -> a readable label for axes and legends (``"IL-6"``).
        grade_course: function(result) -> pandas Series of the clinical grade by output time (h),
            drawn as the figure's last panel, or None.
        flag_courses: label -> function(result) -> pandas Series of a second grade by output time
            (h), e.g. ``{"IEC-HS": ...}``: drawn dotted in the grade panel when it is ever above 0.
        summary: function(result) -> lines of a clinical summary in words (``crsim demo``,
            ``crsim run``, the explorer), or None.
        population_summary: function(table) -> lines the command line prints about a population
            table before the readout percentiles, or None.
        strategies: function() -> the model's standard strategies (:class:`crsim.Strategy`), in
            the order they are listed; called once.
        scan_regimen: function(model) -> the regimen of the base scenario of a scan (or an
            explorer) given by model name, e.g. the parameter set's product dose; None: no doses.
        explorer_controls: function(scenario) -> the explorer's default controls
            (:func:`crsim.explore`), or None (a ±10-fold slider per parameter the scenario sets).
        control_labels: scan key -> label of its explorer control, e.g. ``{"regimen[0].amount":
            "CAR-T dose"}``.
    """

    drug_targets: Mapping[str, str] = field(default_factory=dict)
    variable_aliases: Mapping[str, str] = field(default_factory=dict)
    renamed: Mapping[str, str] = field(default_factory=dict)
    grade_observable: Optional[str] = None
    drug_states: Mapping[str, Tuple[str, ...]] = field(default_factory=dict)
    readouts: Optional[Callable[[Any], Readouts]] = None
    readout_watch: Sequence[Tuple[str, str, float]] = ()
    extra_readouts: Optional[Callable[[Any], Readouts]] = None
    scan_readouts: Sequence[str] = ()
    native_readouts: Mapping[str, Tuple[Tuple[Any, ...], str]] = field(default_factory=dict)
    plot_variables: Sequence[str] = ()
    plot_panels: Sequence[PlotPanel] = ()
    plot_labels: Mapping[str, str] = field(default_factory=dict)
    grade_course: Optional[Callable[[Any], Any]] = None
    flag_courses: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    summary: Optional[Callable[[Any], List[str]]] = None
    population_summary: Optional[Callable[[Any], List[str]]] = None
    strategies: Optional[Callable[[], Sequence[Any]]] = None
    scan_regimen: Optional[Callable[[Any], List[Any]]] = None
    explorer_controls: Optional[Callable[[Any], Dict[str, Any]]] = None
    control_labels: Mapping[str, str] = field(default_factory=dict)

    def standard_strategies(self) -> Dict[str, Any]:
        """The model's standard strategies by name (built on first use, then kept)."""
        cache = self.__dict__.get("_strategies")
        if cache is None:
            cache = {s.name: s for s in (self.strategies() if self.strategies else ())}
            object.__setattr__(self, "_strategies", cache)
        return cache


#: The extension of a model nobody registered one for.
EMPTY = ModelExtension()

_lock = threading.RLock()
_points: Optional[Dict[str, Any]] = None        # model name -> entry point (not loaded yet)
_loaded: Dict[str, ModelExtension] = {}         # model name -> extension


def _entry_points() -> Dict[str, Any]:
    global _points
    if _points is None:
        from importlib import metadata

        eps = metadata.entry_points()
        found = eps.select(group=ENTRY_POINT_GROUP) if hasattr(eps, "select") else \
            eps.get(ENTRY_POINT_GROUP, [])  # Python < 3.10
        points: Dict[str, Any] = {}
        for ep in found:
            points.setdefault(ep.name, ep)  # the first one found wins (sys.path order)
        _points = points
    return _points


def extension(model: str) -> ModelExtension:
    """The extension registered for a model name (:data:`EMPTY` when there is none)."""
    ext = _loaded.get(model)
    if ext is not None:
        return ext
    with _lock:
        ext = _loaded.get(model)
        if ext is None:
            ep = _entry_points().get(model) or _bundled(model)
            ext = EMPTY if ep is None else _load(model, ep)
            _loaded[model] = ext
    return ext


class _Bundled:
    """An extension shipped with crsim (``crsim.extensions.<model>``), found without its entry point."""

    def __init__(self, model: str):
        self.name, self.value = model, f"crsim.extensions.{model}:EXTENSION"

    def load(self) -> Any:
        return importlib.import_module(f"crsim.extensions.{self.name}").EXTENSION


def _bundled(model: str) -> Optional[_Bundled]:
    if not model.isidentifier():
        return None
    try:
        found = importlib.util.find_spec(f"crsim.extensions.{model}") is not None
    except (ImportError, ValueError):
        found = False
    return _Bundled(model) if found else None


def _load(model: str, ep: Any) -> ModelExtension:
    where = (f"entry point {ep.name} = {ep.value} (group {ENTRY_POINT_GROUP})"
             if not isinstance(ep, _Bundled) else ep.value)
    try:
        obj = ep.load()
    except Exception as ex:  # a broken plug-in: say which and why
        raise RuntimeError(f"the extension of model {model} could not be loaded from {where}: "
                           f"{type(ex).__name__}: {ex}") from ex
    if not isinstance(obj, ModelExtension):
        raise RuntimeError(f"the extension of model {model} ({where}) is a {type(obj).__name__}, "
                           "not a crsim ModelExtension")
    return obj


def extensions() -> Dict[str, ModelExtension]:
    """Every registered extension by model name (loaded)."""
    pkg = importlib.import_module(f"crsim.extensions")
    bundled = [m.name for m in pkgutil.iter_modules(pkg.__path__) if m.ispkg]
    with _lock:
        names = list(dict.fromkeys([*_entry_points(), *bundled, *_loaded]))
    return {n: extension(n) for n in names if extension(n) is not EMPTY}


def register(model: str, ext: Optional[ModelExtension]) -> None:
    """Registers ``ext`` for ``model`` in this process (instead of an entry point's; None: back to
    the entry point's or none). For tests and for trying an extension out before packaging it."""
    if ext is not None and not isinstance(ext, ModelExtension):
        raise TypeError(f"ext: a crsim ModelExtension, not {type(ext).__name__}")
    with _lock:
        _loaded.pop(model, None)
        if ext is not None:
            _loaded[model] = ext


def current_name(model: str, name: Any) -> Any:
    """``name``, or the current name of a variable the model renamed (with a ``DeprecationWarning``
    naming both)."""
    new = extension(model).renamed.get(name) if isinstance(name, str) else None
    if new is None:
        return name
    import warnings

    warnings.warn(f"'{name}' of model {model} is now called '{new}'; the former name will be removed",
                  DeprecationWarning, stacklevel=3)
    return new
