"""Engine hardening reachable only from Python (issue 18): Ctrl-C stops a long C++ run.

While crsim._core integrates with the GIL released, Python's SIGINT handler cannot run; the
extension puts a C-level hook in front of it (bindings/python/src/interrupt.cpp) that stops the
run, and the run's end becomes the KeyboardInterrupt Python's handler raises. The C++ side
(request_interrupt from a thread, a signal handler, a batch) is tested in
tests/cpp/test_hardening.cpp.
"""
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from crsim import _core

# pk1 with steps of at most 1e-6 h over 1e6 h: runs for days unless stopped.
ENDLESS = dict(model="pk1", parameters={}, doses=[{"target": "central", "amount": 100.0}],
               times=[0.0, 1e6], options={"method": "dopri5", "max_step": 1e-6, "max_steps": 2_000_000_000})

# The child starts with Python's own SIGINT handler, as from a terminal: a test session run as a
# background job (CI scripts, `cmd &`) has SIGINT ignored, which a child would inherit.
SCRIPT = textwrap.dedent("""
    import signal, sys, time
    signal.signal(signal.SIGINT, signal.default_int_handler)
    from crsim import _core
    print("running", flush=True)
    t0 = time.monotonic()
    try:
        _core.simulate("pk1", {}, [{"target": "central", "amount": 100.0}], [0.0, 1e6],
                       options={"method": "dopri5", "max_step": 1e-6, "max_steps": 2_000_000_000})
    except KeyboardInterrupt as e:
        print("KeyboardInterrupt after %.2f s" % (time.monotonic() - t0), flush=True)
        # a later run is not affected by the earlier Ctrl-C
        r = _core.simulate("pk1", {}, [{"target": "central", "amount": 1.0}], [0.0, 1.0])
        print("later run rows", len(r["times"]), flush=True)
        sys.exit(0)
    sys.exit(3)
""")


def test_ctrl_c_stops_a_long_run_with_keyboardinterrupt(tmp_path):
    script = tmp_path / "endless.py"
    script.write_text(SCRIPT)
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "running"
        time.sleep(1.0)  # inside the C++ run by now
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 0, (out, err)
    assert "KeyboardInterrupt after" in out
    assert "later run rows 2" in out


def test_request_interrupt_from_a_thread_stops_a_batch():
    timer = threading.Timer(0.5, _core.request_interrupt)
    timer.start()
    t0 = time.monotonic()
    try:
        with pytest.raises(KeyboardInterrupt, match="interrupted"):
            _core.simulate_batch("pk1", [{k: v for k, v in ENDLESS.items() if k != "model"}] * 4,
                                 threads=2)
    finally:
        timer.cancel()
    assert time.monotonic() - t0 < 20
    assert _core.install_sigint_handler() is False  # already in front of Python's handler
