"""Users' own models: a model source (Antimony text, SBML text or file) compiled at run time.

``load(source, kind=...)`` turns the source into C++ with crsim's model compiler (crsim.modelgen,
the generator of the built-in models), compiles it with the system C++ compiler into a shared
library and registers the model in the engine under its name, after which every part of crsim
uses it by name as it uses a built-in model.

Libraries are cached in a per-user directory (``$CRSIM_CACHE_DIR``, else ``$XDG_CACHE_HOME/crsim``,
else ``~/.cache/crsim``), one directory ``<name>-<key>`` per model, where the key is a hash of the
generated C++, the crsim version and model ABI, the compiler (its ``--version`` output and the
flags) and the content of the headers installed with crsim: the same source compiles once, later
loads (in this process or any other) only dlopen() the library. A library is built in a temporary
directory and renamed into place, so a crash never leaves half a library under the final name;
two processes compiling the same model at once wait for each other (a lock file) and whichever
renames first wins. A cached library whose ABI string no longer matches this crsim is removed
and compiled again.

Errors: a problem in the model source is a :class:`crsim.InputError` with the model compiler's
message (line numbers kept); a failure of the C++ compiler on generated code is a bug of crsim's
model compiler and raises :class:`UserModelCompileError` (a RuntimeError) naming the log file.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import tempfile
import threading
import time
from functools import lru_cache
from pathlib import Path
from typing import Dict, List, Optional, Tuple, Union

from crsim import _core
from crsim.base.errors import InputError, input_error

__all__ = ["load", "load_file", "cache_dir", "UserModelCompileError", "compiles", "COMPILE_FLAGS"]

#: Flags of every compile (bench/README.md: -O3 compiles as fast as -O2 and halves the cost of
#: forward sensitivities; the built-in models are compiled with -O3 too).
COMPILE_FLAGS = ["-O3", "-DNDEBUG", "-fPIC", "-shared", "-std=c++17"]
NAME_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
#: Number of compiles this process ran (the tests check that a cache hit does not compile).
compiles = 0

_PACKAGE = Path(__file__).resolve().parents[1]  # the crsim package directory
_lock = threading.RLock()
# (kind, source text or file identity, name) -> (model name, library path): a repeated load in
# this process skips even the code generation.
_memo: Dict[Tuple[str, str, Optional[str]], Tuple[str, str]] = {}


class UserModelCompileError(RuntimeError):
    """The C++ compiler failed on a model's generated code (a bug of crsim's model compiler, not of
    the model). ``log`` is the path of the compiler's output."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message)
        self.log = log


# --- where things are --------------------------------------------------------------------------

def cache_dir() -> Path:
    """The directory of compiled user models: $CRSIM_CACHE_DIR, else $XDG_CACHE_HOME/crsim, else
    ~/.cache/crsim."""
    env = os.environ.get("CRSIM_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    return (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "crsim"


def _include_dir() -> Path:
    inc = _PACKAGE / "include"
    if not (inc / "crsim" / "model_impl.hpp").is_file():
        raise RuntimeError(f"crsim's headers for compiling user models are missing ({inc}); "
                           "reinstall crsim (pip install .)")
    return inc


@lru_cache(maxsize=1)
def _build_info() -> Dict[str, str]:
    try:
        return json.loads((_PACKAGE / "include" / "usermodels_build.json").read_text())
    except (OSError, ValueError):
        return {}


def _eigen_include() -> str:
    candidates = [os.environ.get("CRSIM_EIGEN_INCLUDE", "")]
    candidates += _build_info().get("eigen_include", "").split(";")
    candidates += ["/usr/include/eigen3", "/usr/local/include/eigen3"]
    for c in candidates:
        if c and (Path(c) / "Eigen" / "Core").is_file():
            return c
    raise RuntimeError("the Eigen headers were not found (needed to compile user models): install "
                       "them (Debian: apt install libeigen3-dev) or set CRSIM_EIGEN_INCLUDE to the "
                       "directory holding Eigen/Core")


def _compiler() -> List[str]:
    """$CXX, else the compiler that built crsim's extension, else c++."""
    if os.environ.get("CXX"):
        return shlex.split(os.environ["CXX"])
    built = _build_info().get("cxx", "")
    if built and Path(built).is_file():
        return [built]
    return ["c++"]


@lru_cache(maxsize=8)
def _compiler_version(cxx: Tuple[str, ...]) -> str:
    try:
        out = subprocess.run([*cxx, "--version"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.SubprocessError) as ex:
        raise RuntimeError(f"no C++ compiler '{' '.join(cxx)}' ({ex}): crsim compiles users' models "
                           "with the system compiler; install one (Debian: apt install g++) or "
                           "set CXX") from None
    if out.returncode != 0:
        raise RuntimeError(f"the C++ compiler '{' '.join(cxx)}' does not run: {out.stderr.strip()}")
    return out.stdout.strip()


@lru_cache(maxsize=1)
def _headers_hash() -> str:
    h = hashlib.sha256()
    inc = _include_dir()
    for p in sorted(inc.rglob("*")):
        if p.is_file():
            h.update(p.relative_to(inc).as_posix().encode())
            h.update(b"\0")
            h.update(p.read_bytes())
    return h.hexdigest()


# --- the source -> C++ ----------------------------------------------------------------------------

def _modelgen():
    from crsim import modelgen

    return modelgen


def _generate(source: str, kind: str, origin: str):
    """ModelIR of ``source`` (kind 'antimony' or 'sbml'); source errors become InputError."""
    gen = _modelgen()
    try:
        if kind == "antimony":
            doc, meta = gen.load_antimony(source, origin=origin)
        else:
            doc, meta = gen.load_sbml(source, origin=origin)
        return gen.build(doc, meta)
    except gen.ModelSourceError as ex:
        err = InputError(str(ex))
        err.field = ex.field
        err.line = ex.line
        raise err from None


def _cpp(ir, origin: str, source_text: str) -> Dict[str, str]:
    from crsim.modelgen.cpp import emit_header, emit_source

    files = {
        "model.hpp": emit_header(ir, origin=origin, source_text=source_text,
                                 namespace="crsim::user"),
        "model.cpp": emit_source(ir, header="model.hpp", factory="make_model",
                                 namespace="crsim::user", export_c=True),
        "build.cpp": (f"// crsim user model '{ir.name}': the generated code and the model "
                      "interface in one translation unit.\n"
                      '#include "crsim/model_abi.hpp"\n#include "model.cpp"\n'
                      '#include "crsim/src/model.cpp"\n'),
        # only the two C entry points are exported: nothing of the library can interpose on
        # crsim's own symbols (or another user model's)
        "exports.map": "{\n  global: crsim_create_model; crsim_model_abi;\n  local: *;\n};\n",
    }
    return files


def _key(files: Dict[str, str], cxx: List[str]) -> str:
    h = hashlib.sha256()
    for part in ([_core.__version__, _core.MODEL_ABI, _compiler_version(tuple(cxx)), " ".join(cxx),
                  " ".join(COMPILE_FLAGS), _headers_hash()]
                 + [f"{k}\n{v}" for k, v in sorted(files.items())]):
        h.update(part.encode("utf-8"))
        h.update(b"\0")
    return h.hexdigest()[:20]


# --- compile and load ---------------------------------------------------------------------------

class _FileLock:
    """An exclusive lock on a file (flock), a no-op where flock is unavailable."""

    def __init__(self, path: Path):
        self.path = path
        self.fh = None

    def __enter__(self):
        try:
            import fcntl

            self.fh = open(self.path, "a+")
            fcntl.flock(self.fh.fileno(), fcntl.LOCK_EX)
        except (ImportError, OSError):
            if self.fh is not None:
                self.fh.close()
            self.fh = None
        return self

    def __exit__(self, *exc):
        if self.fh is not None:
            self.fh.close()  # releases the lock
        return False


def _compile(name: str, files: Dict[str, str], final: Path, cxx: List[str]) -> None:
    """Compiles into a temporary directory next to ``final`` and renames it into place."""
    global compiles
    root = final.parent
    tmp = Path(tempfile.mkdtemp(prefix=f".build-{final.name}-", dir=root))
    for fname, text in files.items():
        (tmp / fname).write_text(text, encoding="utf-8")
    lib = tmp / "model.so"
    cmd = [*cxx, *COMPILE_FLAGS, "-I", str(tmp), "-I", str(_include_dir()),
           "-isystem", _eigen_include(), f'-DCRSIM_VERSION="{_core.__version__}"',
           f"-Wl,--version-script={tmp / 'exports.map'}", str(tmp / "build.cpp"), "-o", str(lib)]
    log = tmp / "compile.log"
    t0 = time.perf_counter()
    try:
        out = subprocess.run(cmd, capture_output=True, text=True)
    except OSError as ex:
        raise RuntimeError(f"the C++ compiler '{' '.join(cxx)}' could not be run ({ex}): install "
                           "one (Debian: apt install g++) or set CXX") from None
    with _lock:
        compiles += 1
    # the command as it reads once the directory has its final name (to repeat it by hand)
    log.write_text(" ".join(shlex.quote(c) for c in cmd).replace(str(tmp), str(final)) + "\n\n"
                   + out.stdout + out.stderr, encoding="utf-8")
    if out.returncode != 0 or not lib.is_file():
        tail = "\n".join((out.stderr or out.stdout).strip().splitlines()[-15:])
        raise UserModelCompileError(
            f"compiling the generated C++ of model '{name}' failed. This is a bug of crsim's model "
            f"compiler, not of your model: please report it with the compiler's output, kept in "
            f"{log}\n{tail}", log=str(log))
    (tmp / "seconds").write_text(f"{time.perf_counter() - t0:.3f}\n")
    try:
        os.rename(tmp, final)
    except OSError:
        # another process renamed its build first: keep theirs
        shutil.rmtree(tmp, ignore_errors=True)
        if not (final / "model.so").is_file():
            raise


def _load_library(name: str, files: Dict[str, str]) -> str:
    """The library of the model (compiled unless cached) loaded and registered; returns its path."""
    cxx = _compiler()
    key = _key(files, cxx)
    root = cache_dir()
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as ex:
        raise RuntimeError(f"the cache directory of user models {root} cannot be created "
                           f"({ex.strerror}); set CRSIM_CACHE_DIR to a writable directory") from None
    final = root / f"{name}-{key}"
    lib = final / "model.so"
    for attempt in range(2):
        if not lib.is_file():
            with _FileLock(root / f"{final.name}.lock"):
                if not lib.is_file():  # not built by another process meanwhile
                    _compile(name, files, final, cxx)
        try:
            _core.load_model_library(str(lib))
            return str(lib)
        except InputError as ex:
            if getattr(ex, "field", "") != "model library ABI" or attempt == 1:
                raise
            # a stale entry (another crsim or compiler wrote it): compile again
            shutil.rmtree(final, ignore_errors=True)
    raise AssertionError("unreachable")


def load(source: Union[str, os.PathLike], *, kind: str, name: Optional[str] = None,
         origin: Optional[str] = None) -> str:
    """Compiles (unless cached) and loads a user model; returns its name.

    Args:
        source: Antimony text or the path of a .ant file (kind 'antimony'); SBML text or the path
            of an SBML file (kind 'sbml').
        kind: 'antimony' or 'sbml'.
        name: the model's name in crsim (default: the source's model name).
        origin: how error messages name the source (default: the path, or '<string>').
    """
    if kind not in ("antimony", "sbml"):
        raise input_error("kind", kind, "'antimony' or 'sbml'")
    if name is not None and (not isinstance(name, str) or not NAME_PATTERN.match(name)):
        raise input_error("name", name, "a model name: letters, digits and '_', not starting with a "
                          "digit")
    text, path = _read(source, kind)
    ident = text if path is None else f"{path}\0{text}"
    with _lock:  # libAntimony keeps global state: one generation at a time
        memo = _memo.get((kind, ident, name))
        if memo is not None and _core.user_models().get(memo[0]) == memo[1]:
            return memo[0]
        where = origin or (str(path) if path is not None else "<string>")
        ir = _generate(text if kind == "antimony" or path is None else str(path), kind, where)
        if name is not None:
            ir.name = name
        if ir.name == "__main":
            raise input_error("model name", "(none)", "a named model: write the model as "
                              "'model my_model() ... end' or pass name=")
        if not NAME_PATTERN.match(ir.name or ""):
            raise input_error("model name", ir.name, "letters, digits and '_', not starting with a "
                              "digit (pass name= to choose another)")
        builtins = _core.builtin_models()
        if ir.name in builtins:
            raise input_error("model name", ir.name, "a name other than a built-in model's {"
                              + ", ".join(builtins) + "}: rename the model (Antimony 'model "
                              "<name>()' or '//@ model name=...') or pass name=")
        # the generated code names no path: the same model from a string or from any file shares
        # one cache entry
        files = _cpp(ir, f"user model {ir.name}", text)
    # compiling runs outside the lock: models load in parallel threads (the same model is
    # compiled once: the lock file)
    lib = _load_library(ir.name, files)
    with _lock:
        _memo[(kind, ident, name)] = (ir.name, lib)
    return ir.name


def _read(source: Union[str, os.PathLike], kind: str) -> Tuple[str, Optional[Path]]:
    """(text, path or None) of a source given as text or as a file path."""
    suffixes = (".ant", ".txt") if kind == "antimony" else (".xml", ".sbml")
    if isinstance(source, os.PathLike) or (
            isinstance(source, str) and "\n" not in source and not source.lstrip().startswith("<")
            and source.lower().endswith(suffixes + (".ant", ".xml", ".sbml"))):
        path = Path(source)
        other = (".xml", ".sbml") if kind == "antimony" else (".ant", ".txt")
        if path.suffix.lower() in other:
            raise input_error("model", str(source), "an Antimony file (.ant) for from_antimony, an "
                              "SBML file (.xml, .sbml) for from_sbml" if kind == "antimony" else
                              "an SBML file (.xml, .sbml) for from_sbml, an Antimony file (.ant) "
                              "for from_antimony")
        if not path.is_file():
            raise input_error("model", str(source), f"an existing {'Antimony' if kind == 'antimony' else 'SBML'} "
                              "file (or the model's text)")
        try:
            return path.read_text(encoding="utf-8"), path.resolve()
        except (OSError, UnicodeDecodeError) as ex:
            raise input_error("model", str(source), f"a readable text file ({ex})") from None
    if not isinstance(source, str):
        raise input_error("model", source, "model text (str) or a file path")
    return source, None


def load_file(path: Union[str, os.PathLike], name: Optional[str] = None) -> str:
    """A model file (.ant Antimony; .xml/.sbml SBML) compiled and loaded; returns its name."""
    p = str(path)
    low = p.lower()
    if low.endswith((".xml", ".sbml")):
        return load(path, kind="sbml", name=name)
    if low.endswith((".ant", ".txt")):
        return load(path, kind="antimony", name=name)
    raise input_error("model", p, "a model file ending in .ant (Antimony), .xml or .sbml (SBML)")


def is_model_file(text: str) -> bool:
    """Whether a scenario's ``model`` value names a model file rather than a model."""
    return isinstance(text, str) and text.lower().endswith((".ant", ".xml", ".sbml"))
