"""Progress bars (tqdm) for populations, scans, global sensitivity analyses, fit multistarts and
command-line steps, on stderr in a terminal and as a widget in a notebook (``tqdm.auto``).

``progress=None`` (the default everywhere) shows a bar only when stderr is a terminal; ``True``
shows it anyway (a notebook, a log file: ``--progress`` on the command line), from the start;
``False`` never. Shown because stderr is a terminal, a bar appears only once the work has taken
``DELAY`` seconds, so quick calls print nothing.
"""
from __future__ import annotations

import contextlib
import sys
import threading
from typing import IO, Any, Iterator, Optional

from crsim.base.errors import input_error

__all__ = ["DELAY", "enabled", "bar", "step"]

#: Seconds before a bar is first drawn (quick steps stay silent).
DELAY = 1.0


def enabled(progress: Any, stream: Optional[IO[str]] = None) -> bool:
    """Whether to show progress: ``progress`` when it is True or False, else whether ``stream``
    (default stderr) is a terminal."""
    if progress is None:
        stream = stream if stream is not None else sys.stderr
        try:
            return bool(stream.isatty())
        except (AttributeError, ValueError):
            return False
    if not isinstance(progress, bool):
        raise input_error("progress", progress, "True (always show a progress bar), False (never) or "
                          "None (only when stderr is a terminal)")
    return progress


def bar(total: Optional[int], desc: str, progress: Any = None, unit: str = "run",
        stream: Optional[IO[str]] = None, delay: Optional[float] = None, **options: Any):
    """A tqdm bar (``tqdm.auto``: a widget in a notebook) of ``total`` ``unit``\\ s on ``stream``
    (default stderr), disabled unless :func:`enabled`. Use it as a context manager and call
    ``update(k)``."""
    from tqdm.auto import tqdm

    show = enabled(progress, stream)
    if delay is None:
        delay = DELAY if progress is None else 0.0
    return tqdm(total=total, desc=f"crsim: {desc}", unit=unit, file=stream if stream is not None else sys.stderr,
                disable=not show, delay=delay, dynamic_ncols=True, leave=True, mininterval=0.5,
                **options)


@contextlib.contextmanager
def step(desc: str, progress: Any = None, stream: Optional[IO[str]] = None, delay: float = DELAY,
         interval: float = 1.0) -> Iterator[None]:
    """A one-step bar for work that reports nothing while it runs (one simulation, writing a file):
    after ``delay`` seconds it shows the elapsed time, refreshed every ``interval`` seconds, and
    "done" with the total time when the step ends (``crsim: writing x.h5: 00:03 done``)."""
    b = bar(1, desc, progress, unit="step", stream=stream, delay=delay,
            bar_format="{desc}: {elapsed}{postfix}")
    stop = threading.Event()

    def refresh() -> None:
        if stop.wait(delay):
            return
        while True:
            with contextlib.suppress(Exception):
                b.refresh()
            if stop.wait(interval):
                return

    thread = threading.Thread(target=refresh, name="crsim-progress", daemon=True) if not b.disable else None
    if thread is not None:
        thread.start()
    try:
        yield
        b.set_postfix_str("done", refresh=False)
        b.update(1)
    except BaseException:
        b.set_postfix_str("failed", refresh=False)
        raise
    finally:
        stop.set()
        if thread is not None:
            thread.join()
        b.close()
