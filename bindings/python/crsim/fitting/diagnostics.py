"""Warnings of the fitting layer."""
from __future__ import annotations

__all__ = ["IdentifiabilityWarning"]


class IdentifiabilityWarning(UserWarning):
    """The data hardly determine some estimated parameters (Fisher information near singular, or
    estimates almost perfectly correlated)."""
