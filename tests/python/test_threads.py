"""The GIL is released while the engine integrates: another Python thread keeps running."""
import threading
import time

import numpy as np

import crsim


def test_gil_released_during_simulate():
    # A deliberately slow run (max_step 0.001 h over 2000 h: >= 2 10^6 steps, about 1 s).
    kwargs = dict(times=np.linspace(0, 2000, 11), doses=[crsim.Dose("central", 560)],
                  max_step=0.001, max_steps=10**7, method="dopri5")
    done = threading.Event()

    def work():
        try:
            crsim.simulate("pk2_mm", **kwargs)
        finally:
            done.set()

    ticks = []
    th = threading.Thread(target=work)
    start = time.perf_counter()
    th.start()
    while not done.is_set():
        ticks.append(time.perf_counter())
        time.sleep(0.001)
    th.join()
    duration = time.perf_counter() - start
    assert duration > 0.2, "the run is too fast to tell; make it longer"
    gaps = np.diff([start, *ticks, time.perf_counter()])
    # Holding the GIL would stall this loop for the whole run.
    assert gaps.max() < 0.5 * duration, (gaps.max(), duration)
