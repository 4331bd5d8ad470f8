"""Shared settings for the Python tests: a non-interactive matplotlib backend."""
import matplotlib

matplotlib.use("Agg")
