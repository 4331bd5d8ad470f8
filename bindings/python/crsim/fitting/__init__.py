"""crsim.fitting — parameters from patient data: data tables and units, error models, the objective
with forward sensitivities, optimisers, ``fit`` / ``FitResult`` / ``FitSet``, profile likelihood and
fit plots. Built on :mod:`crsim.run` (a sibling of :mod:`crsim.viz`: neither imports the other)."""
