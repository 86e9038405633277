"""Per-case plots drawn by a helper process while the run goes on.

A failing case's diagnostics compute in a small share of its generation time, but drawing their
PNGs with matplotlib costs more than the compute (about 26 ms a plot; on a GPU more than the
generation itself: ``bench/diagnostics.py``). So the numbers and the JSON are written at once, and
where the machine has cores to spare (four or more) the plots go to worker processes (one per four
cores, at most four) that keep their own :class:`~.plots.Painter` (figures reused across cases)
and draw while the model generates the next batch or suite. They are *spawned*, never forked from a
parent that holds CUDA or OpenMP threads. Below four cores the model's own threads use every core,
so plots are drawn in process as before.

Whoever reads a plot file waits for it first: the session before it writes the card
(:func:`settle`), pytest-html before it embeds a case's plot (:func:`settle` with the paths). A plot
that fails to draw is reported as one warning; the entry keeps its numbers and data, and a later
run redraws it (cached entries whose files are missing are recomputed).
"""
from __future__ import annotations

import importlib.util
import multiprocessing
import os
import warnings
import weakref
from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path
from typing import Any, Iterable

import pytest

_LIVE: "weakref.WeakSet[BackgroundPainter]" = weakref.WeakSet()
_PAINTER: Any = None  # in the worker process: one Painter for the worker's life


def _draw(kind: str, path: str, args: tuple[Any, ...]) -> None:
    """Runs in the worker process."""
    global _PAINTER
    if _PAINTER is None:
        from deepsight_pytest.diagnostics.plots import Painter

        _PAINTER = Painter()
    _PAINTER.render(kind, Path(path), *args)


def worker_count() -> int:
    """One plot process per four cores, at most four; none below four cores (a small CI machine),
    where the model's own threads need every core and plots are drawn in process instead. Under
    ``pytest -n N`` each xdist worker counts only its share of the cores."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    try:
        sharing = max(1, int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")))
    except ValueError:
        sharing = 1
    return min(4, cores // sharing // 4)


def painter(workers: int | None = None) -> Any:
    """A background painter with ``workers`` processes (None: :func:`worker_count`), or an
    in-process one for 0."""
    workers = worker_count() if workers is None else workers
    if workers == 0:
        from deepsight_pytest.diagnostics.plots import Painter

        return Painter()
    return BackgroundPainter(workers)


class BackgroundPainter:
    """The :class:`~.plots.Painter` interface, drawing in a worker process."""

    def __init__(self, workers: int = 1) -> None:
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        self._pending: dict[str, Future[None]] = {}
        _LIVE.add(self)

    def render(self, kind: str, path: Path, *args: Any) -> None:
        if importlib.util.find_spec("matplotlib") is None:  # the caller warns once and goes on
            raise ImportError("matplotlib is not installed")
        if self._pool is None:
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=multiprocessing.get_context("spawn"))
        path.parent.mkdir(parents=True, exist_ok=True)
        self._pending[str(path)] = self._pool.submit(_draw, kind, str(path), args)

    def wait(self, paths: Iterable[str] | None = None) -> list[str]:
        """Wait for the given plots (all pending ones by default); the failures, one line each."""
        wanted = list(self._pending) if paths is None else [p for p in map(str, paths) if p in self._pending]
        failures = []
        for path in wanted:
            future = self._pending.pop(path)
            try:
                future.result()
            except Exception as exc:  # noqa: BLE001  (a plot never fails the run)
                failures.append(f"{path}: {type(exc).__name__}: {exc}".splitlines()[0])
        return failures

    def close(self) -> None:
        failures = self.wait()
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None
        _warn(failures)


def settle(paths: Iterable[str] | None = None) -> None:
    """Wait for pending plots of every painter in this process (only ``paths`` when given)."""
    wanted = None if paths is None else [str(p) for p in paths if p]
    for painter in list(_LIVE):
        _warn(painter.wait(wanted))


def _warn(failures: list[str]) -> None:
    if failures:
        more = f" (and {len(failures) - 1} more)" if len(failures) > 1 else ""
        warnings.warn(pytest.PytestWarning(f"deepsight: a diagnostics plot failed to draw: {failures[0]}{more}"))
