"""crsim.spec — what a user writes, as data with its syntax checks: doses (``Dose``), text regimens
(``parse_regimen``), triggered policies and their condition grammar (``Policy``), strategies
(``Strategy``). Knows no model: checks that need one (targets, units, variables) take a model's
metadata as plain data or happen in :mod:`crsim.scenario`."""
