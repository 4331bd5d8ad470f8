"""crsim.scenario."""
