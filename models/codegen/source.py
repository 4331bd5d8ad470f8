"""Loading a model source: Antimony text (libAntimony) or SBML (libSBML), and crsim's metadata.

SBML carries states, parameters, rules, initial values, units and display names; it has no place
for what crsim needs besides: admissible bounds and the citation of a parameter, which assignment
rules are observables (outputs) rather than intermediates, which states take doses and how a dose
converts into the state's unit, and a crsim name where the SBML id cannot be the name (SBML ids are
unique across a model, while crsim lets an observable share a state's name). That metadata is the
one extension of the model language:

* in Antimony, lines starting with ``//@`` (comments to every other Antimony tool):

      //@ model name=crs version=1 default_parameter_set=crs_tisagenlecleucel_ball
      //@ model description="..."   source="..."          (source may repeat)
      //@ CL bounds=[0, inf] source="Frey N et al. 2010, J Clin Pharmacol 50:754, Table III"
      //@ central dose=mg                                    (dose_scale=, dose_param=, dose_power=)
      //@ obs_ifng observable name=ifng

* in SBML, one ``<crsim:meta>`` element in the annotation of each element (namespace META_NS), with
  the same keys as attributes; crsim's SBML export writes it, and import reads it back.

Descriptions are Antimony display names (``CL is "linear clearance"``, SBML ``name``); units are
Antimony/SBML units, shown by the unit definition's name when it has one (``unit per_h = 1/h;
per_h is "1/h"``).
"""
from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

from .errors import ModelSourceError

META_NS = "https://crsim.dev/sbml/meta/1"
META_PREFIX = "crsim"

# keys of //@ lines and of <crsim:meta> attributes
ELEMENT_KEYS = {"observable", "name", "bounds", "source", "dose", "dose_scale", "dose_param",
                "dose_power"}
MODEL_KEYS = {"name", "version", "description", "source", "default_parameter_set", "doses"}


@dataclass
class ElementMeta:
    line: int = 0
    observable: bool = False
    name: Optional[str] = None
    bounds: Optional[Tuple[float, float]] = None
    source: Optional[str] = None
    dose: Optional[str] = None
    dose_scale: float = 1.0
    dose_param: Optional[str] = None
    dose_power: float = 1.0


@dataclass
class ModelMeta:
    origin: str = "<string>"
    name: Optional[str] = None
    version: str = "1"
    description: str = ""
    sources: List[str] = field(default_factory=list)
    default_parameter_set: str = ""
    # "marked": only states with dose=... take doses; "all" (the default when no state is marked):
    # every state takes doses in its own unit
    doses: str = ""
    elements: Dict[str, ElementMeta] = field(default_factory=dict)
    annotated: bool = False  # any crsim metadata at all (else defaults for foreign models)
    # position of each id's first declaration in the Antimony text: states and parameters keep
    # the order of the source (libAntimony lists the variables of instantiated blocks first)
    order: Dict[str, int] = field(default_factory=dict)
    text: str = ""           # the Antimony text, for docs


_TOKEN = re.compile(r'\s*([A-Za-z_][A-Za-z0-9_]*)(?:\s*=\s*("(?:[^"\\]|\\.)*"|\[[^\]]*\]|[^\s]+))?')


def _number(text: str, key: str, line: int, origin: str) -> float:
    t = text.strip().lower()
    try:
        if t in ("inf", "+inf", "infinity"):
            return math.inf
        if t in ("-inf", "-infinity"):
            return -math.inf
        return float(t)
    except ValueError:
        raise ModelSourceError(key, repr(text), "a number (inf allowed)", line=line,
                               origin=origin) from None


def parse_meta_line(body: str, line: int, origin: str) -> Tuple[str, Dict[str, str]]:
    """``body`` is what follows ``//@``: an element id then key=value pairs or flags."""
    pos = 0
    tokens: List[Tuple[str, Optional[str]]] = []
    while pos < len(body):
        if body[pos:].strip() == "":
            break
        m = _TOKEN.match(body, pos)
        if not m:
            raise ModelSourceError("//@", repr(body[pos:].strip()[:40]),
                                   "an element id followed by key=value pairs or flags",
                                   line=line, origin=origin)
        tokens.append((m.group(1), m.group(2)))
        pos = m.end()
    if not tokens or tokens[0][1] is not None:
        raise ModelSourceError("//@", repr(body.strip()[:40]), "an element id (or 'model') first",
                               line=line, origin=origin)
    target = tokens[0][0]
    out: Dict[str, str] = {}
    for key, value in tokens[1:]:
        if value is not None and value.startswith('"'):
            value = bytes(value[1:-1], "utf-8").decode("unicode_escape")
        out[key] = "true" if value is None else value
    return target, out


def apply_element_keys(meta: ElementMeta, keys: Dict[str, str], target: str, line: int,
                       origin: str) -> None:
    for key, value in keys.items():
        if key not in ELEMENT_KEYS:
            raise ModelSourceError(f"{target}.{key}", repr(value),
                                   "one of {" + ", ".join(sorted(ELEMENT_KEYS)) + "}",
                                   line=line, origin=origin)
        if key == "observable":
            meta.observable = value.lower() in ("true", "1", "yes")
        elif key == "bounds":
            inner = value.strip()
            if not (inner.startswith("[") and inner.endswith("]")) or inner[1:-1].count(",") != 1:
                raise ModelSourceError(f"{target}.bounds", repr(value), "[lower, upper]",
                                       line=line, origin=origin)
            lo, hi = inner[1:-1].split(",")
            meta.bounds = (_number(lo, f"{target}.bounds", line, origin),
                           _number(hi, f"{target}.bounds", line, origin))
            if not meta.bounds[0] <= meta.bounds[1]:
                raise ModelSourceError(f"{target}.bounds", repr(value), "lower <= upper",
                                       line=line, origin=origin)
        elif key in ("dose_scale", "dose_power"):
            setattr(meta, key, _number(value, f"{target}.{key}", line, origin))
        else:
            setattr(meta, key, value)
    if not meta.line:
        meta.line = line


_DECLARATION = re.compile(r"(?:^|;)[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*(?:has\b|is\b|:=|=|')",
                          re.MULTILINE)


def parse_antimony_meta(text: str, origin: str) -> ModelMeta:
    meta = ModelMeta(origin=origin, text=text)
    code = "\n".join(line.split("//", 1)[0] for line in text.splitlines())
    for m in _DECLARATION.finditer(code):
        meta.order.setdefault(m.group(1), m.start(1))
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not stripped.startswith("//@"):
            continue
        meta.annotated = True
        target, keys = parse_meta_line(stripped[3:], number, origin)
        if target == "model":
            for key, value in keys.items():
                if key not in MODEL_KEYS:
                    raise ModelSourceError(f"model.{key}", repr(value),
                                           "one of {" + ", ".join(sorted(MODEL_KEYS)) + "}",
                                           line=number, origin=origin)
                if key == "source":
                    meta.sources.append(value)
                else:
                    setattr(meta, key, value)
            continue
        apply_element_keys(meta.elements.setdefault(target, ElementMeta()), keys, target, number,
                           origin)
    return meta


def _libsbml():
    try:
        import libsbml  # noqa: F401
    except ImportError as exc:  # pragma: no cover - set-up installs it
        raise ModelSourceError("model", "SBML", "python-libsbml installed (pip install "
                               "python-libsbml)") from exc
    return libsbml


def load_antimony(text: str, origin: str = "<string>", path: Optional[str] = None):
    """Antimony text -> (libsbml.SBMLDocument, ModelMeta). With ``path`` (the file the text came
    from) imports are resolved relative to it."""
    try:
        import antimony
    except ImportError as exc:  # pragma: no cover - set-up installs it
        raise ModelSourceError("model", "Antimony", "the antimony package installed (pip install "
                               "antimony)") from exc
    libsbml = _libsbml()
    meta = parse_antimony_meta(text, origin)
    antimony.clearPreviousLoads()
    loaded = antimony.loadAntimonyFile(path) if path else antimony.loadAntimonyString(text)
    if loaded < 0:
        message = antimony.getLastError().strip()
        m = re.search(r"line (\d+)", message)
        line = int(m.group(1)) if m else 0
        detail = re.sub(r"^Error in model string, line \d+:\s*", "", message)
        raise ModelSourceError("model", "Antimony text", "valid Antimony: " + detail, line=line,
                               origin=origin)
    main = antimony.getMainModuleName()
    sbml = antimony.getSBMLString(main)
    doc = libsbml.readSBMLFromString(sbml)
    if doc.getModel() is None:
        raise ModelSourceError("model", "Antimony text", "a model with at least one element",
                               origin=origin)
    if meta.name is None:
        meta.name = main
    return doc, meta


def _meta_from_annotation(doc, meta: ModelMeta) -> None:
    """Reads <crsim:meta> annotations of an SBML document into ``meta``."""
    model = doc.getModel()
    elements = model.getListOfAllElements()  # the model's descendants, not the model itself
    for el in [model] + [elements.get(k) for k in range(elements.getSize())]:
        if not el.isSetAnnotation():
            continue
        ann = el.getAnnotation()
        for i in range(ann.getNumChildren()):
            child = ann.getChild(i)
            if child.getURI() != META_NS:
                continue
            meta.annotated = True
            attrs = {child.getAttrName(j): child.getAttrValue(j)
                     for j in range(child.getAttributesLength())}
            if el.getTypeCode() == model.getTypeCode():
                # citations as <crsim:source> children (crsim's export), or one attribute
                for j in range(child.getNumChildren()):
                    node = child.getChild(j)
                    if node.getName() == "source":
                        meta.sources.append("".join(node.getChild(i).getCharacters() for i in
                                                    range(node.getNumChildren())).strip())
                for key, value in attrs.items():
                    if key == "source":
                        meta.sources.extend(s for s in value.split("\n") if s)
                    elif key in MODEL_KEYS:
                        setattr(meta, key, value)
                continue
            em = meta.elements.setdefault(el.getId(), ElementMeta())
            if "lower" in attrs or "upper" in attrs:
                attrs["bounds"] = f"[{attrs.pop('lower', '-inf')}, {attrs.pop('upper', 'inf')}]"
            apply_element_keys(em, attrs, el.getId(), 0, meta.origin)


def load_sbml(text_or_path: str, origin: Optional[str] = None):
    """SBML text or file -> (libsbml.SBMLDocument, ModelMeta)."""
    libsbml = _libsbml()
    is_text = text_or_path.lstrip().startswith("<")
    origin = origin or ("<string>" if is_text else text_or_path)
    doc = (libsbml.readSBMLFromString(text_or_path) if is_text
           else libsbml.readSBMLFromFile(text_or_path))
    errors = [doc.getError(i) for i in range(doc.getNumErrors())
              if doc.getError(i).getSeverity() >= libsbml.LIBSBML_SEV_ERROR]
    if errors or doc.getModel() is None:
        first = errors[0] if errors else None
        raise ModelSourceError("model", "SBML", "readable SBML: " +
                               (first.getMessage().strip() if first else "no <model> element"),
                               line=first.getLine() if first else 0, origin=origin)
    meta = ModelMeta(origin=origin)
    _meta_from_annotation(doc, meta)
    if meta.name is None:
        meta.name = doc.getModel().getId() or "model"
    return doc, meta


def load(source: str, origin: str = "<string>"):
    """Antimony text, SBML text, or a path to a .ant / .xml / .sbml file."""
    if not isinstance(source, str):
        raise ModelSourceError("model", type(source).__name__,
                               "Antimony text, SBML text or a path to a .ant/.xml/.sbml file")
    stripped = source.lstrip()
    if stripped.startswith("<"):
        return load_sbml(source, origin)
    if "\n" not in source and source.lower().endswith((".ant", ".xml", ".sbml", ".txt")):
        if not os.path.isfile(source):
            raise ModelSourceError("model", repr(source), "an existing file")
        if source.lower().endswith((".xml", ".sbml")):
            return load_sbml(source)
        with open(source, encoding="utf-8") as fh:
            return load_antimony(fh.read(), origin=origin if origin != "<string>" else source,
                                 path=source)
    return load_antimony(source, origin)
