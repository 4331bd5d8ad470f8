"""crsim.results — what a run gives back: ``Result`` (arrays, units, readouts, sensitivities, plot),
readouts, and results files (HDF5: ``save``/``load`` in :mod:`crsim.results.files`, the record
layer in :mod:`crsim.results.store`)."""
