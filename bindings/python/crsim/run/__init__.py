"""crsim.run."""
