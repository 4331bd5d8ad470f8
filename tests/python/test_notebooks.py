"""Every notebook in notebooks/ executes headless from top to bottom without error (nbclient).
Notebooks are documentation that must stay true: a failing cell fails the suite. A notebook writes
nothing into the checkout (run in the repository, it must not overwrite a shipped file)."""
import hashlib
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def _checkout_files():
    """Path -> (content hash, modification time) of the files a notebook could reach by walking up
    to the checkout: rewriting a file with the same bytes is a write too."""
    out = {}
    for top in ("data", "notebooks"):   # where a notebook run in the checkout would write
        for p in sorted((ROOT / top).rglob("*")):
            if p.is_file() and ".ipynb_checkpoints" not in p.parts:
                out[str(p.relative_to(ROOT))] = (hashlib.sha1(p.read_bytes()).hexdigest(),
                                                 p.stat().st_mtime_ns)
    return out


@pytest.mark.parametrize("path", NOTEBOOKS, ids=[p.name for p in NOTEBOOKS])
def test_notebook_executes(path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "Agg")
    # run where a user runs it, in the checkout's notebooks/: a file a notebook writes there (or
    # into data/ by walking up) is a failure below
    monkeypatch.chdir(path.parent)
    before = _checkout_files()
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    client.execute()
    errors = [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert not errors
    after = _checkout_files()
    changed = sorted(k for k in set(before) | set(after) if before.get(k) != after.get(k))
    assert not changed, f"{path.name} wrote into the checkout: {changed}"
