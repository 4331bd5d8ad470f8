"""crsim.base."""
