"""Every registry and its entry-point group, for ``deepsight list`` and plugin authors.

The registries live in their own packages; this table names them lazily so listing imports only
the registries (never torch). A group whose registry is not part of this install (a package not
yet present) still lists its entry points, read straight from the installed distributions.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from importlib.metadata import entry_points
from typing import Iterator

from deepsight_pytest.core.registry import Registry, origin_of, plugins_disabled


@dataclass(frozen=True)
class RegistryRef:
    """Where a registry lives and which entry-point group feeds it."""

    kind: str
    group: str
    target: str  # "module:attr" of the Registry object


REGISTRIES = (
    RegistryRef("benchmarks", "deepsight.benchmarks", "deepsight_pytest.benchmarks:BENCHMARKS"),
    RegistryRef("models", "deepsight.models", "deepsight_pytest.models:MODELS"),
    RegistryRef("judges", "deepsight.judges", "deepsight_pytest.judges:JUDGES"),
    RegistryRef("mutators", "deepsight.mutators", "deepsight_pytest.attacks:MUTATORS"),
    RegistryRef("diagnostics", "deepsight.diagnostics", "deepsight_pytest.diagnostics:DIAGNOSTICS"),
)


@dataclass(frozen=True)
class Listed:
    """One row of ``deepsight list``."""

    kind: str
    name: str
    help: str
    origin: str


def load_registry(ref: RegistryRef) -> Registry[object] | None:
    """The registry object, or None when its package is not part of this install."""
    module_name, attr = ref.target.split(":", 1)
    try:
        registry = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        return None
    return registry if isinstance(registry, Registry) else None


def _raw_group(ref: RegistryRef) -> Iterator[Listed]:
    if plugins_disabled():
        return
    for point in sorted(entry_points(group=ref.group), key=lambda p: p.name):
        yield Listed(ref.kind, point.name, f"(not loaded: {point.value})", origin_of(point))


def listed(ref: RegistryRef) -> Iterator[Listed]:
    """Every entry of one registry with its one-line description and origin."""
    registry = load_registry(ref)
    if registry is None:
        yield from _raw_group(ref)
        return
    for entry in registry:
        yield Listed(ref.kind, entry.name, registry.describe(entry.name), entry.origin)
