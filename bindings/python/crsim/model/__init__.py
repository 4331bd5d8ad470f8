"""crsim.model."""
