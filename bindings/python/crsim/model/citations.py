"""crsim.citations: the sources behind a model, a parameter set or a simulation result."""
from __future__ import annotations

from typing import Any, List

from crsim.model.model import Model, as_model

__all__ = ["citations"]


def citations(obj: Any) -> List[str]:
    """Sources of what `obj` uses: a model name, a :class:`crsim.Model` (structure and parameter
    set), or a :class:`crsim.Result` (the model and parameter set the simulation ran with)."""
    model = getattr(obj, "model", obj)
    if not isinstance(model, Model):
        model = as_model(model, "citations")
    return model.sources
