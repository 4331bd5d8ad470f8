"""crsim's model compiler: one readable model source (Antimony or SBML) -> C++ for the AD engine.

The pipeline is
    source.load(text or path)   Antimony (via libAntimony) or SBML (via libSBML), plus crsim's
                                metadata (bounds, sources, observables, doses) -> libSBML model
    ir.build(model, meta)       checked intermediate form: states, parameters, intermediates
                                (parameter-only or state-dependent), observables, rates, initial
                                values, Jacobian sparsity
    cpp.emit(ir)                a C++ model type with templated initial/rhs/observables
    sbml.export(ir, values)     SBML Level 3 with units and crsim annotations

This package is standalone (it needs only the antimony and python-libsbml packages), so the build-time
script scripts/generate_models.py can run it before crsim is built; installed, it is crsim.modelgen.
Errors are ModelSourceError (a ValueError) naming the element or the line of the source.
"""
from .errors import ModelSourceError
from .source import load, load_antimony, load_sbml
from .ir import build, ModelIR
from .cpp import emit_header, emit_source, struct_name

__all__ = ["ModelSourceError", "load", "load_antimony", "load_sbml", "build", "ModelIR",
           "emit_header", "emit_source", "struct_name", "generate"]


def generate(source, *, origin: str = "<string>"):
    """Loads ``source`` (Antimony text, SBML text, or a path to a .ant/.xml/.sbml file) and returns
    its ModelIR."""
    doc, meta = load(source, origin=origin)
    return build(doc, meta)
