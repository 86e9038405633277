"""How the session wires diagnostics into the engine: where artifacts and caches go.

The engine calls ``DeepScan.attach`` on every batch of records it produces (after judging), so
per-case diagnostics run once per suite, batched, for the cases ``--diagnose`` selects. Nothing
here imports torch: the DeepScan object is built on first need.
"""
from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

import pytest

if TYPE_CHECKING:
    from deepsight_pytest.core.engine import Engine
    from deepsight_pytest.pytest_integration.options import Settings
    from deepsight_pytest.diagnostics.scan import DeepScan

ARTIFACTS = "artifacts"


def artifacts_dir(config: pytest.Config, settings: "Settings") -> Path:
    """``--safety-artifacts``, else ``<folder of --safety-report>/artifacts``, else beside
    ``--safety-cache-dir``, else the pytest cache (``.pytest_cache/d/deepsight/artifacts``)."""
    if settings.artifacts is not None:
        return settings.artifacts
    if settings.report is not None:
        return settings.report.parent / ARTIFACTS
    if settings.cache_dir is not None:  # --safety-cache-dir: keep the run's files together
        return settings.cache_dir / ARTIFACTS
    cache = getattr(config, "cache", None)
    if cache is None:  # -p no:cacheprovider
        return config.rootpath / ".deepsight_cache" / ARTIFACTS
    return Path(cache.mkdir("deepsight")) / ARTIFACTS


def deepscan_factory(config: pytest.Config, settings: "Settings",
                     store_file: Path | None) -> Callable[["Engine"], "DeepScan"]:
    """The engine's diagnoser factory: caches beside the record store (none with --no-safety-cache)."""
    artifacts = artifacts_dir(config, settings)
    cache_dir = None if store_file is None else store_file.parent

    def build(engine: "Engine") -> "DeepScan":
        from deepsight_pytest.diagnostics.scan import DeepScan

        return DeepScan(engine, cache_dir, artifacts)

    return build
