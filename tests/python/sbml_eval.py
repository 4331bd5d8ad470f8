"""A ModelIR's initial values and right-hand side evaluated in Python, straight from its libSBML
ASTs (written independently of the C++ emitter), for tests/python/test_sbml_conformance.py: what
crsim's model compiler understood of a foreign SBML file, compared with libRoadRunner's rates."""
import math

import libsbml as ls

_UNARY = {ls.AST_FUNCTION_EXP: math.exp, ls.AST_FUNCTION_LN: math.log, ls.AST_FUNCTION_SIN: math.sin,
          ls.AST_FUNCTION_COS: math.cos, ls.AST_FUNCTION_TAN: math.tan,
          ls.AST_FUNCTION_ARCSIN: math.asin, ls.AST_FUNCTION_ARCCOS: math.acos,
          ls.AST_FUNCTION_ARCTAN: math.atan, ls.AST_FUNCTION_SINH: math.sinh,
          ls.AST_FUNCTION_COSH: math.cosh, ls.AST_FUNCTION_TANH: math.tanh,
          ls.AST_FUNCTION_ABS: abs, ls.AST_FUNCTION_FLOOR: math.floor,
          ls.AST_FUNCTION_CEILING: math.ceil}
_REL = {ls.AST_RELATIONAL_LT: lambda a, b: a < b, ls.AST_RELATIONAL_GT: lambda a, b: a > b,
        ls.AST_RELATIONAL_LEQ: lambda a, b: a <= b, ls.AST_RELATIONAL_GEQ: lambda a, b: a >= b,
        ls.AST_RELATIONAL_EQ: lambda a, b: a == b, ls.AST_RELATIONAL_NEQ: lambda a, b: a != b}


class Evaluator:
    """Values of an IR's states, parameters and intermediates at (t, x)."""

    def __init__(self, ir, t, x, params=None, initial=False):
        self.ir, self.t, self.initial = ir, t, initial
        self.values = {p.id: p.value for p in ir.parameters}
        self.values.update(params or {})
        self.values.update(x)
        self.memo = {}

    def name(self, n):
        if n in self.values:
            return self.values[n]
        if n not in self.memo:
            self.memo[n] = self.eval(self.ir.intermediates[n].expr)
        return self.memo[n]

    def eval(self, node):
        if node is None:
            return 0.0
        t = node.getType()
        ch = [node.getChild(i) for i in range(node.getNumChildren())]
        if t == ls.AST_INTEGER:
            return float(node.getInteger())
        if t in (ls.AST_REAL, ls.AST_REAL_E, ls.AST_RATIONAL):
            return node.getValue()
        if t == ls.AST_NAME:
            return self.name(node.getName())
        if t == ls.AST_NAME_TIME:
            return 0.0 if self.initial else self.t
        if t == ls.AST_CONSTANT_E:
            return math.e
        if t == ls.AST_CONSTANT_PI:
            return math.pi
        if t in (ls.AST_CONSTANT_TRUE, ls.AST_CONSTANT_FALSE):
            return float(t == ls.AST_CONSTANT_TRUE)
        v = [self.eval(c) for c in ch] if t != ls.AST_FUNCTION_PIECEWISE else None
        if t == ls.AST_PLUS:
            return math.fsum(v) if v else 0.0
        if t == ls.AST_MINUS:
            return -v[0] if len(v) == 1 else v[0] - v[1]
        if t == ls.AST_TIMES:
            return math.prod(v)
        if t == ls.AST_DIVIDE:
            return v[0] / v[1]
        if t in (ls.AST_POWER, ls.AST_FUNCTION_POWER):
            return v[0] ** v[1]
        if t == ls.AST_FUNCTION_ROOT:
            return math.sqrt(v[0]) if len(v) == 1 else v[1] ** (1.0 / v[0])
        if t == ls.AST_FUNCTION_LOG:
            return math.log10(v[0]) if len(v) == 1 else math.log(v[1]) / math.log(v[0])
        if t in _UNARY:
            return float(_UNARY[t](v[0]))
        if t == ls.AST_FUNCTION_MIN:
            return min(v)
        if t == ls.AST_FUNCTION_MAX:
            return max(v)
        if t in _REL:
            return float(all(_REL[t](v[i], v[i + 1]) for i in range(len(v) - 1)))
        if t == ls.AST_LOGICAL_AND:
            return float(all(v))
        if t == ls.AST_LOGICAL_OR:
            return float(any(v))
        if t == ls.AST_LOGICAL_NOT:
            return float(not v[0])
        if t == ls.AST_LOGICAL_XOR:
            return float(sum(bool(a) for a in v) % 2 == 1)
        if t == ls.AST_FUNCTION_PIECEWISE:
            for i in range(0, len(ch) - 1, 2):
                if self.eval(ch[i + 1]):
                    return self.eval(ch[i])
            return self.eval(ch[-1]) if len(ch) % 2 else 0.0
        raise NotImplementedError(ls.formulaToL3String(node))


class _Initial(Evaluator):
    """At t = 0, where a state's initial value may use other states' initial values."""

    def __init__(self, ir, params=None):
        super().__init__(ir, 0.0, {}, params, initial=True)
        self.pending = {s.id: s.initial for s in ir.states}

    def name(self, n):
        if n in self.pending:
            self.values[n] = self.eval(self.pending.pop(n))
        return super().name(n)


def initial_state(ir, params=None):
    """State id -> initial value."""
    ev = _Initial(ir, params)
    return {s.id: ev.name(s.id) for s in ir.states}


def rates(ir, t, x, params=None):
    """State id -> dx/dt at time t and state x (state id -> value)."""
    ev = Evaluator(ir, t, x, params)
    return {s.id: ev.eval(s.rate) for s in ir.states}
