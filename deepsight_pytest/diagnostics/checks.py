"""Diagnostics as tests: ``@pytest.mark.deepscan(method, **params, **bounds)`` and its verdict.

Bounds name a metric of the method: ``separation=(lo, hi)`` is a band (either end may be
``None``), ``boundary_ratio_max=1.2`` and ``r_gap_min=0.5`` are one-sided. A per-layer metric
must hold at every layer the method ran on. Everything else is a method parameter (``n``,
``layers``, ``sets``, ...). A bad name is a one-line error listing what is known.
"""
from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

from deepsight_pytest.errors import ConfigError
from deepsight_pytest.pytest_integration.markers import DEEPSCAN_HELP, DEEPSCAN_MARK
from deepsight_pytest.diagnostics import DIAGNOSTICS
from deepsight_pytest.diagnostics.base import MethodResult
from deepsight_pytest.diagnostics.params import method_params

MARK = DEEPSCAN_MARK
MARK_HELP = DEEPSCAN_HELP

Bound = tuple[float | None, float | None]


@dataclass(frozen=True)
class CheckSpec:
    method: str
    params: dict[str, Any]
    bounds: dict[str, Bound]


def _number(value: Any, where: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{where}: a bound must be a finite number or None, got {value!r}")
    return float(value)


def parse_mark(args: tuple[Any, ...], kwargs: Mapping[str, Any], where: str) -> CheckSpec:
    """Split the mark's keywords into method parameters and metric bounds (checked)."""
    if len(args) != 1 or not isinstance(args[0], str):
        raise ConfigError(f"{where}: {MARK} takes one method name, e.g. {MARK}('xboundary')")
    method = args[0]
    spec = DIAGNOSTICS.get(method)
    if spec.kind != "method":  # type: ignore[attr-defined]
        raise ConfigError(f"{where}: {method!r} is a per-case diagnostic, not a method to test")
    metrics = {m.name for m in spec.metrics}  # type: ignore[attr-defined]
    params: dict[str, Any] = {}
    bounds: dict[str, Bound] = {}
    for name, value in kwargs.items():
        metric, _, side = name.rpartition("_")
        if name in spec.defaults:  # type: ignore[attr-defined]
            params[name] = value
        elif name in metrics:
            if not (isinstance(value, (tuple, list)) and len(value) == 2):
                raise ConfigError(f"{where}: {name}= takes a (low, high) pair, got {value!r}")
            bounds[name] = (_number(value[0], f"{where}: {name}"), _number(value[1], f"{where}: {name}"))
        elif side in {"min", "max"} and metric in metrics:
            low, high = bounds.get(metric, (None, None))
            number = _number(value, f"{where}: {name}")
            bounds[metric] = (number, high) if side == "min" else (low, number)
        else:
            known = sorted([*spec.defaults, *metrics, *(f"{m}_min" for m in metrics),  # type: ignore[attr-defined]
                            *(f"{m}_max" for m in metrics)])
            close = difflib.get_close_matches(name, known, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise ConfigError(f"{where}: {MARK}({method!r}) got unknown argument {name!r}{hint}; known: "
                              f"{', '.join(known)}")
    method_params(method, params, f"{where}: ")  # data sets and n checked now, before any model loads
    return CheckSpec(method, params, bounds)


@dataclass
class DeepScanCheck:
    """A method's result against the bounds of its mark: ``passed`` and a message saying why."""

    spec: CheckSpec
    result: MethodResult
    failures: list[str] = field(default_factory=list)

    @classmethod
    def evaluate(cls, spec: CheckSpec, result: MethodResult) -> "DeepScanCheck":
        failures = []
        for metric, (low, high) in spec.bounds.items():
            value = result.values.get(metric)
            per_layer = value.items() if isinstance(value, Mapping) else [(None, value)]
            for layer, number in per_layer:
                where = metric if layer is None else f"{metric} at layer {layer}"
                if number is None or not math.isfinite(number):
                    failures.append(f"{where} is not a number")
                elif (low is not None and number < low) or (high is not None and number > high):
                    failures.append(f"{where} = {number:.4g} outside [{_show(low, '-inf')}, {_show(high, 'inf')}]")
        return cls(spec, result, failures)

    @property
    def passed(self) -> bool:
        return not self.failures

    def message(self) -> str:
        status = "within bounds" if self.passed else "; ".join(self.failures)
        return f"{self.spec.method}: {status}\n  {self.result.summary}"


def _show(value: float | None, unbounded: str) -> str:
    return unbounded if value is None else f"{value:.4g}"
