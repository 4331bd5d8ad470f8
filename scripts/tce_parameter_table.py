#!/usr/bin/env python3
"""Prints (or, with --write, replaces in docs/tce-model.md) the table of section 5: every parameter of
the T-cell-engager model with its unit, meaning, value in each product set and source, resolved from
data/parameters/ through the sets' layers. tests/python/test_tce_model.py checks the page against
the same files.

    .venv/bin/python scripts/tce_parameter_table.py [--write]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import crsim
from crsim import _core

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "tce-model.md"
#: The product sets in the table's column order, with the column titles.
SETS = (("tce_mosunetuzumab_nhl", "mosunetuzumab"), ("tce_blinatumomab_nhl", "blinatumomab"),
        ("tce_teclistamab_mm", "teclistamab"))
HEADER = "| parameter | unit | meaning | " + " | ".join(t for _, t in SETS) + " | source or reason |"


def resolved():
    return [_core.load_parameter_set(str(ROOT / "data" / "parameters" / f"{s}.json"))["parameters"]
            for s, _ in SETS]


def number(v: float) -> str:
    return f"{v:.6g}"


def source_cell(entries) -> str:
    """The source, once if the sets agree, else each distinct source after the sets that use it."""
    sources = [e["source"] for e in entries]
    if all(s == sources[0] for s in sources):
        return sources[0]
    distinct = list(dict.fromkeys(sources))
    return "<br>".join(", ".join(t for (_, t), s in zip(SETS, sources) if s == d) + ": " + d
                       for d in distinct)


def table() -> str:
    sets = resolved()
    model = crsim.Model("tce")
    lines = [HEADER, "|" + "---|" * (len(SETS) + 4)]
    for _, row in model.parameters.iterrows():
        name = row["name"]
        entries = [s[name] for s in sets]
        values = " | ".join(number(e["value"]) for e in entries)
        lines.append(f"| `{name}` | {entries[0]['unit']} | {row['description']} | {values} | "
                     f"{source_cell(entries)} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--write", action="store_true", help="replace the table in docs/tce-model.md")
    args = ap.parse_args()
    text = table()
    if not args.write:
        sys.stdout.write(text)
        return 0
    doc = DOC.read_text(encoding="utf-8")
    start = doc.index("| parameter | unit | meaning |")
    end = doc.index("\n\n", start) + 1
    DOC.write_text(doc[:start] + text + doc[end:], encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
