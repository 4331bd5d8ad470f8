"""Collecting input problems and reporting them all at once.

A :class:`Problems` collects ``(path, value, allowed)`` triples while a scenario is checked and
raises one :class:`crsim.InputError` listing every problem, each with its path in the file
(``regimen[2].amount``, ``solver.rtol``), the line in the file when known, the value and what is
allowed. Also: reading YAML / JSON files into plain data with the line of every path, duplicate keys
reported as problems, and YAML 1.2 numbers (``1e-8`` is a float, not a string as in YAML 1.1).
"""
from __future__ import annotations

import difflib
import json
import math
import numbers
import re
from pathlib import Path
from typing import Any, Dict, Iterable, List, Mapping, Optional, Sequence, Tuple

import numpy as np

from crsim.base.errors import InputError, show

__all__ = ["Problems", "read_data_file", "MISSING"]


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


#: Marks a required value that is absent.
MISSING = _Missing()


class Problems:
    """Problems found in one input (a scenario file or object), reported together.

    Args:
        source: what is being checked, for the message header (e.g. ``"scenario file 'a.yaml'"``).
        lines: path -> line number in the file (1-based), shown next to each path when known.
    """

    def __init__(self, source: Optional[str] = None, lines: Optional[Mapping[str, int]] = None):
        self.source = source
        self.lines: Dict[str, int] = dict(lines or {})
        self.items: List[Tuple[str, str]] = []  # (path, one-line message)
        self.allowed: Dict[str, str] = {}  # path -> what is allowed (for problems added with add)

    def __len__(self) -> int:
        return len(self.items)

    def __bool__(self) -> bool:
        return bool(self.items)

    def where(self, path: str) -> str:
        """``path`` with its line in the file when known (``regimen[0] (line 7)``)."""
        line = self.lines.get(path)
        return f"{path} (line {line})" if line else path

    def add(self, path: str, value: Any, allowed: str) -> None:
        """Records ``path = value is not allowed: allowed`` (``value`` MISSING: ``path is
        missing: allowed``)."""
        if value is MISSING:
            text = f"{self.where(path)} is missing: {allowed}"
        else:
            text = f"{self.where(path)} = {show(value)} is not allowed: {allowed}"
        self.items.append((path, text))
        self.allowed.setdefault(path, allowed)

    def add_text(self, path: str, text: str) -> None:
        """Records a problem with a preformatted explanation (e.g. a regimen pointing at a token)."""
        self.items.append((path, f"{self.where(path)}: {text}"))

    def add_raw(self, path: str, message: str) -> None:
        """Records a complete message (e.g. an engine error that already names the path)."""
        self.items.append((path, message))

    def error(self) -> InputError:
        """One InputError listing every problem (``field``: the first path; ``problems``: the
        list of (path, message))."""
        n = len(self.items)
        if n == 1 and not self.source:
            message = self.items[0][1]
        else:
            head = f"{self.source}: " if self.source else ""
            message = (f"{head}{n} problem{'s' if n != 1 else ''}:\n" +
                       "\n".join("  " + m.replace("\n", "\n    ") for _, m in self.items))
        err = InputError(message)
        err.field = self.items[0][0] if self.items else ""
        if n == 1 and self.items[0][0] in self.allowed:
            err.allowed = self.allowed[self.items[0][0]]
        err.problems = list(self.items)
        return err

    def raise_if_any(self) -> None:
        if self.items:
            raise self.error()

    # --- typed getters: return the converted value, or None after recording a problem ----------
    def number(self, path: str, value: Any, allowed: str, *, lower: float = -math.inf,
               upper: float = math.inf, lower_open: bool = False, upper_open: bool = False,
               integer: bool = False) -> Optional[float]:
        """A finite number within the bounds (``integer``: an int, or a float with an integral
        value). bool and str are not numbers."""
        if value is MISSING:
            self.add(path, value, allowed)
            return None
        if (isinstance(value, (bool, np.bool_)) or not isinstance(value, (numbers.Real, np.number))):
            self.add(path, value, allowed)
            return None
        v = float(value)
        bad = not math.isfinite(v) or v < lower or v > upper or (lower_open and v == lower) or \
            (upper_open and v == upper) or (integer and v != int(v))
        if bad:
            self.add(path, value, allowed)
            return None
        return int(v) if integer else v

    def text(self, path: str, value: Any, allowed: str, *, choices: Optional[Sequence[str]] = None,
             pattern: Optional[str] = None) -> Optional[str]:
        if not isinstance(value, str) or not value.strip() or (choices is not None and value not in choices) \
                or (pattern is not None and not re.fullmatch(pattern, value)):
            if isinstance(value, str) and choices is not None:
                allowed += suggest(value, choices)
            self.add(path, value, allowed)
            return None
        return value

    def mapping(self, path: str, value: Any, keys: Sequence[str], what: str) -> Optional[Dict[str, Any]]:
        """A mapping whose keys are among ``keys`` (each unknown key one problem)."""
        if not isinstance(value, Mapping):
            self.add(path or "scenario", value, f"{what}: a mapping with keys among {{{', '.join(keys)}}}")
            return None
        out = {}
        for k, v in value.items():
            sub = f"{path}.{k}" if path else str(k)
            if not isinstance(k, str):
                self.add(sub, k, f"a key (text) among {{{', '.join(keys)}}}")
            elif k not in keys:
                self.add(sub, v, f"unknown key '{k}'; allowed keys of {what}: "
                         f"{{{', '.join(keys)}}}{suggest(k, keys)}")
            else:
                out[k] = v
        return out


def suggest(word: str, choices: Iterable[str]) -> str:
    """'' or " (did you mean 'x'?)" for the closest choice."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# --- files ------------------------------------------------------------------------------------------

#: Deepest nesting of mappings and lists a crsim file may have (scenario files need about 5).
MAX_NESTING = 64
#: Largest crsim input file read, bytes.
MAX_FILE_BYTES = 64 * 1024 * 1024


def _yaml_loader():
    """A safe loader with the YAML 1.2 core schema's scalars, restricted to decimal numbers, and
    without anchors/aliases or nesting deeper than MAX_NESTING.

    YAML 1.1 (PyYAML's default) reads ``1:30`` as 90, ``1_0`` as 10, ``0x10`` as 16, ``0o10`` as 8 and
    ``yes``/``no``/``on``/``off`` as booleans; here they stay text (which the checks then report, e.g.
    "is not allowed: a finite number"). Numbers: ``[-+]?digits[.digits][e[-+]digits]``, ``.inf``,
    ``.nan``; booleans ``true``/``false``; null ``null``/``~``/empty. Aliases (``*name``) are refused:
    a few hundred bytes of nested aliases expand to gigabytes ("billion laughs")."""
    import yaml

    class Loader(yaml.SafeLoader):
        _depth = 0

        def compose_node(self, parent, index):  # noqa: D401 - PyYAML hook
            if self.check_event(yaml.AliasEvent):
                event = self.peek_event()
                raise yaml.composer.ComposerError(
                    None, None, f"an alias (*{event.anchor}) is not allowed in crsim files: write "
                    "the value out", event.start_mark)
            self._depth += 1
            if self._depth > MAX_NESTING:
                raise yaml.composer.ComposerError(
                    None, None, f"nesting deeper than {MAX_NESTING} levels is not allowed",
                    self.peek_event().start_mark)
            try:
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    Loader.yaml_implicit_resolvers = {}
    for tag, regexp, first in (
            ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
            ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
            ("tag:yaml.org,2002:int", r"^[-+]?[0-9]+$", list("-+0123456789")),
            ("tag:yaml.org,2002:float",
             r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
             r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$", list("-+0123456789.")),
    ):
        Loader.add_implicit_resolver(tag, re.compile(regexp), first)
    return Loader


def _walk_yaml(node: Any, path: str, lines: Dict[str, int], problems: Problems) -> None:
    import yaml

    if isinstance(node, yaml.MappingNode):
        seen: Dict[Any, int] = {}
        for knode, vnode in node.value:
            key = knode.value if isinstance(knode, yaml.ScalarNode) else None
            sub = f"{path}.{key}" if path else str(key)
            line = knode.start_mark.line + 1
            if key is not None and key in seen:
                problems.add_text(sub, f"duplicate key '{key}' (line {line}; first at line "
                                       f"{seen[key]}): each key may appear once")
            elif key is not None:
                seen[key] = line
                lines.setdefault(sub, line)
            _walk_yaml(vnode, sub, lines, problems)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            sub = f"{path}[{i}]"
            lines.setdefault(sub, item.start_mark.line + 1)
            _walk_yaml(item, sub, lines, problems)


def _depth(data: Any) -> int:
    """Nesting depth of plain data (iteratively: deep input must not exhaust the stack)."""
    deepest, stack = 0, [(data, 1)]
    while stack:
        item, d = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, d)
            if d <= MAX_NESTING:
                stack.extend((v, d + 1) for v in (item.values() if isinstance(item, dict) else item))
    return deepest


def read_data_file(path: Any, what: str = "scenario file") -> Tuple[Any, Problems]:
    """Reads a .yaml/.yml/.json file into plain data.

    Returns ``(data, problems)``: ``problems`` carries the source name and the line of every path
    (YAML) and already holds duplicate-key problems. Unreadable files and syntax errors raise
    InputError at once (nothing else can be checked then).
    """
    p = Path(path)
    source = f"{what} '{path}'"
    suffix = p.suffix.lower()
    if suffix not in (".yaml", ".yml", ".json"):
        raise InputError(f"{what} = {show(str(path))} is not allowed: a .yaml, .yml or .json file")
    try:
        if p.is_file() and p.stat().st_size > MAX_FILE_BYTES:
            raise InputError(f"{what} = {show(str(path))} is not allowed: a file of at most "
                             f"{MAX_FILE_BYTES // 2**20} MB ({p.stat().st_size} bytes)")
        if p.exists() and not p.is_file() and not p.is_dir():
            raise InputError(f"{what} = {show(str(path))} is not allowed: a regular file (this is a "
                             "device, pipe or socket)")
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{what} = {show(str(path))} is not allowed: an existing file (no such "
                         "file)") from None
    except IsADirectoryError:
        raise InputError(f"{what} = {show(str(path))} is not allowed: a file (this is a "
                         "directory)") from None
    except UnicodeDecodeError as ex:
        raise InputError(f"{source}: not UTF-8 text ({ex.reason} at byte {ex.start})") from None
    except OSError as ex:
        raise InputError(f"{source}: cannot be read ({ex.strerror})") from None
    problems = Problems(source)
    if suffix == ".json":
        dups: List[str] = []

        def pairs(items):
            d = {}
            for k, v in items:
                if k in d:
                    dups.append(k)
                d[k] = v
            return d

        try:
            data = json.loads(text, object_pairs_hook=pairs)
        except json.JSONDecodeError as ex:
            raise InputError(f"{source}: invalid JSON at line {ex.lineno}, column {ex.colno}: "
                             f"{ex.msg}") from None
        except RecursionError:
            raise InputError(f"{source}: nesting deeper than the JSON reader allows") from None
        if _depth(data) > MAX_NESTING:
            raise InputError(f"{source}: nesting deeper than {MAX_NESTING} levels is not allowed")
        for k in dups:
            problems.add_text(k, f"duplicate key '{k}': each key may appear once")
        return data, problems

    import yaml

    loader = _yaml_loader()
    try:
        node = yaml.compose(text, Loader=loader)
        data = yaml.load(text, Loader=loader)
    except yaml.MarkedYAMLError as ex:
        mark = ex.problem_mark or ex.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise InputError(f"{source}: invalid YAML{where}: {ex.problem or ex.context}") from None
    except yaml.YAMLError as ex:
        raise InputError(f"{source}: invalid YAML: {ex}") from None
    if node is not None:
        _walk_yaml(node, "", problems.lines, problems)
    return data, problems
