"""crsim.viz."""
