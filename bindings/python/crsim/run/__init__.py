"""crsim.run — running: ``simulate`` (one run), ``scan`` (a grid of scenarios on C++ threads),
``population`` (virtual patients), and the default demo scenario of the command line."""
