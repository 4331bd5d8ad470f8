"""crsim.spec."""
