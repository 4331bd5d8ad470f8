"""crsim.results."""
