"""crsim.viz — interactive views: the classroom explorer (``explore``). Built on :mod:`crsim.run`."""
