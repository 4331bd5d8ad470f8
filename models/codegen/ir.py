"""The intermediate form of a model: what the C++ emitter, the SBML exporter and the docs read.

Supported SBML: parameters, compartments and species (constant or changed by rate rules or by
reactions with constant stoichiometry; amounts or concentrations), assignment rules, rate rules,
initial assignments, function definitions (expanded), local parameters (promoted), reaction ids in
formulas (the reaction's rate), hierarchical models (SBML comp, flattened by libSBML), piecewise,
the usual arithmetic, exp/ln/log/pow/root/abs/min/max/floor/ceil and trigonometric functions.
Not supported, each refused with the element id: events, algebraic rules, delays, fast reactions,
compartments whose size changes in time, non-constant stoichiometry, conversion factors, rateOf,
distributions and other required SBML packages.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Set, Tuple

from .errors import ModelSourceError
from .source import ElementMeta, ModelMeta

# the source of a parameter whose values live in parameter sets
FROM_SET = "value from the parameter set (data/parameters/crs_*.json), which names its source"

# expression classes: a constant, a function of parameters only, or of the state (or time)
C, P, T = 0, 1, 2


@dataclass
class State:
    id: str
    name: str
    unit: str
    description: str
    initial: object          # libsbml ASTNode (or None = 0)
    rate: object             # ASTNode of the right-hand side (None = 0)
    dose_unit: str = ""
    dose_scale: float = 1.0
    dose_param: str = ""
    dose_power: float = 1.0


@dataclass
class Parameter:
    id: str
    name: str
    unit: str
    value: float
    lower: float
    upper: float
    description: str
    source: str


@dataclass
class Intermediate:
    id: str
    expr: object
    klass: int = T
    unit: str = ""
    description: str = ""


@dataclass
class Observable:
    id: str
    name: str
    unit: str
    description: str


@dataclass
class ModelIR:
    name: str
    description: str
    version: str
    sources: List[str]
    default_parameter_set: str
    states: List[State]
    parameters: List[Parameter]
    intermediates: Dict[str, Intermediate]  # in evaluation order
    observables: List[Observable]
    meta: ModelMeta
    doc: object = None
    unit_names: Dict[str, str] = field(default_factory=dict)

    def state_index(self) -> Dict[str, int]:
        return {s.id: i for i, s in enumerate(self.states)}

    def parameter_index(self) -> Dict[str, int]:
        return {p.id: i for i, p in enumerate(self.parameters)}

    def jacobian_pattern(self) -> List[Tuple[int, int]]:
        """(row, column) pairs of the structurally nonzero entries of df/dx."""
        sidx = self.state_index()
        memo: Dict[str, Set[str]] = {}

        def deps(node) -> Set[str]:
            out: Set[str] = set()
            for name in names_in(node):
                if name in sidx:
                    out.add(name)
                elif name in self.intermediates:
                    if name not in memo:
                        memo[name] = deps(self.intermediates[name].expr)
                    out |= memo[name]
            return out

        pattern = []
        for i, s in enumerate(self.states):
            if s.rate is None:
                continue
            for d in sorted(deps(s.rate), key=lambda n: sidx[n]):
                pattern.append((i, sidx[d]))
        return sorted(pattern)


# --- AST helpers ---------------------------------------------------------------------------------

def _ls():
    import libsbml
    return libsbml


def names_in(node) -> Set[str]:
    """Identifiers an AST refers to (not function names)."""
    ls = _ls()
    out: Set[str] = set()
    if node is None:
        return out
    stack = [node]
    while stack:
        n = stack.pop()
        if n.getType() == ls.AST_NAME:
            out.add(n.getName())
        for i in range(n.getNumChildren()):
            stack.append(n.getChild(i))
    return out


def _walk(node):
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        for i in range(n.getNumChildren()):
            stack.append(n.getChild(i))


def _check_math(node, where: str, origin: str) -> None:
    ls = _ls()
    if node is None:
        return
    for n in _walk(node):
        t = n.getType()
        if t == ls.AST_FUNCTION_DELAY:
            raise ModelSourceError(where, "delay(...)", "no delays (crsim integrates ODEs)",
                                   origin=origin)
        if t == ls.AST_FUNCTION_RATE_OF:
            raise ModelSourceError(where, "rateOf(...)", "no rateOf csymbol", origin=origin)
        if t == ls.AST_FUNCTION:
            raise ModelSourceError(where, n.getName() + "(...)",
                                   "functions defined in the model or built in", origin=origin)
        if t == ls.AST_CSYMBOL_FUNCTION or (hasattr(ls, "AST_DISTRIB_FUNCTION_NORMAL") and
                                            ls.AST_DISTRIB_FUNCTION_NORMAL <= t <= getattr(
                                                ls, "AST_DISTRIB_FUNCTION_RAW", -1)):
            raise ModelSourceError(where, n.getName() + "(...)",
                                   "no SBML package functions (distributions)", origin=origin)


def _times(a, b):
    ls = _ls()
    n = ls.ASTNode(ls.AST_TIMES)
    n.addChild(a)
    n.addChild(b)
    return n


def _divide(a, b):
    ls = _ls()
    n = ls.ASTNode(ls.AST_DIVIDE)
    n.addChild(a)
    n.addChild(b)
    return n


def _plus(terms):
    ls = _ls()
    if len(terms) == 1:
        return terms[0]
    n = ls.ASTNode(ls.AST_PLUS)
    for t in terms:
        n.addChild(t)
    return n


def _number_node(v: float):
    ls = _ls()
    n = ls.ASTNode(ls.AST_REAL)
    n.setValue(float(v))
    return n


def _name_node(name: str):
    ls = _ls()
    n = ls.ASTNode(ls.AST_NAME)
    n.setName(name)
    return n


# --- units ---------------------------------------------------------------------------------------

def _unit_names(model) -> Dict[str, str]:
    out = {}
    for k in range(model.getNumUnitDefinitions()):
        ud = model.getUnitDefinition(k)
        out[ud.getId()] = ud.getName() if ud.isSetName() and ud.getName() else ud.getId()
    return out


def _unit(units: Dict[str, str], uid: str) -> str:
    if not uid:
        return ""
    if uid == "dimensionless":
        return "1"
    return units.get(uid, uid)


# --- the build -----------------------------------------------------------------------------------

def _convert(doc, origin: str):
    ls = _ls()
    for option in ("promoteLocalParameters", "expandFunctionDefinitions"):
        props = ls.ConversionProperties()
        props.addOption(option, True)
        if doc.convert(props) != ls.LIBSBML_OPERATION_SUCCESS:
            raise ModelSourceError("model", option, "a model libSBML can convert", origin=origin)


def _unsupported(doc, meta: ModelMeta) -> None:
    ls = _ls()
    origin = meta.origin
    if doc.getLevel() >= 3 and doc.isPackageEnabled("comp"):
        # hierarchical models (SBML comp): flattened into core by libSBML, as libAntimony flattens
        # its modules
        props = ls.ConversionProperties()
        props.addOption("flatten comp", True)
        if doc.convert(props) != ls.LIBSBML_OPERATION_SUCCESS:
            raise ModelSourceError("SBML package", "'comp'", "hierarchical models that libSBML can "
                                   "flatten (external model definitions found)", origin=origin)
    model = doc.getModel()
    # SBML packages exist from Level 3 on (libSBML attaches layout and render plugins, "required",
    # to every Level 2 document: their diagrams live in annotations there)
    for k in range(doc.getNumPlugins() if doc.getLevel() >= 3 else 0):
        pkg = doc.getPlugin(k).getPackageName()
        if pkg not in ("", "core", "l3v2extendedmath") and doc.getPkgRequired(pkg):
            raise ModelSourceError("SBML package", repr(pkg), "SBML core only", origin=origin)
    if model.getNumEvents():
        ev = model.getEvent(0)
        raise ModelSourceError(f"event {ev.getId() or '#1'}", "an SBML event",
                               "no events (give doses and triggered policies in the scenario)",
                               origin=origin)
    for k in range(model.getNumRules()):
        r = model.getRule(k)
        if r.isAlgebraic():
            raise ModelSourceError("algebraic rule", ls.formulaToL3String(r.getMath()),
                                   "assignment and rate rules only (crsim integrates ODEs)",
                                   origin=origin)
    for k in range(model.getNumCompartments()):
        c = model.getCompartment(k)
        # constant="false" alone changes nothing (no events here): refused are sizes that change
        # in time, by a rate rule here or by an assignment rule of the state (in build)
        if model.getRateRule(c.getId()) is not None:
            raise ModelSourceError(f"compartment {c.getId()}", "non-constant",
                                   "compartments of constant size", origin=origin)
    for k in range(model.getNumSpecies()):
        s = model.getSpecies(k)
        if s.isSetConversionFactor():
            raise ModelSourceError(f"species {s.getId()}", "conversionFactor",
                                   "no conversion factors", origin=origin)
    if model.isSetConversionFactor():
        raise ModelSourceError("model", "conversionFactor", "no conversion factors", origin=origin)
    for k in range(model.getNumReactions()):
        r = model.getReaction(k)
        if r.isSetFast() and r.getFast():
            raise ModelSourceError(f"reaction {r.getId()}", "fast=true", "no fast reactions",
                                   origin=origin)
        for refs in (r.getListOfReactants(), r.getListOfProducts()):
            for j in range(refs.size()):
                ref = refs.get(j)
                if (ref.isSetId() and ref.getId()) and _assigned(model, ref.getId()):
                    raise ModelSourceError(f"reaction {r.getId()}", "variable stoichiometry",
                                           "constant stoichiometry", origin=origin)
                if hasattr(ref, "isSetStoichiometryMath") and ref.isSetStoichiometryMath():
                    raise ModelSourceError(f"reaction {r.getId()}", "stoichiometryMath",
                                           "constant stoichiometry", origin=origin)
        if not r.isSetKineticLaw() or not r.getKineticLaw().isSetMath():
            raise ModelSourceError(f"reaction {r.getId()}", "no kinetic law",
                                   "a kinetic law for every reaction", origin=origin)


def _assigned(model, sid: str) -> bool:
    if model.getRule(sid) is not None:
        return True
    return model.getInitialAssignment(sid) is not None


def _description(el) -> str:
    return el.getName() if el.isSetName() else ""


def build(doc, meta: ModelMeta) -> ModelIR:
    ls = _ls()
    origin = meta.origin
    _unsupported(doc, meta)
    _convert(doc, origin)
    model = doc.getModel()
    units = _unit_names(model)
    em = meta.elements

    known = set()
    for k in range(model.getListOfAllElements().getSize()):
        el = model.getListOfAllElements().get(k)
        if el.isSetId():
            known.add(el.getId())
    for target, m in em.items():
        if target not in known:
            raise ModelSourceError("//@ " + target, repr(target), "the id of an element of the model",
                                   line=m.line, origin=origin)

    rate_rules = {}
    assign_rules = {}
    for k in range(model.getNumRules()):
        r = model.getRule(k)
        _check_math(r.getMath(), f"rule for {r.getVariable()}", origin)
        if r.isRate():
            rate_rules[r.getVariable()] = r.getMath()
        elif r.isAssignment():
            assign_rules[r.getVariable()] = r.getMath()
    inits = {}
    for k in range(model.getNumInitialAssignments()):
        ia = model.getInitialAssignment(k)
        _check_math(ia.getMath(), f"initial assignment of {ia.getSymbol()}", origin)
        inits[ia.getSymbol()] = ia.getMath()

    compartments = {model.getCompartment(k).getId(): model.getCompartment(k)
                    for k in range(model.getNumCompartments())}

    # reactions -> contributions to species' rates
    reaction_terms: Dict[str, List[object]] = {}
    species_by_id = {model.getSpecies(k).getId(): model.getSpecies(k)
                     for k in range(model.getNumSpecies())}
    for k in range(model.getNumReactions()):
        r = model.getReaction(k)
        law = r.getKineticLaw().getMath()
        _check_math(law, f"reaction {r.getId()}", origin)
        for refs, sign in ((r.getListOfReactants(), -1.0), (r.getListOfProducts(), 1.0)):
            for j in range(refs.size()):
                ref = refs.get(j)
                sp = species_by_id[ref.getSpecies()]
                if sp.getBoundaryCondition() or sp.getConstant():
                    continue
                stoich = ref.getStoichiometry() if ref.isSetStoichiometry() else 1.0
                term = _times(_number_node(sign * stoich), law.deepCopy())
                if not sp.getHasOnlySubstanceUnits():
                    term = _divide(term, _name_node(sp.getCompartment()))
                reaction_terms.setdefault(sp.getId(), []).append(term)

    states: List[State] = []
    parameters: List[Parameter] = []
    intermediates: Dict[str, Intermediate] = {}
    observables: List[Observable] = []
    if meta.doses not in ("", "marked", "all"):
        raise ModelSourceError("model.doses", repr(meta.doses), "'marked' or 'all'", origin=origin)
    any_dose = meta.doses == "marked" or (meta.doses == "" and any(m.dose for m in em.values()))
    any_obs = any(m.observable for m in em.values())

    def element_meta(sid: str) -> ElementMeta:
        return em.get(sid, ElementMeta())

    def add_state(el, sid, unit, init_node, rate):
        m = element_meta(sid)
        dose_unit = m.dose or ("" if any_dose else (unit or "1"))
        states.append(State(id=sid, name=m.name or sid, unit=unit or "1",
                            description=_description(el), initial=init_node, rate=rate,
                            dose_unit=dose_unit, dose_scale=m.dose_scale,
                            dose_param=m.dose_param or "", dose_power=m.dose_power))

    def add_parameter(el, sid, unit, value):
        m = element_meta(sid)
        lo, hi = m.bounds if m.bounds else ((0.0 if meta.annotated else -math.inf), math.inf)
        source = m.source or ""
        if not source and math.isnan(value) and meta.default_parameter_set:
            source = FROM_SET
        parameters.append(Parameter(id=sid, name=m.name or sid, unit=unit or "1", value=value,
                                    lower=lo, upper=hi, description=_description(el),
                                    source=source))

    def value_node(v):
        return _number_node(v)

    # Walk the model's variables in document order: parameters, compartments, species.
    candidates = []
    for k in range(model.getNumCompartments()):
        candidates.append(("compartment", model.getCompartment(k)))
    for k in range(model.getNumSpecies()):
        candidates.append(("species", model.getSpecies(k)))
    for k in range(model.getNumParameters()):
        candidates.append(("parameter", model.getParameter(k)))
    # Antimony writes compartments, species, parameters; keep the source's order of declaration
    # for parameters and states by using the order of appearance in the model lists.
    for kind, el in candidates:
        sid = el.getId()
        if kind == "compartment":
            unit = _unit(units, el.getUnits())
            has_value = el.isSetSize()
            value = el.getSize() if has_value else math.nan
        elif kind == "species":
            unit = _unit(units, el.getUnits() or el.getSubstanceUnits())
            if el.isSetInitialConcentration():
                value = el.getInitialConcentration()
            elif el.isSetInitialAmount():
                value = el.getInitialAmount()
            else:
                value = math.nan
        else:
            unit = _unit(units, el.getUnits())
            value = el.getValue() if el.isSetValue() else math.nan
        if sid in assign_rules:
            intermediates[sid] = Intermediate(id=sid, expr=assign_rules[sid], unit=unit,
                                              description=_description(el))
            continue
        is_state = sid in rate_rules or sid in reaction_terms or (
            kind == "species" and not el.getConstant())
        if is_state:
            if sid in rate_rules and sid in reaction_terms:
                raise ModelSourceError(f"species {sid}", "a rate rule and reactions",
                                       "one or the other", origin=origin)
            if kind == "species" and el.isSetInitialAmount() and not el.getHasOnlySubstanceUnits():
                init_node = _divide(value_node(el.getInitialAmount()),
                                    _name_node(el.getCompartment()))
            elif (kind == "species" and el.isSetInitialConcentration()
                  and el.getHasOnlySubstanceUnits()):
                # the state is the amount: concentration times the compartment's size
                init_node = _times(value_node(el.getInitialConcentration()),
                                   _name_node(el.getCompartment()))
            else:
                init_node = None if math.isnan(value) else value_node(value)
            if sid in inits:
                init_node = inits[sid]
            if init_node is None:
                raise ModelSourceError(f"state {sid}", "no initial value",
                                       "an initial value or assignment for every state",
                                       origin=origin)
            rate = rate_rules.get(sid)
            if sid in reaction_terms:
                rate = _plus(reaction_terms[sid])
            add_state(el, sid, unit, init_node, rate)
        elif sid in inits:
            # a constant computed from others at t = 0: an intermediate of parameters
            intermediates[sid] = Intermediate(id=sid, expr=inits[sid], unit=unit,
                                              description=_description(el))
        else:
            add_parameter(el, sid, unit, value)

    # a reaction's id in math stands for its rate (SBML): an intermediate
    for k in range(model.getNumReactions()):
        r = model.getReaction(k)
        if r.isSetId() and r.getId() not in intermediates:
            intermediates[r.getId()] = Intermediate(id=r.getId(), expr=r.getKineticLaw().getMath(),
                                                    description=_description(r))

    # states and parameters in the order of the source's declarations
    if meta.order:
        far = len(meta.text) + 1
        states.sort(key=lambda s: meta.order.get(s.id, far))
        parameters.sort(key=lambda p: meta.order.get(p.id, far))

    # observables
    for sid, inter in intermediates.items():
        m = element_meta(sid)
        if m.observable or (not any_obs and sid in assign_rules):
            observables.append(Observable(id=sid, name=m.name or sid, unit=inter.unit or "1",
                                          description=inter.description))
    for sid, m in em.items():
        if m.observable and sid not in intermediates:
            raise ModelSourceError("//@ " + sid, "observable",
                                   "observables are assignment rules (x := ...)", line=m.line,
                                   origin=origin)

    # names unique per kind; dose parameters exist
    for kind, items in (("state", states), ("parameter", parameters), ("observable", observables)):
        seen: Dict[str, str] = {}
        for item in items:
            if item.name in seen:
                raise ModelSourceError(f"{kind} name", repr(item.name),
                                       f"unique names ({seen[item.name]} and {item.id})",
                                       origin=origin)
            seen[item.name] = item.id
    pids = {p.id for p in parameters}
    for s in states:
        if s.dose_param and s.dose_param not in pids:
            raise ModelSourceError(f"{s.id}.dose_param", repr(s.dose_param), "a parameter id",
                                   line=element_meta(s.id).line, origin=origin)

    # order intermediates topologically and classify them (constant, parameter-only, state)
    sids = {s.id for s in states}
    ordered: Dict[str, Intermediate] = {}
    visiting: Set[str] = set()

    def visit(sid: str, chain: List[str]) -> int:
        if sid in ordered:
            return ordered[sid].klass
        if sid in visiting:
            raise ModelSourceError("assignment rules", " -> ".join(chain + [sid]),
                                   "no cycles among assignment rules", origin=origin)
        visiting.add(sid)
        inter = intermediates[sid]
        klass = expr_class(inter.expr, lambda n: visit(n, chain + [sid]))
        visiting.discard(sid)
        inter.klass = klass
        ordered[sid] = inter
        return klass

    def expr_class(node, inter_class) -> int:
        klass = C
        for n in _walk(node):
            t = n.getType()
            if t == ls.AST_NAME_TIME:
                klass = T
            elif t == ls.AST_NAME:
                name = n.getName()
                if name in sids:
                    klass = T
                elif name in intermediates:
                    klass = max(klass, inter_class(name))
                elif name in pids:
                    klass = max(klass, P)
                else:
                    raise ModelSourceError("expression", repr(name), "a declared element",
                                           origin=origin)
        return klass

    for sid in list(intermediates):
        visit(sid, [])
    for sid in compartments:
        if sid in ordered and ordered[sid].klass == T:
            raise ModelSourceError(f"compartment {sid}", "non-constant",
                                   "compartments of constant size", origin=origin)
    for s in states:
        if s.rate is not None:
            expr_class(s.rate, lambda n: ordered[n].klass)
        expr_class(s.initial, lambda n: ordered[n].klass)

    return ModelIR(name=meta.name or model.getId(), description=meta.description,
                   version=meta.version, sources=list(meta.sources),
                   default_parameter_set=meta.default_parameter_set, states=states,
                   parameters=parameters, intermediates=ordered, observables=observables,
                   meta=meta, doc=doc, unit_names=units)
