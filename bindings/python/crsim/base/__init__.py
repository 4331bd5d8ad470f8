"""crsim.base — the ground floor: the two exception types (``InputError``, ``SolverError``) and
message helpers, conversions of user values with errors naming the field, units, the collector of
input problems that reports them all at once with file line numbers (``Problems``), and the
progress display. Imports nothing of crsim but the engine (``crsim._core``)."""
