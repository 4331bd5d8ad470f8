"""Progress of long command-line steps on stderr.

The engine integrates with the GIL released and reports nothing until it is done, so progress is
the elapsed time of the step, shown from a background thread once the step has taken longer than
``delay`` seconds: rewritten in place on a terminal, one line every ``interval_pipe`` seconds
otherwise (only when asked with ``--progress``).
"""
from __future__ import annotations

import sys
import threading
import time
from typing import IO, Optional


class Progress:
    """Context manager: ``with Progress("simulating 'demo'", enabled=True): ...``."""

    def __init__(self, label: str, enabled: bool, stream: Optional[IO[str]] = None,
                 delay: float = 1.0, interval_tty: float = 0.25, interval_pipe: float = 5.0):
        self.label = label
        self.enabled = enabled
        self.stream = stream if stream is not None else sys.stderr
        self.delay = delay
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval_tty if self.tty else interval_pipe
        self._stop = threading.Event()
        self._thread: Optional[threading.Thread] = None
        self._shown = False
        self._t0 = 0.0

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass

    def _run(self) -> None:
        if self._stop.wait(self.delay):
            return
        spinner = "|/-\\"
        k = 0
        while True:
            elapsed = time.monotonic() - self._t0
            if self.tty:
                self._write(f"\rcrsim: {self.label} {spinner[k % 4]} {elapsed:5.1f} s")
            else:
                self._write(f"crsim: {self.label} ... {elapsed:.0f} s\n")
            self._shown = True
            k += 1
            if self._stop.wait(self.interval):
                return

    def __enter__(self) -> "Progress":
        self._t0 = time.monotonic()
        if self.enabled:
            self._thread = threading.Thread(target=self._run, name="crsim-progress", daemon=True)
            self._thread.start()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        if self._shown:
            elapsed = time.monotonic() - self._t0
            status = "done" if exc_type is None else "failed"
            prefix, pad = ("\r", " " * 8) if self.tty else ("", "")
            self._write(f"{prefix}crsim: {self.label} {status} in {elapsed:.1f} s{pad}\n")
