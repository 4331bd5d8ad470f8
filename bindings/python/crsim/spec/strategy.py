"""Strategies as data: a named bundle of triggered policies and scheduled doses (:class:`Strategy`).
A model's standard strategies are looked up by name in :mod:`crsim.model.strategies`."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Tuple

from crsim.base.errors import InputError
from crsim.spec.policy import Policy

__all__ = ["Strategy"]


@dataclass(frozen=True)
class Strategy:
    """A management strategy: triggered ``policies`` (:class:`crsim.Policy`) and scheduled
    ``regimen`` entries (text regimens, times from the CAR-T infusion), with a description and its
    source. Pass it (or a standard strategy's name) to ``crsim.simulate(..., policies=[...])`` or
    list its name under ``policies`` in a scenario file."""

    name: str
    description: str = ""
    source: str = ""
    policies: Tuple[Policy, ...] = ()
    regimen: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "policies", tuple(self.policies))
        object.__setattr__(self, "regimen", tuple(self.regimen))
        for i, p in enumerate(self.policies):
            if not isinstance(p, Policy):
                err = InputError(f"policies[{i}] = {p!r} is not allowed: a crsim.Policy")
                err.field = f"policies[{i}]"
                raise err
