"""A pytest plugin for benchmarks only (``-p separate_passes`` with ``bench/`` on the path): the
per-failure diagnostics run their own prompt and conversation passes, as before the states were
captured during generation, so ``bench/main_job.py`` can time both ways side by side."""
from __future__ import annotations

from typing import Any


def pytest_configure(config: Any) -> None:
    from deepsight_pytest.diagnostics.scan import DeepScan

    DeepScan.from_generation = False
