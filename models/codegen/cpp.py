"""C++ from a ModelIR: a model type for crsim's AD engine (core/include/crsim/model_impl.hpp).

The type has templated ``initial<P>``, ``rhs<T, P>`` and ``observables<T, P>``: state and parameter
scalar types are separate, so a Jacobian differentiates with respect to the states only while the
parameters stay plain doubles. Intermediates are evaluated in dependency order, each only where it
is needed, typed by what it depends on (``P`` for parameters only, ``T`` for the state or time).
The right-hand side is split in two stages: ``prepare<P>(p, q)`` computes every parameter-only
quantity it needs (the parameter-only intermediates and every parameter-only subexpression of the
rates) into a vector ``q``, once per parameter vector, and ``rhs_prepared<T, P>(t, x, p, q, dx)``
the rest on every call; ``rhs`` runs both. ``observables_prepared<T, P>(t, x, p, q, y)`` takes
the observables' parameter-only quantities from the same ``q`` (``prepare`` computes the slots of
both), and ``observables`` runs both. The split moves whole expression nodes, so each value is
computed by the same floating-point operations as before (no reassociation).
Its metadata (``info()``), compile-time sizes and the Jacobian sparsity pattern come along.
"""
from __future__ import annotations

import hashlib
import math
import re
from typing import Callable, Dict, List, Optional, Set

from .errors import ModelSourceError
from .ir import C, P, T, ModelIR, _walk, names_in

GENERATOR_VERSION = "4"


def struct_name(name: str) -> str:
    parts = re.split(r"[^A-Za-z0-9]+", name)
    out = "".join(p[:1].upper() + p[1:] for p in parts if p)
    if not out or not out[0].isalpha():
        out = "M" + out
    return out


def _cstr(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _num(v: float) -> str:
    if math.isnan(v):
        return "kNaN"
    if math.isinf(v):
        return "kInf" if v > 0 else "-kInf"
    text = repr(float(v))
    if "e" not in text and "." not in text and "inf" not in text:
        text += ".0"
    return text


_TYPE = {C: "double", P: "P", T: "T"}


class _Emitter:
    """Turns libSBML ASTs into C++ expressions in one evaluation context."""

    def __init__(self, ir: ModelIR, context: str):
        import libsbml
        self.ls = libsbml
        self.ir = ir
        self.context = context  # "initial", "rhs" or "observables"
        self.sidx = ir.state_index()
        self.pidx = ir.parameter_index()

    # identifiers
    def ref(self, name: str) -> str:
        if name in self.sidx:
            return f"x0_{name}" if self.context == "initial" else f"x_{name}"
        if name in self.pidx:
            return f"p_{name}"
        if name in self.ir.intermediates:
            return f"v_{name}"
        raise ModelSourceError("expression", repr(name), "a declared element", origin=self.ir.meta.origin)

    def klass(self, node) -> int:
        ls = self.ls
        k = C
        for n in _walk(node):
            t = n.getType()
            if t == ls.AST_NAME_TIME:
                k = max(k, P if self.context == "initial" else T)
            elif t == ls.AST_NAME:
                name = n.getName()
                if name in self.sidx:
                    k = max(k, P if self.context == "initial" else T)
                elif name in self.pidx:
                    k = max(k, P)
                elif name in self.ir.intermediates:
                    ik = self.ir.intermediates[name].klass
                    k = max(k, P if (self.context == "initial" and ik == T) else ik)
        return k

    def typed(self, node, k: int) -> str:
        """``node`` converted to the scalar type of class ``k``."""
        own = self.klass(node)
        text = self.expr(node)
        if own == k or k == C:
            return text
        return f"{_TYPE[k]}({text})"

    def expr(self, node) -> str:
        ls = self.ls
        t = node.getType()
        n = node.getNumChildren()
        ch = [node.getChild(i) for i in range(n)]
        if t in (ls.AST_INTEGER,):
            return _num(float(node.getInteger()))
        if t in (ls.AST_REAL, ls.AST_REAL_E, ls.AST_RATIONAL):
            return _num(node.getValue())
        if t == ls.AST_NAME:
            return self.ref(node.getName())
        if t == ls.AST_NAME_TIME:
            return "0.0" if self.context == "initial" else "t"
        if t == ls.AST_CONSTANT_E:
            return _num(math.e)
        if t == ls.AST_CONSTANT_PI:
            return _num(math.pi)
        if t == ls.AST_CONSTANT_TRUE:
            return "true"
        if t == ls.AST_CONSTANT_FALSE:
            return "false"
        if t == ls.AST_PLUS:
            if n == 0:
                return "0.0"
            return "(" + " + ".join(self.expr(c) for c in ch) + ")"
        if t == ls.AST_MINUS:
            if n == 1:
                return f"(-{self.expr(ch[0])})"
            return f"({self.expr(ch[0])} - {self.expr(ch[1])})"
        if t == ls.AST_TIMES:
            if n == 0:
                return "1.0"
            return "(" + " * ".join(self.expr(c) for c in ch) + ")"
        if t == ls.AST_DIVIDE:
            return f"({self.expr(ch[0])} / {self.expr(ch[1])})"
        if t in (ls.AST_POWER, ls.AST_FUNCTION_POWER):
            return self.power(ch[0], ch[1])
        if t == ls.AST_FUNCTION_ROOT:
            if n == 1:
                return f"sqrt({self.typed(ch[0], max(P, self.klass(ch[0])))})"
            degree = ch[0]
            return self.power(ch[1], None, exponent_text=f"(1.0 / {self.expr(degree)})",
                              exponent_node=degree, reciprocal=True)
        unary = {ls.AST_FUNCTION_EXP: "exp", ls.AST_FUNCTION_LN: "log",
                 ls.AST_FUNCTION_SIN: "sin", ls.AST_FUNCTION_COS: "cos",
                 ls.AST_FUNCTION_TAN: "tan", ls.AST_FUNCTION_ARCSIN: "asin",
                 ls.AST_FUNCTION_ARCCOS: "acos", ls.AST_FUNCTION_ARCTAN: "atan",
                 ls.AST_FUNCTION_SINH: "sinh", ls.AST_FUNCTION_COSH: "cosh",
                 ls.AST_FUNCTION_TANH: "tanh"}
        if t in unary:
            k = self.klass(ch[0])
            arg = self.typed(ch[0], k) if k != C else f"double({self.expr(ch[0])})"
            return f"{unary[t]}({arg})"
        if t == ls.AST_FUNCTION_LOG:
            if n == 1:
                return f"(log({self.typed(ch[0], max(P, self.klass(ch[0])))}) / {_num(math.log(10.0))})"
            base = self.expr(ch[0])
            arg = self.typed(ch[1], max(P, self.klass(ch[1])))
            return f"(log({arg}) / log(double({base})))"
        k_all = self.klass(node)
        if t == ls.AST_FUNCTION_ABS:
            return f"gen::abs_<{_TYPE[k_all]}>({self.expr(ch[0])})"
        if t == ls.AST_FUNCTION_FLOOR:
            return f"gen::floor_({self.expr(ch[0])})"
        if t == ls.AST_FUNCTION_CEILING:
            return f"gen::ceil_({self.expr(ch[0])})"
        if t in (getattr(ls, "AST_FUNCTION_MIN", -100), getattr(ls, "AST_FUNCTION_MAX", -100)):
            op = "min_" if t == getattr(ls, "AST_FUNCTION_MIN", -100) else "max_"
            out = self.expr(ch[0])
            for c in ch[1:]:
                out = f"gen::{op}<{_TYPE[k_all]}>({out}, {self.expr(c)})"
            return out
        if t == ls.AST_FUNCTION_PIECEWISE:
            # piece pairs (value, condition) and an optional otherwise
            pairs = [(ch[i], ch[i + 1]) for i in range(0, n - 1, 2)]
            otherwise = ch[-1] if n % 2 == 1 else None
            out = self.expr(otherwise) if otherwise is not None else "0.0"
            for value, cond in reversed(pairs):
                out = f"gen::select<{_TYPE[k_all]}>({self.cond(cond)}, {self.expr(value)}, {out})"
            return out
        if t in self._relational() or t in self._logical():
            return f"(({self.cond(node)}) ? 1.0 : 0.0)"
        raise ModelSourceError("expression", repr(self.ls.formulaToL3String(node)),
                               "supported arithmetic and functions (see docs/models.md)",
                               origin=self.ir.meta.origin)

    def _relational(self):
        ls = self.ls
        return {ls.AST_RELATIONAL_LT: "<", ls.AST_RELATIONAL_GT: ">", ls.AST_RELATIONAL_LEQ: "<=",
                ls.AST_RELATIONAL_GEQ: ">=", ls.AST_RELATIONAL_EQ: "==", ls.AST_RELATIONAL_NEQ: "!="}

    def _logical(self):
        ls = self.ls
        return {ls.AST_LOGICAL_AND: "&&", ls.AST_LOGICAL_OR: "||", ls.AST_LOGICAL_NOT: "!",
                ls.AST_LOGICAL_XOR: "!="}

    def cond(self, node) -> str:
        t = node.getType()
        n = node.getNumChildren()
        ch = [node.getChild(i) for i in range(n)]
        rel = self._relational()
        if t in rel:
            parts = [f"gen::val({self.expr(c)})" for c in ch]
            return " && ".join(f"({parts[i]} {rel[t]} {parts[i + 1]})" for i in range(n - 1))
        logical = self._logical()
        if t in logical:
            if t == self.ls.AST_LOGICAL_NOT:
                return f"!({self.cond(ch[0])})"
            return "(" + f" {logical[t]} ".join(f"({self.cond(c)})" for c in ch) + ")"
        if t == self.ls.AST_CONSTANT_TRUE:
            return "true"
        if t == self.ls.AST_CONSTANT_FALSE:
            return "false"
        return f"(gen::val({self.expr(node)}) != 0.0)"

    def power(self, base, exponent, exponent_text=None, exponent_node=None, reciprocal=False):
        ls = self.ls
        kb = self.klass(base)
        node = exponent if exponent is not None else exponent_node
        ke = self.klass(node)
        if not reciprocal and node.getType() in (ls.AST_INTEGER, ls.AST_REAL, ls.AST_REAL_E,
                                                 ls.AST_RATIONAL):
            value = float(node.getInteger()) if node.getType() == ls.AST_INTEGER else node.getValue()
            if value == int(value) and 1 <= abs(value) <= 4:
                k = max(kb, C)
                b = self.typed(base, k) if k != C else f"double({self.expr(base)})"
                out = f"gen::ipow<{int(abs(value))}, {_TYPE[k]}>({b})"
                return out if value > 0 else f"(1.0 / {out})"
            k = max(kb, P) if kb != C else C
            b = self.typed(base, k) if k != C else f"double({self.expr(base)})"
            return f"gen::pow_<{_TYPE[k]}>({b}, {_num(value)})" if k != C else f"pow({b}, {_num(value)})"
        k = max(kb, ke, P)
        b = self.typed(base, k)
        e = exponent_text if exponent_text is not None else self.expr(node)
        return f"gen::pow_<{_TYPE[k]}>({b}, {e})"


class _Hoister(_Emitter):
    """The rhs context of ``rhs_prepared``: every parameter-only (class P) node that is not a bare
    parameter or number, and every parameter-only intermediate, becomes a slot ``q[k]`` of the
    prepared vector (the same C++ text shares one slot); ``prepare`` computes the slots."""

    def __init__(self, ir: ModelIR):
        super().__init__(ir, "rhs")
        self.plain = _Emitter(ir, "rhs")
        self.slots: Dict[str, int] = {}    # C++ text in prepare's scope -> slot
        self.nodes: List[object] = []      # per slot, the AST it computes
        self.used: Set[str] = set()        # states and parameters rhs_prepared itself refers to

    def _slot(self, text: str, node) -> str:
        if text not in self.slots:
            self.slots[text] = len(self.slots)
            self.nodes.append(node)
        return f"q[{self.slots[text]}]"

    def ref(self, name: str) -> str:
        inter = self.ir.intermediates.get(name)
        if inter is not None and inter.klass == P:
            return self._slot(f"v_{name}", _name_ref(name))
        self.used.add(name)
        return super().ref(name)

    def expr(self, node) -> str:
        ls = self.ls
        if node.getType() not in (ls.AST_NAME, ls.AST_INTEGER, ls.AST_REAL, ls.AST_REAL_E,
                                  ls.AST_RATIONAL, ls.AST_CONSTANT_E, ls.AST_CONSTANT_PI,
                                  ls.AST_CONSTANT_TRUE, ls.AST_CONSTANT_FALSE) \
                and self.klass(node) == P:
            return self._slot(self.plain.expr(node), node)
        return super().expr(node)


def _prepared_body(ir: ModelIR, h: "_Hoister", roots: List[object], outputs: List[str]) -> List[str]:
    """The lines of a prepared function computing ``outputs`` (C++ assignments whose right-hand
    sides are ``roots``) with the parameter-only values of ``h``'s slots."""
    h.used = set()
    body: List[str] = []
    for sid in _needed(ir, roots, "rhs"):
        inter = ir.intermediates[sid]
        if inter.klass == C:
            body.append(f"const double v_{sid} = {h.expr(inter.expr)};")
        elif inter.klass == T:
            body.append(f"const T v_{sid} = {h.typed(inter.expr, T)};")
    for target, root in zip(outputs, roots):
        body.append(f"{target} = {h.typed(root, T) if root is not None else '0.0'};")
    return _refs(ir, h.used, "rhs") + body


def _rhs_stages(ir: ModelIR):
    """Lines of ``prepare``, ``rhs_prepared`` and ``observables_prepared``, and the number of
    prepared values (the right-hand side's slots first, in the order it uses them)."""
    h = _Hoister(ir)
    rhs_lines = _prepared_body(ir, h, [s.rate for s in ir.states], [f"dx[{i}]" for i in range(len(ir.states))])
    obs_lines = _prepared_body(ir, h, [_name_ref(o.id) for o in ir.observables],
                               [f"y[{i}]" for i in range(len(ir.observables))])

    prep = _refs(ir, _used_names(ir, h.nodes), "rhs")
    for sid in _needed(ir, h.nodes, "rhs"):
        inter = ir.intermediates[sid]
        if inter.klass == C:
            prep.append(f"const double v_{sid} = {h.plain.expr(inter.expr)};")
        else:
            prep.append(f"const P v_{sid} = {h.plain.typed(inter.expr, P)};")
    for text, k in h.slots.items():
        prep.append(f"q[{k}] = {text};")
    return prep, rhs_lines, obs_lines, len(h.slots)


def _needed(ir: ModelIR, roots: List[object], context: str) -> List[str]:
    """Intermediates the expressions ``roots`` need, in evaluation order."""
    need: Set[str] = set()
    stack = [n for r in roots if r is not None for n in names_in(r)]
    while stack:
        name = stack.pop()
        if name in ir.intermediates and name not in need:
            need.add(name)
            stack.extend(names_in(ir.intermediates[name].expr))
    return [sid for sid in ir.intermediates if sid in need]


def _initial_order(ir: ModelIR) -> List[str]:
    """Symbols of the initial context (states' initial values and intermediates) in dependency
    order: an initial value may use intermediates, which may use other states' initial values."""
    deps: Dict[str, Set[str]] = {}
    for s in ir.states:
        deps["x0:" + s.id] = names_in(s.initial)
    for sid, inter in ir.intermediates.items():
        deps["v:" + sid] = names_in(inter.expr)
    sids = {s.id for s in ir.states}

    def key(name: str) -> Optional[str]:
        if name in sids:
            return "x0:" + name
        if name in ir.intermediates:
            return "v:" + name
        return None

    order: List[str] = []
    done: Set[str] = set()
    active: Set[str] = set()

    def visit(k: str, chain: List[str]):
        if k in done:
            return
        if k in active:
            raise ModelSourceError("initial values", " -> ".join(chain + [k]),
                                   "no cycles among initial values", origin=ir.meta.origin)
        active.add(k)
        for name in deps[k]:
            kk = key(name)
            if kk is not None:
                visit(kk, chain + [k])
        active.discard(k)
        done.add(k)
        order.append(k)

    for s in ir.states:
        visit("x0:" + s.id, [])
    return order


def _refs(ir: ModelIR, used: Set[str], context: str) -> List[str]:
    lines = []
    for i, s in enumerate(ir.states):
        if s.id in used and context != "initial":
            lines.append(f"const T& x_{s.id} = x[{i}];")
    for j, p in enumerate(ir.parameters):
        if p.id in used:
            lines.append(f"const P& p_{p.id} = p[{j}];")
    return lines


def _used_names(ir: ModelIR, roots: List[object]) -> Set[str]:
    used: Set[str] = set()
    stack = [n for r in roots if r is not None for n in names_in(r)]
    while stack:
        name = stack.pop()
        if name in used:
            continue
        used.add(name)
        if name in ir.intermediates:
            stack.extend(names_in(ir.intermediates[name].expr))
    return used


def _indent(lines: List[str], n: int) -> str:
    pad = " " * n
    return "\n".join(pad + ln if ln else "" for ln in lines)


def source_hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def emit_header(ir: ModelIR, *, origin: str, source_text: str, namespace: str = "crsim::models::generated") -> str:
    name = struct_name(ir.name)
    n, m, no = len(ir.states), len(ir.parameters), len(ir.observables)

    # initial
    order = _initial_order(ir)
    em0 = _Emitter(ir, "initial")
    init_roots = [s.initial for s in ir.states]
    used0 = _used_names(ir, init_roots)
    init_lines = _refs(ir, used0, "initial")
    for k in order:
        kind, sid = k.split(":", 1)
        if kind == "x0":
            st = next(s for s in ir.states if s.id == sid)
            init_lines.append(f"const P x0_{sid} = {em0.typed(st.initial, P)};")
        elif sid in used0:
            inter = ir.intermediates[sid]
            init_lines.append(f"const P v_{sid} = {em0.typed(inter.expr, P)};")
    for i, s in enumerate(ir.states):
        init_lines.append(f"x0[{i}] = x0_{s.id};")

    # rhs, in two stages
    prep_lines, rhs_lines, obs_prep_lines, n_prepared = _rhs_stages(ir)

    # observables
    obs_roots = [_name_ref(o.id) for o in ir.observables]
    used_o = _used_names(ir, obs_roots)
    obs_lines = _refs(ir, used_o, "observables")
    em_o = _Emitter(ir, "observables")
    for sid in _needed(ir, obs_roots, "observables"):
        inter = ir.intermediates[sid]
        k = inter.klass
        if k == C:
            obs_lines.append(f"const double v_{sid} = {em_o.expr(inter.expr)};")
        else:
            obs_lines.append(f"const {_TYPE[k]} v_{sid} = {em_o.typed(inter.expr, k)};")
    for i, o in enumerate(ir.observables):
        obs_lines.append(f"y[{i}] = T(v_{o.id});")

    pattern = ir.jacobian_pattern()
    rows = ", ".join(str(r) for r, _ in pattern) or "0"
    cols = ", ".join(str(c) for _, c in pattern) or "0"
    return f"""// Generated by crsim's model compiler (models/codegen, version {GENERATOR_VERSION}) from
// {origin} (sha256 {source_hash(source_text)}). Do not edit: change the source and run
// scripts/generate_models.py (the build-time regeneration test compares this file byte for byte).
#pragma once

#include <cmath>

#include "crsim/generated_support.hpp"
#include "crsim/model.hpp"

namespace {namespace} {{

struct {name} {{
    static constexpr int n_states = {n};
    static constexpr int n_parameters = {m};
    static constexpr int n_observables = {no};
    static constexpr bool kMixedScalars = true;  // rhs<T, P>: states and parameters typed apart
    static constexpr int n_prepared = {n_prepared};  // parameter-only values of rhs and observables (prepare)
    static constexpr int jacobian_nnz = {len(pattern)};
    static constexpr int jacobian_rows[] = {{{rows}}};
    static constexpr int jacobian_cols[] = {{{cols}}};
    static ModelInfo info();

    template <class P>
    static void initial(const P* p, P* x0) {{
        using namespace gen::math;
        (void)p;
{_indent(init_lines, 8)}
    }}

    // q[0..n_prepared): the parameter-only values of the right-hand side and the observables, once
    // per parameter vector.
    template <class P>
    static void prepare(const P* p, P* q) {{
        using namespace gen::math;
        (void)p; (void)q;
{_indent(prep_lines, 8)}
    }}

    template <class T, class P>
    static void rhs_prepared(const T& t, const T* x, const P* p, const P* q, T* dx) {{
        using namespace gen::math;
        (void)t; (void)x; (void)p; (void)q;
{_indent(rhs_lines, 8)}
    }}

    template <class T, class P>
    static void rhs(const T& t, const T* x, const P* p, T* dx) {{
        P q[n_prepared > 0 ? n_prepared : 1];
        prepare(p, q);
        rhs_prepared(t, x, p, q, dx);
    }}

    template <class T, class P>
    static void observables_prepared(const T& t, const T* x, const P* p, const P* q, T* y) {{
        using namespace gen::math;
        (void)t; (void)x; (void)p; (void)q; (void)y;
{_indent(obs_prep_lines, 8)}
    }}

    template <class T, class P>
    static void observables(const T& t, const T* x, const P* p, T* y) {{
        using namespace gen::math;
        (void)t; (void)x; (void)p; (void)y;
{_indent(obs_lines, 8)}
    }}
}};

}}  // namespace {namespace}
"""


def _name_ref(sid: str):
    import libsbml
    n = libsbml.ASTNode(libsbml.AST_NAME)
    n.setName(sid)
    return n


def emit_info(ir: ModelIR) -> List[str]:
    pidx = ir.parameter_index()
    lines = [f"m.name = {_cstr(ir.name)};",
             f"m.description = {_cstr(ir.description)};",
             f"m.version = {_cstr(ir.version)};",
             f"m.default_parameter_set = {_cstr(ir.default_parameter_set)};"]
    lines.append("m.sources = {")
    lines += [f"    {_cstr(s)}," for s in ir.sources]
    lines.append("};")
    lines.append("m.states = {")
    for s in ir.states:
        dp = pidx[s.dose_param] if s.dose_param else -1
        lines.append(f"    {{{_cstr(s.name)}, {_cstr(s.unit)}, {_cstr(s.description)}, {_cstr(s.dose_unit)}, "
                     f"{_num(s.dose_scale)}, {dp}, {_num(s.dose_power)}}},")
    lines.append("};")
    lines.append("m.parameters = {")
    for p in ir.parameters:
        lines.append(f"    {{{_cstr(p.name)}, {_cstr(p.unit)}, {_num(p.value)}, {_num(p.lower)}, {_num(p.upper)},")
        lines.append(f"     {_cstr(p.description)},")
        lines.append(f"     {_cstr(p.source)}}},")
    lines.append("};")
    lines.append("m.observables = {")
    for o in ir.observables:
        lines.append(f"    {{{_cstr(o.name)}, {_cstr(o.unit)}, {_cstr(o.description)}}},")
    lines.append("};")
    return lines


# The sensitivity members of ModelImpl<D> by translation unit, for a model compiled in several
# (split=True in emit_source; the built-in models): unit suffix -> the instantiation macros of
# core/include/crsim/model_impl.hpp it defines, with their last argument. A small model takes two
# units; a large one (LARGE_MODEL_STATES states or more) one per derivative width, since each of
# these instantiations of a 40-state right-hand side takes about a minute and 1-2 GB to compile
# under AddressSanitizer (figures in docs/reliability.md, "Sanitizers").
_SENS = [("CRSIM_MODEL_SENSITIVITY_RHS", "Sens4"), ("CRSIM_MODEL_SENSITIVITY_RHS", "Sens8"),
         ("CRSIM_MODEL_SENSITIVITY_RHS", "SensX"), ("CRSIM_MODEL_SENSITIVITY_INITIAL_OBSERVABLES", None)]
_COUPLING = [("CRSIM_MODEL_SENSITIVITY_COUPLING", "Coupling4"),
             ("CRSIM_MODEL_SENSITIVITY_COUPLING", "Coupling8"),
             ("CRSIM_MODEL_SENSITIVITY_COUPLING", "CouplingX")]
SENSITIVITY_UNITS = {"_sens": _SENS, "_coupling": _COUPLING}
SENSITIVITY_UNITS_LARGE = {"_sens4": _SENS[0:1], "_sens8": _SENS[1:2], "_sensx": _SENS[2:4],
                           "_coupling4": _COUPLING[0:1], "_coupling8": _COUPLING[1:2],
                           "_couplingx": _COUPLING[2:3]}
LARGE_MODEL_STATES = 10


def sensitivity_units(ir: ModelIR) -> Dict[str, list]:
    """The sensitivity units of a split model: ``SENSITIVITY_UNITS`` or, for a large model,
    ``SENSITIVITY_UNITS_LARGE``."""
    return SENSITIVITY_UNITS_LARGE if len(ir.states) >= LARGE_MODEL_STATES else SENSITIVITY_UNITS


def _instantiations(ext: str, qualified: str, group) -> str:
    return "\n".join(f"{macro}({ext}, {qualified}{', ' + arg if arg else ''})" for macro, arg in group)


def emit_source(ir: ModelIR, *, header: str, factory: str,
                namespace: str = "crsim::models::generated", extra_includes: str = "",
                export_c: bool = False, split: bool = False) -> str:
    """The translation unit holding info() and the model's one ModelImpl instantiation. With
    ``split``, the sensitivity members are only declared here (explicit instantiation
    declarations) and compiled in the units of ``emit_sensitivity_sources``: the same code in
    smaller translation units."""
    name = struct_name(ir.name)
    info = _indent(emit_info(ir), 4)
    export = ""
    if export_c:
        export = f"""
extern "C" crsim::Model* crsim_create_model() {{ return new crsim::ModelImpl<{namespace}::{name}>(); }}
extern "C" const char* crsim_model_abi() {{ return CRSIM_MODEL_ABI; }}
"""
    extern = ""
    if split:
        qualified = f"{namespace}::{name}"
        decls = "\n".join(_instantiations("extern", qualified, group)
                          for group in sensitivity_units(ir).values())
        units = ", ".join(f"{ir.name}{suffix}.cpp" for suffix in sensitivity_units(ir))
        extern = f"""
// The sensitivity members of ModelImpl<{name}> are compiled in {units}.
{decls}
"""
    return f"""// Generated by crsim's model compiler (models/codegen, version {GENERATOR_VERSION}). Do not edit.
#include "{header}"

#include <limits>
#include <memory>
#include <utility>

#include "crsim/model_impl.hpp"
{extra_includes}{extern}
namespace {namespace} {{

namespace {{
constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}}  // namespace

ModelInfo {name}::info() {{
    ModelInfo m;
{info}
    (void)kInf; (void)kNaN;
    return m;
}}

std::unique_ptr<Model> {factory}(DerivedOutputs derived) {{
    return std::make_unique<ModelImpl<{name}>>(std::move(derived));
}}

}}  // namespace {namespace}
{export}"""


def emit_sensitivity_sources(ir: ModelIR, *, header: str,
                             namespace: str = "crsim::models::generated") -> Dict[str, str]:
    """The translation units of ``emit_source(..., split=True)``'s sensitivity members, by file name
    suffix (``sensitivity_units``): explicit instantiation definitions."""
    name = struct_name(ir.name)
    qualified = f"{namespace}::{name}"
    out = {}
    for suffix, group in sensitivity_units(ir).items():
        out[suffix] = f"""// Generated by crsim's model compiler (models/codegen, version {GENERATOR_VERSION}). Do not edit.
// Sensitivity members of ModelImpl<{name}> (the rest is in {ir.name}.cpp).
#include "{header}"

#include "crsim/model_impl.hpp"

{_instantiations("", qualified, group)}
"""
    return out
