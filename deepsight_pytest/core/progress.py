"""The progress seam: the engine says what it is doing, a display (or nothing) shows it.

Generation, judging and diagnostics open a :class:`Tracker` per suite and phase and advance it as
cases finish. The default, :data:`NO_PROGRESS`, does nothing, so code that drives the engine
outside pytest (bench scripts, xdist workers) pays nothing; ``progress_display`` shows it on the
pytest terminal.
"""
from __future__ import annotations

from typing import Protocol


class Tracker(Protocol):
    """One suite's phase: ``total`` cases, advanced as they finish."""

    def advance(self, cases: int = 1, tokens: int = 0) -> None: ...

    def close(self) -> None: ...


class Progress(Protocol):
    def track(self, label: str, phase: str, total: int) -> Tracker: ...


class _NullTracker:
    def advance(self, cases: int = 1, tokens: int = 0) -> None:
        pass

    def close(self) -> None:
        pass


class NullProgress:
    """Shows nothing (the default)."""

    def track(self, label: str, phase: str, total: int) -> Tracker:
        return _NullTracker()


NO_PROGRESS: Progress = NullProgress()
