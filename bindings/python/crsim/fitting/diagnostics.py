"""Warnings of the fitting layer."""
from __future__ import annotations

__all__ = ["IdentifiabilityWarning", "FitFailedWarning"]


class IdentifiabilityWarning(UserWarning):
    """The data hardly determine some estimated parameters (Fisher information near singular, or
    estimates almost perfectly correlated)."""


class FitFailedWarning(RuntimeWarning):
    """A fit ended where -2LL is not finite (the model cannot produce the data there): the result
    holds the end point for inspection, with NaN standard errors and confidence intervals."""
