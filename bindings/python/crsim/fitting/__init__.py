"""crsim.fitting."""
