"""crsim.scenario — one run asked for: ``Scenario`` (checked completely against its model when made,
every problem at once), NONMEM dose tables, and the resolution step (:mod:`crsim.scenario.resolve`)
that turns a Scenario or ``simulate()``'s keywords plus a model into the engine's problem."""
