"""SBML export: a ModelIR written as SBML Level 3 Version 2 core, with units and crsim's metadata.

    export(ir, values=None, *, name=None) -> str

What is written, element by element (every state, parameter and intermediate is an SBML
``<parameter>``):

* **states** are non-constant parameters changed by a **rate rule** (``x' = f``). Parameters rather
  than species: crsim's states are amounts, concentrations, cell numbers, temperatures and
  dimensionless indices with no compartment, and a rate rule on a parameter says exactly what the
  model integrates, with no compartment-size or ``hasOnlySubstanceUnits`` conversion for a reader
  to get wrong. A model imported from SBML with reactions is exported with its reactions already
  converted to rates (one rate rule per species, in the species' unit).
  Initial values: a number is the parameter's ``value``; an expression (``il6 = il6_base``) is an
  **initial assignment**.
* **parameters**: constant parameters with their values (``values`` overrides the source's, by
  id or crsim name; a parameter left without a value, NaN, is an error naming it).
* **intermediates** (``y := ...``) and **observables** are **assignment rules**, in evaluation
  order; a constant computed once from other parameters (an SBML initial assignment in the
  source) stays an initial assignment.
* **units**: the source's unit definitions, each element's unit, the model's time unit (h);
  function definitions are expanded (crsim's compiler inlines them).
* **display names**: each element's description is its SBML ``name``.
* **crsim's metadata**: one ``<crsim:meta>`` element (namespace ``source.META_NS``) in the
  annotation of each element: ``lower``/``upper`` (bounds), ``source``, ``dose``/``dose_scale``/
  ``dose_param``/``dose_power``, ``observable``, ``name`` (the crsim name where it is not the id);
  on the model: ``name``, ``version``, ``description``, ``doses``, and the citations as
  ``<crsim:source>`` children of its ``<crsim:meta>`` (an attribute cannot keep line breaks).
  ``source.load_sbml`` reads them back, so export -> import gives the same model.
* the model's description and sources also go into the SBML ``<notes>`` (XHTML), for other tools.

Not exported: what is not ODE content and so not in the source (derived outputs computed in C++
from the observables, such as the CRS model's ``crs_grade_now``; readouts; dosing, which belongs
to the scenario). Numbers are written with libSBML's 15 significant digits.
"""
from __future__ import annotations

import math
import re
from typing import Dict, Iterable, List, Mapping, Optional
from xml.sax.saxutils import escape, quoteattr

from .errors import ModelSourceError
from .ir import ModelIR, names_in
from .source import META_NS, META_PREFIX

__all__ = ["export"]

_SID = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_NUMBER_TYPES = ("AST_INTEGER", "AST_REAL", "AST_REAL_E", "AST_RATIONAL")


def _ls():
    import libsbml
    return libsbml


def _check(code: int, what: str) -> None:
    ls = _ls()
    if code != ls.LIBSBML_OPERATION_SUCCESS:
        raise ModelSourceError("SBML export", what,
                               "a valid SBML element (libSBML: " + ls.OperationReturnValue_toString(code)
                               + ")")


def _fmt(v: float) -> str:
    if math.isinf(v):
        return "inf" if v > 0 else "-inf"
    return repr(float(v))


def _meta_xml(attrs: Mapping[str, str], sources: Iterable[str] = ()) -> str:
    head = f'<{META_PREFIX}:meta xmlns:{META_PREFIX}="{META_NS}" ' + " ".join(
        f"{k}={quoteattr(v)}" for k, v in attrs.items())
    inner = "".join(f"<{META_PREFIX}:source>{escape(s)}</{META_PREFIX}:source>" for s in sources)
    body = f"{head}>{inner}</{META_PREFIX}:meta>" if inner else f"{head}/>"
    return f"<annotation>{body}</annotation>"


def _annotate(el, attrs: Mapping[str, str], what: str, sources: Iterable[str] = ()) -> None:
    sources = list(sources)
    if attrs or sources:
        _check(el.setAnnotation(_meta_xml(attrs, sources)), f"annotation of {what}")


def _number_value(node) -> Optional[float]:
    """The value of a plain number node (no units attached), else None."""
    ls = _ls()
    if node is None:
        return 0.0
    t = node.getType()
    if t not in tuple(getattr(ls, n) for n in _NUMBER_TYPES):
        return None
    if node.isSetUnits():
        return None
    if t == ls.AST_INTEGER:
        return float(node.getInteger())
    return float(node.getValue())


# --- units ---------------------------------------------------------------------------------------

def _base_kinds() -> set:
    ls = _ls()
    return {ls.UnitKind_toString(k) for k in range(ls.UNIT_KIND_INVALID)
            if ls.UnitKind_isValidUnitKindString(ls.UnitKind_toString(k), 3, 2)}


class _Units:
    """The source's unit definitions and each element's unit id, with derived units (a species'
    concentration) added where the source has none."""

    def __init__(self, source_model, target_model):
        self.src = source_model
        self.dst = target_model
        self.kinds = _base_kinds()
        self.defined = set()
        for k in range(source_model.getNumUnitDefinitions()):
            ud = source_model.getUnitDefinition(k)
            if ud.getId() in self.kinds:  # Level 2 redefinitions of built-in units (substance, ...)
                continue
            self._define(ud.getId(), ud.getName() if ud.isSetName() else "", self._parts(ud.getId()))

    def _define(self, uid: str, label: str, parts) -> None:
        ud = self.dst.createUnitDefinition()
        _check(ud.setId(uid), f"unit id {uid!r}")
        if label:
            ud.setName(label)
        for kind, exponent, scale, multiplier in parts:
            u = ud.createUnit()
            u.setKind(_ls().UnitKind_forName(kind))
            u.setExponent(exponent)
            u.setScale(scale)
            u.setMultiplier(multiplier)
        self.defined.add(uid)

    def valid(self, uid: str) -> str:
        return uid if uid and (uid in self.defined or uid in self.kinds) else ""

    def _parts(self, uid: str):
        if uid in self.kinds and self.src.getUnitDefinition(uid) is None:
            return [(uid, 1.0, 0, 1.0)]
        ud = self.src.getUnitDefinition(uid)
        return [(_ls().UnitKind_toString(u.getKind()), u.getExponentAsDouble(), u.getScale(),
                 u.getMultiplier() if u.isSetMultiplier() else 1.0)
                for u in (ud.getUnit(i) for i in range(ud.getNumUnits()))]

    def ratio(self, num: str, den: str) -> str:
        """A unit definition num/den (added once), '' if either is unknown."""
        if not (self.valid(num) and self.valid(den)):
            return ""
        uid = f"{num}_per_{den}"
        if uid not in self.defined and uid not in self.kinds:
            parts = self._parts(num) + [(k, -e, s, m) for k, e, s, m in self._parts(den)]
            self._define(uid, f"{self._label(num)}/{self._label(den)}", parts)
        return uid

    def _label(self, uid: str) -> str:
        ud = self.src.getUnitDefinition(uid)
        return ud.getName() if ud is not None and ud.isSetName() and ud.getName() else uid

    def of(self, sid: str) -> str:
        """The unit id of element ``sid`` of the source model ('' if none is declared)."""
        m = self.src
        p = m.getParameter(sid)
        if p is not None:
            return self.valid(p.getUnits())
        c = m.getCompartment(sid)
        if c is not None:
            if c.isSetUnits():
                return self.valid(c.getUnits())
            dims = c.getSpatialDimensionsAsDouble() if c.isSetSpatialDimensions() else 3.0
            default = {3.0: m.getVolumeUnits(), 2.0: m.getAreaUnits(), 1.0: m.getLengthUnits()}
            return self.valid(default.get(dims, ""))
        s = m.getSpecies(sid)
        if s is not None:
            substance = self.valid(s.getSubstanceUnits() if s.isSetSubstanceUnits()
                                   else m.getSubstanceUnits())
            if s.getHasOnlySubstanceUnits() or not substance:
                return substance
            comp = m.getCompartment(s.getCompartment())
            return self.ratio(substance, self.of(comp.getId())) if comp is not None else ""
        return ""


def _canonical(ud):
    """(sorted (kind, exponent) pairs, overall factor) of a unit definition in SI base units."""
    ls = _ls()
    si = ls.UnitDefinition.convertToSI(ud)
    factor, parts = 1.0, []
    for i in range(si.getNumUnits()):
        u = si.getUnit(i)
        e = u.getExponentAsDouble()
        factor *= (u.getMultiplier() * 10.0 ** u.getScale()) ** e
        if u.getKind() != ls.UNIT_KIND_DIMENSIONLESS and e != 0:
            parts.append((ls.UnitKind_toString(u.getKind()), e))
    return tuple(sorted(parts)), factor


def _infer_units(model, candidates: List[str], units: _Units) -> None:
    """Declares the units of intermediates the source leaves undeclared where libSBML derives them
    completely from their expression (no literal numbers or undeclared quantities in it), so that
    unit checks reach further. Repeated until nothing changes: each declared unit may complete the
    derivation of others. Observables keep what the source says (their unit is crsim metadata)."""
    ls = _ls()
    known = []
    for k in range(model.getNumUnitDefinitions()):
        ud = model.getUnitDefinition(k)
        known.append((ud.getId(), _canonical(ud)))
    todo = [sid for sid in candidates if not model.getParameter(sid).isSetUnits()]
    while todo:
        model.populateListFormulaUnitsData()
        done = []
        for sid in todo:
            el = model.getAssignmentRule(sid) or model.getInitialAssignment(sid)
            if el is None or el.containsUndeclaredUnits():
                continue
            derived = el.getDerivedUnitDefinition()
            if derived is None or derived.getNumUnits() == 0:
                continue
            parts, factor = _canonical(derived)
            uid = None
            if not parts and abs(factor - 1.0) <= 1e-12:
                uid = "dimensionless"
            for cand, (cparts, cfactor) in known:
                if uid is None and cparts == parts and abs(cfactor - factor) <= 1e-12 * abs(factor):
                    uid = cand
            if uid is None:
                uid = f"unit_{sid}"
                ud = model.createUnitDefinition()
                ud.setId(uid)
                ud.setName(ls.UnitDefinition.printUnits(derived, True))
                for i in range(derived.getNumUnits()):
                    _check(ud.addUnit(derived.getUnit(i)), f"unit of {sid}")
                units.defined.add(uid)
                known.append((uid, (parts, factor)))
            model.getParameter(sid).setUnits(uid)
            done.append(sid)
        if not done:
            break
        todo = [sid for sid in todo if sid not in done]


# --- the export ----------------------------------------------------------------------------------

def _lookup(mapping: Optional[Mapping[str, object]], sid: str, name: str):
    if not mapping:
        return None
    if sid in mapping:
        return mapping[sid]
    return mapping.get(name)


def _notes(description: str, sources: Iterable[str]) -> str:
    items = "".join(f"<li>{escape(s)}</li>" for s in sources)
    body = f"<p>{escape(description)}</p>" if description else ""
    if items:
        body += f"<p>Sources:</p><ul>{items}</ul>"
    return f'<notes><body xmlns="http://www.w3.org/1999/xhtml">{body}</body></notes>'


def export(ir: ModelIR, values: Optional[Mapping[str, float]] = None, *,
           name: Optional[str] = None, sources: Optional[Mapping[str, str]] = None,
           model_sources: Optional[List[str]] = None) -> str:
    """SBML Level 3 Version 2 (core) text of ``ir``.

    Args:
        ir: the model (``ir.build``), whose libSBML document ``ir.doc`` supplies the unit
            definitions and the elements' units.
        values: parameter values (by id or crsim name) overriding the source's, e.g. a resolved
            parameter set. Every parameter needs a value: one that is NaN in the source and not
            given here raises ModelSourceError naming it.
        name: the SBML model id and crsim name (default ``ir.name``).
        sources: citations per parameter (by id or crsim name) replacing the source's.
        model_sources: the model's citations (default ``ir.sources``).
    """
    ls = _ls()
    model_id = name or ir.name
    if not model_id or not _SID.match(model_id):
        raise ModelSourceError("model name", repr(model_id),
                               "an SBML id: letters, digits and '_', not starting with a digit")
    if ir.doc is None or ir.doc.getModel() is None:
        raise ModelSourceError("model", ir.name, "a ModelIR built from an SBML document (ir.doc)")
    src = ir.doc.getModel()
    known = {p.id for p in ir.parameters} | {p.name for p in ir.parameters}
    for key in list(values or {}) + list(sources or {}):
        if key not in known:
            raise ModelSourceError("parameter", repr(key), "a parameter of model " + ir.name + ": {"
                                   + ", ".join(p.name for p in ir.parameters) + "}")

    doc = ls.SBMLDocument(3, 2)
    model = doc.createModel()
    model.setId(model_id)
    model.setMetaId(f"meta_{model_id}")
    units = _Units(src, model)
    if units.valid(src.getTimeUnits()):
        model.setTimeUnits(src.getTimeUnits())
    elif "h" not in units.defined:
        ud = model.createUnitDefinition()
        ud.setId("h")
        ud.setName("h")
        u = ud.createUnit()
        u.setKind(ls.UNIT_KIND_SECOND)
        u.setExponent(1)
        u.setScale(0)
        u.setMultiplier(3600)
        units.defined.add("h")
        model.setTimeUnits("h")
    else:
        model.setTimeUnits("h")

    msources = list(ir.sources if model_sources is None else model_sources)
    mattrs = {"name": model_id, "version": ir.version, "doses": "marked"}
    if ir.description:
        mattrs["description"] = ir.description
    if values is None and ir.default_parameter_set:
        mattrs["default_parameter_set"] = ir.default_parameter_set
    # the citations as <crsim:source> children: XML turns a line break in an attribute into a
    # space, so one attribute cannot hold a list
    _annotate(model, mattrs, "the model", msources)
    if ir.description or msources:
        _check(model.setNotes(_notes(ir.description, msources)), "the model's notes")

    def parameter(sid: str, description: str, unit: str, constant: bool):
        p = model.createParameter()
        _check(p.setId(sid), f"id {sid!r}")
        p.setConstant(constant)
        if description:
            p.setName(description)
        if unit:
            p.setUnits(unit)
        return p

    def formula(node, where: str):
        return ls.parseL3Formula("0") if node is None else node.deepCopy()

    # states: parameters with rate rules
    for s in ir.states:
        p = parameter(s.id, s.description, units.of(s.id), False)
        number = _number_value(s.initial)
        attrs: Dict[str, str] = {}
        if s.name != s.id:
            attrs["name"] = s.name
        if s.dose_unit:
            attrs["dose"] = s.dose_unit
            if s.dose_scale != 1.0:
                attrs["dose_scale"] = _fmt(s.dose_scale)
            if s.dose_param:
                attrs["dose_param"] = s.dose_param
            if s.dose_power != 1.0:
                attrs["dose_power"] = _fmt(s.dose_power)
        _annotate(p, attrs, f"state {s.id}")
        if number is not None:
            if math.isnan(number):
                raise ModelSourceError(f"state {s.id}", "initial value NaN", "a number")
            p.setValue(number)
        else:
            ia = model.createInitialAssignment()
            ia.setSymbol(s.id)
            _check(ia.setMath(formula(s.initial, s.id)), f"initial value of {s.id}")

    # parameters
    for q in ir.parameters:
        p = parameter(q.id, q.description, units.of(q.id), True)
        given = _lookup(values, q.id, q.name)
        value = q.value if given is None else float(given)
        if math.isnan(value):
            raise ModelSourceError(f"parameter {q.name}", "NaN (no value)",
                                   "a number: give its value (a parameter set, or values=)")
        p.setValue(value)
        source = _lookup(sources, q.id, q.name)
        source = q.source if source is None else str(source)
        attrs = {"lower": _fmt(q.lower), "upper": _fmt(q.upper)}
        if source:
            attrs["source"] = source
        if q.name != q.id:
            attrs["name"] = q.name
        _annotate(p, attrs, f"parameter {q.id}")

    # intermediates and observables: assignment rules (constants of parameters computed once:
    # initial assignments, as in the source)
    observables = {o.id: o for o in ir.observables}
    rules = []
    for sid, inter in ir.intermediates.items():
        once = (src.getInitialAssignment(sid) is not None and src.getAssignmentRule(sid) is None)
        p = parameter(sid, inter.description, units.of(sid), once)
        attrs = {}
        if sid in observables:
            attrs["observable"] = "true"
            if observables[sid].name != sid:
                attrs["name"] = observables[sid].name
        _annotate(p, attrs, f"intermediate {sid}")
        if once:
            ia = model.createInitialAssignment()
            ia.setSymbol(sid)
            _check(ia.setMath(formula(inter.expr, sid)), f"initial assignment of {sid}")
        else:
            rules.append((sid, inter.expr))
    for sid, expr in rules:
        r = model.createAssignmentRule()
        r.setVariable(sid)
        _check(r.setMath(formula(expr, sid)), f"assignment rule of {sid}")
    for s in ir.states:
        r = model.createRateRule()
        r.setVariable(s.id)
        _check(r.setMath(formula(s.rate, s.id)), f"rate of {s.id}")

    _infer_units(model, [sid for sid in ir.intermediates if sid not in observables], units)

    # every identifier of the math is declared
    declared = {model.getParameter(k).getId() for k in range(model.getNumParameters())}
    for k in range(model.getNumRules()):
        missing = names_in(model.getRule(k).getMath()) - declared
        if missing:
            raise ModelSourceError(f"rule for {model.getRule(k).getVariable()}",
                                   ", ".join(sorted(missing)), "declared elements")
    return ls.writeSBMLToString(doc)
