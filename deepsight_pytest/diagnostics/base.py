"""The diagnostics contract: declarative metadata per method, the entry schema that records
carry, and the result of a method run.

An *entry* is what a record's ``diagnostics`` tuple holds, one per diagnostic, and what the
JUnit properties and the HTML card read::

    {"method": str, "summary": one line, "numbers": {name: float},
     "plot": path to a PNG or None, "data": path to a JSON or None}

This module imports nothing heavy: the plugin reads the registry at start-up.
"""
from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from deepsight_pytest.errors import DeepSightError

ENTRY_KEYS = ("method", "summary", "numbers", "plot", "data")
KINDS = ("method", "case")


class DiagnosticError(DeepSightError):
    """A diagnostic cannot run: no weights, too little data, an unsupported model layout."""


@dataclass(frozen=True)
class Metric:
    """One number a method reports, and which way is better (for reading, not for gating)."""

    name: str
    help: str
    better: str = "neither"  # "higher" | "lower" | "band" | "neither"
    per_layer: bool = True


@dataclass(frozen=True)
class MethodSpec:
    """A registered diagnostic: its name, version (part of every cache key), kind and metrics.

    ``kind`` is ``"method"`` for the DeepScan methods that run over labelled data sets (and can be
    collected tests with thresholds) or ``"case"`` for the per-failure diagnostics.
    ``runner`` is a lazy ``module:attr`` so that registering a method imports no torch.
    """

    name: str
    version: str
    kind: str
    help: str
    metrics: tuple[Metric, ...]
    runner: str
    defaults: Mapping[str, Any] = field(default_factory=dict)

    def metric(self, name: str) -> Metric | None:
        return next((m for m in self.metrics if m.name == name), None)

    def load_runner(self) -> Callable[..., Any]:
        module_name, attr = self.runner.split(":", 1)
        return getattr(importlib.import_module(module_name), attr)


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return round(number, 6) if math.isfinite(number) else None


def entry(method: str, summary: str, numbers: Mapping[str, Any] | None = None,
          plot: str | None = None, data: str | None = None) -> dict[str, Any]:
    """A diagnostics entry in the record schema; non-finite numbers are left out (JSON has none)."""
    clean = {name: n for name, n in ((k, _number(v)) for k, v in (numbers or {}).items()) if n is not None}
    one_line = " ".join(str(summary).split())
    return {"method": method, "summary": one_line, "numbers": clean, "plot": plot, "data": data}


def skipped_entry(method: str, reason: str) -> dict[str, Any]:
    """An entry saying why a diagnostic did not run (the report shows the reason)."""
    return entry(method, f"skipped: {reason}")


def is_entry(value: Any) -> bool:
    """Whether ``value`` follows the entry schema (used by tests and by the cache on read)."""
    return (isinstance(value, dict) and tuple(value) == ENTRY_KEYS and isinstance(value["method"], str)
            and isinstance(value["summary"], str) and isinstance(value["numbers"], dict)
            and all(isinstance(v, float) for v in value["numbers"].values())
            and all(value[k] is None or isinstance(value[k], str) for k in ("plot", "data")))


@dataclass
class MethodResult:
    """What one method run found: flat numbers for properties, values per metric for bounds.

    ``values[metric]`` is a float or ``{layer: float}``; ``numbers`` flattens it to
    ``metric`` / ``metric_L<layer>`` names.
    """

    method: str
    values: dict[str, Any]
    summary: str
    plot: str | None = None
    data: str | None = None
    extra_numbers: dict[str, float] = field(default_factory=dict)

    @property
    def numbers(self) -> dict[str, float]:
        flat: dict[str, float] = {}
        for name, value in self.values.items():
            if isinstance(value, Mapping):
                flat.update({f"{name}_L{layer}": v for layer, v in sorted(value.items())})
            else:
                flat[name] = value
        return {**flat, **self.extra_numbers}

    def entry(self) -> dict[str, Any]:
        return entry(self.method, self.summary, self.numbers, self.plot, self.data)

    def to_dict(self) -> dict[str, Any]:
        values = {k: ({str(layer): v for layer, v in val.items()} if isinstance(val, Mapping) else val)
                  for k, val in self.values.items()}
        return {"method": self.method, "values": values, "summary": self.summary, "plot": self.plot,
                "data": self.data, "extra_numbers": self.extra_numbers}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> "MethodResult":
        values = {k: ({int(layer): v for layer, v in val.items()} if isinstance(val, Mapping) else val)
                  for k, val in data["values"].items()}
        return cls(data["method"], values, data["summary"], data.get("plot"), data.get("data"),
                   dict(data.get("extra_numbers") or {}))
