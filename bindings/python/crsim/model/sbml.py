"""SBML export of a model: ``crsim.to_sbml(model, parameter_set=None, path=None)``.

The model's source (the Antimony file of a built-in model, shipped as
``crsim/data/models/<group>/<name>.ant``, or the source a user model was loaded from) goes through
crsim's model compiler (crsim.modelgen: load -> ir.build -> sbml.export) with the parameter values
of ``crsim.Model(model, parameter_set)``: SBML Level 3 Version 2 with units, display names and
crsim's metadata as annotations (docs/models.md, "Exporting to SBML").
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Tuple, Union

from crsim.base.errors import InputError, input_error
from crsim import _core
from crsim.model import usermodels as _usermodels
from crsim.model.model import Model
from crsim.model.parameter_sets import data_dir

__all__ = ["to_sbml"]

_PACKAGE = Path(__file__).resolve().parents[1]  # the crsim package directory


def _builtin_source(name: str) -> Optional[Path]:
    """The Antimony source of built-in model ``name`` (crsim/data/models/<group>/<name>.ant)."""

    for root in dict.fromkeys([data_dir() / "models", _PACKAGE / "data" / "models"]):
        if root.is_dir():
            for path in sorted(root.glob(f"*/{name}.ant")):
                if path.parent.name != "blocks":
                    return path
    return None


def _user_source(name: str) -> Optional[Tuple[str, str, Optional[str]]]:
    """(kind, text, path or None) of the source user model ``name`` was loaded from in this
    process (the loader's memo of sources, keyed by text or by path and text)."""

    lib = _core.user_models().get(name)
    if lib is None:
        return None
    for (kind, ident, _), (loaded, loaded_lib) in list(_usermodels._memo.items()):
        if loaded == name and loaded_lib == lib:
            path, sep, text = ident.partition("\0")
            return (kind, text, path) if sep else (kind, ident, None)
    return None


def _ir(model: Model):
    from crsim import modelgen

    # libAntimony keeps global state: one load at a time (the user-model loader's lock)
    with _usermodels._lock:
        return _ir_locked(model, modelgen)


def _ir_locked(model: Model, modelgen):
    try:
        if model.name in _builtins():
            path = _builtin_source(model.name)
            if path is None:
                raise input_error("model", model.name, "a model whose source is installed "
                                  "(crsim/data/models/<group>/<name>.ant): reinstall crsim")
            doc, meta = modelgen.load_antimony(path.read_text(encoding="utf-8"),
                                               origin=path.name, path=str(path))
        else:
            found = _user_source(model.name)
            if found is None:
                raise input_error("model", model.name, "a built-in model or a user model loaded in "
                                  "this process (crsim.Model.from_antimony / from_sbml)")
            kind, text, path = found
            origin = path or f"user model {model.name}"
            if kind == "sbml":
                doc, meta = modelgen.load_sbml(text, origin=origin)
            else:
                doc, meta = modelgen.load_antimony(text, origin=origin, path=path)
        return modelgen.build(doc, meta)
    except modelgen.ModelSourceError as ex:
        raise InputError(str(ex)) from None


def _builtins():

    return set(_core.builtin_models())


def to_sbml(model: Union[str, Model], parameter_set: Optional[str] = None,
            path: Optional[Union[str, "os.PathLike"]] = None) -> str:
    """The model as SBML Level 3 Version 2 text, for libRoadRunner/Tellurium, COPASI, AMICI, ...

    Args:
        model: a model name (``crsim.models()``) or a :class:`crsim.Model` (whose parameter set is
            used unless ``parameter_set`` names another).
        parameter_set: the parameter set whose values the file carries (name or path; default:
            the model's default set, for models whose values live in parameter sets).
        path: also write the text to this file (atomically: a temporary file renamed).

    Every state is an SBML parameter changed by a rate rule, every parameter a constant with its
    value, unit, bounds and source, intermediates and observables are assignment rules, initial
    values numbers or initial assignments; crsim's metadata travels in ``<crsim:meta>``
    annotations, so that ``crsim.Model.from_sbml`` reads the file back as the same model.
    Derived outputs computed in C++ (the CRS model's ``crs_grade_now``) are not ODE content and
    are not exported. See docs/models.md, "Exporting to SBML".

    Example::

        text = crsim.to_sbml("pk2_mm")
        crsim.to_sbml("crs", parameter_set="crs_axicabtagene_lbcl", path="crs_axicel.xml")
    """
    from crsim.modelgen import ModelSourceError, sbml

    m = Model(model, parameter_set)
    ir = _ir(m)
    table = m.parameters
    values = dict(zip(table["name"], table["value"]))
    sources = {n: s for n, s in zip(table["name"], table["source"]) if s}
    model_sources = list(m.sources)
    if m.parameter_set:
        model_sources.append(f"parameter values: crsim parameter set '{m.parameter_set}'")
    try:
        text = sbml.export(ir, values, name=m.name, sources=sources, model_sources=model_sources)
    except ModelSourceError as ex:
        raise InputError(str(ex)) from None
    if path is not None:
        _write(Path(path), text)
    return text


def _write(path: Path, text: str) -> None:
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise input_error("path", str(path), "a file in an existing directory")
    tmp = str(parent / f".{path.name}.part{os.getpid()}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.replace(tmp, path)  # never a half-written file under the final name
    except OSError as ex:
        raise input_error("path", str(path), f"a writable file path ({ex.strerror})") from None
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
